//! `update_state_by_key` (Spark's `StateDStream`): a running state per key, updated every batch
//! by the user's function from the key's new values.
//!
//! As in Spark the function is called for every key with state in every batch (with no values
//! when the key got none) and for every new key; returning `None` removes the key. The output is
//! the whole state after each batch, keys in the order of their stable hash.
//!
//! The state of each worker is an [`OrderedState`]: its keys sorted by partition and stable hash.
//! A batch's new values are brought to the worker of their key's partition (not at all when the
//! stream is already partitioned by key, e.g. the output of a `reduce_by_key` with the same
//! number of partitions, as Spark's `cogroup` spares the shuffle of a co-partitioned parent),
//! sorted the same way (already so after a `reduce_by_key`), and merged into the state in one
//! pass: a key without new values is updated where it lies, in a few nanoseconds. The output, the
//! whole state in the stable order, is then given from the state a step at a time
//! (`BatchLogic::emit_more`), each step taken by the operators downstream before the next, so
//! that it is never held whole. A state whose encoding did not change is not written again:
//! checkpoints write the changed and removed keys, with a full write every tenth checkpoint
//! (encoded from a copy-on-write snapshot by the checkpoint writer, not the worker).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::dstream::node::{BatchNode, WorkerInfo};
use crate::exec::{BatchLogic, Route};
use crate::hash::{partition_of_hash, stable_hash};
use crate::partitioner::Partitioning;
use crate::rdd::Rdd;
use crate::scheduler::Tick;
use crate::state::{ChangeCheck, Checkpointed, Declared, NewValues, OrderedState, Outcome};
use crate::time::{Duration, Time};

/// The update function in its general form.
type UpdateFn<K, V, S> = Arc<dyn Fn(Time, &K, &[V], Option<S>) -> Option<S> + Send + Sync>;

struct UpdateState<K, V, S> {
    update: UpdateFn<K, V, S>,
    slide: Duration,
    partitions: usize,
    states: Checkpointed<OrderedState<K, S>>,
    /// The initial state's keys owned here (with their hashes), merged in the first batch.
    initial: Option<Vec<(u64, K, S)>>,
    changes: ChangeCheck,
    /// Where the output of the batch just finished has got to (see `emit_more`).
    emitting: Option<(usize, usize)>,
}

impl<K: Key, V: Data, S: Data> UpdateState<K, V, S> {
    fn new(
        states: Checkpointed<OrderedState<K, S>>,
        update: UpdateFn<K, V, S>,
        slide: Duration,
        partitions: usize,
        initial: &Option<Rdd<(K, S)>>,
    ) -> Self {
        // A restored state already holds what the initial state became.
        let initial = match initial {
            Some(rdd) if !states.was_restored() => Some(states.owned(rdd.collect())),
            _ => None,
        };
        UpdateState {
            update,
            slide,
            partitions,
            states,
            initial,
            changes: ChangeCheck::default(),
            emitting: None,
        }
    }

    /// `key`'s stable hash and partition.
    fn place(&self, key: &K) -> (u64, u32) {
        let hash = stable_hash(key);
        (hash, partition_of_hash(hash, self.partitions))
    }

    /// Merges the batch's new values into the state; its output (the whole state) is given
    /// afterwards, a step at a time (`emit_more`), so that it is never held whole.
    fn update_batch(&mut self, tick: &Tick, new: &mut NewValues<K, V>) {
        if !tick.is_slide_time(self.slide) {
            new.clear();
            return;
        }
        let time = tick.time;
        if let Some(initial) = self.initial.take() {
            self.states.insert_all(initial);
        }
        let mut first_panic = None;
        let update = &self.update;
        let changes = &mut self.changes;
        self.states.update_all(
            new,
            |k, values, old| match call(update, time, k, values, old.cloned()) {
                Ok(Some(value)) => {
                    let changed = old.is_none_or(|old| changes.changed(old, &value));
                    Outcome::Set { value, changed }
                }
                Ok(None) if old.is_some() => Outcome::Remove,
                Ok(None) => Outcome::Keep,
                Err(panic) => {
                    first_panic.get_or_insert(panic);
                    Outcome::Keep
                }
            },
            |_, _, _| {},
        );
        self.states.checkpoint(tick);
        if let Some(panic) = first_panic {
            // The batch fails: no output.
            resume_unwind(panic);
        }
        self.emitting = Some((0, 0));
    }

