//! [`State`]: what a `map_with_state` function sees of its key's state (Spark's `State[S]`).

use std::fmt;

/// The state of one key inside a [`map_with_state`](crate::DStream::map_with_state) function:
/// read it, update it, or remove it. Misuse panics with Spark's messages (the panic fails the
/// batch like any error in user code, and the key keeps the state it had before the batch).
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
    pub fn exists(&self) -> bool {
        self.value.is_some()
    }

    /// The state.
    ///
    /// # Panics
    /// With `State is not set` when the key has none (Spark's `NoSuchElementException`); use
    /// [`get_option`](Self::get_option) to ask.
    pub fn get(&self) -> &S {
        match &self.value {
            Some(s) => s,
            None => panic!("State is not set"),
        }
    }

    /// The state, if any.
    pub fn get_option(&self) -> Option<&S> {
        self.value.as_ref()
    }

    /// Replaces the state.
    ///
    /// # Panics
    /// With Spark's messages after [`remove`](Self::remove) or while the key is timing out.
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
    pub fn is_timing_out(&self) -> bool {
        self.timing_out
    }

    pub(crate) fn into_value(self) -> Option<S> {
        self.value
    }
}

impl<S: fmt::Display> fmt::Display for State<S> {
    /// The state, or `<state not set>`, as Spark's `toString`.
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
