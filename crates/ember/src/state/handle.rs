//! [`State`]: what a `map_with_state` function sees of its key's state (Spark's `State[S]`).

use std::fmt;

/// The state of one key inside a [`map_with_state`](crate::DStream::map_with_state) function:
/// read it, update it, or remove it. Misuse panics with Spark's messages (the panic fails the
/// batch like any error in user code, and the key keeps the state it had before the batch).
///
/// # Examples
///
/// A running count per word that restarts at a `0` record:
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
/// let words = t.input(vec![vec![w("a")], vec![("a".to_string(), 0)], vec![w("a"), w("a")]]);
/// let spec = StateSpec::function(|word: &String, n: Option<u64>, state: &mut State<u64>| {
///     match n {
///         Some(0) => state.remove(),
///         Some(n) => state.update(state.get_option().copied().unwrap_or(0) + n),
///         None => {}
///     }
///     (word.clone(), state.get_option().copied())
/// });
/// let counts = words.map_with_state(spec);
/// let out = t.collect(&counts)?;
/// t.run(3)?;
/// let a = |n| ("a".to_string(), n);
/// assert_eq!(out.sorted_batches(), vec![vec![a(Some(1))], vec![a(None)], vec![a(Some(1)), a(Some(2))]]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct State<S> {
    value: Option<S>,
    updated: bool,
    removed: bool,
    timing_out: bool,
}

impl<S> State<S> {
    pub(crate) fn new(value: Option<S>, timing_out: bool) -> Self {
        State {
            value,
            updated: false,
            removed: false,
            timing_out,
        }
    }

    /// Whether the key has state.
    ///
    /// # Examples
    ///
    /// Marks the first occurrence of each word:
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
    /// let spec = StateSpec::function(|word: &String, _: Option<u64>, state: &mut State<()>| {
    ///     let first = !state.exists();
    ///     state.update(());
    ///     (word.clone(), first)
    /// });
    /// let out = t.collect(&words.map_with_state(spec))?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![vec![("a".to_string(), true)], vec![("a".to_string(), false)]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn exists(&self) -> bool {
        self.value.is_some()
    }

    /// The state.
    ///
    /// # Panics
    /// With `State is not set` when the key has none (Spark's `NoSuchElementException`); use
    /// [`get_option`](Self::get_option) to ask.
    ///
    /// # Examples
    ///
    /// Each word's count before this occurrence:
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
    ///     let previous = if state.exists() { *state.get() } else { 0 };
    ///     state.update(previous + n.unwrap_or(0));
    ///     (word.clone(), previous)
    /// });
    /// let out = t.collect(&words.map_with_state(spec))?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![vec![("a".to_string(), 0)], vec![("a".to_string(), 1)]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn get(&self) -> &S {
        match &self.value {
            Some(s) => s,
            None => panic!("State is not set"),
        }
    }

    /// The state, if any.
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
    pub fn get_option(&self) -> Option<&S> {
        self.value.as_ref()
    }

    /// Replaces the state.
    ///
    /// # Panics
    /// With Spark's messages after [`remove`](Self::remove) or while the key is timing out.
    ///
    /// # Examples
    ///
    /// The longest word seen per first letter:
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
    /// let words = t.input(vec![vec![w("ab"), w("a")], vec![w("abc")]]);
    /// let initials = words.map(|(word, _)| (word[..1].to_string(), word));
    /// let spec = StateSpec::function(|_: &String, word: Option<String>, state: &mut State<String>| {
    ///     let word = word.unwrap_or_default();
    ///     if state.get_option().is_none_or(|longest| longest.len() < word.len()) {
    ///         state.update(word);
    ///     }
    /// });
    /// let longest = t.collect(&initials.map_with_state(spec).state_snapshots())?;
    /// t.run(2)?;
    /// assert_eq!(longest.sorted_batches(), vec![
    ///     vec![("a".to_string(), "ab".to_string())],
    ///     vec![("a".to_string(), "abc".to_string())],
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn update(&mut self, new_state: S) {
        assert!(
            !self.removed,
            "requirement failed: Cannot update the state after it has been removed"
        );
        assert!(
            !self.timing_out,
            "requirement failed: Cannot update the state that is timing out"
        );
        self.value = Some(new_state);
        self.updated = true;
    }

    /// Removes the key's state.
    ///
    /// # Panics
    /// With Spark's messages while the key is timing out or when it was already removed.
    ///
    /// # Examples
    ///
    /// Counts that a `0` record resets:
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
    /// let words = t.input(vec![vec![w("a")], vec![("a".to_string(), 0)], vec![w("a")]]);
    /// let spec = StateSpec::function(|_: &String, n: Option<u64>, state: &mut State<u64>| {
    ///     match n.unwrap_or(0) {
    ///         0 => state.remove(),
    ///         n => state.update(state.get_option().copied().unwrap_or(0) + n),
    ///     }
    /// });
    /// let counts = t.collect(&words.map_with_state(spec).state_snapshots())?;
    /// t.run(3)?;
    /// assert_eq!(counts.sorted_batches(), vec![vec![("a".to_string(), 1)], vec![], vec![("a".to_string(), 1)]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn remove(&mut self) {
        assert!(
            !self.timing_out,
            "requirement failed: Cannot remove the state that is timing out"
        );
        assert!(
            !self.removed,
            "requirement failed: Cannot remove the state that has already been removed"
        );
        self.value = None;
        self.removed = true;
    }

    /// Whether this call is the key's last: it has had no data for the spec's timeout, and its
    /// state is removed after the call.
    ///
    /// # Examples
    ///
    /// Reports the words that had no data for a second:
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
    /// let spec = StateSpec::function(|word: &String, _: Option<u64>, state: &mut State<()>| {
    ///     if state.is_timing_out() {
    ///         format!("{word} went quiet")
    ///     } else {
    ///         state.update(());
    ///         format!("{word} seen")
    ///     }
    /// })
    /// .timeout(Duration::seconds(1));
    /// let out = t.collect(&words.map_with_state(spec))?;
    /// t.run(3)?;
    /// // Seen at 1 s; at 3 s its last data is more than a second old.
    /// assert_eq!(out.sorted_batches(), vec![
    ///     vec!["a seen".to_string()],
    ///     vec![],
    ///     vec!["a went quiet".to_string()],
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_timing_out(&self) -> bool {
        self.timing_out
    }

    pub(crate) fn into_value(self) -> Option<S> {
        self.value
    }
}

