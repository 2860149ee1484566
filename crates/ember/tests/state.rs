//! Stateful operations on a manual clock: update_state_by_key, map_with_state, checkpoints and
//! recovery from them.

use ember::state::{State, StateSpec};
use ember::testing::StreamTest;
use ember::{Duration, Error};

fn s(x: &str) -> String {
    x.to_owned()
}

fn words(batches: &[&[&str]]) -> Vec<Vec<(String, u64)>> {
    batches
        .iter()
        .map(|b| b.iter().map(|w| (s(w), 1u64)).collect())
        .collect()
}

fn running_count(values: &[u64], state: Option<u64>) -> Option<u64> {
    Some(values.iter().sum::<u64>() + state.unwrap_or(0))
}

#[test]
fn update_state_by_key_keeps_every_key_and_removes_on_none() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let pairs = t.input(words(&[&["a", "b", "a"], &[], &["b", "c"], &["drop"]]));
    // "drop" removes itself in the batch after it appeared (called with no values then).
    let totals = pairs.update_state_by_key_with(
        |_time, key: &String, vs: &[u64], st: Option<u64>| {
            if key == "drop" && st.is_some() {
                assert!(vs.is_empty());
                return None;
            }
            running_count(vs, st)
        },
        None,
        None,
    );
    let out = t.collect(&totals).unwrap();
    t.run(5).unwrap();
    assert_eq!(
        out.sorted_batches(),
        vec![
            vec![(s("a"), 2), (s("b"), 1)],
            vec![(s("a"), 2), (s("b"), 1)],
            vec![(s("a"), 2), (s("b"), 2), (s("c"), 1)],
            vec![(s("a"), 2), (s("b"), 2), (s("c"), 1), (s("drop"), 1)],
            vec![(s("a"), 2), (s("b"), 2), (s("c"), 1)],
        ]
    );
}

#[test]
fn stateful_stream_without_checkpoint_directory_fails_at_start() {
    let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
    let pairs = t.input(words(&[&["a"]]));
    let totals = pairs.update_state_by_key(running_count, None);
    t.collect(&totals).unwrap();
    let e = t.run(1).unwrap_err();
    assert!(matches!(e, Error::Requirement(_)));
    assert_eq!(
        e.to_string(),
        "requirement failed: The checkpoint directory has not been set. Please set it by StreamingContext.checkpoint()."
    );
}

#[test]
fn map_with_state_sees_only_keys_with_data() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let pairs = t.input(words(&[&["a", "b", "a"], &[], &["b"]]));
    let spec = StateSpec::function(|k: &String, v: Option<u64>, st: &mut State<u64>| {
        let n = st.get_option().copied().unwrap_or(0) + v.unwrap_or(0);
        st.update(n);
        (k.clone(), n)
    });
    let mapped = pairs.map_with_state(spec);
    let snaps = mapped.state_snapshots();
    let out = t.collect(&mapped).unwrap();
    let snap_out = t.collect(&snaps).unwrap();
    t.run(3).unwrap();
    assert_eq!(
        out.sorted_batches(),
        vec![
            vec![(s("a"), 1), (s("a"), 2), (s("b"), 1)],
            vec![],
            vec![(s("b"), 2)]
        ]
    );
    assert_eq!(
        snap_out.sorted_batches(),
        vec![
            vec![(s("a"), 2), (s("b"), 1)],
            vec![(s("a"), 2), (s("b"), 1)],
            vec![(s("a"), 2), (s("b"), 2)],
        ]
    );
}

#[test]
fn recovery_continues_the_running_counts_with_another_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let build = |t: &StreamTest, batches: Vec<Vec<(String, u64)>>| {
        let pairs = t.input(batches);
        let totals = pairs.update_state_by_key(running_count, None);
        totals.checkpoint(Duration::seconds(1)).unwrap();
        t.collect(&totals).unwrap()
    };
    {
        let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let out = build(&t, words(&[&["a", "b"], &["a", "c", "c"]]));
        t.run(2).unwrap();
        t.stop().unwrap();
        assert_eq!(
            out.sorted_batches()[1],
            vec![(s("a"), 2), (s("b"), 1), (s("c"), 2)]
        );
    }
    let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
    let out = build(&t, words(&[&["b", "d"]]));
    assert_eq!(
        t.restore(dir.path()).unwrap().map(|t| t.as_millis()),
        Some(2000)
    );
    t.run(1).unwrap();
    let batches = out.batches_with_time();
    assert_eq!(batches[0].0.as_millis(), 3000);
    let mut first = batches[0].1.clone();
    first.sort();
    assert_eq!(
        first,
        vec![(s("a"), 2), (s("b"), 2), (s("c"), 2), (s("d"), 1)]
    );
}
