//! `ember sql "QUERY"`: every batch of a socket or directory stream becomes a table (the seed's
//! fourth program, for any query), and the query's result is printed under the seed's batch
//! header. Built only with the `sql` feature: DataFusion takes long to build, and the demo and
//! `ember wordcount` must not pay for it.

#[cfg(feature = "sql")]
pub use with::{Args, run};
#[cfg(not(feature = "sql"))]
pub use without::{Args, run};

#[cfg(not(feature = "sql"))]
mod without {
    use anyhow::{Result, bail};

    /// Arguments of `ember sql` in a build without SQL: anything, since the command only says
    /// how to get it.
    #[derive(clap::Args, Debug)]
    pub struct Args {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    }

    /// Explains how to build `ember sql`.
    pub fn run(_: Args) -> Result<()> {
        bail!(
            "this ember was built without SQL support (it adds Apache DataFusion, a long build); \
             build it with: cargo build --release -p ember-cli --features sql"
        )
    }
}

#[cfg(feature = "sql")]
mod with {
    use std::fmt::Write as _;

    use anyhow::{Context as _, Result};
    use ember::{Conf, Context, DStream, Duration, StreamingContext, Time};
    use ember_sql::{DataFrame, LineFormat, Row, SqlSession, Value, batch_header, text_schema};

    use crate::input::InputArgs;
    use crate::ui::UiArgs;
    use crate::wordcount::parse_duration;

    /// Arguments of `ember sql`.
    #[derive(clap::Args, Debug, Clone)]
    pub struct Args {
        /// The query, run on every batch, e.g. `select line, length(line) as n from lines`.
        pub query: String,
        #[command(flatten)]
        pub input: InputArgs,
        /// The name of each batch's table in the query.
        #[arg(long, default_value = "lines")]
        pub view: String,
        /// How lines become rows: `text` (one column `line`), `csv` (columns `_c0`, `_c1`, ...,
        /// types inferred) or `json` (one object per line, types inferred).
        #[arg(long, default_value = "text", value_parser = parse_format)]
        pub format: LineFormat,
        /// Batch interval, e.g. `1s`, `500ms`.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        pub batch: Duration,
        /// How results are printed: `show` (Spark's table), `csv` (with a header line) or `json`
        /// (one object per row, nulls left out, as Spark writes JSON).
        #[arg(long, default_value = "show", value_parser = ["show", "csv", "json"])]
        pub output: String,
        /// Worker threads: `local`, `local[N]` or `local[*]`.
        #[arg(long, default_value = "local[2]")]
        pub master: String,
        /// Stop (gracefully) after this long, e.g. `30s`; otherwise run until Ctrl-C.
        #[arg(long, value_parser = parse_duration)]
        pub duration: Option<Duration>,
        #[command(flatten)]
        pub ui: UiArgs,
    }

    fn parse_format(s: &str) -> Result<LineFormat, String> {
        s.parse()
    }

    /// Runs `ember sql`.
    pub fn run(args: Args) -> Result<()> {
        let conf = Conf::new().set_master(&args.master).set_app_name("sql");
        let ctx = Context::get_or_create(args.ui.apply(conf))?;
        let session = SqlSession::get_or_create(&ctx)?;
        check_query(&session, &args)?;
        let ssc = StreamingContext::new(&ctx, args.batch)?;
        let lines = input(&ssc, &args)?;
        let (query, view, format, output) = (
            args.query.clone(),
            args.view.clone(),
            args.format,
            args.output.clone(),
        );
        lines.try_foreach_rdd(move |rdd, time| {
            let mut text = batch_header(time);
            if !rdd.is_empty() {
                match batch_result(&session, &rdd.collect(), format, &view, &query) {
                    Ok(df) => match render(&df, &output) {
                        Ok(table) => text.push_str(&table),
                        Err(e) => report(time, &e),
                    },
                    Err(e) => report(time, &e),
                }
            }
            // A closed stdout (`ember sql ... | head`) stops the stream quietly; any other write
            // error stops the command with it (`ember::output`'s policy).
            ember::output::write_stdout(&text)
        })?;
        crate::run_until_stopped(&ssc, args.duration)
    }

    /// A batch that fails (a type error, a malformed CSV line) is reported on stderr; the stream
    /// goes on, as the seed's `except: print(traceback)` does.
    fn report(time: Time, e: &ember_sql::SqlError) {
        eprintln!("ember sql: batch {}: {e}", time.to_local_datetime_string());
    }

    /// Refuses, before the stream starts, a query that does not parse, and for text streams
    /// (whose schema is known: one column `line`) one that names an unknown column or table.
    fn check_query(session: &SqlSession, args: &Args) -> Result<()> {
        session
            .parse(&args.query)
            .with_context(|| format!("the query does not parse: {}", args.query))?;
        if args.format == LineFormat::Text {
            session
                .create_data_frame_from_batches(text_schema(), vec![])?
                .create_or_replace_temp_view(&args.view)?;
            let planned = session.sql(&args.query);
            session.drop_temp_view(&args.view)?;
            planned.with_context(|| {
                format!(
                    "the query cannot run on a table {} with one column `line`",
                    args.view
                )
            })?;
        }
        Ok(())
    }

    fn input(ssc: &StreamingContext, args: &Args) -> Result<DStream<String>> {
        args.input.lines(ssc)
    }

    fn batch_result(
        session: &SqlSession,
        lines: &[String],
        format: LineFormat,
        view: &str,
        query: &str,
    ) -> ember_sql::Result<DataFrame> {
        session
            .create_data_frame_from_lines(lines, format)?
            .create_or_replace_temp_view(view)?;
        session.sql(query)
    }

    fn render(df: &DataFrame, output: &str) -> ember_sql::Result<String> {
        match output {
            "csv" => {
                let mut s = String::new();
                let _ = writeln!(s, "{}", csv_line(df.columns().iter().map(|c| c.as_str())));
                for row in df.collect()? {
                    let cells: Vec<String> = row.values().iter().map(csv_cell).collect();
                    let _ = writeln!(s, "{}", csv_line(cells.iter().map(String::as_str)));
                }
                Ok(s)
            }
            "json" => {
                let mut s = String::new();
                for row in df.collect()? {
                    let _ = writeln!(s, "{}", json_object(&row));
                }
                Ok(s)
            }
            _ => Ok(format!("{}\n", df.show_string(20, 20)?)),
        }
    }

    /// A cell of CSV output: nulls are empty, values as `show()` writes them.
    fn csv_cell(v: &Value) -> String {
        match v {
            Value::Null => String::new(),
            v => ember_sql::render_value(v),
        }
    }

    /// Fields quoted (RFC 4180) when they hold a comma, a quote or a line break.
    fn csv_line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
        cells
            .map(|c| {
                if c.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// One JSON object in column order (a JSON map would sort the keys).
    fn json_object(row: &Row) -> String {
        let fields: Vec<String> = row
            .column_names()
            .into_iter()
            .zip(row.values())
            .filter(|(_, v)| !v.is_null())
            .map(|(name, v)| format!("{}:{}", serde_json::Value::String(name), json_value(v)))
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    fn json_value(v: &Value) -> serde_json::Value {
        use serde_json::Value as J;
        match v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(ember_sql::render_value(v))),
            Value::List(items) => J::Array(items.iter().map(json_value).collect()),
            other => J::String(ember_sql::render_value(other)),
        }
    }
}
