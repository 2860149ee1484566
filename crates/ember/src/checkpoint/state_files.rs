//! The files of a stateful stream's state: `state/node-<id>/<batch ms>-<full|delta>/w<i>-of-<n>`.
//!
//! At a checkpoint time every worker writes one file per stateful stream with the entries of the
//! partitions it owns: all of them (`full`), or only those changed since its previous write
//! (`delta`, where a removed key is written as an entry without state). A write set is complete
//! when all `n` workers' files are there. Restoring reads the newest complete `full` set at or
//! before the commit and every `delta` set after it, in time order, and keeps the keys the
//! restoring worker owns — so the number of workers may differ between the writer and the reader.
//!
//! Entries are postcard-encoded `(key, Option<state>)` pairs, one after the other.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checkpoint::framed::{self, Kind};
use crate::error::{Error, Result};
use crate::time::Time;

/// Whether a write holds a stream's whole state or the changes since the previous write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WriteKind {
    Full,
    Delta,
}

impl WriteKind {
    fn suffix(self) -> &'static str {
        match self {
            WriteKind::Full => "full",
            WriteKind::Delta => "delta",
        }
    }
}

/// The directory of stateful stream `node`'s files.
pub(crate) fn node_dir(root: &Path, node: usize) -> PathBuf {
    root.join("state").join(format!("node-{node}"))
}

fn set_dir(root: &Path, node: usize, time: Time, kind: WriteKind) -> PathBuf {
    node_dir(root, node).join(format!("{}-{}", time.as_millis(), kind.suffix()))
}

/// Encodes state entries for one write.
#[derive(Default)]
pub(crate) struct Entries {
    bytes: Vec<u8>,
    count: u64,
}

impl Entries {
    /// Adds `key` with its state, or as removed when `state` is `None`.
    pub(crate) fn push<K: Serialize + ?Sized, S: Serialize + ?Sized>(
        &mut self,
        key: &K,
        state: Option<&S>,
    ) {
        let bytes = std::mem::take(&mut self.bytes);
        // Encoding into a Vec fails only for types whose Serialize impl reports an error; such
        // an entry is skipped (and counted out), the rest of the write stays valid.
        self.bytes = match postcard::to_extend(&(key, state), bytes) {
            Ok(b) => {
                self.count += 1;
                b
            }
            Err(e) => {
                tracing::error!("a state entry could not be encoded and is not checkpointed: {e}");
                Vec::new()
            }
        };
    }

    /// Room for `bytes` bytes of entries (a write about the size of an earlier one grows
    /// without copying).
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Entries {
            bytes: Vec::with_capacity(bytes),
            count: 0,
        }
    }

    /// The encoded size.
    pub(crate) fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Entries added.
    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    /// Bytes of the encoded entries (a file's payload, without its frame).
    pub(crate) fn encoded_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The encoded entries, as a file's payload holds them.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Writes this worker's share of stream `node`'s state at `time`.
    pub(crate) fn write(
        &self,
        root: &Path,
        node: usize,
        time: Time,
        kind: WriteKind,
        worker: usize,
        workers: usize,
    ) -> Result<()> {
        let path = set_dir(root, node, time, kind).join(format!("w{worker}-of-{workers}"));
        framed::write_atomic(&path, Kind::State, &self.bytes)
    }
}

/// Why the entries of a state file could not be restored. As [`Error::Io`], the message includes
/// the cause's own text, so the cause is a field rather than a `source` (printing the chain would
/// say it twice).
#[derive(Debug, thiserror::Error)]
pub(crate) enum EntryError<E> {
    /// The bytes are not an entry of the key and state types the program declares now.
    #[error("entry {index} does not decode: {cause}")]
    Decode {
        /// The entry's position in the file.
        index: u64,
        /// What the decoder said.
        cause: postcard::Error,
    },
    /// The entry decoded, but the table it belongs to refused it.
    #[error("entry {index}: {cause}")]
    Refused {
        /// The entry's position in the file.
        index: u64,
        /// Why the table refused it.
        cause: E,
    },
}

