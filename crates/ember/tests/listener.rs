//! StreamingListener events (reference §5.1): order, BatchInfo and OutputOperationInfo fields,
//! failures. The bus may lag behind `t.run`, so every test calls `t.stop()` (which flushes the
//! bus) before looking at the events.

mod common;

use common::{Log, sec};
use ember::scheduler::{BatchInfo, OutputOperationInfo, StreamingListener};
use ember::testing::StreamTest;

/// Every event as a line of `log`, and each kind's infos in its own list.
#[derive(Clone, Default)]
struct Recorder {
    log: Log<String>,
    submitted: Log<BatchInfo>,
    started: Log<BatchInfo>,
    completed: Log<BatchInfo>,
    outputs_started: Log<OutputOperationInfo>,
    outputs_completed: Log<OutputOperationInfo>,
    streaming_started: Log<u64>,
}

impl Recorder {
    /// Logs `line` and keeps `info` in `list`.
    fn note<T: Clone>(&self, line: String, list: &Log<T>, info: &T) {
        self.log.push(line);
        list.push(info.clone());
    }

    /// Logs "batch `event` <time>" and keeps `info` in `list`.
    fn batch(&self, event: &str, list: &Log<BatchInfo>, info: &BatchInfo) {
        let ms = info.batch_time.as_millis();
        self.note(format!("batch {event} {ms}"), list, info);
    }

    /// Logs "output `event` <time> <id>" and keeps `info` in `list`.
    fn output(&self, event: &str, list: &Log<OutputOperationInfo>, info: &OutputOperationInfo) {
        let (ms, id) = (info.batch_time.as_millis(), info.id);
        self.note(format!("output {event} {ms} {id}"), list, info);
    }
}

impl StreamingListener for Recorder {
    fn on_streaming_started(&self, time: u64) {
        self.note("streaming started".into(), &self.streaming_started, &time);
    }
    fn on_batch_submitted(&self, info: &BatchInfo) {
        self.batch("submitted", &self.submitted, info);
    }
    fn on_batch_started(&self, info: &BatchInfo) {
        self.batch("started", &self.started, info);
    }
    fn on_batch_completed(&self, info: &BatchInfo) {
        self.batch("completed", &self.completed, info);
    }
    fn on_output_operation_started(&self, info: &OutputOperationInfo) {
        self.output("started", &self.outputs_started, info);
    }
    fn on_output_operation_completed(&self, info: &OutputOperationInfo) {
        self.output("completed", &self.outputs_completed, info);
    }
}

/// A test context on `master` with a [`Recorder`] listening.
fn recorded(master: &str) -> (StreamTest, Recorder) {
    let t = StreamTest::new(master, sec()).unwrap();
    let rec = Recorder::default();
    t.context().add_streaming_listener(rec.clone());
    (t, rec)
}

fn expected_batch_events(ms: u64, outputs: usize) -> Vec<String> {
    let mut v = vec![
        format!("batch submitted {ms}"),
        format!("batch started {ms}"),
    ];
    for op in 0..outputs {
        v.push(format!("output started {ms} {op}"));
        v.push(format!("output completed {ms} {op}"));
    }
    v.push(format!("batch completed {ms}"));
    v
}

/// The log of a whole run: the start, then the events of each batch of `batch_times`.
fn expected_run(batch_times: &[u64], outputs: usize) -> Vec<String> {
    let mut v = vec!["streaming started".to_string()];
    for &ms in batch_times {
        v.extend(expected_batch_events(ms, outputs));
    }
    v
}

#[test]
fn events_come_in_spark_order() {
    let (t, rec) = recorded("local[2]");
    let input = t.input(vec![vec![1, 2, 3], vec![4, 5]]);
    let a = t.collect(&input).unwrap();
    let b = t.collect(&input.map(|x: i32| x + 1)).unwrap();
    t.run(2).unwrap();
    t.stop().unwrap();
    assert_eq!(rec.log.entries(), expected_run(&[1000, 2000], 2));
    assert_eq!(rec.streaming_started.entries(), vec![0]);
    assert_eq!(a.batches(), vec![vec![1, 2, 3], vec![4, 5]]);
    assert_eq!(b.batches(), vec![vec![2, 3, 4], vec![5, 6]]);
}

