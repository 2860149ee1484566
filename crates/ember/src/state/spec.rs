//! [`StateSpec`]: everything `map_with_state` needs to know (Spark's `StateSpec`).

use std::sync::Arc;

use crate::rdd::Rdd;
use crate::state::State;
use crate::state::batch_mapping::{BatchMappingFn, KeyBatch, KeyOutcome};
use crate::time::{Duration, Time};

/// The function of a `map_with_state`, in its general form.
pub(crate) type MappingFn<K, V, S, M> =
    Arc<dyn Fn(Time, &K, Option<V>, &mut State<S>) -> Option<M> + Send + Sync>;

/// The function of a `map_with_state`: called per record, or once per worker per batch.
pub(crate) enum Mapping<K, V, S, M> {
    Record(MappingFn<K, V, S, M>),
    Batch(BatchMappingFn<K, V, S, M>),
}

impl<K, V, S, M> Clone for Mapping<K, V, S, M> {
    fn clone(&self) -> Self {
        match self {
            Mapping::Record(f) => Mapping::Record(f.clone()),
            Mapping::Batch(f) => Mapping::Batch(f.clone()),
        }
    }
}

/// What [`map_with_state`](crate::DStream::map_with_state) does with each record: the mapping
/// function, and optionally an initial state, a partition count and an idle timeout.
///
/// ```
/// use ember::state::{State, StateSpec};
/// use ember::Duration;
///
/// // A running count per word that also emits the new count of every word it sees.
/// let spec = StateSpec::function(|word: &String, one: Option<u64>, state: &mut State<u64>| {
///     let total = state.get_option().copied().unwrap_or(0) + one.unwrap_or(0);
///     if !state.is_timing_out() {
///         state.update(total);
///     }
///     (word.clone(), total)
/// })
/// .num_partitions(4)
/// .timeout(Duration::minutes(10));
/// # let _ = spec;
/// ```
pub struct StateSpec<K, V, S, M> {
    pub(crate) func: Mapping<K, V, S, M>,
    pub(crate) initial: Option<Rdd<(K, S)>>,
    pub(crate) partitions: Option<usize>,
    pub(crate) timeout: Option<Duration>,
}

impl<K, V, S, M> Clone for StateSpec<K, V, S, M> {
    fn clone(&self) -> Self {
        StateSpec {
            func: self.func.clone(),
            initial: self.initial.clone(),
            partitions: self.partitions,
            timeout: self.timeout,
        }
    }
}

