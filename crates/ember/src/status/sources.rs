//! The input streams as sources of records: what each is, how many records it has taken into
//! the engine, and its rate limit. Records taken in minus records of completed batches is the
//! source's lag: what was received and is not processed yet.
//!
//! The count is an atomic added to once per block or batch partition a feeding worker takes in
//! (never per record); the processed records come from the completed batches' events.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::sync::RecoverPoison;

/// What feeds an input stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceKind {
    /// A receiver (`socket_text_stream`, `receiver_stream`).
    Receiver,
    /// The new files of a directory (`text_file_stream`).
    File,
    /// RDDs pushed into a queue (`queue_stream`).
    Queue,
}

impl SourceKind {
    /// The kind's name, as the UI shows it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SourceKind::Receiver => "receiver",
            SourceKind::File => "file",
            SourceKind::Queue => "queue",
        }
    }
}

/// One input stream's figures.
pub(crate) struct Source {
    /// Its name, e.g. `socket 127.0.0.1:9999`.
    pub(crate) name: String,
    /// What feeds it.
    pub(crate) kind: SourceKind,
    received: AtomicU64,
    /// The receive rate limit in records/s (bits of an `f64`; NaN: none).
    rate_limit: AtomicU64,
    throttled: AtomicBool,
}

impl Source {
    /// Counts `n` records taken into the engine.
    pub(crate) fn received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
    }

    /// Records taken into the engine so far.
    pub(crate) fn received_records(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Sets the rate limit (records/s, `None`: unlimited) and whether the source is being
    /// slowed down by it now (rate control reports both).
    pub(crate) fn set_rate(&self, limit: Option<f64>, throttled: bool) {
        self.rate_limit
            .store(limit.unwrap_or(f64::NAN).to_bits(), Ordering::Relaxed);
        self.throttled.store(throttled, Ordering::Relaxed);
    }

    /// The rate limit, records/s.
    pub(crate) fn rate_limit(&self) -> Option<f64> {
        let limit = f64::from_bits(self.rate_limit.load(Ordering::Relaxed));
        (!limit.is_nan()).then_some(limit)
    }

    /// Whether the rate limit slows the source down now.
    pub(crate) fn throttled(&self) -> bool {
        self.throttled.load(Ordering::Relaxed)
    }
}

/// The input streams of a context, by input stream id.
#[derive(Default)]
pub(crate) struct Sources {
    sources: Mutex<BTreeMap<usize, Arc<Source>>>,
}

impl Sources {
    /// Registers input stream `id` (when the program makes it).
    pub(crate) fn register(&self, id: usize, name: String, kind: SourceKind) -> Arc<Source> {
        let source = Arc::new(Source {
            name,
            kind,
            received: AtomicU64::new(0),
            rate_limit: AtomicU64::new(f64::NAN.to_bits()),
            throttled: AtomicBool::new(false),
        });
        self.sources.lock().recover().insert(id, source.clone());
        source
    }

    /// Input stream `id`'s figures, if it is registered.
    pub(crate) fn get(&self, id: usize) -> Option<Arc<Source>> {
        self.sources.lock().recover().get(&id).cloned()
    }

    /// Every input stream, by id.
    pub(crate) fn all(&self) -> Vec<(usize, Arc<Source>)> {
        self.sources
            .lock()
            .recover()
            .iter()
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rate_limits_read_back() {
        let sources = Sources::default();
        let s = sources.register(0, "socket 127.0.0.1:9".into(), SourceKind::Receiver);
        s.received(3);
        s.received(4);
        assert_eq!(sources.get(0).unwrap().received_records(), 7);
        assert_eq!(s.rate_limit(), None);
        s.set_rate(Some(100.0), true);
        assert_eq!((s.rate_limit(), s.throttled()), (Some(100.0), true));
        assert!(sources.get(1).is_none());
        assert_eq!(sources.all().len(), 1);
    }
}