#[test]
fn batch_info_fields() {
    let (t, rec) = recorded("local[2]");
    let input = t.input(vec![vec![1, 2, 3], vec![4, 5], vec![]]);
    t.collect(&input).unwrap();
    input.count().foreach_rdd(|_, _| {}).unwrap();
    t.run(3).unwrap();
    t.stop().unwrap();

    let submitted = rec.submitted.entries();
    let started = rec.started.entries();
    let completed = rec.completed.entries();
    assert_eq!(submitted.len(), 3);
    assert_eq!(started.len(), 3);
    assert_eq!(completed.len(), 3);
    let records = [3u64, 2, 0];
    for (i, ((sub, sta), done)) in submitted.iter().zip(&started).zip(&completed).enumerate() {
        let ms = 1000 * (i as u64 + 1);
        for info in [sub, sta, done] {
            assert_eq!(info.batch_time.as_millis(), ms);
            // ember reports the records a queue stream delivered (Spark reports 0).
            assert_eq!(info.num_records(), records[i]);
            assert_eq!(info.stream_id_to_input_info.len(), 1);
            let input = &info.stream_id_to_input_info[&0];
            assert_eq!(input.input_stream_id, 0);
            assert_eq!(input.num_records, records[i]);
            // On a manual clock the batch closes at its own time.
            assert_eq!(info.submission_time, ms);
        }
        // Submitted: not started yet.
        assert_eq!(sub.processing_start_time, None);
        assert_eq!(sub.processing_end_time, None);
        assert_eq!(sub.scheduling_delay(), None);
        assert_eq!(sub.processing_delay(), None);
        assert_eq!(sub.total_delay(), None);
        assert!(sub.output_operation_infos.is_empty());
        // Started: start time only.
        let start = sta.processing_start_time.expect("start time when started");
        assert!(start >= sta.submission_time);
        assert_eq!(sta.processing_end_time, None);
        assert!(sta.scheduling_delay().is_some());
        assert_eq!(sta.processing_delay(), None);
        // Completed: everything.
        let (s, e) = (
            done.processing_start_time.unwrap(),
            done.processing_end_time.unwrap(),
        );
        assert!(s >= done.submission_time && e >= s);
        let sched = done.scheduling_delay().unwrap();
        let proc_ = done.processing_delay().unwrap();
        assert_eq!(sched, s - done.submission_time);
        assert_eq!(proc_, e - s);
        assert_eq!(done.total_delay(), Some(sched + proc_));
        assert_eq!(done.output_operation_infos.len(), 2);
        for (id, op) in &done.output_operation_infos {
            assert_eq!(op.id, *id);
            assert_eq!(op.batch_time.as_millis(), ms);
            assert_eq!(op.name, "foreach_rdd");
            assert_eq!(op.failure_reason, None);
            let (os, oe) = (op.start_time.unwrap(), op.end_time.unwrap());
            assert!(os >= s && oe >= os && oe <= e);
            assert_eq!(op.duration(), Some(oe - os));
        }
        assert_eq!(
            done.output_operation_infos
                .keys()
                .copied()
                .collect::<Vec<_>>(),
            vec![0, 1]
        );
    }
}

#[test]
fn several_inputs_report_their_own_records() {
    let (t, rec) = recorded("local[3]");
    let a = t.input(vec![vec![1, 2], vec![]]);
    let b = t.input(vec![vec![3, 4, 5, 6, 7], vec![8]]);
    t.collect(&a.union(&b)).unwrap();
    t.run(2).unwrap();
    t.stop().unwrap();
    let completed = rec.completed.entries();
    let counts: Vec<Vec<(usize, u64)>> = completed
        .iter()
        .map(|i| {
            i.stream_id_to_input_info
                .values()
                .map(|s| (s.input_stream_id, s.num_records))
                .collect()
        })
        .collect();
    assert_eq!(counts, vec![vec![(0, 2), (1, 5)], vec![(0, 0), (1, 1)]]);
    assert_eq!(
        completed
            .iter()
            .map(BatchInfo::num_records)
            .collect::<Vec<_>>(),
        vec![7, 1]
    );
}

#[test]
fn output_operation_names() {
    let (t, rec) = recorded("local[2]");
    let dir = tempfile::tempdir().unwrap();
    let input = t.input(vec![vec![1]]);
    input.foreach_rdd(|_, _| {}).unwrap();
    input.try_foreach_rdd(|_, _| Ok::<(), String>(())).unwrap();
    input.print(1).unwrap();
    input.pprint(1).unwrap();
    input
        .save_as_text_files(dir.path().join("out").to_str().unwrap(), "")
        .unwrap();
    t.run(1).unwrap();
    t.stop().unwrap();
    let names: Vec<(usize, String)> = rec
        .outputs_completed
        .entries()
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    assert_eq!(
        names,
        vec![
            (0, "foreach_rdd".to_string()),
            (1, "foreach_rdd".to_string()),
            (2, "print".to_string()),
            (3, "pprint".to_string()),
            (4, "save_as_text_files".to_string()),
        ]
    );
    assert!(
        rec.outputs_completed
            .entries()
            .iter()
            .all(|o| o.failure_reason.is_none())
    );
}

