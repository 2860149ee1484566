//! Window arguments refused when the stream is made (`try_` variants), with Spark's and
//! PySpark's messages, and the same streams as the plain operations when the arguments are valid.

mod common;

use common::s;
use ember::dstream::{WindowArgument, WindowError};
use ember::testing::StreamTest;
use ember::{DStream, Data, Duration, Error};

fn ms(n: u64) -> Duration {
    Duration::milliseconds(n)
}

/// The error of registering an output on `stream` (what the plain operations report).
fn registration_error<T: Data>(t: &StreamTest, stream: &DStream<T>) -> String {
    match t.collect(stream) {
        Ok(_) => panic!("an output on an invalid window was registered"),
        Err(e) => e.to_string(),
    }
}

const PY_WINDOW: &str =
    "windowDuration must be multiple of the parent dstream's slide (batch) duration (1000 ms)";
const PY_SLIDE: &str =
    "slideDuration must be multiple of the parent dstream's slide (batch) duration (1000 ms)";

#[test]
fn every_try_variant_refuses_at_the_call_with_the_message_the_output_would_get() {
    let t = StreamTest::new("local[1]", ms(1000)).unwrap();
    let input = t.input(vec![vec![s("a")]]);
    let pairs = input.map(|w| (w, 1i64));
    let (good, bad) = (ms(2000), ms(1500));

    // (try_ error, registration error of the plain operation, argument, PySpark's text)
    let check = |e: WindowError, plain: String, argument: WindowArgument, py: &str| {
        assert_eq!(e.to_string(), plain);
        assert_eq!(e.argument(), argument);
        assert_eq!(e.pyspark_message(), py);
        // Into ember's error, for `?`: the same text.
        assert!(matches!(Error::from(e.clone()), Error::InvalidArgument(m) if m == plain));
    };
    check(
        input.try_window(bad, ms(1000)).unwrap_err(),
        registration_error(&t, &input.window(bad, ms(1000))),
        WindowArgument::Window,
        PY_WINDOW,
    );
    check(
        input.try_window(good, bad).unwrap_err(),
        registration_error(&t, &input.window(good, bad)),
        WindowArgument::Slide,
        PY_SLIDE,
    );
    check(
        input.try_reduce_by_window(|a, _| a, bad, bad).unwrap_err(),
        registration_error(&t, &input.reduce_by_window(|a, _| a, bad, bad)),
        WindowArgument::Window,
        PY_WINDOW,
    );
    check(
        input
            .try_reduce_by_window_inv(|a, _| a, |a, _| a, good, bad)
            .unwrap_err(),
        registration_error(
            &t,
            &input.reduce_by_window_inv(|a, _| a, |a, _| a, good, bad),
        ),
        WindowArgument::Slide,
        PY_SLIDE,
    );
    check(
        input.try_count_by_window(bad, ms(1000)).unwrap_err(),
        registration_error(&t, &input.count_by_window(bad, ms(1000))),
        WindowArgument::Window,
        PY_WINDOW,
    );
    check(
        input
            .try_count_by_value_and_window(good, bad, None)
            .unwrap_err(),
        registration_error(&t, &input.count_by_value_and_window(good, bad, None)),
        WindowArgument::Slide,
        PY_SLIDE,
    );
    check(
        pairs
            .try_reduce_by_key_and_window(|a, b| a + b, bad, good, None)
            .unwrap_err(),
        registration_error(
            &t,
            &pairs.reduce_by_key_and_window(|a, b| a + b, bad, good, None),
        ),
        WindowArgument::Window,
        PY_WINDOW,
    );
    check(
        pairs
            .try_reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, good, bad, None, None)
            .unwrap_err(),
        registration_error(
            &t,
            &pairs.reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, good, bad, None, None),
        ),
        WindowArgument::Slide,
        PY_SLIDE,
    );
    check(
        pairs
            .try_group_by_key_and_window(good, bad, Some(2))
            .unwrap_err(),
        registration_error(&t, &pairs.group_by_key_and_window(good, bad, Some(2))),
        WindowArgument::Slide,
        PY_SLIDE,
    );
}

#[test]
fn spark_wording_per_class_and_the_window_first() {
    let t = StreamTest::new("local[1]", ms(1000)).unwrap();
    let input = t.input(vec![vec![1]]);
    let e = input.try_window(ms(2500), ms(1500)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "The window duration of windowed DStream (2500 ms) must be a multiple of the slide duration of parent DStream (1000 ms)"
    );
    let e = input.try_count_by_window(ms(2000), ms(1500)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "requirement failed: The slide duration of ReducedWindowedDStream (1500 ms) must be multiple of the slide duration of parent DStream (1000 ms)"
    );
    // A zero slide: ember's own message, the same for both wordings.
    let e = input.try_window(ms(2000), ms(0)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "requirement failed: The slide duration of windowed DStream (0 ms) must be positive"
    );
    assert_eq!(e.pyspark_message(), e.to_string());
    // On a windowed parent, the parent's slide is what the durations must be multiples of.
    let windowed = input.try_window(ms(4000), ms(2000)).unwrap();
    let e = windowed.try_window(ms(3000), ms(2000)).unwrap_err();
    assert_eq!(
        e.pyspark_message(),
        "windowDuration must be multiple of the parent dstream's slide (batch) duration (2000 ms)"
    );
}

#[test]
fn valid_arguments_give_the_plain_operations_streams() {
    let t = StreamTest::new("local[2]", ms(1000)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let input = t.input(vec![vec![1], vec![2, 3], vec![]]);
    let windowed = t
        .collect(&input.try_window(ms(2000), ms(1000)).unwrap())
        .unwrap();
    let counts = t
        .collect(&input.try_count_by_window(ms(2000), ms(1000)).unwrap())
        .unwrap();
    let pairs = input.map(|x| (x % 2, x));
    let sums = t
        .collect(
            &pairs
                .try_reduce_by_key_and_window_inv(
                    |a, b| a + b,
                    |a, b| a - b,
                    ms(2000),
                    ms(1000),
                    None,
                    None,
                )
                .unwrap(),
        )
        .unwrap();
    t.run(3).unwrap();
    assert_eq!(
        windowed.sorted_batches(),
        [vec![1], vec![1, 2, 3], vec![2, 3]]
    );
    assert_eq!(counts.batches(), [[1], [3], [2]]);
    assert_eq!(
        sums.sorted_batches(),
        [vec![(1, 1)], vec![(0, 2), (1, 4)], vec![(0, 2), (1, 3)]]
    );
}
