//! The web UI's HTTP endpoints against real streams: Spark's REST API, ember's own figures and
//! `/metrics`, queried over 127.0.0.1 and compared with the batches that actually ran.

mod common;

use std::time::Duration as StdDuration;

use common::{sec, wait_until};
use ember::testing::StreamTest;
use ember::{Conf, Duration};
use serde_json::Value;

/// An HTTP answer: status, content type, body.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.content_type, "application/json");
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
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

fn get(url: &str) -> Answer {
    let mut r = agent()
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    answer(&mut r)
}

fn answer(r: &mut ureq::http::Response<ureq::Body>) -> Answer {
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Answer {
        status: r.status().as_u16(),
        content_type,
        body: r.body_mut().read_to_string().unwrap(),
    }
}

/// A test context with the web UI on, on any free port.
fn with_ui(extra: &[(&str, &str)]) -> StreamTest {
    let mut conf = Conf::new()
        .set_master("local[2]")
        .set("spark.ui.enabled", "true")
        .set("spark.ui.port", "0");
    for (k, v) in extra {
        conf = conf.set(k, v);
    }
    StreamTest::with_conf(conf, sec()).unwrap()
}

#[test]
fn smoke() {
    let t = with_ui(&[]);
    let numbers = t.input(vec![vec![1, 2, 3], vec![4]]);
    t.collect(&numbers).unwrap();
    t.run(2).unwrap();
    let url = t.context().ui_web_url().unwrap();
    let apps = get(&format!("{url}/api/v1/applications")).json();
    let id = apps[0]["id"].as_str().unwrap().to_owned();
    let base = format!("{url}/api/v1/applications/{id}/streaming");
    assert!(wait_until(StdDuration::from_secs(30), || {
        get(&format!("{base}/statistics")).json()["numTotalCompletedBatches"] == 2
    }));
    let stats = get(&format!("{base}/statistics")).json();
    eprintln!("{stats:#}");
    eprintln!("{:#}", get(&format!("{base}/batches")).json());
    eprintln!("{:#}", get(&format!("{base}/ember")).json());
    eprintln!("{}", get(&format!("{url}/metrics")).body);
    let _ = Duration::seconds(1);
}
