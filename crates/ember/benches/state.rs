//! State benchmark (issue 3): `map_with_state` with millions of keys in state and a fixed number
//! updated per batch — batch time against state size, bytes of memory per key, time to write and
//! to restore a checkpoint.
//!
//! ```sh
//! cargo bench -p ember --bench state                  # 1 M and 10 M keys, 100 k updates per batch
//! cargo bench -p ember --bench state -- 2000000 50000 # other sizes: KEYS UPDATES
//! ```
//!
//! Runs the real engine (`local[2]`, two timely workers) on a manual clock, so that each batch is
//! timed from the moment its time comes to the moment its output job has run.

#[path = "../tests/common/measure.rs"]
mod measure;

use std::time::Instant;

use ember::state::{State, StateSpec};
use ember::testing::StreamTest;
use ember::{Duration, Rdd};

/// The resident memory, or 0 where the system does not say.
fn rss_bytes() -> u64 {
    measure::rss_bytes().unwrap_or(0)
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

/// Batches of keys: first `keys` distinct keys in chunks of `chunk` (loading the state), then
/// `updates` random existing keys per batch.
fn batches(keys: u64, chunk: u64, updates: u64, timed: usize) -> (usize, Vec<Vec<(u64, u64)>>) {
    let mut out = Vec::new();
    let mut k = 0;
    while k < keys {
        let end = (k + chunk).min(keys);
        out.push((k..end).map(|k| (k, 1)).collect());
        k = end;
    }
    let loading = out.len();
    let mut rng = Lcg(42);
    for _ in 0..timed {
        out.push((0..updates).map(|_| (rng.next() % keys, 1)).collect());
    }
    (loading, out)
}

fn graph(t: &StreamTest, input: Vec<Vec<(u64, u64)>>) {
    let spec = StateSpec::function(|_k: &u64, v: Option<u64>, st: &mut State<u64>| {
        let n = st.get_option().copied().unwrap_or(0) + v.unwrap_or(0);
        st.update(n);
    });
    let mapped = t.input(input).map_with_state(spec);
    // Checkpoint every 4 batches: a full write first, deltas after (a full one every 10th).
    mapped.checkpoint(Duration::seconds(4)).unwrap();
    mapped
        .foreach_rdd(|rdd: Rdd<()>, _| {
            rdd.count();
        })
        .unwrap();
}

fn run(keys: u64, updates: u64) {
    let timed = 12;
    let dir = tempfile::tempdir().unwrap();
    let (loading, input) = batches(keys, 100_000, updates, timed + 40);
    let rss_before;
    let mut times = Vec::new();
    {
        let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        graph(&t, input);
        rss_before = rss_bytes();
        t.run(loading).unwrap();
        let rss_loaded = rss_bytes();
        for _ in 0..timed {
            let started = Instant::now();
            t.run(1).unwrap();
            times.push(started.elapsed());
        }
        let per_key = (rss_loaded.saturating_sub(rss_before)) as f64 / keys as f64;
        // Batch i (1-based, after loading) is a checkpoint time when its time is a multiple of 4 s.
        let first = loading + 1;
        let mut plain = Vec::new();
        let mut ckpt = Vec::new();
        for (i, d) in times.iter().enumerate() {
            let batch = first + i;
            let ms = d.as_secs_f64() * 1000.0;
            if batch % 4 == 0 {
                ckpt.push((batch, ms))
            } else {
                plain.push(ms)
            }
        }
        plain.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let median = plain[plain.len() / 2];
        println!(
            "keys={keys} updates/batch={updates}: batch median {median:.1} ms (min {:.1}, max {:.1}) over {} batches without checkpoint; memory {per_key:.0} B/key (RSS {:.0} MB -> {:.0} MB)",
            plain[0],
            plain[plain.len() - 1],
            plain.len(),
            rss_before as f64 / 1e6,
            rss_loaded as f64 / 1e6
        );
        for (batch, ms) in &ckpt {
            println!("  checkpoint batch {batch} (changed keys since the last one): {ms:.1} ms");
        }
        // On to the next full write (every tenth checkpoint): the whole state to disk.
        let mut batch = first + timed;
        while !(batch % 4 == 0 && (batch / 4) % 10 == 0) {
            t.run(1).unwrap();
            batch += 1;
        }
        let started = Instant::now();
        t.run(1).unwrap();
        println!(
            "  checkpoint batch {batch} (full write of all {keys} keys): {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        t.stop().unwrap();
    }
    let bytes: u64 = measure::dir_size(&dir.path().join("state"));
    println!("  state files on disk: {:.0} MB", bytes as f64 / 1e6);

    // Restore: read, verify and decode the files into the workers' tables (before the start),
    // then the first batch.
    let mut rng = Lcg(7);
    let input = vec![(0..updates).map(|_| (rng.next() % keys, 1)).collect()];
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    graph(&t, input);
    let started = Instant::now();
    let committed = t
        .restore(dir.path())
        .unwrap()
        .expect("a committed checkpoint");
    let read = started.elapsed();
    let started = Instant::now();
    t.run(1).unwrap();
    let first = started.elapsed();
    println!(
        "  restore from batch {}: read+verify+decode {keys} keys {:.0} ms, first batch ({updates} updates) {:.0} ms",
        committed.as_millis() / 1000,
        read.as_secs_f64() * 1000.0,
        first.as_secs_f64() * 1000.0
    );
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    match args.as_slice() {
        [keys, updates, ..] => run(*keys, *updates),
        _ => {
            run(1_000_000, 100_000);
            run(10_000_000, 100_000);
            run(10_000_000, 1_000_000);
        }
    }
}
