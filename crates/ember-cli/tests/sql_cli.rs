//! `ember sql` as a user runs it (built with `--features sql`): a query per batch over a real
//! socket and a real directory, CSV and JSON lines, CSV and JSON output, and queries refused
//! before the stream starts. Every process is owned by a [`Proc`] (killed and reaped on drop);
//! nothing waits without a deadline.

// Alike on purpose (`duplicates` shows them as shapes): each test spells out its `ember sql`
// command line as a user types it, so the runs over a socket and over a directory look alike.

#![cfg(feature = "sql")]

mod common;

use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use common::{Proc, QUICK, TextServer};
use tempfile::TempDir;

/// The seed's query on a text stream: words of each line, counted.
const WORD_COUNT: &str = "select word, count(*) as total from \
     (select unnest(string_to_array(line, ' ')) as word from lines) \
     group by word order by total desc, word";

fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "ember panicked:\n{stderr}"
    );
}

/// Whether `line` is the seed's batch header, `========= 2026-11-24 10:00:01 =========`.
fn is_batch_header(line: &str) -> bool {
    line.strip_prefix("========= ")
        .and_then(|l| l.strip_suffix(" ========="))
        .is_some_and(|t| t.len() >= 19 && t.as_bytes()[4] == b'-' && t.as_bytes()[13] == b':')
}

/// The output cut into batches: each header with the lines up to the next header.
fn batches(stdout: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for line in stdout {
        if is_batch_header(line) {
            out.push(Vec::new());
        } else if let Some(b) = out.last_mut() {
            b.push(line.clone());
        } else {
            panic!("output before the first batch header: {line:?}");
        }
    }
    out
}

/// The output's batches that hold something.
fn non_empty_batches(stdout: &[String]) -> Vec<Vec<String>> {
    batches(stdout)
        .into_iter()
        .filter(|b| !b.is_empty())
        .collect()
}

/// Waits for `ember` to exit 0 without a panic; returns its stderr.
fn expect_clean_exit(ember: &mut Proc) -> String {
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert!(status.success(), "exit {status}\nstderr:\n{stderr}");
    assert_no_panic(&stderr);
    stderr
}

/// A temporary directory with an empty `incoming` directory to monitor inside it.
fn incoming() -> (TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("incoming");
    std::fs::create_dir(&dir).unwrap();
    (tmp, dir)
}

/// Moves a file with `text` into `dir` (written beside it first, with a fresh modification time).
fn move_in(tmp: &Path, dir: &Path, name: &str, text: &str) {
    let staged = tmp.join(name);
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, dir.join(name)).unwrap();
}

#[test]
fn sql_over_a_socket_prints_sparks_table_per_batch() {
    let server = TextServer::start("to be or not to be\nthat is the question\n");
    let addr = format!("127.0.0.1:{}", server.port);
    let mut ember = Proc::start(
        "ember sql",
        &[
            "sql",
            WORD_COUNT,
            "--socket",
            &addr,
            "--batch",
            "500ms",
            "--duration",
            "4s",
        ],
    );
    expect_clean_exit(&mut ember);
    let stdout = ember.stdout().all();
    let tables = non_empty_batches(&stdout);
    assert_eq!(
        tables.len(),
        1,
        "one batch holds the lines:\n{}",
        stdout.join("\n")
    );
    assert_eq!(
        tables[0].join("\n"),
        "+--------+-----+\n\
         |    word|total|\n\
         +--------+-----+\n\
         |      be|    2|\n\
         |      to|    2|\n\
         |      is|    1|\n\
         |     not|    1|\n\
         |      or|    1|\n\
         |question|    1|\n\
         |    that|    1|\n\
         |     the|    1|\n\
         +--------+-----+\n"
            .trim_end_matches('\n')
            .to_owned()
            + "\n",
        "{}",
        stdout.join("\n")
    );
}

#[test]
fn sql_over_a_directory_of_csv_lines_with_csv_output() {
    let (tmp, dir) = incoming();
    let mut ember = Proc::start(
        "ember sql",
        &[
            "sql",
            "select _c0 as city, sum(_c1) as people, max(_c2) as top from sales group by _c0 order by city",
            "--dir",
            dir.to_str().unwrap(),
            "--view",
            "sales",
            "--format",
            "csv",
            "--output",
            "csv",
            "--batch",
            "500ms",
            "--duration",
            "4s",
        ],
    );
    thread::sleep(Duration::from_millis(1200));
    ember.expect_running();
    move_in(
        tmp.path(),
        &dir,
        "sales.csv",
        "Paris,3,1.5\nRome,4,2.25\nParis,5,0.5\n\"Oslo, Norway\",1,9\n",
    );
    expect_clean_exit(&mut ember);
    let stdout = ember.stdout().all();
    assert_eq!(
        non_empty_batches(&stdout),
        [vec![
            "city,people,top".to_string(),
            "\"Oslo, Norway\",1,9.0".to_string(),
            "Paris,8,1.5".to_string(),
            "Rome,4,2.25".to_string(),
        ]],
        "{}",
        stdout.join("\n")
    );
}