#[test]
fn failing_output_operations_have_a_failure_reason() {
    let (t, rec) = recorded("local[2]");
    let input = t.input(vec![vec![1], vec![2], vec![3]]);
    input
        .try_foreach_rdd(|rdd, _| {
            if rdd.collect() == vec![2] {
                Err("nope".to_string())
            } else {
                Ok(())
            }
        })
        .unwrap();
    input
        .foreach_rdd(|rdd, _| {
            if rdd.collect() == vec![1] {
                panic!("kaboom");
            }
        })
        .unwrap();
    let mapped = input.map(|x: i32| {
        if x == 3 {
            panic!("three is bad");
        }
        x
    });
    mapped.foreach_rdd(|_, _| {}).unwrap();
    t.run(3).unwrap();
    t.stop().unwrap();

    assert_eq!(
        rec.log.entries(),
        expected_run(&[1000, 2000, 3000], 3),
        "failures do not change the event order"
    );

    let reasons: Vec<(u64, usize, Option<String>)> = rec
        .outputs_completed
        .entries()
        .into_iter()
        .map(|o| (o.batch_time.as_millis(), o.id, o.failure_reason))
        .collect();
    let reason = |ms: u64, id: usize| {
        reasons
            .iter()
            .find(|r| r.0 == ms && r.1 == id)
            .unwrap()
            .2
            .clone()
    };
    assert_eq!(reason(1000, 0), None);
    assert!(reason(1000, 1).unwrap().contains("kaboom"));
    assert_eq!(reason(1000, 2), None);
    assert_eq!(reason(2000, 0), Some("nope".to_string()));
    assert_eq!(reason(2000, 1), None);
    assert_eq!(reason(2000, 2), None);
    assert_eq!(reason(3000, 0), None);
    assert_eq!(reason(3000, 1), None);
    let upstream = reason(3000, 2).expect("the map's failure fails its output");
    assert!(upstream.contains("three is bad"), "{upstream}");
    // Started events never carry a failure or an end time.
    for o in rec.outputs_started.entries().iter() {
        assert_eq!(o.failure_reason, None);
        assert_eq!(o.end_time, None);
        assert!(o.start_time.is_some());
    }
    // The completed batches carry the same output infos.
    let completed = rec.completed.entries();
    assert_eq!(
        completed[1].output_operation_infos[&0].failure_reason,
        Some("nope".to_string())
    );
    assert!(
        completed[0].output_operation_infos[&1]
            .failure_reason
            .is_some()
    );
    assert!(
        completed[2].output_operation_infos[&2]
            .failure_reason
            .is_some()
    );
    assert!(
        completed[2].output_operation_infos[&0]
            .failure_reason
            .is_none()
    );
}

struct Panicky;

impl StreamingListener for Panicky {
    fn on_batch_submitted(&self, _info: &BatchInfo) {
        panic!("listener panics on submit");
    }
    fn on_batch_completed(&self, _info: &BatchInfo) {
        panic!("listener panics on complete");
    }
}

#[test]
fn a_panicking_listener_disturbs_neither_the_stream_nor_other_listeners() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let rec = Recorder::default();
    t.context().add_streaming_listener(Panicky);
    t.context().add_streaming_listener(rec.clone());
    let out = t.collect(&t.input(vec![vec![1], vec![2]])).unwrap();
    t.run(2).unwrap();
    t.stop().unwrap();
    assert_eq!(rec.log.entries(), expected_run(&[1000, 2000], 1));
    assert_eq!(out.batches(), vec![vec![1], vec![2]]);
    t.context()
        .await_termination_or_timeout(std::time::Duration::ZERO)
        .unwrap();
}

#[test]
fn several_listeners_each_get_every_event() {
    let t = StreamTest::new("local[1]", sec()).unwrap();
    let recs: Vec<Recorder> = (0..3).map(|_| Recorder::default()).collect();
    for r in &recs {
        t.context().add_streaming_listener(r.clone());
    }
    t.collect(&t.input(vec![vec![1]])).unwrap();
    t.run(3).unwrap();
    t.stop().unwrap();
    let expected = expected_run(&[1000, 2000, 3000], 1);
    for r in &recs {
        assert_eq!(r.log.entries(), expected);
    }
}

/// Spark's `addStreamingListener` may be called while the context runs; the listener gets the
/// events from then on. ember's `add_streaming_listener` (streaming/context.rs) only stores the
/// listener for the next start, and the running `ListenerBus` (scheduler/listener.rs) has a
/// fixed list, so a listener added while running never hears anything.
#[test]
fn a_listener_added_while_running_gets_later_events() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    t.collect(&t.input(vec![vec![1], vec![2]])).unwrap();
    t.run(1).unwrap();
    let rec = Recorder::default();
    t.context().add_streaming_listener(rec.clone());
    t.run(1).unwrap();
    t.stop().unwrap();
    assert_eq!(rec.log.entries(), expected_batch_events(2000, 1));
}