impl<S: fmt::Display> fmt::Display for State<S> {
    /// The state, or `<state not set>`, as Spark's `toString`.
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
    /// let spec = StateSpec::function(|_: &String, n: Option<u64>, state: &mut State<u64>| {
    ///     let before = state.to_string();
    ///     state.update(state.get_option().copied().unwrap_or(0) + n.unwrap_or(0));
    ///     before
    /// });
    /// let out = t.collect(&words.map_with_state(spec))?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![vec!["<state not set>".to_string()], vec!["1".to_string()]]);
    /// # Ok(())
    /// # }
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(s) => s.fmt(f),
            None => f.write_str("<state not set>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let p = std::panic::catch_unwind(f).unwrap_err();
        crate::scheduler::runtime::panic_message(p)
    }

    #[test]
    fn spark_rules_and_messages() {
        let mut s = State::new(Some(1), false);
        assert!(s.exists() && *s.get() == 1 && s.to_string() == "1");
        s.update(2);
        assert_eq!(*s.get(), 2);
        s.remove();
        assert!(!s.exists() && s.to_string() == "<state not set>" && s.into_value().is_none());

        assert_eq!(
            panic_text(|| {
                let _ = *State::<i32>::new(None, false).get();
            }),
            "State is not set"
        );
        assert_eq!(
            panic_text(|| {
                let mut s = State::new(Some(1), false);
                s.remove();
                s.update(3);
            }),
            "requirement failed: Cannot update the state after it has been removed"
        );
        assert_eq!(
            panic_text(|| {
                let mut s = State::new(Some(1), false);
                s.remove();
                s.remove();
            }),
            "requirement failed: Cannot remove the state that has already been removed"
        );
        assert_eq!(
            panic_text(|| State::new(Some(1), true).update(2)),
            "requirement failed: Cannot update the state that is timing out"
        );
        assert_eq!(
            panic_text(|| State::new(Some(1), true).remove()),
            "requirement failed: Cannot remove the state that is timing out"
        );
    }
}
