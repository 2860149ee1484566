//! State benchmark (issues 3 and 12): millions of keys in state, a fixed number updated per
//! batch — batch time against state size, memory per key, checkpoint writes and the restore.
//!
//! ```sh
//! cargo bench -p ember --bench state                       # every configuration below
//! cargo bench -p ember --bench state -- map 10000000 100000     # map_with_state: KEYS UPDATES
//! cargo bench -p ember --bench state -- update 10000000 100000  # update_state_by_key
//! cargo bench -p ember --bench state -- words 2000000           # the word count's state, per key
//! ```
//!
//! Runs the real engine (`local[2]`, two timely workers) on a manual clock. A batch is timed from
//! the moment its time comes to the moment its output job runs (the batch has then gone through
//! every worker); checkpoint files are written in the background by then, and the time until
//! they are on disk is reported beside it. Memory is counted by this program's allocator (live
//! bytes), not read from the RSS, so that it is the engine's own.

#[path = "../tests/common/measure.rs"]
mod measure;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use compact_str::CompactString;
use ember::state::{State, StateSpec};
use ember::testing::StreamTest;
use ember::{Duration, Rdd, RddQueue};

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live_bytes() -> f64 {
    LIVE.load(Ordering::Relaxed) as f64
}

/// A fixed pseudo-random sequence (so runs are comparable).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 17
    }
}

/// The batches of a run: first `keys` distinct keys in chunks of `chunk` (loading the state),
/// then `updates` random existing keys per batch. Made one at a time, just before it runs, so
/// that the input's own memory stays out of the measurement.
struct Batches {
    keys: u64,
    chunk: u64,
    updates: u64,
    loaded: u64,
    rng: Lcg,
}

impl Batches {
    fn new(keys: u64, chunk: u64, updates: u64, seed: u64) -> Self {
        Batches {
            keys,
            chunk,
            updates,
            loaded: 0,
            rng: Lcg(seed),
        }
    }

    /// The same batches past the loading (for a state restored loaded).
    fn loaded(mut self) -> Self {
        self.loaded = self.keys;
        self
    }

    /// Batches that load the state.
    fn loading(&self) -> usize {
        self.keys.div_ceil(self.chunk) as usize
    }

    fn next(&mut self) -> Vec<(u64, u64)> {
        if self.loaded < self.keys {
            let end = (self.loaded + self.chunk).min(self.keys);
            let batch = (self.loaded..end).map(|k| (k, 1)).collect();
            self.loaded = end;
            return batch;
        }
        (0..self.updates)
            .map(|_| (self.rng.next() % self.keys, 1))
            .collect()
    }
}

/// The stateful operation measured: a running count per key.
#[derive(Clone, Copy, PartialEq)]
enum Op {
    /// `map_with_state`: the function runs for the keys with data only.
    Map,
    /// `update_state_by_key`: the function runs for every key with state, every batch.
    Update,
}

/// When each batch's output job ran.
type Done = Arc<Mutex<Vec<Instant>>>;

fn graph(t: &StreamTest, op: Op, queue: &RddQueue<(u64, u64)>, done: &Done) {
    let input = t.context().queue_stream(queue.clone(), true, None);
    let done = done.clone();
    let record = move || done.lock().unwrap().push(Instant::now());
    match op {
        Op::Map => {
            let spec = StateSpec::function(|_k: &u64, v: Option<u64>, st: &mut State<u64>| {
                let n = st.get_option().copied().unwrap_or(0) + v.unwrap_or(0);
                st.update(n);
            });
            let mapped = input.map_with_state(spec);
            // Checkpoint every 4 batches: a full write first, deltas after (a full one every 10th).
            mapped.checkpoint(Duration::seconds(4)).unwrap();
            mapped
                .foreach_rdd(move |rdd: Rdd<()>, _| {
                    rdd.count();
                    record();
                })
                .unwrap();
        }
        Op::Update => {
            let totals = input.update_state_by_key(
                |vs: &[u64], st: Option<u64>| Some(st.unwrap_or(0) + vs.iter().sum::<u64>()),
                None,
            );
            totals.checkpoint(Duration::seconds(4)).unwrap();
            // Only the count of the state travels to the driver, as a program's summary would.
            totals
                .count()
                .foreach_rdd(move |rdd: Rdd<u64>, _| {
                    rdd.collect();
                    record();
                })
                .unwrap();
        }
    }
}

