//! `update_state_by_key` (Spark's `StateDStream`): a running state per key, updated every batch
//! by the user's function from the key's new values.
//!
//! As in Spark the function is called for every key with state in every batch (with no values
//! when the key got none) and for every new key; returning `None` removes the key. The new values
//! of a batch are grouped per key first (`group_by_key`, which combines on each worker before
//! anything crosses workers), then each worker updates the keys of the partitions it owns. The
//! output is the whole state after each batch, keys in the order of their stable hash.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use crate::checkpoint::{Entries, ShareWriter, WriteKind};
use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::dstream::node::{BatchNode, WorkerInfo};
use crate::exec::{BatchLogic, Route};
use crate::rdd::Rdd;
use crate::scheduler::Tick;
use crate::state::{FastMap, owned_initial, restore};
use crate::time::{Duration, Time};

/// The update function in its general form.
type UpdateFn<K, V, S> = Arc<dyn Fn(Time, &K, &[V], Option<S>) -> Option<S> + Send + Sync>;

/// A key's state on its worker, with its stable hash (the output order).
struct Slot<S> {
    hash: u64,
    partition: u32,
    /// Always `Some` between batches; taken while the function runs.
    state: Option<S>,
}

struct UpdateState<K, V, S> {
    update: UpdateFn<K, V, S>,
    slide: Duration,
    partitions: usize,
    states: FastMap<K, Slot<S>>,
    /// The initial state's keys owned here, merged in the first batch.
    initial: Option<Vec<(u64, K, S)>>,
    writer: Option<ShareWriter>,
}

impl<K: Key, V: Data, S: Data> UpdateState<K, V, S> {
    fn new(
        w: &WorkerInfo,
        update: UpdateFn<K, V, S>,
        slide: Duration,
        partitions: usize,
        initial: &Option<Rdd<(K, S)>>,
    ) -> Self {
        let mut logic = UpdateState {
            update,
            slide,
            partitions,
            states: FastMap::default(),
            initial: None,
            writer: None,
        };
        let restored = w.checkpoint.as_ref().and_then(|ck| ck.restored(w.node));
        match restored {
            Some(payloads) => {
                let states = &mut logic.states;
                let outcome = restore::<K, S>(&payloads, partitions, w, |k, hash, s| match s {
                    Some(state) => {
                        let partition = (hash % partitions as u64) as u32;
                        states.insert(
                            k,
                            Slot {
                                hash,
                                partition,
                                state: Some(state),
                            },
                        );
                    }
                    None => {
                        states.remove(&k);
                    }
                });
                if let Err(e) = outcome {
                    // Payloads were verified by checksum before the start, so this is a program
                    // whose key or state type changed since the checkpoint was written.
                    panic!(
                        "the checkpointed state of stream {} cannot be decoded: {e}",
                        w.node
                    );
                }
            }
            None => logic.initial = Some(owned_initial(initial, partitions, w)),
        }
        logic.writer = w
            .checkpoint
            .clone()
            .map(|ck| ShareWriter::new(ck, w.node, w.index, w.workers));
        logic
    }

    /// Calls the function for one key; a panic leaves the key with the state it had.
    fn call(
        &self,
        time: Time,
        key: &K,
        values: &[V],
        old: Option<S>,
    ) -> Result<Option<S>, (Option<S>, Box<dyn std::any::Any + Send>)> {
        let backup = old.clone();
        catch_unwind(AssertUnwindSafe(|| (self.update)(time, key, values, old)))
            .map_err(|panic| (backup, panic))
    }
}

impl<K: Key, V: Data, S: Data> BatchLogic<(K, Vec<V>), (K, S)> for UpdateState<K, V, S> {
    type Acc = FastMap<K, (u32, Vec<V>)>;

