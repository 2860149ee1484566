//! `DStream::slice` over remembered batches, on a manual clock.

use ember::testing::StreamTest;
use ember::{Duration, Error, Time};

#[test]
fn slice_returns_the_remembered_batches_between_two_times() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    t.context().remember(Duration::seconds(10)).unwrap();
    let doubled = t
        .input(vec![vec![1, 2], vec![3], vec![], vec![4, 5, 6]])
        .map(|x: i32| x * 2);
    let _out = t.collect(&doubled).unwrap();
    t.run(4).unwrap();
    let batches: Vec<Vec<i32>> = doubled
        .slice(Time::from_millis(2000), Time::from_millis(4000))
        .unwrap()
        .iter()
        .map(|rdd| {
            let mut v = rdd.collect();
            v.sort();
            v
        })
        .collect();
    assert_eq!(batches, vec![vec![6], vec![], vec![8, 10, 12]]);
    // Unaligned times move down to the slide: 1500..2999 is batches 1000 and 2000.
    let two = doubled
        .slice(Time::from_millis(1500), Time::from_millis(2999))
        .unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(two[0].count(), 2);
    t.stop().unwrap();
}

#[test]
fn slice_without_remember_or_before_start_is_an_error() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let s = t.input(vec![vec![1]]);
    let _out = t.collect(&s).unwrap();
    let before = s
        .slice(Time::from_millis(0), Time::from_millis(1000))
        .unwrap_err();
    assert!(matches!(before, Error::IllegalState(_)), "{before}");
    t.run(1).unwrap();
    let err = s
        .slice(Time::from_millis(0), Time::from_millis(1000))
        .unwrap_err();
    assert!(
        err.to_string().contains("StreamingContext::remember"),
        "{err}"
    );
    t.stop().unwrap();
}
