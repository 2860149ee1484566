//! The settings registry at a context's creation: a known setting with a bad value fails it
//! with an error naming the key, the value and the type; an unknown `spark.*`/`ember.*` key is
//! logged as a warning and the context starts; settings PySpark programs set are accepted
//! silently; absurd masters and batch intervals are refused at once.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ember::{Conf, Context, Duration, Error, StreamingContext};

/// Runs `f` with a tracing subscriber that records what is logged at `warn` and above; returns
/// `f`'s result and the log.
fn logged<R>(f: impl FnOnce() -> R) -> (R, String) {
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);
    impl Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    (result, text)
}

/// A new context from `conf` (the process's active one stopped first). The caller holds the
/// test lock.
fn new_context(conf: Conf) -> ember::Result<Context> {
    if let Ok(old) = Context::get_or_create(Conf::new().set_master("local[2]")) {
        old.stop();
    }
    Context::new(conf.set_master("local[2]"))
}

#[test]
fn a_bad_value_of_a_known_setting_fails_the_context() {
    let _turn = ember::testing::exclusive();
    let cases = [
        (
            "ember.input.maxLineBytes",
            "abc",
            "setting ember.input.maxLineBytes=abc is not a size (bytes, with an optional \
             k/m/g/t suffix)",
        ),
        (
            "spark.streaming.receiver.writeAheadLog.enable",
            "yes",
            "setting spark.streaming.receiver.writeAheadLog.enable=yes is not true or false",
        ),
        (
            "spark.streaming.receiverRestartDelay",
            "soon",
            "setting spark.streaming.receiverRestartDelay=soon is not a duration \
             (milliseconds, or a whole number with ms, s, m, min, h or d)",
        ),
        (
            "ember.cluster.connectTimeout",
            "30d",
            "setting ember.cluster.connectTimeout=30d is too large (at most 1d)",
        ),
        // Accepted and not used, but its value is still checked.
        (
            "spark.ui.port",
            "99999",
            "setting spark.ui.port=99999 is too large (at most 65535)",
        ),
    ];
    for (key, value, message) in cases {
        match new_context(Conf::new().set(key, value)) {
            Err(e @ Error::InvalidSetting { .. }) => {
                assert_eq!(e.to_string(), message);
                let Error::InvalidSetting {
                    key: k, value: v, ..
                } = e
                else {
                    unreachable!()
                };
                assert_eq!((k.as_str(), v.as_str()), (key, value));
            }
            other => panic!("{key}={value}: expected an invalid setting, got {other:?}"),
        }
    }
}

#[test]
fn an_unknown_key_is_a_warning_and_the_context_starts() {
    let _turn = ember::testing::exclusive();
    let conf = Conf::new()
        .set("spark.foo", "1")
        .set("ember.input.maxLinebytes", "1m")
        .set("myapp.anything", "x");
    let (ctx, log) = logged(|| new_context(conf));
    let ctx = ctx.expect("an unknown key does not fail the context");
    assert_eq!(ctx.conf().get("spark.foo"), Some("1"));
    ctx.stop();
    assert!(
        log.contains("Unknown setting spark.foo is ignored"),
        "{log}"
    );
    assert!(
        log.contains(
            "Unknown setting ember.input.maxLinebytes is ignored \
             (did you mean ember.input.maxLineBytes?)"
        ),
        "{log}"
    );
    assert!(
        !log.contains("myapp"),
        "keys outside spark.*/ember.* are the program's: {log}"
    );
    assert_eq!(log.lines().count(), 2, "{log}");
}

#[test]
fn settings_pyspark_programs_set_start_without_warnings() {
    let _turn = ember::testing::exclusive();
    // The benchmark's PySpark peer and the usual PySpark settings, values as PySpark's
    // `conf.set(key, value)` writes them (`str(False)` is `False`).
    let conf = Conf::new()
        .set_app_name("bench")
        .set("spark.driver.memory", "2g")
        .set("spark.executor.memory", "4g")
        .set("spark.ui.enabled", "False")
        .set("spark.ui.port", "4050")
        .set("spark.ui.host", "0.0.0.0")
        .set("spark.ui.killEnabled", "true")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1")
        .set(
            "spark.serializer",
            "org.apache.spark.serializer.KryoSerializer",
        )
        .set("spark.sql.shuffle.partitions", "4")
        .set("spark.streaming.receiver.maxRate", "1000")
        .set("spark.streaming.backpressure.enabled", "true")
        .set("spark.streaming.backpressure.initialRate", "100")
        .set("spark.executorEnv.PYTHONHASHSEED", "0");
    let (ctx, log) = logged(|| new_context(conf));
    ctx.unwrap().stop();
    assert_eq!(log, "", "no warning expected");
}

#[test]
fn absurd_masters_and_batch_intervals_are_refused_at_once() {
    let _turn = ember::testing::exclusive();
    let e = new_context(Conf::new())
        .and_then(|ctx| {
            ctx.stop();
            Context::new(Conf::new().set_master("local[100000]"))
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Asked to run locally with 100000 threads: at most 1024 worker threads per process \
         (local[*] runs one per CPU)"
    );
    let ctx = new_context(Conf::new()).unwrap();
    let e = StreamingContext::new(&ctx, Duration::seconds(99_999_999_999_999)).unwrap_err();
    assert!(matches!(e, Error::Requirement(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "requirement failed: Batch duration must be at most 86400000 ms (24 h), \
         not 99999999999999000 ms"
    );
    assert!(StreamingContext::new(&ctx, StreamingContext::MAX_BATCH_INTERVAL).is_ok());
    ctx.stop();
}
