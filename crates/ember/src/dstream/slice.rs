//! `slice`: the RDDs a stream produced between two times (Spark's `DStream.slice`).
//!
//! Batches are kept only when the context was told to remember (`StreamingContext::remember`,
//! before start): then every stream gathers its batches on the driver and keeps them for that
//! long. Spark keeps each stream's recent batches in any case; ember does not make every stream
//! pay for that.
//!
//! A slice over times whose batches have not run computes them at once, as Spark's
//! `getOrCompute` does: the driver closes those batches ahead of the clock (a queue gives its
//! next RDDs to them), and their output jobs still run at their times.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::data::Data;
use crate::dstream::node::{OnDriver, into_partitions};
use crate::dstream::{DStream, Meta};
use crate::error::{Error, Result};
use crate::exec::{Builder, Flow, Route};
use crate::rdd::Rdd;
use crate::streaming::StreamingContextState;
use crate::sync::RecoverPoison;
use crate::time::Time;

/// A stream's kept batches: batch time in ms → partitions.
pub(crate) type Retained<T> = Arc<Mutex<BTreeMap<u64, Vec<Vec<T>>>>>;

/// Gathers and keeps the stream's batches on the driver when the run remembers.
pub(crate) fn retain<'s, T: Data>(
    b: &mut Builder<'s>,
    flow: &Flow<'s, T>,
    meta: &Meta,
    store: &Retained<T>,
) {
    let Some(keep) = b.runtime().remember else {
        return;
    };
    let (store, keep, partitions) = (store.clone(), keep.max(meta.slide), meta.partitions);
    // A time without an RDD keeps nothing: `slice` leaves it out, as Spark's does.
    let logic = OnDriver::new(
        b.is_driver(),
        meta.slide,
        meta.absent_when.clone(),
        move |records, time: Time, _: &mut Vec<(u32, ())>| {
            let mut store = store.lock().recover();
            store.insert(time.as_millis(), into_partitions(records, partitions));
            let oldest = time.as_millis().saturating_sub(keep.as_millis());
            store.retain(|t, _| *t > oldest);
        },
    );
    let done = flow
        .clone()
        .batch(b, Route::Driver, meta.id, "remember", logic);
    b.probe(done);
}

impl<T: Data> DStream<T> {
    /// The RDDs this stream produced at the batch times from `from` to `to`, both included
    /// (Spark's `slice`); unaligned times are moved down to the stream's slide, and times
    /// without an RDD are left out. Needs a started context that remembers its batches
    /// (`StreamingContext::remember` before `start`; before `start`, Spark's "... has not been
    /// initialized"); in a cluster, batches are kept by the driver process (process 0).
    ///
    /// Batches whose time has not come are computed at once, as Spark's `getOrCompute` does:
    /// `slice` waits until their data has gone through the stream (a queue gives its next RDDs
    /// to them), and their output jobs still run at their batch times. This is refused from
    /// inside the stream's own output jobs and transformations, which run on the thread that
    /// computes batches. Only streams that an output operation uses are computed; the others
    /// have no batches to slice.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::Time;
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// t.context().remember(Duration::seconds(10))?;
    /// let numbers = t.input(vec![vec![1], vec![2, 3], vec![4]]);
    /// numbers.foreach_rdd(|_, _| {})?;
    /// t.run(3)?;
    /// let rdds = numbers.slice(Time::from_millis(2000), Time::from_millis(3000))?;
    /// let batches: Vec<Vec<i32>> = rdds.iter().map(|rdd| rdd.collect()).collect();
    /// assert_eq!(batches, [vec![2, 3], vec![4]]);
    ///
    /// // Batches 4000 and 5000 have not run: they are computed now.
    /// let ahead = numbers.slice(Time::from_millis(4000), Time::from_millis(5000))?;
    /// assert_eq!(ahead.len(), 2);
    /// # Ok::<(), ember::Error>(())
    /// ```
    ///
    /// Before `start`:
    ///
    /// ```
    /// # use ember::Time;
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let numbers = t.input(vec![vec![1]]);
    /// let e = numbers.slice(Time::from_millis(0), Time::from_millis(1000)).unwrap_err();
    /// assert!(e.to_string().ends_with("has not been initialized"), "{e}");
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn slice(&self, from: Time, to: Time) -> Result<Vec<Rdd<T>>> {
        if self.ssc.state() == StreamingContextState::Initialized {
            // Spark's `DStream.slice` names the stream (its `toString`) in this message.
            return Err(Error::IllegalState(format!(
                "{} stream {} has not been initialized",
                self.meta.name, self.meta.id
            )));
        }
        if self.ssc.remember_duration().is_none() {
            return Err(Error::Unsupported(
                "slice needs remembered batches: call StreamingContext::remember(duration) before start".into(),
            ));
        }
        let slide = self.meta.slide;
        if !from.is_multiple_of(slide) || !to.is_multiple_of(slide) {
            tracing::warn!(
                "slice times {from} and {to} moved down to multiples of the slide {slide}"
            );
        }
        let (from, to) = (from.floor(slide), to.floor(slide));
        if self.ssc.state() == StreamingContextState::Active {
            self.ssc.compute_through(to)?;
        }
        let store = self.retained.lock().recover();
        let ctx = self.ssc.context();
        Ok(store
            .range(from.as_millis()..=to.as_millis())
            .map(|(_, parts)| Rdd::from_partitions(ctx, parts.clone()))
            .collect())
    }
}
