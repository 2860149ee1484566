//! The web UI's HTTP endpoints against real streams (issue 13): Spark's REST API, ember's own
//! figures and `/metrics`, queried over 127.0.0.1 and compared with the batches that actually
//! ran: field names, record counts, statuses, output operations, checkpoints, state sizes,
//! receivers, progress of long work, 404s.
//!
//! Streams run on a manual clock, so every time the API shows is a batch time. Listener events
//! reach the UI's status on the listener bus's thread, a little after `run` returns: each test
//! waits (bounded) until the API shows the batches it ran.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration as StdDuration;

use common::{accept_within, sec, wait_until};
use ember::testing::StreamTest;
use ember::{Conf, StreamingContextState, Time};
use serde_json::{Value, json};

/// How long a test waits for the UI to show what ran.
const WITHIN: StdDuration = StdDuration::from_secs(60);

/// What the engine logs at info level, from every thread, over this test binary's run (the
/// progress of long work is logged on the listener bus's thread).
#[derive(Clone, Default)]
struct Logged(Arc<Mutex<Vec<u8>>>);

impl Write for Logged {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log so far (the subscriber is installed by the first call).
fn logged() -> String {
    static LOG: OnceLock<Logged> = OnceLock::new();
    let log = LOG.get_or_init(|| {
        let log = Logged::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        log
    });
    String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned()
}

/// An HTTP answer: status, content type, body.
struct Answer {
    status: u16,
    content_type: String,
    location: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    /// The JSON body of a 200.
    fn json(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.text());
        assert_eq!(self.content_type, "application/json");
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// The plain-text body of a 404.
    fn not_found(&self) -> String {
        assert_eq!(self.status, 404, "{}", self.text());
        assert_eq!(self.content_type, "text/plain; charset=utf-8");
        self.text().trim_end().to_owned()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(StdDuration::from_secs(30)))
        .build()
        .into()
}

fn answer(mut r: ureq::http::Response<ureq::Body>) -> Answer {
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (content_type, location) = (
        header("content-type").unwrap_or_default(),
        header("location"),
    );
    Answer {
        status: r.status().as_u16(),
        content_type,
        location,
        body: r.body_mut().read_to_vec().unwrap(),
    }
}

fn get(url: &str) -> Answer {
    answer(
        agent()
            .get(url)
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}")),
    )
}

fn post(url: &str) -> Answer {
    answer(
        agent()
            .post(url)
            .send_empty()
            .unwrap_or_else(|e| panic!("POST {url}: {e}")),
    )
}

/// A test context with the web UI on, on any free port, and `extra` settings.
fn with_ui(extra: &[(&str, &str)]) -> StreamTest {
    logged();
    let mut conf = Conf::new()
        .set_master("local[2]")
        .set_app_name("ui test")
        .set("spark.ui.enabled", "true")
        .set("spark.ui.port", "0");
    for (k, v) in extra {
        conf = conf.set(k, v);
    }
    StreamTest::with_conf(conf, sec()).unwrap()
}

/// The UI's base URL and the streaming API's base URL of `t`.
fn urls(t: &StreamTest) -> (String, String) {
    let url = t.context().ui_web_url().expect("the UI runs");
    let id = t.context().context().application_id();
    let api = format!("{url}/api/v1/applications/{id}/streaming");
    (url, api)
}

/// Waits until the statistics count `n` completed batches.
fn wait_completed(api: &str, n: u64) {
    assert!(
        wait_until(
            WITHIN,
            || get(&format!("{api}/statistics")).json()["numTotalCompletedBatches"] == n
        ),
        "the UI did not show {n} completed batches: {}",
        get(&format!("{api}/statistics")).text()
    );
}

