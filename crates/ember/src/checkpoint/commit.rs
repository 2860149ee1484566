//! The commit record: `checkpoint-<batch ms>` says that every batch up to that time is processed
//! and that the state it needs is on disk. Written by the driver's checkpoint writer once the
//! batch has completed and every worker's share of the state is on disk (see
//! [`crate::checkpoint`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checkpoint::GraphShape;
use crate::checkpoint::framed::{self, Kind};
use crate::checkpoint::state_files::SetRef;
use crate::error::{Error, Result};
use crate::time::{Duration, Time};

/// Bumped when the record's layout changes incompatibly (3: the state's write sets listed).
const FORMAT: u32 = 3;

/// What a checkpoint remembers besides the state files.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Commit {
    pub(crate) format: u32,
    /// The last batch whose effects are included.
    pub(crate) time: Time,
    /// Spark's zero time: first batch time minus the interval. Kept across restarts, so that
    /// windows and checkpoint times stay aligned with the first run.
    pub(crate) zero: Time,
    /// The batch interval.
    pub(crate) batch: Duration,
    /// The stream graph's shape, one entry per node and output (operation names, parents,
    /// slides).
    pub(crate) shape: GraphShape,
    /// Ids of the stateful streams whose state files belong to this commit.
    pub(crate) stateful: Vec<usize>,
    /// Per stateful stream, the write sets (and their files) its state is made of: a restore
    /// reads exactly these, so a missing file makes the whole commit unusable instead of
    /// silently restoring older state next to this commit's file lists and log positions.
    pub(crate) chains: BTreeMap<usize, Vec<SetRef>>,
    /// Partitions of each stateful stream (a restore with the same partitions and workers reads
    /// each worker's own files only).
    pub(crate) partitions: BTreeMap<usize, usize>,
    /// Input streams' own checkpoint data (directory listings, write-ahead-log positions), by
    /// input stream id.
    pub(crate) sources: BTreeMap<usize, Vec<u8>>,
    /// Workers over all processes when it was written (informative: restoring with another
    /// number of workers re-partitions the state).
    pub(crate) workers: usize,
}

impl Commit {
    pub(crate) fn new(time: Time, zero: Time, batch: Duration, shape: GraphShape) -> Self {
        Commit {
            format: FORMAT,
            time,
            zero,
            batch,
            shape,
            stateful: Vec::new(),
            chains: BTreeMap::new(),
            partitions: BTreeMap::new(),
            sources: BTreeMap::new(),
            workers: 0,
        }
    }

    /// Writes the record atomically under `dir`.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let bytes = postcard::to_allocvec(self).map_err(|e| Error::Checkpoint {
            dir: dir.to_path_buf(),
            reason: format!("encoding the commit of batch {}: {e}", self.time),
        })?;
        framed::write_atomic(&path(dir, self.time), Kind::Commit, &bytes)
    }

    pub(crate) fn read(path: &Path) -> Result<Commit> {
        let bytes = framed::read_verified(path, Kind::Commit)?;
        // The format comes first (a varint): an older record is named as such, not as damage.
        match postcard::take_from_bytes::<u32>(&bytes) {
            Ok((FORMAT, _)) => {}
            Ok((format, _)) => {
                return Err(Error::CorruptCheckpoint {
                    path: path.to_path_buf(),
                    reason: format!(
                        "commit format {format}, this ember reads format {FORMAT} (written by \
                         another version of ember)"
                    ),
                });
            }
            Err(e) => {
                return Err(Error::CorruptCheckpoint {
                    path: path.to_path_buf(),
                    reason: format!("undecodable commit record: {e}"),
                });
            }
        }
        let commit: Commit =
            postcard::from_bytes(&bytes).map_err(|e| Error::CorruptCheckpoint {
                path: path.to_path_buf(),
                reason: format!("undecodable commit record: {e}"),
            })?;
        Ok(commit)
    }
}

/// How the name of a commit record begins (`checkpoint-<batch ms>`).
pub(crate) const PREFIX: &str = "checkpoint-";

/// Where the commit of batch `time` lives.
pub(crate) fn path(dir: &Path, time: Time) -> PathBuf {
    dir.join(format!("{PREFIX}{}", time.as_millis()))
}

/// The commit records in `dir`, newest first.
pub(crate) fn list(dir: &Path) -> Result<Vec<(Time, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::io(
                format!("listing checkpoint directory {}", dir.display()),
                e,
            ));
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|e| Error::io(format!("listing checkpoint directory {}", dir.display()), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(ms) = name
            .strip_prefix(PREFIX)
            .and_then(|s| s.parse::<u64>().ok())
        {
            found.push((Time::from_millis(ms), entry.path()));
        }
    }
    found.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    Ok(found)
}

/// Deletes all but the `keep` newest commits; returns the oldest kept commit's time.
pub(crate) fn prune(dir: &Path, keep: usize) -> Result<Option<Time>> {
    let found = list(dir)?;
    // Temporary files of commits interrupted by a crash.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if framed::is_temp(&name) && name.starts_with(".checkpoint-") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    for (_, path) in found.iter().skip(keep) {
        if let Err(e) = std::fs::remove_file(path) {
            tracing::warn!("could not delete old checkpoint {}: {e}", path.display());
        }
    }
    Ok(found.iter().take(keep).next_back().map(|(t, _)| *t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(ms: u64) -> Commit {
        let mut shape = GraphShape::default();
        shape.push_stream(0, "socket_text_stream", vec![], Duration::seconds(1));
        Commit::new(
            Time::from_millis(ms),
            Time::from_millis(0),
            Duration::seconds(1),
            shape,
        )
    }

    #[test]
    fn commits_are_listed_newest_first_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        commit(1000).write(dir.path()).unwrap();
        commit(2000).write(dir.path()).unwrap();
        let found = list(dir.path()).unwrap();
        assert_eq!(found[0].0.as_millis(), 2000);
        assert_eq!(Commit::read(&found[0].1).unwrap().time.as_millis(), 2000);

        std::fs::write(path(dir.path(), Time::from_millis(2000)), b"junk").unwrap();
        let e = Commit::read(&found[0].1).unwrap_err().to_string();
        assert!(e.contains("checkpoint-2000"), "{e}");
    }

    #[test]
    fn a_record_of_another_format_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = commit(1000);
        old.format = 2;
        old.write(dir.path()).unwrap();
        let e = Commit::read(&path(dir.path(), Time::from_millis(1000)))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("commit format 2, this ember reads format 3"),
            "{e}"
        );
    }

    #[test]
    fn prune_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for ms in [1000, 2000, 3000, 4000] {
            commit(ms).write(dir.path()).unwrap();
        }
        assert_eq!(prune(dir.path(), 2).unwrap(), Some(Time::from_millis(3000)));
        let left: Vec<u64> = list(dir.path())
            .unwrap()
            .iter()
            .map(|(t, _)| t.as_millis())
            .collect();
        assert_eq!(left, [4000, 3000]);
    }
}