    /// The next at most `budget` keys of the state, in the stable order.
    fn emit(&mut self, out: &mut Vec<(u32, (K, S))>, budget: usize) -> bool {
        let Some(at) = &mut self.emitting else {
            return true;
        };
        out.reserve(budget.min(self.states.len()));
        let done = self
            .states
            .walk(at, budget, |p, k, s| out.push((p, (k.clone(), s.clone()))));
        if done {
            self.emitting = None;
        }
        done
    }
}

/// Calls `update` for one key; a panic is returned, the caller keeps the key's old state.
fn call<K, V, S>(
    update: &UpdateFn<K, V, S>,
    time: Time,
    key: &K,
    values: &[V],
    old: Option<S>,
) -> Result<Option<S>, Box<dyn std::any::Any + Send>> {
    catch_unwind(AssertUnwindSafe(|| update(time, key, values, old)))
}

/// New values one by one: from a stream already partitioned by key.
impl<K: Key, V: Data, S: Data> BatchLogic<(K, V), (K, S)> for UpdateState<K, V, S> {
    type Acc = NewValues<K, V>;

    fn absorb(&mut self, acc: &mut Self::Acc, _partition: u32, (k, v): (K, V)) {
        let (hash, partition) = self.place(&k);
        acc.push(partition, hash, k, v);
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, _out: &mut Vec<(u32, (K, S))>) {
        self.update_batch(tick, acc);
    }

    fn emit_more(&mut self, out: &mut Vec<(u32, (K, S))>, budget: usize) -> bool {
        self.emit(out, budget)
    }
}

/// New values grouped by key: from `group_by_key`.
impl<K: Key, V: Data, S: Data> BatchLogic<(K, Vec<V>), (K, S)> for UpdateState<K, V, S> {
    type Acc = NewValues<K, V>;

    fn absorb(&mut self, acc: &mut Self::Acc, _partition: u32, (k, vs): (K, Vec<V>)) {
        let (hash, partition) = self.place(&k);
        acc.push_all(partition, hash, k, vs);
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, _out: &mut Vec<(u32, (K, S))>) {
        self.update_batch(tick, acc);
    }

