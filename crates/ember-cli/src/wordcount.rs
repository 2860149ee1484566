//! `ember wordcount`: the seed's first program (network word count), on a socket or a
//! directory, in one process or as one process of several.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use ember::conf::settings;
use ember::{Conf, Context, DStream, Duration, StreamingContext};

use crate::input::InputArgs;
use crate::ui::UiArgs;

/// Arguments of `ember wordcount`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// Batch interval, e.g. `1s`, `500ms` (at most 24 h).
    #[arg(long, default_value = "1s", value_parser = parse_batch)]
    pub batch: Duration,
    /// Worker threads: `local`, `local[N]` (N at most 1024) or `local[*]`.
    #[arg(long, default_value = "local[2]")]
    pub master: String,
    /// Run as one process of a cluster: file listing every process's `host:port`.
    #[arg(long, value_name = "FILE", requires = "process")]
    pub hosts: Option<PathBuf>,
    /// This process's index in the hosts file (0 is the driver, which prints).
    #[arg(long, value_name = "I", requires = "hosts")]
    pub process: Option<usize>,
    /// Print one line per batch, `BENCH batch=<ms> total=<sum of counts> keys=<distinct words>`,
    /// instead of the first ten counts.
    #[arg(long)]
    pub summary: bool,
    /// Any setting, as spark-submit's `--conf`, e.g. `--conf ember.cluster.connectTimeout=10s`
    /// (repeatable; `--help` lists the settings).
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// Stop (gracefully) after this long, e.g. `30s`; otherwise run until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Running totals since the first batch (`updateStateByKey`) instead of per-batch counts;
    /// needs `--checkpoint`.
    #[arg(long, requires = "checkpoint")]
    pub stateful: bool,
    /// Checkpoint directory: the stream is built with `StreamingContext::get_or_create`, so a
    /// restarted command recovers the running totals, the files already read and the batches
    /// it missed.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// How often the running totals are checkpointed, a multiple of `--batch` (default: the
    /// smallest multiple of the batch that is at least 10 s).
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration, requires = "stateful")]
    pub checkpoint_interval: Option<Duration>,
    /// Write received lines to a write-ahead log in the checkpoint directory before they are
    /// processed (`spark.streaming.receiver.writeAheadLog.enable=true`).
    #[arg(long, requires = "checkpoint")]
    pub wal: bool,
    #[command(flatten)]
    pub ui: UiArgs,
}

/// The longest `--duration` or `--checkpoint-interval`: a year is more than any run needs, and
/// it keeps `Instant::now() + duration` (which panics on overflow) far from overflowing.
const MAX_DURATION: Duration = Duration::milliseconds(365 * 86_400_000);

/// Parses `1s`, `500ms`, `2m`, `1h`, `1d`, or a bare number of seconds (fractions allowed), up
/// to a year.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_duration_at_most(s, MAX_DURATION, "365 days")
}

/// Parses a batch interval as [`parse_duration`], up to the library's bound
/// ([`StreamingContext::MAX_BATCH_INTERVAL`], a day), so that an absurd one is refused with the
/// other argument errors instead of starting a stream whose first batch never comes.
pub fn parse_batch(s: &str) -> Result<Duration, String> {
    parse_duration_at_most(s, StreamingContext::MAX_BATCH_INTERVAL, "24 h")
}

fn parse_duration_at_most(s: &str, max: Duration, max_text: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let unit_ms = match unit {
        "" | "s" => 1000.0,
        "ms" => 1.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(format!("unknown unit in {s} (use ms, s, m, h or d)")),
    };
    let ms = n * unit_ms;
    // Compared as a float first: a long run of digits parses to a huge (or infinite) float,
    // and casting that to whole milliseconds would saturate instead of failing.
    if !ms.is_finite() || ms > max.as_millis() as f64 {
        return Err(format!("duration {s} is too long (at most {max_text})"));
    }
    if ms < 1.0 {
        return Err(format!("duration {s} is shorter than 1 ms"));
    }
    Ok(Duration::milliseconds(ms as u64))
}

/// The configuration for `--master` and, in a cluster, `--hosts`/`--process`.
pub fn conf(args: &Args, app: &str) -> Result<Conf> {
    let mut conf = Conf::new().set_master(&args.master).set_app_name(app);
    for setting in &args.settings {
        let (key, value) = setting
            .split_once('=')
            .with_context(|| format!("--conf {setting}: expected KEY=VALUE"))?;
        conf = conf.set(key.trim(), value.trim());
    }
    if args.wal {
        conf = conf.set(settings::WAL_ENABLED.key(), "true");
    }
    if let (Some(hosts), Some(process)) = (&args.hosts, args.process) {
        conf = conf.set_hosts_file(hosts, process)?;
    }
    Ok(args.ui.apply(conf))
}

/// The input stream of `--socket` or `--dir`.
pub fn lines(ssc: &StreamingContext, args: &Args) -> Result<DStream<String>> {
    args.input.lines(ssc)
}

/// A word. Words are short: `CompactString` keeps up to 24 bytes inline, so splitting a line
/// allocates nothing per word and the per-batch map compares keys without following a pointer
/// (the two largest costs of a word count; a `String` works the same, only slower).
pub type Word = compact_str::CompactString;

/// The words of a line, as `line.split(' ')` gives them (empty words included), taken from the
/// line it owns: `flat_map` hands each line over by value, and iterating it in place saves
/// collecting every line's words into a vector first.
pub struct Words {
    line: String,
    at: usize,
}