/// Hands `batch` over and runs it: its time (from its time coming to its output job) and the
/// time until its checkpoint files, written in the background, are on disk.
fn timed_batch(
    t: &StreamTest,
    queue: &RddQueue<(u64, u64)>,
    batch: Vec<(u64, u64)>,
    done: &Done,
) -> (f64, f64) {
    queue.push(t.context().context().parallelize(batch, 2));
    let started = Instant::now();
    t.run(1).unwrap();
    let written = started.elapsed().as_secs_f64() * 1000.0;
    let output = done
        .lock()
        .unwrap()
        .last()
        .copied()
        .expect("the batch's output ran");
    ((output - started).as_secs_f64() * 1000.0, written)
}

fn run(op: Op, keys: u64, updates: u64) {
    let name = match op {
        Op::Map => "map_with_state",
        Op::Update => "update_state_by_key",
    };
    let timed = 12;
    let dir = tempfile::tempdir().unwrap();
    let mut input = Batches::new(keys, 100_000, updates, 42);
    let loading = input.loading();
    let done: Done = Arc::default();
    {
        let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let queue = RddQueue::new();
        graph(&t, op, &queue, &done);
        // The batches' own structures are as large at half the keys as at all of them: the
        // difference is the state's.
        for _ in 0..loading / 2 {
            timed_batch(&t, &queue, input.next(), &done);
        }
        let (half_keys, half) = (input.loaded as f64, live_bytes());
        for _ in loading / 2..loading {
            timed_batch(&t, &queue, input.next(), &done);
        }
        let per_key = (live_bytes() - half) / (keys as f64 - half_keys);
        let mut plain = Vec::new();
        let mut ckpt = Vec::new();
        // Batch i (1-based, after loading) is a checkpoint time when its time is a multiple of 4 s.
        for batch in loading + 1..=loading + timed {
            let (ms, written) = timed_batch(&t, &queue, input.next(), &done);
            if batch.is_multiple_of(4) {
                ckpt.push((batch, ms, written));
            } else {
                plain.push(ms);
            }
        }
        plain.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let median = plain[plain.len() / 2];
        let per_state_key = match op {
            Op::Map => String::new(),
            Op::Update => format!(" ({:.1} ns per key with state)", median * 1e6 / keys as f64),
        };
        println!(
            "{name}: keys={keys} updates/batch={updates}: batch median {median:.1} ms{per_state_key} (min {:.1}, max {:.1}) over {} batches without checkpoint; memory {per_key:.0} B/key (live bytes)",
            plain[0],
            plain[plain.len() - 1],
            plain.len(),
        );
        for (batch, ms, written) in &ckpt {
            println!(
                "  checkpoint batch {batch} (changed keys since the last one): {ms:.1} ms, on disk after {written:.1} ms"
            );
        }
        // On to the next full write (every tenth checkpoint): the whole state to disk.
        let mut batch = loading + timed + 1;
        while !(batch.is_multiple_of(4) && (batch / 4).is_multiple_of(10)) {
            timed_batch(&t, &queue, input.next(), &done);
            batch += 1;
        }
        let (ms, written) = timed_batch(&t, &queue, input.next(), &done);
        println!(
            "  checkpoint batch {batch} (full write of all {keys} keys): {ms:.1} ms, on disk after {written:.1} ms"
        );
        // Two more checkpoints (of the changes): the restore reads a full write and two deltas.
        for _ in 0..8 {
            timed_batch(&t, &queue, input.next(), &done);
        }
        t.stop().unwrap();
    }
    let bytes: u64 = measure::dir_size(&dir.path().join("state"));
    println!("  state files on disk: {:.0} MB", bytes as f64 / 1e6);

    // Restore: read, verify and decode the files into the workers' tables (before the start),
    // then the first batch.
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let queue = RddQueue::new();
    graph(&t, op, &queue, &done);
    let started = Instant::now();
    let committed = t
        .restore(dir.path())
        .unwrap()
        .expect("a committed checkpoint");
    let read = started.elapsed();
    let mut updates_only = Batches::new(keys, 100_000, updates, 7).loaded();
    queue.push(t.context().context().parallelize(updates_only.next(), 2));
    let started = Instant::now();
    t.run(1).unwrap();
    let first = started.elapsed();
    println!(
        "  restore from batch {} (a full write and two deltas): read+verify+decode {keys} keys {:.0} ms, first batch ({updates} updates) {:.0} ms: {:.2} s in all",
        committed.as_millis() / 1000,
        read.as_secs_f64() * 1000.0,
        first.as_secs_f64() * 1000.0,
        (read + first).as_secs_f64()
    );
}