#[test]
fn sql_over_json_lines_with_json_output_and_a_bad_batch() {
    let (tmp, dir) = incoming();
    let mut ember = Proc::start(
        "ember sql",
        &[
            "sql",
            "select user, count(*) as n, max(score) as best from lines group by user order by user",
            "--dir",
            dir.to_str().unwrap(),
            "--format",
            "json",
            "--output",
            "json",
            "--batch",
            "500ms",
            "--duration",
            "5s",
        ],
    );
    thread::sleep(Duration::from_millis(1200));
    // A batch that is not JSON fails alone; the next batch is read.
    move_in(tmp.path(), &dir, "bad.json", "{not json\n");
    thread::sleep(Duration::from_millis(1200));
    move_in(
        tmp.path(),
        &dir,
        "events.json",
        "{\"user\": \"ann\", \"score\": 3}\n{\"user\": \"bob\"}\n{\"user\": \"ann\", \"score\": 7}\n",
    );
    let stderr = expect_clean_exit(&mut ember);
    assert!(
        stderr.contains("ember sql: batch"),
        "the bad batch is reported:\n{stderr}"
    );
    let stdout = ember.stdout().all();
    assert_eq!(
        non_empty_batches(&stdout),
        [vec![
            r#"{"user":"ann","n":2,"best":7}"#.to_string(),
            r#"{"user":"bob","n":1}"#.to_string(),
        ]],
        "{}",
        stdout.join("\n")
    );
}

/// Queries that cannot run over a text stream fail before the stream starts, naming why.
#[test]
fn queries_that_cannot_run_are_refused_before_the_stream_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    // The query, the arguments after `sql QUERY --dir DIR`, and what stderr names.
    let cases: [(&str, &[&str], &[&str]); 3] = [
        // A query that does not parse.
        ("selec line from lines", &[], &["does not parse", "selec"]),
        // An unknown column of a text stream.
        ("select word from lines", &[], &["word", "line"]),
        // The view has the name given with --view.
        ("select line from lines", &["--view", "input"], &["lines"]),
    ];
    for (query, extra, needles) in cases {
        let mut ember = Proc::start(
            "ember sql",
            &[&["sql", query, "--dir", dir], extra].concat(),
        );
        let status = ember.expect_exit(QUICK);
        assert!(!status.success(), "{query:?} {extra:?}: exit {status}");
        let stderr = ember.stderr.lines_text();
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{query:?} {extra:?}: no {needle:?} in\n{stderr}"
            );
        }
        assert!(ember.stdout().all().is_empty(), "{query:?}: no batch ran");
        assert_no_panic(&stderr);
    }
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let server = TextServer::start("a\n");
    let addr = format!("127.0.0.1:{}", server.port);
    let mut ember = Proc::spawn(
        "ember sql",
        &[
            "sql",
            "select line from lines",
            "--socket",
            &addr,
            "--batch",
            "200ms",
        ],
    );
    drop(ember.take_stdout());
    expect_clean_exit(&mut ember);
}

/// `ember sql` serves the web UI as `ember wordcount` does (`--ui-port`, the URL on stderr),
/// and `--no-ui` turns it off.
#[test]
fn sql_serves_the_web_ui_and_no_ui_turns_it_off() {
    let server = TextServer::start("a b\nc\n");
    let socket = format!("127.0.0.1:{}", server.port);
    let query = "select line from lines";
    let mut ember = Proc::start(
        "ember sql",
        &[
            "sql",
            query,
            "--socket",
            &socket,
            "--batch",
            "200ms",
            "--ui-port",
            "0",
        ],
    );
    let url = ember
        .stderr
        .find(QUICK, |line| {
            let (_, rest) = line.split_once("Streaming UI at ")?;
            Some(rest.trim().strip_suffix("/streaming/")?.to_owned())
        })
        .unwrap_or_else(|| panic!("no URL logged\n{}", ember.report()));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let json = |path: String| -> serde_json::Value {
        let body = agent
            .get(&path)
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&body).unwrap()
    };
    let apps = json(format!("{url}/api/v1/applications"));
    assert_eq!(apps[0]["name"], "sql");
    let api = format!(
        "{url}/api/v1/applications/{}/streaming",
        apps[0]["id"].as_str().unwrap()
    );
    common::expect_within(
        QUICK,
        || json(format!("{api}/statistics"))["numProcessedRecords"] == 2,
        || format!("{}\n{}", json(format!("{api}/statistics")), ember.report()),
    );
    ember.signal("INT");
    expect_clean_exit(&mut ember);

    let mut quiet = Proc::start(
        "ember sql --no-ui",
        &[
            "sql",
            query,
            "--socket",
            &socket,
            "--no-ui",
            "--duration",
            "1s",
        ],
    );
    let stderr = expect_clean_exit(&mut quiet);
    assert!(!stderr.contains("Streaming UI at"), "{stderr}");
}