impl Words {
    /// The words of `line`.
    pub fn new(line: String) -> Self {
        Words { line, at: 0 }
    }
}

impl Iterator for Words {
    type Item = Word;

    fn next(&mut self) -> Option<Word> {
        let rest = self.line.get(self.at..)?;
        // A byte scan: words are a few bytes long, shorter than a vectorized search pays off.
        let end = rest.bytes().position(|b| b == b' ').unwrap_or(rest.len());
        // `' '` is one byte, so `end` is a character boundary.
        let word = Word::from(&rest[..end]);
        self.at += end + 1;
        Some(word)
    }
}

/// The seed's word count: split lines on spaces, pair each word with 1, add up per word.
pub fn word_counts(lines: &DStream<String>) -> DStream<(Word, i64)> {
    lines
        .flat_map(Words::new)
        .map(|word| (word, 1i64))
        .reduce_by_key(|a, b| a + b, None)
}

/// Prints `BENCH batch=<ms> total=<sum> keys=<n>` for every batch, flushed at once. The sum and
/// the key count are computed on the workers (as the Spark peers do with one extra action), so
/// only one pair per batch travels to the driver.
pub fn print_summary(counts: &DStream<(Word, i64)>) -> Result<()> {
    let summary = counts
        .map(|(_, c)| (c, 1u64))
        .reduce(|a, b| (a.0 + b.0, a.1 + b.1));
    summary.try_foreach_rdd(|rdd, time| {
        let (total, keys) = rdd.first().unwrap_or((0, 0));
        ember::output::write_stdout(&format!(
            "BENCH batch={} total={total} keys={keys}\n",
            time.as_millis()
        ))
    })?;
    Ok(())
}

/// The running total of every word since the first batch (the seed's `updateStateByKey`), from
/// each batch's counts.
pub fn running_counts(counts: &DStream<(Word, i64)>) -> DStream<(Word, i64)> {
    counts.update_state_by_key(
        |new: &[i64], total: Option<i64>| Some(total.unwrap_or(0) + new.iter().sum::<i64>()),
        None,
    )
}

/// Defines the word count of `args` on `ssc`: input, counts (or running totals), output.
fn define(ssc: &StreamingContext, args: &Args) -> Result<()> {
    let mut counts = word_counts(&lines(ssc, args)?);
    if args.stateful {
        counts = running_counts(&counts);
        if let Some(interval) = args.checkpoint_interval {
            counts
                .checkpoint(interval)
                .context("--checkpoint-interval")?;
        }
    }
    if args.summary {
        print_summary(&counts)?;
    } else {
        counts.pprint(10)?;
    }
    Ok(())
}

/// Runs `ember wordcount`.
pub fn run(args: Args) -> Result<()> {
    let ctx = Context::get_or_create(conf(&args, "wordcount")?)?;
    let ssc = match &args.checkpoint {
        None => {
            let ssc = StreamingContext::new(&ctx, args.batch)?;
            define(&ssc, &args)?;
            ssc
        }
        Some(dir) => {
            // `create` always runs (ember checkpoints data, not code); the newest checkpoint in
            // `dir`, if any, is then restored into the graph it built. A checkpoint that cannot
            // be read or does not fit is an error naming the directory.
            StreamingContext::get_or_create(dir, || -> Result<StreamingContext> {
                let ssc = StreamingContext::new(&ctx, args.batch)?;
                ssc.checkpoint(dir)?;
                define(&ssc, &args)?;
                Ok(ssc)
            })?
        }
    };
    crate::run_until_stopped(&ssc, args.duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_bounds() {
        for (text, ms) in [
            ("1s", 1000),
            ("500ms", 500),
            ("1.5", 1500),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("1d", 86_400_000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::milliseconds(ms)),
                "{text}"
            );
        }
        assert_eq!(parse_batch("24h"), Ok(Duration::milliseconds(86_400_000)));
        assert_eq!(
            parse_batch("99999999999999s"),
            Err("duration 99999999999999s is too long (at most 24 h)".to_string())
        );
        assert_eq!(
            parse_batch("25h"),
            Err("duration 25h is too long (at most 24 h)".to_string())
        );
        assert_eq!(parse_duration("365d"), Ok(MAX_DURATION));
        assert_eq!(
            parse_duration("366d"),
            Err("duration 366d is too long (at most 365 days)".to_string())
        );
        let huge = "9".repeat(400);
        assert_eq!(
            parse_duration(&huge),
            Err(format!("duration {huge} is too long (at most 365 days)"))
        );
        assert_eq!(
            parse_duration("0.1ms"),
            Err("duration 0.1ms is shorter than 1 ms".to_string())
        );
        assert_eq!(
            parse_duration("1y"),
            Err("unknown unit in 1y (use ms, s, m, h or d)".to_string())
        );
        assert_eq!(parse_duration("s"), Err("not a duration: s".to_string()));
    }

    #[test]
    fn words_split_like_str_split_on_a_space() {
        for line in ["", "a", "a b", "a  b", " a", "a ", "héllo wörld", "   "] {
            let ours: Vec<Word> = Words::new(line.to_owned()).collect();
            let std: Vec<Word> = line.split(' ').map(Word::from).collect();
            assert_eq!(ours, std, "{line:?}");
        }
    }
}