/// `n` distinct words made like the benchmark corpus's vocabulary (`gen_corpus.py`: 1 to 5
/// consonant-vowel syllables, a trailing consonant three times in ten).
fn vocabulary(n: usize) -> Vec<CompactString> {
    const CONS: &[u8] = b"bcdfghjklmnprstvwz";
    const VOW: &[u8] = b"aeiou";
    let mut rng = Lcg(20261124);
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut w = String::new();
        for _ in 0..1 + rng.next() % 5 {
            w.push(CONS[(rng.next() % CONS.len() as u64) as usize] as char);
            w.push(VOW[(rng.next() % VOW.len() as u64) as usize] as char);
        }
        if rng.next() % 10 < 3 {
            w.push(CONS[(rng.next() % CONS.len() as u64) as usize] as char);
        }
        if seen.insert(w.clone()) {
            out.push(CompactString::from(w));
        }
    }
    out
}

/// The word count's state (`ember wordcount --stateful`: a running `i64` per `CompactString`
/// word, `update_state_by_key` after a `reduce_by_key`) with `keys` words: the memory each key
/// adds, against the raw size of its word and count.
fn words(keys: usize) {
    let vocab = vocabulary(keys);
    let raw = vocab.iter().map(|w| w.len() + 8).sum::<usize>() as f64 / keys as f64;
    let chunk = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let sc = t.context().context();
    // Each batch is handed over just before it runs, so that the input's own memory is the
    // same at every measurement.
    let queue = RddQueue::new();
    let totals = t
        .context()
        .queue_stream(queue.clone(), true, None)
        .reduce_by_key(|a, b| a + b, None)
        .update_state_by_key(
            |vs: &[i64], st: Option<i64>| Some(st.unwrap_or(0) + vs.iter().sum::<i64>()),
            None,
        );
    totals
        .count()
        .foreach_rdd(|rdd: Rdd<u64>, _| {
            rdd.collect();
        })
        .unwrap();
    let mut batches = vocab.chunks(chunk);
    let mut load = |n: usize| {
        let mut loaded = 0;
        for batch in batches.by_ref().take(n) {
            let pairs: Vec<(CompactString, i64)> = batch.iter().map(|w| (w.clone(), 1)).collect();
            loaded += pairs.len();
            queue.push(sc.parallelize(pairs, 2));
            t.run(1).unwrap();
        }
        loaded
    };
    // The batches' own structures (maps, buffers) are as large at half the keys as at all of
    // them: the difference is the state's.
    let loading = keys.div_ceil(chunk);
    let half_keys = load(loading / 2) as f64;
    let half = live_bytes();
    load(loading);
    let per_key = (live_bytes() - half) / (keys as f64 - half_keys);
    println!(
        "word count state: {keys} words: {per_key:.1} B/key (live bytes, from {:.0} k to {keys} keys; process RSS {:.0} MB); raw word + count {raw:.1} B; 2 x raw + a hash table's slot for (CompactString, i64) ({} B + 1 control byte) = {:.1} B",
        half_keys / 1000.0,
        measure::rss_bytes().unwrap_or(0) as f64 / 1e6,
        std::mem::size_of::<(CompactString, i64)>(),
        2.0 * raw + std::mem::size_of::<(CompactString, i64)>() as f64 + 1.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let op = args.iter().find_map(|a| match a.as_str() {
        "map" => Some(Some(Op::Map)),
        "update" => Some(Some(Op::Update)),
        "words" => Some(None),
        _ => None,
    });
    match (op, numbers.as_slice()) {
        (Some(None), [keys, ..]) => words(*keys as usize),
        (Some(Some(op)), [keys, updates, ..]) => run(op, *keys, *updates),
        _ => {
            words(1_920_703);
            for op in [Op::Map, Op::Update] {
                run(op, 1_000_000, 100_000);
                run(op, 10_000_000, 100_000);
            }
            run(Op::Map, 10_000_000, 1_000_000);
        }
    }
}
