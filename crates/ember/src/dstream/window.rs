//! `window` (Spark's `WindowedDStream`): every slide, the union of the parent's batches of the
//! last window.
//!
//! The window at batch time `t` covers the parent's batches in `(t - window, t]` and exists only at
//! the window's slide times (`(t - zero) % slide == 0`, as every stream in Spark). At the start of
//! the stream the first windows are partial: the batches before the first one are just empty.
//!
//! Each worker keeps the parent's records of the partitions it owns, per batch, for as long as a
//! coming window covers them; they do not move between workers. A window's partition `p` is the
//! parent's partition `p` of every batch in the window, oldest batch first (Spark's
//! `PartitionerAwareUnionRDD`; Spark's plain `UnionRDD` would keep the batches' partitions apart,
//! with the same elements). Records are cloned into a window's output, except those of batches no
//! later window covers, which are moved.
//!
//! Those buffers are state: with a checkpoint directory they are written at checkpoint times
//! (the batches added since the previous write, and the ones dropped since; the whole buffer at
//! the first write of a run and at every tenth checkpoint), and a restarted program restores
//! them, so its windows are those of an uninterrupted run. A window stream does not by itself
//! require a checkpoint directory, as in Spark.

use std::collections::BTreeSet;

use crate::data::Data;
use crate::dstream::node::{BatchNode, WorkerInfo};
use crate::dstream::{DStream, Node};
use crate::exec::{BatchLogic, Route};
use crate::scheduler::Tick;
use crate::state::{BatchBuffer, Checkpointed, Declared, Parts, Restorer};
use crate::time::Duration;

/// Which Spark class's validation a window operation follows (they word it differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WindowCheck {
    /// `WindowedDStream` (`window`, and what is made of it): a plain `Exception`.
    Windowed,
    /// `ReducedWindowedDStream` (the incremental windows): a `require`.
    Reduced,
}

/// Why a window of `window` every `slide` cannot be made on a stream sliding every `parent`,
/// in Spark's words, or `None` when it can (see `window_args`, where the rule lives).
pub(crate) fn window_poison(
    check: WindowCheck,
    parent: Duration,
    window: Duration,
    slide: Duration,
) -> Option<String> {
    crate::dstream::window_args::check_window_args(check, parent, window, slide)
        .err()
        .map(|e| e.to_string())
}

/// Spark's default checkpoint interval of a stream that must checkpoint: the smallest multiple
/// of its slide that is at least 10 s.
pub(crate) fn default_checkpoint_interval(slide: Duration) -> Duration {
    let slide_ms = slide.as_millis().max(1);
    Duration::milliseconds(slide_ms * Duration::seconds(10).as_millis().div_ceil(slide_ms))
}

/// The first time after `now` at which a stream sliding every `slide` from `zero` has a batch.
pub(crate) fn next_slide_time(tick: &Tick, slide: Duration) -> u64 {
    let (now, zero, s) = (
        tick.time.as_millis(),
        tick.zero.as_millis(),
        slide.as_millis().max(1),
    );
    zero + ((now.saturating_sub(zero)) / s + 1) * s
}

struct Window<T> {
    window: Duration,
    slide: Duration,
    /// The parent's batches that a coming window still covers, by batch time (ms).
    buffer: Checkpointed<BatchBuffer<T>>,
}

impl<T: Data> Window<T> {
    /// Emits the window ending at `t`, partition by partition, each partition's records in batch
    /// order. Records of batches at or before `last_use` are moved (no later window covers
    /// them), the others cloned.
    fn emit(&mut self, t: u64, last_use: u64, out: &mut Vec<(u32, T)>) {
        let from = t.saturating_sub(self.window.as_millis());
        let times: Vec<u64> = self
            .buffer
            .range(from + 1..=t)
            .map(|(batch, _)| *batch)
            .collect();
        let partitions: BTreeSet<u32> = self
            .buffer
            .range(from + 1..=t)
            .flat_map(|(_, parts)| parts.keys().copied())
            .collect();
        for p in partitions {
            for batch in &times {
                let Some(records) = self
                    .buffer
                    .get_mut(*batch)
                    .and_then(|parts| parts.get_mut(&p))
                else {
                    continue;
                };
                if *batch <= last_use {
                    out.extend(std::mem::take(records).into_iter().map(|x| (p, x)));
                } else {
                    out.extend(records.iter().map(|x| (p, x.clone())));
                }
            }
        }
    }
}

