//! Settings and arguments are checked before anything runs: a bad `--conf` value, an absurd
//! `--master` or `--batch` ends the command at once with a message naming what is wrong; an
//! unknown `--conf` key is a warning at the default log level and the command runs; and
//! `ember wordcount --help` lists every setting of the registry.
//!
//! Real processes, each owned by a [`Proc`] (killed and reaped on drop), every wait bounded.

mod common;

use common::{Proc, QUICK};

/// Runs `ember wordcount ARGS` on an empty directory (for one second unless ARGS has a
/// `--duration`) and returns its exit status and stderr; the command must end within [`QUICK`].
fn wordcount(args: &[&str]) -> (std::process::ExitStatus, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let mut all = vec!["wordcount", "--dir", dir];
    if !args.contains(&"--duration") {
        all.extend(["--duration", "1s"]);
    }
    all.extend_from_slice(args);
    let mut ember = Proc::start("ember", &all);
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "ember panicked:\n{stderr}"
    );
    (status, stderr)
}

#[test]
fn a_bad_value_of_a_known_setting_fails_at_the_start_naming_it() {
    let (status, stderr) = wordcount(&["--conf", "ember.input.maxLineBytes=abc"]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "ember: setting ember.input.maxLineBytes=abc is not a size (bytes, with an optional \
             k/m/g/t suffix)"
        ),
        "{stderr}"
    );
    let (status, stderr) = wordcount(&["--conf", "spark.default.parallelism=0"]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("setting spark.default.parallelism=0 is too small (at least 1)"),
        "{stderr}"
    );
}

#[test]
fn invalid_rate_control_settings_fail_at_the_start_with_sparks_messages() {
    for (setting, message) in [
        (
            "spark.streaming.backpressure.pid.proportional=-1",
            "ember: setting spark.streaming.backpressure.pid.proportional=-1 is invalid: \
             requirement failed: Proportional term -1.0 in PIDRateEstimator should be >= 0.",
        ),
        (
            "spark.streaming.backpressure.pid.minRate=0",
            "ember: setting spark.streaming.backpressure.pid.minRate=0 is invalid: requirement \
             failed: Minimum rate in PIDRateEstimator should be > 0",
        ),
        (
            "spark.streaming.backpressure.rateEstimator=kalman",
            "ember: setting spark.streaming.backpressure.rateEstimator=kalman is invalid: \
             Unknown rate estimator: kalman",
        ),
    ] {
        let (status, stderr) = wordcount(&["--conf", setting]);
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
    // Valid rate settings run.
    let (status, stderr) = wordcount(&[
        "--conf",
        "spark.streaming.backpressure.enabled=true",
        "--conf",
        "spark.streaming.receiver.maxRate=1000",
    ]);
    assert!(status.success(), "{stderr}");
}

#[test]
fn an_absurd_master_fails_at_once() {
    let (status, stderr) = wordcount(&["--master", "local[100000]"]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "Asked to run locally with 100000 threads: at most 1024 worker threads per process"
        ),
        "{stderr}"
    );
}

#[test]
fn an_absurd_batch_interval_is_an_argument_error() {
    let (status, stderr) = wordcount(&["--batch", "99999999999999s"]);
    // clap's status for a bad argument.
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "invalid value '99999999999999s' for '--batch <BATCH>': duration 99999999999999s \
             is too long (at most 24 h)"
        ),
        "{stderr}"
    );
    let (status, stderr) = wordcount(&["--duration", "99999999999999s"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is too long (at most 365 days)"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_setting_is_a_warning_and_the_command_runs() {
    let (status, stderr) = wordcount(&[
        "--conf",
        "spark.foo=1",
        "--conf",
        "ember.input.maxLineByte=1m",
        // What PySpark programs set: accepted without a warning.
        "--conf",
        "spark.driver.memory=2g",
        "--conf",
        "spark.ui.enabled=false",
    ]);
    assert!(status.success(), "exit {status}\n{stderr}");
    assert!(
        stderr.contains("Unknown setting spark.foo is ignored"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "Unknown setting ember.input.maxLineByte is ignored (did you mean \
             ember.input.maxLineBytes?)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("spark.driver.memory"), "{stderr}");
    assert!(!stderr.contains("spark.ui.enabled"), "{stderr}");
}

#[test]
fn wordcount_help_lists_the_settings() {
    let mut ember = Proc::start("ember", &["wordcount", "--help"]);
    let status = ember.expect_exit(QUICK);
    assert!(status.success(), "{}", ember.report());
    let help = ember.stdout_text();
    for line in [
        "  ember.input.maxLineBytes=<size, 1 to 1g>  [default: 16m]",
        "  spark.default.parallelism=<whole number, 1 to 65536>",
        "  spark.streaming.receiverRestartDelay=<duration, 0ms to 1d>  [default: 2s]",
        "  spark.ui.enabled=<true/false>  [default: true]",
        "      Every running streaming context serves its web UI",
        "  spark.ui.port=<whole number, 0 to 65535>  [default: 4040]",
        "  spark.driver.memory=<text>",
        "      Not used: ember runs in this process",
    ] {
        assert!(
            help.lines().any(|l| l.starts_with(line)),
            "no {line:?}:\n{help}"
        );
    }
    // The short help points to it.
    let mut ember = Proc::start("ember", &["wordcount", "-h"]);
    assert!(ember.expect_exit(QUICK).success());
    assert!(
        ember
            .stdout_text()
            .contains("Settings for --conf: see --help.")
    );
}