    fn emit_more(&mut self, out: &mut Vec<(u32, (K, S))>, budget: usize) -> bool {
        self.emit(out, budget)
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
    ///
    /// # Examples
    ///
    /// A running count per word:
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    ///
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a"), w("b"), w("a")], vec![w("b")]]);
    /// let totals = words.update_state_by_key(
    ///     |new: &[u64], total: Option<u64>| Some(total.unwrap_or(0) + new.iter().sum::<u64>()),
    ///     None,
    /// );
    /// let out = t.collect(&totals)?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![
    ///     vec![("a".to_string(), 2), ("b".to_string(), 1)],
    ///     vec![("a".to_string(), 2), ("b".to_string(), 2)],
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn update_state_by_key<S: Data>(
        &self,
        update: impl Fn(&[V], Option<S>) -> Option<S> + Send + Sync + 'static,
        partitions: impl Partitioning,
    ) -> DStream<(K, S)> {
        self.update_state_by_key_with(move |_t, _k, vs, s| update(vs, s), partitions, None)
    }

    /// [`update_state_by_key`](Self::update_state_by_key) starting from `initial`: its keys go
    /// through the function in the first batch too.
    ///
    /// # Examples
    ///
    /// Counts that go on from a previous day's:
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    ///
    /// let yesterday = t.context().context().parallelize(vec![("a".to_string(), 10u64)], 1);
    /// let words = t.input(vec![vec![("b".to_string(), 1u64)], vec![("a".to_string(), 1)]]);
    /// let totals = words.update_state_by_key_with_initial(
    ///     |new: &[u64], total: Option<u64>| Some(total.unwrap_or(0) + new.iter().sum::<u64>()),
    ///     None,
    ///     yesterday,
    /// );
    /// let out = t.collect(&totals)?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![
    ///     vec![("a".to_string(), 10), ("b".to_string(), 1)],
    ///     vec![("a".to_string(), 11), ("b".to_string(), 1)],
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn update_state_by_key_with_initial<S: Data>(
        &self,
        update: impl Fn(&[V], Option<S>) -> Option<S> + Send + Sync + 'static,
        partitions: impl Partitioning,
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
    ///
    /// # Examples
    ///
    /// The batch time of each key's last data, forgetting a key after a batch without any:
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, Time};
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    ///
    /// let w = |word: &str| (word.to_string(), ());
    /// let words = t.input(vec![vec![w("a"), w("b")], vec![w("a")], vec![]]);
    /// let last_seen = words.update_state_by_key_with(
    ///     |time: Time, _word: &String, new: &[()], _last: Option<u64>| {
    ///         (!new.is_empty()).then(|| time.as_millis())
    ///     },
    ///     None,
    ///     None,
    /// );
    /// let out = t.collect(&last_seen)?;
    /// t.run(3)?;
    /// assert_eq!(out.sorted_batches(), vec![
    ///     vec![("a".to_string(), 1000), ("b".to_string(), 1000)],
    ///     vec![("a".to_string(), 2000)],
    ///     vec![],
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn update_state_by_key_with<S: Data>(
        &self,
        update: impl Fn(Time, &K, &[V], Option<S>) -> Option<S> + Send + Sync + 'static,
        partitions: impl Partitioning,
        initial: Option<Rdd<(K, S)>>,
    ) -> DStream<(K, S)> {
        let n = partitions
            .partition_count()
            .unwrap_or_else(|| self.ssc.context().default_parallelism())
            .max(1);
        let update: UpdateFn<K, V, S> = Arc::new(update);
        let slide = self.meta.slide;
        let tables = Declared::new(move |owner| OrderedState::<K, S>::new(owner, n));
        let open = tables.clone();
        let make = move |w: WorkerInfo| {
            UpdateState::new(open.open(&w), update.clone(), slide, n, &initial)
        };
        let name = "update_state_by_key";
        // Every key's function runs at every batch, with or without a parent RDD (Spark's
        // `StateDStream`): the state stream always has an RDD. Its records are tagged with their
        // keys' partitions, so a keyed operation after it needs no shuffle either.
        let stream = if self.meta.key_partitions == Some(n) {
            // Each key's values are on its worker already.
            let node = BatchNode::new(self, name, Route::Local, make);
            self.derive(name, slide, n, &[&self.meta], node)
        } else {
            let grouped = self.group_by_key(Some(n));
            let node = BatchNode::new(&grouped, name, Route::Local, make);
            grouped.derive(name, slide, n, &[&grouped.meta], node)
        }
        .always_has_rdd()
        .partitioned_by_key(n);
        // Spark's default for stateful streams: the smallest multiple of the slide >= 10 s.
        let tens = Duration::seconds(10)
            .as_millis()
            .div_ceil(slide.as_millis().max(1));
        self.ssc.register_stateful(
            stream.meta.id,
            Some(Duration::milliseconds(slide.as_millis() * tens)),
            tables.restorer(),
        );
        stream
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use crate::checkpoint::framed::{Kind, read_verified};
    use crate::checkpoint::state_files::decode;
    use crate::testing::StreamTest;
    use crate::{Duration, Time};

    /// The state directory of the only stateful stream under `dir`.
    fn node_dir(dir: &Path) -> PathBuf {
        let nodes: Vec<PathBuf> = std::fs::read_dir(dir.join("state"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(nodes.len(), 1, "{nodes:?}");
        nodes[0].clone()
    }

    /// The kind (`full`/`delta`) and entries of the write set of batch `ms`, all workers' files
    /// together, sorted.
    fn written_at(node: &Path, ms: u64) -> (String, Vec<(String, Option<u64>)>) {
        let set = std::fs::read_dir(node)
            .unwrap()
            .flatten()
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{ms}-"))
            })
            .unwrap_or_else(|| panic!("no write set of batch {ms} in {}", node.display()));
        let name = set.file_name().to_string_lossy().into_owned();
        let mut entries = Vec::new();
        for file in std::fs::read_dir(set.path()).unwrap().flatten() {
            let payload = read_verified(&file.path(), Kind::State).unwrap();
            decode::<String, u64, std::convert::Infallible>(&payload, |k, v| {
                entries.push((k, v));
                Ok(())
            })
            .unwrap();
        }
        entries.sort();
        (name[name.find('-').unwrap() + 1..].to_string(), entries)
    }

    fn pairs(batches: &[&[&str]]) -> Vec<Vec<(String, u64)>> {
        batches
            .iter()
            .map(|b| b.iter().map(|w| (w.to_string(), 1)).collect())
            .collect()
    }

    #[test]
    fn checkpoints_write_only_the_keys_whose_state_changed() {
        let dir = tempfile::tempdir().unwrap();
        let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let batches = pairs(&[&["a", "b", "c", "d"], &["a"], &["drop", "c"], &[]]);
        // Running counts; a key that gets the value "drop" is gone (it is removed at once).
        let totals = t.input(batches).update_state_by_key_with(
            |_t, k: &String, vs: &[u64], st: Option<u64>| {
                (k != "drop").then(|| st.unwrap_or(0) + vs.iter().sum::<u64>())
            },
            None,
            None,
        );
        totals.checkpoint(Duration::seconds(1)).unwrap();
        t.collect(&totals).unwrap();
        t.run(4).unwrap();
        let node = node_dir(dir.path());
        let one = |k: &str, v: u64| (k.to_string(), Some(v));
        // The run's first write is a full one.
        assert_eq!(
            written_at(&node, 1000),
            (
                "full".into(),
                vec![one("a", 1), one("b", 1), one("c", 1), one("d", 1)]
            )
        );
        // Every key saw the function, but only `a` changed.
        assert_eq!(written_at(&node, 2000), ("delta".into(), vec![one("a", 2)]));
        assert_eq!(written_at(&node, 3000), ("delta".into(), vec![one("c", 2)]));
        // Nothing changed: every worker still writes its (empty) share.
        assert_eq!(written_at(&node, 4000), ("delta".into(), vec![]));
        let set = node.join("4000-delta");
        assert_eq!(std::fs::read_dir(set).unwrap().count(), 2);
    }

    #[test]
    fn a_key_removed_by_the_function_is_written_as_removed() {
        let dir = tempfile::tempdir().unwrap();
        let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        // A key lives for the batch of its values only.
        let seen = t.input(pairs(&[&["a", "b"], &["b"]])).update_state_by_key(
            |vs: &[u64], _st: Option<u64>| (!vs.is_empty()).then_some(1),
            None,
        );
        seen.checkpoint(Duration::seconds(1)).unwrap();
        let out = t.collect(&seen).unwrap();
        t.run(2).unwrap();
        assert_eq!(
            written_at(&node_dir(dir.path()), 2000).1,
            vec![("a".into(), None)]
        );
        assert_eq!(out.batches()[1], vec![("b".to_string(), 1)]);
    }

    #[test]
    fn a_full_write_in_the_background_restores_the_state_of_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        // Enough keys for many chunks, every one changing in every batch.
        let keys: Vec<String> = (0..6000).map(|i| format!("key{i}")).collect();
        let batch: Vec<(String, u64)> = keys.iter().map(|k| (k.clone(), 1)).collect();
        let expected: BTreeMap<String, u64> = keys.iter().map(|k| (k.clone(), 10)).collect();
        {
            let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
            t.context().checkpoint(dir.path()).unwrap();
            let totals = t.input(vec![batch.clone(); 12]).update_state_by_key(
                |vs: &[u64], st: Option<u64>| Some(st.unwrap_or(0) + vs.iter().sum::<u64>()),
                None,
            );
            totals.checkpoint(Duration::seconds(1)).unwrap();
            t.collect(&totals).unwrap();
            // The tenth checkpoint (batch 10) is a full write; the run goes on past it.
            t.run(10).unwrap();
            let (kind, entries) = written_at(&node_dir(dir.path()), 10_000);
            assert_eq!(kind, "full");
            let full: BTreeMap<String, u64> =
                entries.into_iter().map(|(k, v)| (k, v.unwrap())).collect();
            assert_eq!(full, expected);
            t.run(1).unwrap();
            t.stop().unwrap();
        }
        // Restored (as of batch 11: the full write of batch 10 and the delta of 11), then one
        // more batch.
        let t = StreamTest::new("local[3]", Duration::seconds(1)).unwrap();
        let totals = t
            .input(vec![vec![("key0".to_string(), 5u64)]])
            .update_state_by_key(
                |vs: &[u64], st: Option<u64>| Some(st.unwrap_or(0) + vs.iter().sum::<u64>()),
                None,
            );
        let out = t.collect(&totals).unwrap();
        assert_eq!(
            t.restore(dir.path()).unwrap(),
            Some(Time::from_millis(11_000))
        );
        t.run(1).unwrap();
        let after: BTreeMap<String, u64> = out.batches()[0].iter().cloned().collect();
        assert_eq!(after.len(), keys.len());
        assert_eq!(after["key0"], 16);
        assert!(
            after
                .iter()
                .filter(|(k, _)| *k != "key0")
                .all(|(_, v)| *v == 11)
        );
    }
}
