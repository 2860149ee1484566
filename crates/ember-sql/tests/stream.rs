//! SQL per batch on streams: the seed's fourth program over a real directory, a failing query
//! failing its batch only, and `show_sql`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use ember::testing::{StreamTest, exclusive};
use ember::{Conf, Context, Duration, StreamingContext};
use ember_sql::{Row, SqlError, SqlStreamExt, Value, row};

#[allow(dead_code)]
#[path = "../examples/sql_network_wordcount.rs"]
mod example;

/// Writes `text` as `name` into `dir` atomically (written beside it, then renamed), with a fresh
/// modification time, as a file stream expects new files to arrive.
fn drop_file(dir: &Path, staging: &Path, name: &str, text: &str) {
    let tmp = staging.join(name);
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// Adds up `(word, total)` rows.
fn add(counts: &mut BTreeMap<String, i64>, rows: &[Row]) {
    for r in rows {
        let word = r
            .get_by_name("word")
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        let total = r.get_by_name("total").and_then(Value::as_i64).unwrap();
        *counts.entry(word).or_default() += total;
    }
}

#[test]
fn seeds_fourth_program_over_a_real_directory() {
    let _turn = exclusive();
    if let Some(active) = StreamingContext::get_active() {
        active.stop(false, false).unwrap();
    }
    let root = tempfile::tempdir().unwrap();
    let (dir, staging) = (root.path().join("in"), root.path().join("staging"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&staging).unwrap();

    let sc = Context::get_or_create(Conf::new().set_master("local[2]")).unwrap();
    let ssc = StreamingContext::new(&sc, Duration::milliseconds(200)).unwrap();
    let results: Arc<Mutex<Vec<Vec<Row>>>> = Arc::default();
    let sink = results.clone();
    example::word_rows(&ssc, &dir)
        .foreach_sql("words", example::QUERY, move |df, _time| {
            sink.lock().unwrap().push(df.collect()?);
            Ok(())
        })
        .unwrap();
    ssc.start().unwrap();
    // Let the stream's start time pass, so that the files are newer than it.
    std::thread::sleep(StdDuration::from_millis(50));

    let files = [
        ("a.txt", "to be or not to be\nthat is the question"),
        ("b.txt", "to sleep perchance to dream\nay there's the rub"),
    ];
    // Hand-computed from the two texts above (split on single spaces, as the seed does).
    let want: BTreeMap<String, i64> = [
        ("to", 4),
        ("be", 2),
        ("or", 1),
        ("not", 1),
        ("that", 1),
        ("is", 1),
        ("the", 2),
        ("question", 1),
        ("sleep", 1),
        ("perchance", 1),
        ("dream", 1),
        ("ay", 1),
        ("there's", 1),
        ("rub", 1),
    ]
    .into_iter()
    .map(|(w, n)| (w.to_string(), n))
    .collect();

    let deadline = Instant::now() + StdDuration::from_secs(30);
    let mut counts = BTreeMap::new();
    for (name, text) in files {
        let before = results.lock().unwrap().len();
        drop_file(&dir, &staging, name, text);
        // Wait for the batch that holds this file.
        loop {
            assert!(
                Instant::now() < deadline,
                "no result for {name} within 30 s"
            );
            let got = results.lock().unwrap();
            if got.len() > before {
                break;
            }
            drop(got);
            std::thread::sleep(StdDuration::from_millis(20));
        }
    }
    ssc.stop(false, true).unwrap();
    for batch in results.lock().unwrap().iter() {
        add(&mut counts, batch);
    }
    assert_eq!(counts, want);
}

#[test]
fn a_failing_query_fails_its_batch_and_the_stream_goes_on() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let input = t.input(vec![
        vec![row!(v = "1"), row!(v = "2")],
        vec![row!(v = "x")],
        vec![row!(v = "3")],
    ]);
    let sums: Arc<Mutex<Vec<i64>>> = Arc::default();
    let sink = sums.clone();
    // The cast fails at run time on "x" only.
    input
        .foreach_sql(
            "nums",
            "select sum(cast(v as bigint)) as s from nums",
            move |df, _| {
                let rows = df.collect()?;
                let s = rows[0]
                    .get(0)
                    .and_then(Value::as_i64)
                    .ok_or_else(|| SqlError::Conversion("no sum".into()))?;
                sink.lock().unwrap().push(s);
                Ok(())
            },
        )
        .unwrap();
    t.run(3).unwrap();
    assert_eq!(*sums.lock().unwrap(), [3, 3]);
    let err = t
        .context()
        .await_termination_or_timeout(StdDuration::from_millis(10))
        .unwrap_err()
        .to_string();
    assert!(err.contains("2000"), "the error names the batch: {err}");
    assert!(
        err.to_lowercase().contains("cast") || err.contains("'x'") || err.contains("x"),
        "{err}"
    );
}

#[test]
fn a_query_that_does_not_plan_fails_every_batch_without_stopping() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let input = t.input(vec![vec![row!(word = "a")], vec![row!(word = "b")]]);
    let ran: Arc<Mutex<usize>> = Arc::default();
    let sink = ran.clone();
    input
        .foreach_sql("words", "select wrd from words", move |_, _| {
            *sink.lock().unwrap() += 1;
            Ok(())
        })
        .unwrap();
    let counted = t.collect(&input.map(|_| 1u8)).unwrap();
    t.run(2).unwrap();
    assert_eq!(*ran.lock().unwrap(), 0);
    assert_eq!(counted.batches().len(), 2, "the stream kept running");
    let err = t
        .context()
        .await_termination_or_timeout(StdDuration::from_millis(10))
        .unwrap_err()
        .to_string();
    assert!(err.contains("wrd"), "{err}");
}

#[test]
fn show_sql_runs_per_batch_and_skips_empty_ones() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let input = t.input(vec![
        vec![row!(word = "a"), row!(word = "a")],
        vec![],
        vec![row!(word = "b")],
    ]);
    input.show_sql("words", example::QUERY).unwrap();
    t.run(3).unwrap();
    assert!(
        t.context()
            .await_termination_or_timeout(StdDuration::from_millis(10))
            .is_ok(),
        "no batch failed"
    );
    assert_eq!(
        ember_sql::batch_header(ember::Time::from_millis(0)).len(),
        "========= 1970-01-01 00:00:00 =========\n".len()
    );
}
