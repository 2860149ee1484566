//! SQL on every batch of a stream of rows: the seed's `foreachRDD(process)` pattern (rows become
//! a temporary view, a query runs on it, the result is shown) as one call.

use ember::{DStream, Time};

use crate::dataframe::DataFrame;
use crate::error::Result;
use crate::row::Row;
use crate::session::SqlSession;

/// The seed's batch header, `========= 2026-11-24 10:00:01 =========` (the batch time in local
/// time, as Python's `str(time)`), with its line end.
pub fn batch_header(time: Time) -> String {
    format!("========= {} =========\n", time.to_local_datetime_string())
}

/// SQL per batch on a [`DStream`] of [`Row`]s.
pub trait SqlStreamExt {
    /// For every batch with rows: the rows become the temporary view `view` of the process's
    /// [`SqlSession`], `query` runs, and `f` receives the result and the batch time. An error
    /// (a bad query, a type error, an error returned by `f`) fails that batch only: it is
    /// reported (by `await_termination` and to listeners) and the stream goes on. Empty batches
    /// are skipped, as the seed does with `if rdd.isEmpty(): return`.
    fn foreach_sql(
        &self,
        view: &str,
        query: &str,
        f: impl Fn(DataFrame, Time) -> Result<()> + Send + Sync + 'static,
    ) -> ember::Result<()>;

    /// The seed's program: for every batch, prints the [`batch_header`], then (when the batch
    /// has rows) the query's result as `show()` prints it. (The seed's `print(df.show())` also
    /// prints `None`, the value of `show()`; this does not.) A closed stdout stops the stream
    /// quietly; any other write error fails the batch (see [`ember::output`]).
    fn show_sql(&self, view: &str, query: &str) -> ember::Result<()>;
}

impl SqlStreamExt for DStream<Row> {
    fn foreach_sql(
        &self,
        view: &str,
        query: &str,
        f: impl Fn(DataFrame, Time) -> Result<()> + Send + Sync + 'static,
    ) -> ember::Result<()> {
        let (view, query) = (view.to_owned(), query.to_owned());
        self.try_foreach_rdd(move |rdd, time| -> Result<()> {
            if rdd.is_empty() {
                return Ok(());
            }
            let session = SqlSession::get_or_create(rdd.context())?;
            session
                .create_data_frame(&rdd)?
                .create_or_replace_temp_view(&view)?;
            f(session.sql(&query)?, time)
        })
    }

    fn show_sql(&self, view: &str, query: &str) -> ember::Result<()> {
        let (view, query) = (view.to_owned(), query.to_owned());
        self.try_foreach_rdd(move |rdd, time| -> Result<()> {
            let mut text = batch_header(time);
            let result = if rdd.is_empty() {
                Ok(())
            } else {
                run_and_show(&rdd, &view, &query).map(|table| {
                    text.push_str(&table);
                    text.push('\n');
                })
            };
            // The header is printed even when the query fails, as the seed prints it first. A
            // closed stdout ends the stream quietly (`ember::output`'s policy).
            ember::output::write_stdout(&text)?;
            result
        })
    }
}

fn run_and_show(rdd: &ember::Rdd<Row>, view: &str, query: &str) -> Result<String> {
    let session = SqlSession::get_or_create(rdd.context())?;
    session
        .create_data_frame(rdd)?
        .create_or_replace_temp_view(view)?;
    session.sql(query)?.show_string(
        crate::dataframe::DEFAULT_SHOW_ROWS,
        crate::dataframe::DEFAULT_TRUNCATE,
    )
}
