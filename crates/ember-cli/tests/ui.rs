//! The web UI of `ember wordcount` (issue 13): a real process, whose stderr logs the UI's URL,
//! queried over HTTP while it counts the lines of a socket; `--ui-port` and `--no-ui`.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{Proc, QUICK, TextServer, expect_within};
use serde_json::Value;

/// The URL the process logged: `Streaming UI at http://127.0.0.1:PORT/streaming/` on stderr.
fn logged_url(ember: &mut Proc) -> String {
    let url = ember.stderr.find(QUICK, |line| {
        let (_, rest) = line.split_once("Streaming UI at ")?;
        Some(rest.trim().strip_suffix("/streaming/")?.to_owned())
    });
    url.unwrap_or_else(|| panic!("no URL logged\n{}", ember.report()))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// The JSON answer of `GET url` (a 200).
fn json(url: &str) -> Value {
    let mut r = agent()
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status(), 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

fn text(url: &str) -> String {
    let mut r = agent()
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(r.status(), 200, "GET {url}");
    r.body_mut().read_to_string().unwrap()
}

#[test]
fn wordcount_serves_spark_s_rest_api_and_metrics_while_it_counts() {
    let lines = "to be or not to be\nthat is the question\nwhether tis nobler\n";
    let server = TextServer::start(lines);
    let socket = format!("127.0.0.1:{}", server.port);
    let mut ember = Proc::start(
        "ember wordcount",
        &[
            "wordcount",
            "--socket",
            &socket,
            "--batch",
            "200ms",
            "--ui-port",
            "0",
        ],
    );
    let url = logged_url(&mut ember);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let apps = json(&format!("{url}/api/v1/applications"));
    assert_eq!(apps[0]["name"], "wordcount");
    let id = apps[0]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("local-"), "{id}");
    let api = format!("{url}/api/v1/applications/{id}/streaming");

    // The three lines go through; the statistics and the socket's receiver say so.
    expect_within(
        QUICK,
        || json(&format!("{api}/statistics"))["numProcessedRecords"] == 3,
        || format!("{}\n{}", json(&format!("{api}/statistics")), ember.report()),
    );
    let stats = json(&format!("{api}/statistics"));
    assert_eq!(stats["batchDuration"], 200);
    assert_eq!(stats["numReceivers"], 1);
    assert_eq!(stats["numActiveReceivers"], 1);
    let completed = stats["numTotalCompletedBatches"].as_u64().unwrap();
    assert!(completed >= 1, "{stats}");

    let receiver = json(&format!("{api}/receivers/0"));
    assert_eq!(receiver["streamName"], "SocketReceiver-0");
    assert_eq!(receiver["isActive"], true);
    let records: f64 = receiver["eventRates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_f64().unwrap() * 0.2)
        .sum();
    assert!((records - 3.0).abs() < 1e-6, "{receiver}");

    // Every batch listed ran the one output operation (pprint) of the command.
    let batches = json(&format!("{api}/batches?status=COMPLETED"));
    let batches = batches.as_array().unwrap();
    assert!(batches.len() as u64 >= completed, "{batches:?}");
    for b in batches {
        assert_eq!(b["numTotalOutputOps"], 1, "{b}");
        assert_eq!(b["numCompletedOutputOps"], 1, "{b}");
    }
    let id = batches[0]["batchId"].as_u64().unwrap();
    let ops = json(&format!("{api}/batches/{id}/operations"));
    assert_eq!(ops[0]["outputOpId"], 0);

    let source = &json(&format!("{api}/ember"))["sources"][0];
    assert_eq!(source["name"], format!("socket {socket}"));
    assert_eq!(source["processedRecords"], 3);
    let metrics = text(&format!("{url}/metrics"));
    assert!(
        metrics
            .lines()
            .any(|l| l == "ember_source_processed_records{stream=\"0\",kind=\"receiver\"} 3"),
        "{metrics}"
    );

    // The command's own output goes on as before.
    ember.expect_stdout_line(QUICK, "the counts", |l| l == "(\"to\", 2)");
    ember.signal("INT");
    let status = ember.expect_exit(QUICK);
    assert!(status.success(), "{}", ember.report());
}

#[test]
fn ui_port_takes_the_next_port_when_busy_and_no_ui_serves_none() {
    let server = TextServer::start("a b\n");
    let socket = format!("127.0.0.1:{}", server.port);
    // A port held by the test: the UI takes one of the next ones, as Spark's does.
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let mut ember = Proc::start(
        "ember wordcount",
        &[
            "wordcount",
            "--socket",
            &socket,
            "--ui-port",
            &port.to_string(),
        ],
    );
    let url = logged_url(&mut ember);
    let taken: u16 = url.rsplit_once(':').unwrap().1.parse().unwrap();
    assert_ne!(taken, port, "{url}");
    assert!(
        (port + 1..=port.saturating_add(16)).contains(&taken),
        "{url} is not one of the 16 ports after {port}"
    );
    assert_eq!(
        json(&format!("{url}/api/v1/applications"))[0]["name"],
        "wordcount"
    );
    ember.signal("INT");
    assert!(ember.expect_exit(QUICK).success(), "{}", ember.report());

    let mut quiet = Proc::start(
        "ember wordcount --no-ui",
        &[
            "wordcount",
            "--socket",
            &socket,
            "--no-ui",
            "--duration",
            "1s",
        ],
    );
    let status = quiet.expect_exit(QUICK);
    assert!(status.success(), "{}", quiet.report());
    assert!(
        !quiet.stderr_text().contains("Streaming UI at"),
        "{}",
        quiet.report()
    );

    // The two flags contradict each other.
    let mut both = Proc::start(
        "ember wordcount --no-ui --ui-port",
        &[
            "wordcount",
            "--socket",
            &socket,
            "--no-ui",
            "--ui-port",
            "4040",
        ],
    );
    let status = both.expect_exit(QUICK);
    assert_eq!(status.code(), Some(2), "{}", both.report());
    assert!(
        both.stderr_text().contains("cannot be used with"),
        "{}",
        both.report()
    );
}