/// The samples of `/metrics`: `name{labels}` → value.
fn metrics(url: &str) -> BTreeMap<String, f64> {
    let answer = get(&format!("{url}/metrics"));
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    answer
        .text()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

#[test]
fn spark_rest_api_ember_figures_and_metrics_match_the_batches_that_ran() {
    let t = with_ui(&[]);
    // Three batches of 3, 0 and 2 records; output 0 collects, output 1 fails on an empty batch.
    let numbers = t.input(vec![vec![1, 2, 3], vec![], vec![4, 5]]);
    let out = t.collect(&numbers).unwrap();
    numbers
        .try_foreach_rdd(|rdd, _time| {
            if rdd.count() == 0 {
                Err("no records")
            } else {
                Ok(())
            }
        })
        .unwrap();
    assert_eq!(t.context().ui_web_url(), None, "no UI before the start");
    t.run(3).unwrap();
    assert_eq!(out.batches().len(), 3);
    let (url, api) = urls(&t);
    assert_eq!(t.context().context().ui_web_url(), Some(url.clone()));
    let log = logged();
    assert!(
        log.contains(&format!("Streaming UI at {url}/streaming/")),
        "{log}"
    );
    wait_completed(&api, 3);
    let ctx = t.context().context();

    // The application, as Spark's ApplicationInfo.
    let apps = get(&format!("{url}/api/v1/applications")).json();
    let app = &apps[0];
    assert_eq!(apps.as_array().unwrap().len(), 1);
    assert_eq!(app["id"], ctx.application_id());
    assert_eq!(app["name"], "ui test");
    let attempt = &app["attempts"][0];
    assert_eq!(
        keys(attempt),
        [
            "appSparkVersion",
            "completed",
            "duration",
            "endTime",
            "endTimeEpoch",
            "lastUpdated",
            "lastUpdatedEpoch",
            "sparkUser",
            "startTime",
            "startTimeEpoch"
        ]
    );
    assert_eq!(attempt["startTimeEpoch"], ctx.start_time());
    assert_eq!(attempt["endTime"], "1969-12-31T23:59:59.999GMT");
    assert_eq!(attempt["endTimeEpoch"], -1);
    assert_eq!(attempt["completed"], false);
    assert_eq!(
        attempt["appSparkVersion"],
        format!("ember {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(attempt["startTime"].as_str().unwrap().ends_with("GMT"));
    let one = get(&format!(
        "{url}/api/v1/applications/{}",
        ctx.application_id()
    ))
    .json();
    assert_eq!(one["id"], app["id"]);

    // Statistics, as Spark computes them: averages over the three batches. On the manual clock
    // a batch closes and runs at its own time, so every delay is 0.
    let stats = get(&format!("{api}/statistics")).json();
    assert_eq!(
        stats,
        json!({
            "startTime": "1970-01-01T00:00:00.000GMT",
            "batchDuration": 1000,
            "numReceivers": 0,
            "numActiveReceivers": 0,
            "numInactiveReceivers": 0,
            "numTotalCompletedBatches": 3,
            "numRetainedCompletedBatches": 3,
            "numActiveBatches": 0,
            "numProcessedRecords": 5,
            "numReceivedRecords": 5,
            "avgInputRate": 5.0 / 3.0,
            "avgSchedulingDelay": 0,
            "avgProcessingTime": 0,
            "avgTotalDelay": 0,
        })
    );

    // Batches, newest first.
    let batches = get(&format!("{api}/batches")).json();
    let batch = |ms: u64, records: u64, completed: u64, failed: u64| {
        let mut b = json!({
            "batchId": ms,
            "batchTime": format!("1970-01-01T00:00:0{}.000GMT", ms / 1000),
            "status": "COMPLETED",
            "batchDuration": 1000,
            "inputSize": records,
            "schedulingDelay": 0,
            "processingTime": 0,
            "totalDelay": 0,
            "numActiveOutputOps": 0,
            "numCompletedOutputOps": completed,
            "numFailedOutputOps": failed,
            "numTotalOutputOps": 2,
        });
        if failed > 0 {
            b["firstFailureReason"] = json!("no records");
        }
        b
    };
    assert_eq!(
        batches,
        json!([
            batch(3000, 2, 2, 0),
            batch(2000, 0, 1, 1),
            batch(1000, 3, 2, 0)
        ])
    );
    assert_eq!(
        get(&format!("{api}/batches?status=COMPLETED")).json(),
        batches
    );
    assert_eq!(
        get(&format!("{api}/batches?status=QUEUED&status=PROCESSING")).json(),
        json!([])
    );
    let bad = get(&format!("{api}/batches?status=DONE"));
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.text().trim_end(),
        "unknown status: DONE (one of COMPLETED, PROCESSING, QUEUED)"
    );
    assert_eq!(
        get(&format!("{api}/batches/2000")).json(),
        batch(2000, 0, 1, 1)
    );

    // Output operations of a batch, by id; the failed one says why.
    let ops = get(&format!("{api}/batches/2000/operations")).json();
    let op = |id: u64, failure: Option<&str>| {
        let mut o = json!({
            "outputOpId": id,
            "name": "foreach_rdd",
            "description": format!("foreach_rdd of output operation {id}"),
            "startTime": "1970-01-01T00:00:02.000GMT",
            "endTime": "1970-01-01T00:00:02.000GMT",
            "duration": 0,
            "jobIds": [],
        });
        if let Some(f) = failure {
            o["failureReason"] = json!(f);
        }
        o
    };
    assert_eq!(ops, json!([op(0, None), op(1, Some("no records"))]));
    assert_eq!(
        get(&format!("{api}/batches/2000/operations/1")).json(),
        op(1, Some("no records"))
    );

    // What does not exist is a 404 with Spark's message.
    let app_id = ctx.application_id();
    assert_eq!(
        get(&format!(
            "{url}/api/v1/applications/app-1/streaming/statistics"
        ))
        .not_found(),
        "unknown app: app-1"
    );
    assert_eq!(
        get(&format!("{url}/api/v1/applications/app-1")).not_found(),
        "unknown app: app-1"
    );
    assert_eq!(
        get(&format!("{api}/batches/4000")).not_found(),
        "unknown batch: 4000"
    );
    assert_eq!(
        get(&format!("{api}/batches/abc/operations")).not_found(),
        "unknown batch: abc"
    );
    assert_eq!(
        get(&format!("{api}/batches/4000/operations/0")).not_found(),
        "unknown batch: 4000"
    );
    assert_eq!(
        get(&format!("{api}/batches/1000/operations/2")).not_found(),
        "unknown output operation: 2"
    );
    assert_eq!(get(&format!("{api}/receivers")).json(), json!([]));
    assert_eq!(
        get(&format!("{api}/receivers/0")).not_found(),
        "unknown receiver: 0"
    );
    assert_eq!(
        get(&format!("{url}/nothing")).not_found(),
        "no such page: /nothing"
    );
    assert_eq!(
        get(&format!("{url}/static/nothing.js")).not_found(),
        "no such file: nothing.js"
    );
    assert!(app_id.starts_with("local-"));

    // ember's figures: the queue's records all processed, no state, no checkpoint, no log.
    let ember = get(&format!("{api}/ember")).json();
    assert_eq!(
        ember,
        json!({
            "batchDuration": 1000,
            "startTimeEpoch": 0,
            "uptime": 3000,
            "retainedBatches": 1000,
            "state": [],
            "checkpoints": [],
            "wal": {"enabled": false, "bytes": 0},
            "sources": [{
                "streamId": 0, "name": "queue", "kind": "queue",
                "receivedRecords": 5, "processedRecords": 5, "lagRecords": 0,
                "rateLimit": null, "throttled": false,
            }],
            "progress": [],
            "killEnabled": false,
        })
    );

    // Spark's StreamingMetrics gauges and ember's, at the scrape.
    let m = metrics(&url);
    let gauge = |name: &str| {
        m.get(name)
            .copied()
            .unwrap_or_else(|| panic!("no {name}: {m:?}"))
    };
    assert_eq!(gauge("ember_streaming_receivers"), 0.0);
    assert_eq!(gauge("ember_streaming_total_completed_batches"), 3.0);
    assert_eq!(gauge("ember_streaming_total_received_records"), 5.0);
    assert_eq!(gauge("ember_streaming_total_processed_records"), 5.0);
    assert_eq!(gauge("ember_streaming_unprocessed_batches"), 0.0);
    assert_eq!(gauge("ember_streaming_waiting_batches"), 0.0);
    assert_eq!(gauge("ember_streaming_running_batches"), 0.0);
    assert_eq!(gauge("ember_streaming_retained_completed_batches"), 3.0);
    for figure in [
        "submission_time",
        "processing_start_time",
        "processing_end_time",
    ] {
        assert_eq!(
            gauge(&format!("ember_streaming_last_completed_batch_{figure}")),
            3000.0
        );
        assert_eq!(
            gauge(&format!("ember_streaming_last_received_batch_{figure}")),
            3000.0
        );
    }
    for figure in ["processing_delay", "scheduling_delay", "total_delay"] {
        assert_eq!(
            gauge(&format!("ember_streaming_last_completed_batch_{figure}")),
            0.0
        );
    }
    assert_eq!(gauge("ember_streaming_last_received_batch_records"), 2.0);
    assert_eq!(
        gauge("ember_source_received_records{stream=\"0\",kind=\"queue\"}"),
        5.0
    );
    assert_eq!(
        gauge("ember_source_lag_records{stream=\"0\",kind=\"queue\"}"),
        0.0
    );
    assert_eq!(
        gauge("ember_source_throttled{stream=\"0\",kind=\"queue\"}"),
        0.0
    );
    assert_eq!(gauge("ember_wal_bytes"), 0.0);
    assert_eq!(
        gauge("ember_checkpoints_total{kind=\"full\",status=\"ok\"}"),
        0.0
    );

    // The pages and their files, as embedded; read-only without spark.ui.killEnabled.
    let root = get(&format!("{url}/"));
    assert_eq!(
        (root.status, root.location.as_deref()),
        (302, Some("/streaming/"))
    );
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui/assets");
    for (path, file, content_type) in [
        ("/streaming/", "index.html", "text/html; charset=utf-8"),
        (
            "/streaming/batch/?id=1000",
            "batch.html",
            "text/html; charset=utf-8",
        ),
        ("/static/app.js", "app.js", "text/javascript; charset=utf-8"),
        (
            "/static/batch.js",
            "batch.js",
            "text/javascript; charset=utf-8",
        ),
        ("/static/style.css", "style.css", "text/css; charset=utf-8"),
        (
            "/static/uPlot.iife.min.js",
            "uPlot.iife.min.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/static/uPlot.min.css",
            "uPlot.min.css",
            "text/css; charset=utf-8",
        ),
        (
            "/static/uPlot.LICENSE",
            "uPlot.LICENSE",
            "text/plain; charset=utf-8",
        ),
    ] {
        let a = get(&format!("{url}{path}"));
        assert_eq!(
            (a.status, a.content_type.as_str()),
            (200, content_type),
            "{path}"
        );
        assert_eq!(a.body, std::fs::read(assets.join(file)).unwrap(), "{path}");
    }
    assert!(
        get(&format!("{url}/streaming/"))
            .text()
            .contains("Streaming Statistics")
    );
    let kill = post(&format!("{url}/streaming/kill/"));
    assert_eq!(kill.status, 405);
    assert_eq!(t.context().state(), StreamingContextState::Active);

    // The UI stops with the stream.
    t.stop().unwrap();
    assert_eq!(t.context().ui_web_url(), None);
    assert_eq!(ctx.ui_web_url(), None);
    assert!(
        agent().get(&format!("{url}/metrics")).call().is_err(),
        "still answering"
    );
}

/// Keys of a word count's state: each word's running total.
fn running_count(new: &[u64], total: Option<u64>) -> Option<u64> {
    Some(new.iter().sum::<u64>() + total.unwrap_or(0))
}

fn words(ws: &[&str]) -> Vec<(String, u64)> {
    ws.iter().map(|w| (w.to_string(), 1)).collect()
}

/// The bytes of the files of write set `set` (`<ms>-<full|delta>`) of stateful stream `stream`
/// under checkpoint directory `dir`, and how many files it has.
fn share_files(dir: &std::path::Path, stream: u64, set: &str) -> (u64, u64) {
    let files: Vec<u64> = std::fs::read_dir(dir.join(format!("state/node-{stream}/{set}")))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .collect();
    (files.iter().sum(), files.len() as u64)
}

#[test]
fn state_sizes_and_checkpoint_history_follow_the_checkpoints_written() {
    let dir = tempfile::tempdir().unwrap();
    let t = with_ui(&[]);
    t.context().checkpoint(dir.path()).unwrap();
    // Every key comes in the first batch, so that the state's size stays that of the first
    // (full) checkpoint write.
    let input = t.input(vec![
        words(&["a", "b", "c", "d", "e"]),
        words(&["a", "d"]),
        words(&["e"]),
    ]);
    // Two stateful streams: each writes its whole state at the run's first checkpoint, then the
    // keys whose state changed.
    let totals = input.update_state_by_key(running_count, None);
    totals.checkpoint(sec()).unwrap();
    t.collect(&totals).unwrap();
    let spec = ember::state::StateSpec::function(
        |_word: &String, n: Option<u64>, state: &mut ember::state::State<u64>| {
            let seen = state.get_option().copied().unwrap_or(0) + n.unwrap_or(0);
            state.update(seen);
            seen
        },
    );
    let seen = input.map_with_state(spec);
    seen.checkpoint(sec()).unwrap();
    t.collect(&seen.stream()).unwrap();
    t.run(3).unwrap();
    let (url, api) = urls(&t);
    wait_completed(&api, 3);
    let ember = get(&format!("{api}/ember")).json();

    // Both streams have the five words as keys after the three batches.
    let state = ember["state"].as_array().unwrap();
    let names: Vec<(&str, u64)> = state
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["keys"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("update_state_by_key", 5), ("map_with_state", 5)],
        "{ember:#}"
    );
    let (updated_id, mapped_id) = (
        state[0]["streamId"].as_u64().unwrap(),
        state[1]["streamId"].as_u64().unwrap(),
    );
    // The bytes are estimated from each stream's full write at 1000, with as many keys as now:
    // exactly that write's entries (its files less their 24-byte frames).
    for (size, id) in [(&state[0], updated_id), (&state[1], mapped_id)] {
        let (files_bytes, files) = share_files(dir.path(), id, "1000-full");
        assert_eq!(size["bytes"], files_bytes - 24 * files, "{ember:#}");
    }

    // A checkpoint per batch, newest first: full at the run's first, then with changes. Each
    // one's bytes are its state files and its commit record, as on disk (the newest two
    // commits are kept).
    let checkpoints = ember["checkpoints"].as_array().unwrap();
    let summary: Vec<(u64, &str, &str)> = checkpoints
        .iter()
        .map(|c| {
            (
                c["batchTimeEpoch"].as_u64().unwrap(),
                c["kind"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (3000, "delta", "ok"),
            (2000, "delta", "ok"),
            (1000, "full", "ok")
        ]
    );
    for c in checkpoints {
        assert_eq!(c["error"], Value::Null);
        assert_eq!(
            keys(c),
            [
                "batchTimeEpoch",
                "bytes",
                "durationMs",
                "error",
                "kind",
                "startTimeEpoch",
                "status"
            ]
        );
        let started = c["startTimeEpoch"].as_u64().unwrap();
        assert!(started >= ctx_start(&t), "{c}");
    }
    for c in &checkpoints[..2] {
        let ms = c["batchTimeEpoch"].as_u64().unwrap();
        let (first, _) = share_files(dir.path(), updated_id, &format!("{ms}-delta"));
        let (second, _) = share_files(dir.path(), mapped_id, &format!("{ms}-delta"));
        let commit = std::fs::metadata(dir.path().join(format!("checkpoint-{ms}"))).unwrap();
        assert_eq!(c["bytes"], first + second + commit.len(), "{c}");
    }

    let m = metrics(&url);
    let labels = format!("{{stream=\"{updated_id}\",name=\"update_state_by_key\"}}");
    assert_eq!(m[&format!("ember_state_keys{labels}")], 5.0);
    assert_eq!(
        m[&format!("ember_state_bytes{labels}")],
        state[0]["bytes"].as_f64().unwrap()
    );
    assert_eq!(
        m["ember_checkpoints_total{kind=\"full\",status=\"ok\"}"],
        1.0
    );
    assert_eq!(
        m["ember_checkpoints_total{kind=\"delta\",status=\"ok\"}"],
        2.0
    );
    assert_eq!(
        m["ember_checkpoints_total{kind=\"delta\",status=\"failed\"}"],
        0.0
    );
    assert_eq!(
        m["ember_checkpoint_bytes"],
        checkpoints[0]["bytes"].as_f64().unwrap()
    );
}

fn ctx_start(t: &StreamTest) -> u64 {
    t.context().context().start_time()
}

#[test]
fn restoring_a_checkpoint_and_catching_up_show_their_progress() {
    let dir = tempfile::tempdir().unwrap();
    {
        // The first run: two batches, checkpointed at each; its UI is off.
        let t = StreamTest::new("local[2]", sec()).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let totals = t
            .input(vec![words(&["a"]), words(&["b"])])
            .update_state_by_key(running_count, None);
        totals.checkpoint(sec()).unwrap();
        t.collect(&totals).unwrap();
        t.run(2).unwrap();
        assert_eq!(t.context().ui_web_url(), None);
    }
    // The restarted program restores batch 2000 and comes back at 4000: batches 3000 and 4000
    // fell due while it was down.
    let t = with_ui(&[]);
    let totals = t
        .input(vec![words(&["a"])])
        .update_state_by_key(running_count, None);
    totals.checkpoint(sec()).unwrap();
    let out = t.collect(&totals).unwrap();
    assert_eq!(
        t.restore(dir.path()).unwrap(),
        Some(Time::from_millis(2000))
    );
    // The restore served the UI already, before the start.
    let (_, api) = urls(&t);
    let progress = get(&format!("{api}/ember")).json()["progress"].clone();
    assert_eq!(
        progress,
        json!([{"task": "restoring checkpoint", "done": 1, "total": 1, "finished": true}])
    );
    t.clock().set(Time::from_millis(4000));
    t.run(2).unwrap();
    wait_completed(&api, 2);
    assert_eq!(
        get(&format!("{api}/ember")).json()["progress"],
        json!([
            {"task": "restoring checkpoint", "done": 1, "total": 1, "finished": true},
            {"task": "catching up missed batches", "done": 2, "total": 2, "finished": true},
        ])
    );
    // Both are logged with a count of done out of total.
    let log = logged();
    assert!(
        log.contains("restored the state of 1 of 1 stateful streams"),
        "{log}"
    );
    assert!(log.contains("caught up 1 of 2 missed batches"), "{log}");
    assert!(log.contains("caught up 2 of 2 missed batches"), "{log}");
    // The restored state went on: "a" counted in the first run and again now.
    let last = out.sorted_batches().pop().unwrap();
    assert_eq!(last, [("a".to_string(), 2), ("b".to_string(), 1)]);
}

#[test]
fn receivers_show_their_rates_and_the_socket_source_its_figures() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let t = with_ui(&[("spark.streaming.receiver.maxRate", "1000")]);
    let lines = t.context().socket_text_stream("127.0.0.1", port);
    let out = t.collect(&lines).unwrap();
    t.run(1).unwrap();
    // The receiver connects once the stream has started (bounded: a non-blocking accept).
    let mut client = accept_within(&server, WITHIN);
    client.write_all(b"one\ntwo\nthree\nfour\nfive\n").unwrap();
    client.flush().unwrap();
    // Batches close until the five lines have gone through.
    let mut ran = 1;
    assert!(
        wait_until(WITHIN, || {
            if out.batches().concat().len() == 5 {
                return true;
            }
            t.run(1).unwrap();
            ran += 1;
            false
        }),
        "the lines did not arrive: {:?}",
        out.batches()
    );
    let (url, api) = urls(&t);
    wait_completed(&api, ran);

    let receivers = get(&format!("{api}/receivers")).json();
    assert_eq!(receivers.as_array().unwrap().len(), 1, "{receivers:#}");
    let r = &receivers[0];
    assert_eq!(r["streamId"], 0);
    assert_eq!(r["streamName"], "SocketReceiver-0");
    assert_eq!(r["isActive"], true);
    assert_eq!(r["executorId"], "driver");
    assert_eq!(r["executorHost"], "localhost");
    // One rate per batch (records/s), adding up to the five lines.
    let rates = r["eventRates"].as_array().unwrap();
    let per_batch: Vec<usize> = out.batches().iter().map(Vec::len).collect();
    let expected: Vec<Value> = per_batch
        .iter()
        .enumerate()
        .map(|(i, n)| json!([(i as u64 + 1) * 1000, *n as f64]))
        .collect();
    assert_eq!(rates, &expected);
    let avg = 5.0 / ran as f64;
    assert!(
        (r["avgEventRate"].as_f64().unwrap() - avg).abs() < 1e-9,
        "{r}"
    );
    assert_eq!(get(&format!("{api}/receivers/0")).json(), *r);
    assert_eq!(
        get(&format!("{api}/receivers/1")).not_found(),
        "unknown receiver: 1"
    );

    let stats = get(&format!("{api}/statistics")).json();
    assert_eq!(stats["numReceivers"], 1);
    assert_eq!(stats["numActiveReceivers"], 1);
    assert_eq!(stats["numInactiveReceivers"], 0);
    assert_eq!(stats["numProcessedRecords"], 5);

    let source = &get(&format!("{api}/ember")).json()["sources"][0];
    assert_eq!(
        *source,
        json!({
            "streamId": 0, "name": format!("socket 127.0.0.1:{port}"), "kind": "receiver",
            "receivedRecords": 5, "processedRecords": 5, "lagRecords": 0,
            "rateLimit": 1000.0, "throttled": false,
        })
    );
    let m = metrics(&url);
    assert_eq!(m["ember_streaming_receivers"], 1.0);
    assert_eq!(
        m["ember_source_rate_limit{stream=\"0\",kind=\"receiver\"}"],
        1000.0
    );
    assert_eq!(
        m["ember_source_lag_records{stream=\"0\",kind=\"receiver\"}"],
        0.0
    );
    drop(client);
}

#[test]
fn the_page_stops_the_stream_only_when_kill_is_enabled() {
    let t = with_ui(&[("spark.ui.killEnabled", "true")]);
    t.collect(&t.input(vec![vec![1]])).unwrap();
    t.run(1).unwrap();
    let (url, api) = urls(&t);
    assert_eq!(get(&format!("{api}/ember")).json()["killEnabled"], true);
    assert_eq!(
        get(&format!("{url}/streaming/kill/")).status,
        405,
        "GET changes nothing"
    );
    let kill = post(&format!("{url}/streaming/kill/"));
    assert_eq!(
        (kill.status, kill.text().trim_end()),
        (200, "stopping the stream gracefully")
    );
    assert!(
        wait_until(WITHIN, || t.context().state()
            == StreamingContextState::Stopped),
        "the stream did not stop"
    );
    assert!(t.context().await_termination_or_timeout(WITHIN).unwrap());
    assert_eq!(t.context().ui_web_url(), None);
}

#[test]
fn with_every_port_busy_the_stream_runs_without_its_ui() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let t = with_ui(&[("spark.ui.port", &port), ("spark.port.maxRetries", "0")]);
    let out = t.collect(&t.input(vec![vec![1, 2]])).unwrap();
    t.run(1).unwrap();
    assert_eq!(out.batches(), [vec![1, 2]]);
    assert_eq!(t.context().ui_web_url(), None);
}

#[test]
fn test_contexts_serve_no_ui_unless_asked() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    t.collect(&t.input(vec![vec![1]])).unwrap();
    t.run(1).unwrap();
    assert_eq!(t.context().ui_web_url(), None);
}