    fn absorb(&mut self, acc: &mut Self::Acc, partition: u32, (k, mut vs): (K, Vec<V>)) {
        acc.entry(k)
            .and_modify(|(_, old)| old.append(&mut vs))
            .or_insert((partition, vs));
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<(u32, (K, S))>) {
        if !tick.is_slide_time(self.slide) {
            return;
        }
        let time = tick.time;
        let mut first_panic = None;
        if let Some(initial) = self.initial.take() {
            for (hash, k, state) in initial {
                let partition = (hash % self.partitions as u64) as u32;
                self.states.insert(
                    k,
                    Slot {
                        hash,
                        partition,
                        state: Some(state),
                    },
                );
            }
        }
        // Keys with state: with their new values, or none.
        let mut states = std::mem::take(&mut self.states);
        states.retain(|k, slot| {
            let values = acc.remove(k).map(|(_, vs)| vs).unwrap_or_default();
            match self.call(time, k, &values, slot.state.take()) {
                Ok(Some(new)) => {
                    slot.state = Some(new);
                    true
                }
                Ok(None) => false,
                Err((backup, panic)) => {
                    first_panic.get_or_insert(panic);
                    slot.state = backup;
                    slot.state.is_some()
                }
            }
        });
        // New keys.
        for (k, (partition, values)) in acc.drain() {
            match self.call(time, &k, &values, None) {
                Ok(Some(state)) => {
                    let hash = crate::hash::stable_hash(&k);
                    states.insert(
                        k,
                        Slot {
                            hash,
                            partition,
                            state: Some(state),
                        },
                    );
                }
                Ok(None) => {}
                Err((_, panic)) => {
                    first_panic.get_or_insert(panic);
                }
            }
        }
        self.states = states;

        let mut rows: Vec<(u32, u64, &K, &S)> = self
            .states
            .iter()
            .filter_map(|(k, s)| Some((s.partition, s.hash, k, s.state.as_ref()?)))
            .collect();
        rows.sort_unstable_by_key(|r| (r.0, r.1));
        out.reserve(rows.len());
        out.extend(
            rows.into_iter()
                .map(|(p, _, k, s)| (p, (k.clone(), s.clone()))),
        );

        // The function may return the same state or another: every key counts as changed, so
        // every checkpoint of this stream is a full one.
        if let Some(writer) = &mut self.writer
            && writer.due(tick.time, tick.zero, tick.last).is_some()
        {
            let mut entries = Entries::default();
            for (k, slot) in &self.states {
                entries.push(k, slot.state.as_ref());
            }
            writer.write(time, WriteKind::Full, &entries);
        }
        if let Some(panic) = first_panic {
            resume_unwind(panic);
        }
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// A running state per key (Spark's `updateStateByKey`): in every batch, `update` gets each
    /// key's new values (an empty slice for a key with state but no new values) and its previous
    /// state (`None` for a new key), and returns the new state, or `None` to remove the key. The
    /// stream's batches hold every key's state after the batch.
    ///
    /// Needs a checkpoint directory ([`StreamingContext::checkpoint`](crate::StreamingContext::checkpoint)),
    /// as in Spark; the state is written there every checkpoint interval (by default the smallest
    /// multiple of the slide that is at least 10 s; see [`DStream::checkpoint`]).
    pub fn update_state_by_key<S: Data>(
        &self,
        update: impl Fn(&[V], Option<S>) -> Option<S> + Send + Sync + 'static,
        partitions: Option<usize>,
    ) -> DStream<(K, S)> {
        self.update_state_by_key_with(move |_t, _k, vs, s| update(vs, s), partitions, None)
    }

    /// [`update_state_by_key`](Self::update_state_by_key) starting from `initial`: its keys go
    /// through the function in the first batch too.
    pub fn update_state_by_key_with_initial<S: Data>(
        &self,
        update: impl Fn(&[V], Option<S>) -> Option<S> + Send + Sync + 'static,
        partitions: Option<usize>,
        initial: Rdd<(K, S)>,
    ) -> DStream<(K, S)> {
        self.update_state_by_key_with(
            move |_t, _k, vs, s| update(vs, s),
            partitions,
            Some(initial),
        )
    }

    /// The general form of [`update_state_by_key`](Self::update_state_by_key): the function also
    /// gets the batch time and the key; an optional initial state.
    pub fn update_state_by_key_with<S: Data>(
        &self,
        update: impl Fn(Time, &K, &[V], Option<S>) -> Option<S> + Send + Sync + 'static,
        partitions: Option<usize>,
        initial: Option<Rdd<(K, S)>>,
    ) -> DStream<(K, S)> {
        let n = partitions
            .unwrap_or_else(|| self.ssc.context().default_parallelism())
            .max(1);
        let grouped = self.group_by_key(Some(n));
        let update: UpdateFn<K, V, S> = Arc::new(update);
        let slide = self.meta.slide;
        let node = BatchNode::new(
            &grouped,
            "update_state_by_key",
            Route::Local,
            move |w: WorkerInfo| UpdateState::new(&w, update.clone(), slide, n, &initial),
        );
        let stream = grouped.derive("update_state_by_key", slide, n, &[&grouped.meta], node);
        // Spark's default for stateful streams: the smallest multiple of the slide >= 10 s.
        let tens = Duration::seconds(10)
            .as_millis()
            .div_ceil(slide.as_millis().max(1));
        self.ssc.register_stateful(
            stream.meta.id,
            Some(Duration::milliseconds(slide.as_millis() * tens)),
        );
        stream
    }
}