impl<K, V, S, M> StateSpec<K, V, S, M> {
    /// A spec whose function gets the key, the record's value (`None` only in the final call of
    /// a key that timed out) and the key's state, and returns what to emit.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::state::{State, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// # let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # t.context().checkpoint(dir.path())?;
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a")], vec![w("a")]]);
    /// let spec = StateSpec::function(|word: &String, n: Option<u64>, state: &mut State<u64>| {
    ///     let total = state.get_option().copied().unwrap_or(0) + n.unwrap_or(0);
    ///     state.update(total);
    ///     (word.clone(), total)
    /// });
    /// let out = t.collect(&words.map_with_state(spec))?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![vec![("a".to_string(), 1)], vec![("a".to_string(), 2)]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn function(f: impl Fn(&K, Option<V>, &mut State<S>) -> M + Send + Sync + 'static) -> Self {
        StateSpec::function_with_time(move |_t, k, v, s| Some(f(k, v, s)))
    }

    /// A spec whose function also gets the batch time and may emit nothing (`None`).
    ///
    /// # Examples
    ///
    /// Emits each word once, with the batch time it was first seen:
    ///
    /// ```
    /// use ember::state::{State, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// # let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # t.context().checkpoint(dir.path())?;
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a")], vec![w("a"), w("b")]]);
    /// let spec = StateSpec::function_with_time(
    ///     |time: ember::Time, word: &String, _: Option<u64>, state: &mut State<()>| {
    ///         if state.exists() {
    ///             return None;
    ///         }
    ///         state.update(());
    ///         Some((word.clone(), time.as_millis()))
    ///     },
    /// );
    /// let out = t.collect(&words.map_with_state(spec))?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![vec![("a".to_string(), 1000)], vec![("b".to_string(), 2000)]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn function_with_time(
        f: impl Fn(Time, &K, Option<V>, &mut State<S>) -> Option<M> + Send + Sync + 'static,
    ) -> Self {
        StateSpec {
            func: Mapping::Record(Arc::new(f)),
            initial: None,
            partitions: None,
            timeout: None,
        }
    }

    /// A spec whose function gets, once per worker per batch, every key of the batch that has
    /// values or is timing out ([`KeyBatch`]), and returns for each, at the same position, its
    /// new state and what to emit ([`KeyOutcome`]). Meant for bindings to other languages,
    /// where entering the function is costly: the function runs the per-record loop itself.
    /// A result of another length fails the batch.
    ///
    /// # Examples
    ///
    /// A running count per word, emitted for every occurrence:
    ///
    /// ```
    /// use ember::state::{KeyBatch, KeyOutcome, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// # let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # t.context().checkpoint(dir.path())?;
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a"), w("a")], vec![w("a")]]);
    /// let spec = StateSpec::function_batch(|_time, keys: &[KeyBatch<String, u64, u64>]| {
    ///     keys.iter()
    ///         .map(|k| {
    ///             let mut total = k.state.unwrap_or(0);
    ///             let emitted = k.values.iter().map(|n| { total += n; (k.key.clone(), total) }).collect();
    ///             KeyOutcome { state: Some(total), emitted }
    ///         })
    ///         .collect()
    /// });
    /// let out = t.collect(&words.map_with_state(spec))?;
    /// t.run(2)?;
    /// let a = |n| ("a".to_string(), n);
    /// assert_eq!(out.sorted_batches(), vec![vec![a(1), a(2)], vec![a(3)]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn function_batch(
        f: impl Fn(Time, &[KeyBatch<K, V, S>]) -> Vec<KeyOutcome<S, M>> + Send + Sync + 'static,
    ) -> Self {
        StateSpec {
            func: Mapping::Batch(Arc::new(f)),
            initial: None,
            partitions: None,
            timeout: None,
        }
    }

    /// State the keys start with, before the first batch (its keys' idle time counts from the
    /// first batch).
    ///
    /// # Examples
    ///
    /// Counts that go on from a previous day's:
    ///
    /// ```
    /// use ember::state::{State, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// # let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # t.context().checkpoint(dir.path())?;
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a")], vec![w("a")]]);
    /// let yesterday = t.context().context().parallelize(vec![("a".to_string(), 10u64)], 1);
    /// let spec = StateSpec::function(|word: &String, n: Option<u64>, state: &mut State<u64>| {
    ///     let total = state.get_option().copied().unwrap_or(0) + n.unwrap_or(0);
    ///     state.update(total);
    ///     (word.clone(), total)
    /// })
    /// .initial_state(yesterday);
    /// let out = t.collect(&words.map_with_state(spec))?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![vec![("a".to_string(), 11)], vec![("a".to_string(), 12)]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn initial_state(mut self, rdd: Rdd<(K, S)>) -> Self {
        self.initial = Some(rdd);
        self
    }

    /// Partitions of the state (default parallelism otherwise).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::state::{State, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// # let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # t.context().checkpoint(dir.path())?;
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a")]]);
    /// let spec = StateSpec::function(|word: &String, n: Option<u64>, state: &mut State<u64>| {
    ///     let total = state.get_option().copied().unwrap_or(0) + n.unwrap_or(0);
    ///     state.update(total);
    ///     (word.clone(), total)
    /// })
    /// .num_partitions(4);
    /// // Each batch of the result has the state's four partitions (most of them empty here).
    /// let partitions = t.collect(&words.map_with_state(spec).glom().map(|part| part.len()))?;
    /// t.run(1)?;
    /// assert_eq!(partitions.sorted_batches(), vec![vec![0, 0, 0, 1]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn num_partitions(mut self, n: usize) -> Self {
        self.partitions = Some(n);
        self
    }

    /// Partitions the state with `partitioner` (Spark's `StateSpec.partitioner`); the same as
    /// [`num_partitions`](Self::num_partitions) with its count, since every partitioner hashes
    /// keys with ember's stable hash.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::state::{State, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, Partitioner};
    ///
    /// # fn main() -> ember::Result<()> {
    /// # let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # t.context().checkpoint(dir.path())?;
    /// let words = t.input(vec![vec![("a".to_string(), 1u64)]]);
    /// let spec = StateSpec::function(|word: &String, n: Option<u64>, state: &mut State<u64>| {
    ///     state.update(n.unwrap_or(0));
    ///     word.clone()
    /// })
    /// .partitioner(Partitioner::hash(3));
    /// let partitions = t.collect(&words.map_with_state(spec).glom().map(|part| part.len()))?;
    /// t.run(1)?;
    /// assert_eq!(partitions.sorted_batches(), vec![vec![0, 0, 1]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn partitioner(self, partitioner: crate::Partitioner) -> Self {
        self.num_partitions(partitioner.num_partitions())
    }

    /// Removes a key that has had no data for `idle`, after one last call of the function with
    /// no value and [`State::is_timing_out`] set.
    ///
    /// Unlike Spark, where timeouts are only looked for on checkpoint batches (so a key may time
    /// out up to ten batches late), ember times a key out in the first batch after its timeout
    /// has passed, at a cost proportional to the keys that time out, not to the whole state.
    ///
    /// # Examples
    ///
    /// Counts of the words seen in the last two seconds:
    ///
    /// ```
    /// use ember::state::{State, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// # let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # t.context().checkpoint(dir.path())?;
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a")], vec![w("a")]]);
    /// let spec = StateSpec::function(|_: &String, n: Option<u64>, state: &mut State<u64>| {
    ///     if !state.is_timing_out() {
    ///         state.update(state.get_option().copied().unwrap_or(0) + n.unwrap_or(0));
    ///     }
    /// })
    /// .timeout(Duration::seconds(2));
    /// let counts = t.collect(&words.map_with_state(spec).state_snapshots())?;
    /// t.run(5)?;
    /// let a = |n| ("a".to_string(), n);
    /// // Last seen at 2 s, "a" times out at 5 s (Spark's rule: its last data is before 5 s - 2 s).
    /// assert_eq!(counts.sorted_batches(), vec![vec![a(1)], vec![a(2)], vec![a(2)], vec![a(2)], vec![]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn timeout(mut self, idle: Duration) -> Self {
        self.timeout = Some(idle);
        self
    }
}