/// Decodes the entries of one file's payload, in order, handing each to `apply`; stops at the
/// first entry that does not decode or that `apply` refuses.
pub(crate) fn decode<K: DeserializeOwned, S: DeserializeOwned, E>(
    payload: &[u8],
    mut apply: impl FnMut(K, Option<S>) -> std::result::Result<(), E>,
) -> std::result::Result<(), EntryError<E>> {
    let mut rest = payload;
    let mut index = 0u64;
    while !rest.is_empty() {
        let ((k, s), tail): ((K, Option<S>), &[u8]) =
            postcard::take_from_bytes(rest).map_err(|cause| EntryError::Decode { index, cause })?;
        apply(k, s).map_err(|cause| EntryError::Refused { index, cause })?;
        rest = tail;
        index += 1;
    }
    Ok(())
}

/// A write set: its batch, its kind and its files (`None` if incomplete).
type WriteSet = (Time, WriteKind, Option<Vec<PathBuf>>);

/// The write sets of `node`, oldest first; incomplete sets are marked `None`.
fn sets(root: &Path, node: usize) -> Result<Vec<WriteSet>> {
    let dir = node_dir(root, node);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((ms, kind)) = name.split_once('-') else {
            continue;
        };
        let kind = match kind {
            "full" => WriteKind::Full,
            "delta" => WriteKind::Delta,
            _ => continue,
        };
        let Ok(ms) = ms.parse::<u64>() else { continue };
        if !entry.path().is_dir() {
            // Not a write set (nothing of ember's is a file by that name).
            continue;
        }
        out.push((Time::from_millis(ms), kind, complete_files(&entry.path())?));
    }
    out.sort_by_key(|(t, k, _)| (*t, *k == WriteKind::Delta));
    Ok(out)
}

/// The files of a write set if all `w<i>-of-<n>` are present.
fn complete_files(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    let mut files: Vec<(usize, usize, PathBuf)> = Vec::new();
    for entry in
        fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
    {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let parsed = name
            .strip_prefix('w')
            .and_then(|s| s.split_once("-of-"))
            .and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)));
        if let Some((i, n)) = parsed {
            files.push((i, n, entry.path()));
        }
    }
    let Some(&(_, n, _)) = files.first() else {
        return Ok(None);
    };
    files.sort();
    let complete = files.len() == n && files.iter().enumerate().all(|(i, f)| f.0 == i && f.1 == n);
    Ok(complete.then(|| files.into_iter().map(|f| f.2).collect()))
}

/// Whether every worker's file of stream `node`'s write at `time` is there.
#[cfg(test)]
pub(crate) fn complete_at(root: &Path, node: usize, time: Time) -> bool {
    [WriteKind::Full, WriteKind::Delta].iter().any(|kind| {
        let dir = set_dir(root, node, time, *kind);
        dir.is_dir() && matches!(complete_files(&dir), Ok(Some(_)))
    })
}

/// The workers (of `workers`) whose file of stream `node`'s write at `time` is not there (the
/// driver commits a batch only when none is missing).
pub(crate) fn missing_shares(root: &Path, node: usize, time: Time, workers: usize) -> Vec<usize> {
    let mut present = vec![false; workers];
    for kind in [WriteKind::Full, WriteKind::Delta] {
        let Ok(entries) = fs::read_dir(set_dir(root, node, time, kind)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Some((i, n)) = writer_of(&entry.file_name().to_string_lossy())
                && n == workers
                && i < workers
            {
                present[i] = true;
            }
        }
    }
    (0..workers).filter(|w| !present[*w]).collect()
}

/// Whether the file names of a write set are every worker's (`w0-of-n` to `w<n-1>-of-n`).
pub(crate) fn is_complete(files: &[String]) -> bool {
    let writers: Vec<(usize, usize)> = files.iter().filter_map(|f| writer_of(f)).collect();
    let Some(&(_, n)) = writers.first() else {
        return false;
    };
    writers.len() == n && (0..n).all(|i| writers.contains(&(i, n)))
}