#[test]
fn a_receiver_held_to_its_rate_shows_as_throttled_with_its_limit() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let t = with_ui(&[("spark.streaming.receiver.maxRate", "100")]);
    let out = t
        .collect(&t.context().socket_text_stream("127.0.0.1", port))
        .unwrap();
    t.run(1).unwrap();
    let mut client = accept_within(&server, WITHIN);
    // 500 lines at once (a few kB: the socket takes them all), ten times what the limit lets
    // through in the second the manual clock has run: the receiver waits for its limit.
    let lines: String = (0..500).map(|i| format!("{i}\n")).collect();
    client.write_all(lines.as_bytes()).unwrap();
    client.flush().unwrap();
    assert!(
        wait_until(WITHIN, || t.context().receiver_rates()[0].throttled),
        "the receiver was not held to its limit: {:?}",
        t.context().receiver_rates()
    );
    t.run(1).unwrap();
    let (url, api) = urls(&t);
    wait_completed(&api, 2);
    let received: usize = out.batches().concat().len();
    assert!(received < 500, "the limit let {received} lines through");
    let source = &get(&format!("{api}/ember")).json()["sources"][0];
    assert_eq!(source["rateLimit"], 100.0, "{source:#}");
    assert_eq!(source["throttled"], true, "{source:#}");
    let m = metrics(&url);
    assert_eq!(
        m["ember_source_throttled{stream=\"0\",kind=\"receiver\"}"],
        1.0
    );
    assert_eq!(
        m["ember_source_rate_limit{stream=\"0\",kind=\"receiver\"}"],
        100.0
    );
    drop(client);
}