impl<T: Data> BatchLogic<T, T> for Window<T> {
    type Acc = Parts<T>;

    fn absorb(&mut self, acc: &mut Self::Acc, partition: u32, record: T) {
        acc.entry(partition).or_default().push(record);
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<(u32, T)>) {
        let t = tick.time.as_millis();
        if !acc.is_empty() {
            self.buffer.insert(t, std::mem::take(acc));
        }
        // Batches at or before `last_use` are in no window after this tick's.
        let last_use = next_slide_time(tick, self.slide).saturating_sub(self.window.as_millis());
        if tick.is_slide_time(self.slide) {
            self.emit(t, last_use, out);
        }
        while self.buffer.pop_through(last_use).is_some() {}
        // Written at every checkpoint time, slide time or not: the commit of any batch needs
        // every stateful stream's share.
        self.buffer.checkpoint(tick);
    }
}

impl<T: Data> DStream<T> {
    /// Every `slide_duration`, the elements of this stream's batches in the last
    /// `window_duration` (Spark's `window`): the window at time `t` covers the batches in
    /// `(t - window_duration, t]`. Both durations must be multiples of this stream's slide
    /// (Spark's messages otherwise, returned when an output is registered on the stream;
    /// [`try_window`](Self::try_window) returns them at once).
    /// Spark's one-argument form is `window(w, stream.slide_duration())`.
    ///
    /// The resulting stream slides every `slide_duration`: its batches, and those of the streams
    /// made from it, exist only at those times. Partition `p` of a window holds partition `p` of
    /// each of its batches, oldest first. The buffered batches are checkpointed when a checkpoint
    /// directory is set (none is required), so recovery restores the windows.
    ///
    /// # Examples
    ///
    /// The last two batches, every batch:
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let numbers = t.input(vec![vec![1], vec![2], vec![3, 4], vec![]]);
    /// let last_two = numbers.window(Duration::seconds(2), Duration::seconds(1));
    /// let out = t.collect(&last_two)?;
    /// t.run(4)?;
    /// assert_eq!(out.sorted_batches(), vec![vec![1], vec![1, 2], vec![2, 3, 4], vec![3, 4]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn window(&self, window_duration: Duration, slide_duration: Duration) -> DStream<T> {
        let poison = window_poison(
            WindowCheck::Windowed,
            self.meta.slide,
            window_duration,
            slide_duration,
        );
        // The buffered parts keep the parent's partitions: a restored part stays whole.
        let partitions = self.meta.partitions;
        let tables = Declared::new(move |owner| BatchBuffer::<T>::by_partition(owner, partitions));
        let open = tables.clone();
        let node = BatchNode::new(self, "window", Route::Local, move |w: WorkerInfo| Window {
            window: window_duration,
            slide: slide_duration,
            buffer: open.open(&w),
        });
        self.derive_window(
            "window",
            slide_duration,
            poison,
            node,
            None,
            tables.restorer(),
        )
    }

    /// A windowed stream after this one, with its partitions, whose per-worker state is
    /// `restorer`'s (checkpointed every `default_interval`, see `register_stateful`), and which
    /// `poison` (from [`window_poison`]), if any, makes fail at start. A poisoned stream is never
    /// built, so it is not registered as stateful: registered, it would hold every commit back.
    pub(crate) fn derive_window<U: Data>(
        &self,
        name: &'static str,
        slide: Duration,
        poison: Option<String>,
        node: impl Node<U>,
        default_interval: Option<Duration>,
        restorer: Restorer,
    ) -> DStream<U> {
        // A window has an RDD at every slide time: parent batches without one are left out
        // (Spark's `WindowedDStream` unions what `slice` finds).
        let stream = self
            .ssc
            .new_stream(
                name,
                slide,
                self.meta.partitions,
                &[&self.meta],
                poison,
                node,
            )
            .always_has_rdd();
        if stream.meta.poisoned.is_none() {
            self.ssc
                .register_stateful(stream.meta.id, default_interval, restorer);
        }
        stream
    }
}