/// The worker and worker count of a share's file name, `w<i>-of-<n>`.
fn writer_of(name: &str) -> Option<(usize, usize)> {
    if framed::is_temp(name) {
        return None;
    }
    let (i, n) = name.strip_prefix('w')?.split_once("-of-")?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// One write set that a commit's state is made of: its batch, its kind and the names of its
/// files. A commit lists its sets (see [`chain_at`]), so that a restore reads exactly them and
/// notices any that is missing instead of restoring older state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SetRef {
    pub(crate) time: Time,
    pub(crate) kind: WriteKind,
    pub(crate) files: Vec<String>,
}

/// The write sets that make stream `node`'s state as of batch `time`: the newest complete full
/// set at or before it, then the delta sets after it up to `time`, with the files they have.
///
/// A delta set may lack a worker's file: a worker whose write failed writes nothing until the
/// next scheduled full write and keeps its changes until then (no commit happens in between),
/// while the other workers' deltas are still needed.
pub(crate) fn chain_at(root: &Path, node: usize, time: Time) -> Result<Vec<SetRef>> {
    let all = sets(root, node)?;
    let base = all
        .iter()
        .rposition(|(t, k, f)| *t <= time && *k == WriteKind::Full && f.is_some())
        .ok_or_else(|| Error::Checkpoint {
            dir: root.to_path_buf(),
            reason: format!(
                "the state of stream {node} has no complete full write at or before batch {time} \
                 (expected under {})",
                node_dir(root, node).display()
            ),
        })?;
    let mut chain = Vec::new();
    for (i, (t, kind, _)) in all.iter().enumerate().skip(base) {
        if *t > time {
            break;
        }
        if i > base && *kind == WriteKind::Full {
            // An incomplete full set (a worker failed): its files do not say which of the other
            // workers' keys were removed, so it cannot be applied; no commit used it.
            continue;
        }
        let dir = set_dir(root, node, *t, *kind);
        let mut files: Vec<String> = fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('w') && !framed::is_temp(n))
            .collect();
        files.sort();
        chain.push(SetRef {
            time: *t,
            kind: *kind,
            files,
        });
    }
    Ok(chain)
}

/// The payloads to restore stream `node` from the write sets `chain` (a commit's), each file
/// verified. Missing or damaged files are an error naming them (every missing one of the
/// chain): the commit cannot be used.
pub(crate) fn read_sets(root: &Path, node: usize, chain: &[SetRef]) -> Result<Restored> {
    let mut restored = Restored::default();
    let mut missing = Vec::new();
    for set in chain {
        let dir = set_dir(root, node, set.time, set.kind);
        tracing::debug!(node, time = %set.time, kind = ?set.kind, files = set.files.len(), "restoring state");
        for name in &set.files {
            let f = dir.join(name);
            if !f.is_file() {
                missing.push(format!("{} (batch {})", f.display(), set.time));
                continue;
            }
            if !missing.is_empty() {
                // The commit cannot be used: only the other missing files are of interest.
                continue;
            }
            let writer = name.strip_prefix('w').and_then(|n| {
                let (i, n) = n.split_once("-of-")?;
                Some((i.parse().ok()?, n.parse().ok()?))
            });
            let payload = framed::read_verified(&f, Kind::State)?;
            restored.files.push(RestoredFile {
                path: f,
                writer,
                payload,
            });
        }
    }
    if !missing.is_empty() {
        return Err(Error::Checkpoint {
            dir: root.to_path_buf(),
            reason: format!(
                "the state of stream {node} is missing {}",
                missing.join(", ")
            ),
        });
    }
    Ok(restored)
}

/// The payloads to restore stream `node` as of batch `time`, from the sets on disk now
/// ([`chain_at`], then [`read_sets`]).
#[cfg(test)]
pub(crate) fn read_chain(root: &Path, node: usize, time: Time) -> Result<Restored> {
    read_sets(root, node, &chain_at(root, node, time)?)
}

/// A stateful stream's files to restore, in the order to apply them.
#[derive(Debug, Default)]
pub(crate) struct Restored {
    pub(crate) files: Vec<RestoredFile>,
    /// Whether the workers and the stream's partitions are as when the files were written: then
    /// each worker's keys are exactly those in its own files, and it reads only those.
    pub(crate) same_layout: bool,
}

/// One verified state file.
#[derive(Debug)]
pub(crate) struct RestoredFile {
    pub(crate) path: PathBuf,
    /// The worker that wrote it, `(index, workers)`.
    pub(crate) writer: Option<(usize, usize)>,
    /// Its entries (see [`decode`]).
    pub(crate) payload: Vec<u8>,
}

/// Deletes the write sets of `node` that no kept commit needs: everything before the newest
/// complete full set at or before `oldest_kept`, and (after a recovery) anything after `newest`.
pub(crate) fn prune(root: &Path, node: usize, oldest_kept: Time, newest: Option<Time>) {
    let Ok(all) = sets(root, node) else { return };
    let base = all
        .iter()
        .rposition(|(t, k, f)| *t <= oldest_kept && *k == WriteKind::Full && f.is_some())
        .map(|i| all[i].0);
    for (t, kind, _) in &all {
        let stale = base.is_some_and(|b| *t < b) || newest.is_some_and(|n| *t > n);
        if stale {
            let dir = set_dir(root, node, *t, *kind);
            if let Err(e) = fs::remove_dir_all(&dir) {
                tracing::warn!("could not delete old state {}: {e}", dir.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(
        root: &Path,
        t: u64,
        kind: WriteKind,
        workers: usize,
        entries: &[(&str, Option<u64>)],
    ) {
        for w in 0..workers {
            let mut e = Entries::default();
            for (i, (k, s)) in entries.iter().enumerate() {
                if i % workers == w {
                    e.push(&k.to_string(), s.as_ref());
                }
            }
            e.write(root, 3, Time::from_millis(t), kind, w, workers)
                .unwrap();
        }
    }

    fn restore(root: &Path, t: u64) -> std::collections::BTreeMap<String, u64> {
        let mut m = std::collections::BTreeMap::new();
        for f in read_chain(root, 3, Time::from_millis(t)).unwrap().files {
            decode::<String, u64, std::convert::Infallible>(&f.payload, |k, s| {
                match s {
                    Some(s) => m.insert(k, s),
                    None => m.remove(&k),
                };
                Ok(())
            })
            .unwrap();
        }
        m
    }

    #[test]
    fn chain_of_full_and_deltas_restores_with_removals() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            1000,
            WriteKind::Full,
            2,
            &[("a", Some(1)), ("b", Some(2))],
        );
        write(
            root,
            2000,
            WriteKind::Delta,
            3,
            &[("a", None), ("c", Some(3))],
        );
        write(root, 3000, WriteKind::Delta, 1, &[("b", Some(20))]);
        assert_eq!(
            restore(root, 1000),
            [("a".into(), 1), ("b".into(), 2)].into()
        );
        assert_eq!(
            restore(root, 2000),
            [("b".into(), 2), ("c".into(), 3)].into()
        );
        assert_eq!(
            restore(root, 3000),
            [("b".into(), 20), ("c".into(), 3)].into()
        );

        // A newer full set replaces everything before it.
        write(
            root,
            4000,
            WriteKind::Full,
            2,
            &[("z", Some(9)), ("y", Some(8))],
        );
        assert_eq!(
            restore(root, 4000),
            [("y".into(), 8), ("z".into(), 9)].into()
        );
        assert!(complete_at(root, 3, Time::from_millis(2000)));
        assert!(!complete_at(root, 3, Time::from_millis(2500)));

        // A delta set missing a worker's file (its write failed) still contributes the others'.
        std::fs::remove_file(
            set_dir(root, 3, Time::from_millis(2000), WriteKind::Delta).join("w0-of-3"),
        )
        .unwrap();
        assert!(!complete_at(root, 3, Time::from_millis(2000)));
        assert_eq!(
            restore(root, 3000),
            [("a".into(), 1), ("b".into(), 20), ("c".into(), 3)].into()
        );

        prune(root, 3, Time::from_millis(4000), None);
        assert_eq!(sets(root, 3).unwrap().len(), 1);
        std::fs::remove_file(
            set_dir(root, 3, Time::from_millis(4000), WriteKind::Full).join("w1-of-2"),
        )
        .unwrap();
        assert!(!complete_at(root, 3, Time::from_millis(4000)));
        // Without a complete full write there is nothing to restore from: an error naming it.
        let e = read_chain(root, 3, Time::from_millis(500))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no complete full write"), "{e}");
    }
}
