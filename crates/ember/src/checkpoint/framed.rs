//! Checksummed files written atomically: the unit every checkpoint file is made of.
//!
//! A framed file is `magic (4) | kind (1) | version (1) | 0 0 | payload length (u64 LE) |
//! payload | XXH3-64 of the payload (u64 LE)`. It is written to a temporary name in the same
//! directory, fsynced, renamed over its final name and the directory fsynced, so that a reader
//! sees either the whole file or none, whatever happens to the writer (SIGKILL, a full disk). A
//! reader checks the magic, the length and the checksum, so a truncated or damaged file is
//! reported as such instead of being half-read.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"EMBR";
const VERSION: u8 = 1;
const HEADER: usize = 16;
const TRAILER: usize = 8;

/// What a framed file holds; checked when reading, so that one kind is never taken for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A commit record (`checkpoint-<ms>`).
    Commit = 1,
    /// A share of a stateful stream's state.
    State = 2,
}

/// The length of the file `write_atomic` writes for a payload of `payload` bytes.
pub(crate) fn file_len(payload: u64) -> u64 {
    (HEADER + TRAILER) as u64 + payload
}

/// Writes `payload` as a framed file at `path`, atomically and durably.
pub(crate) fn write_atomic(path: &Path, kind: Kind, payload: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating directory {}", dir.display()), e))?;
    let tmp = temp_name(path);
    let outcome = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(MAGIC);
        header[4] = kind as u8;
        header[5] = VERSION;
        header[8..].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        f.write_all(&header)?;
        f.write_all(payload)?;
        f.write_all(&xxhash_rust::xxh3::xxh3_64(payload).to_le_bytes())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is.
        File::open(dir)?.sync_all()
    })();
    outcome.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(format!("writing checkpoint file {}", path.display()), e)
    })
}

/// Reads and verifies a framed file of `kind`; returns its payload.
pub(crate) fn read_verified(path: &Path, kind: Kind) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(format!("reading checkpoint file {}", path.display()), e))?;
    let corrupt = |why: &str| Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason: why.to_owned(),
    };
    if bytes.len() < HEADER + TRAILER || &bytes[..4] != MAGIC {
        return Err(corrupt("not an ember checkpoint file (bad header)"));
    }
    if bytes[4] != kind as u8 {
        return Err(corrupt("unexpected file kind"));
    }
    if bytes[5] != VERSION {
        return Err(corrupt(&format!(
            "written by an unsupported format version {}",
            bytes[5]
        )));
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    if bytes.len() != HEADER + len + TRAILER {
        return Err(corrupt(&format!(
            "truncated or extended: {} bytes, expected {}",
            bytes.len(),
            HEADER + len + TRAILER
        )));
    }
    let payload = &bytes[HEADER..HEADER + len];
    let sum = u64::from_le_bytes(bytes[HEADER + len..].try_into().expect("8 bytes"));
    if xxhash_rust::xxh3::xxh3_64(payload) != sum {
        return Err(corrupt("checksum mismatch"));
    }
    bytes.truncate(HEADER + len);
    bytes.drain(..HEADER);
    Ok(bytes)
}

/// The temporary name a file is written under before its rename: hidden, and unique per writer
/// thread so that two writers of the same file never share one.
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tid = format!("{:?}", std::thread::current().id());
    let tid: String = tid.chars().filter(char::is_ascii_digit).collect();
    path.with_file_name(format!(".{name}.{}-{tid}.tmp", std::process::id()))
}

/// Whether `name` is a temporary file left by an interrupted write.
pub(crate) fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_kind_of_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, Kind::State, b"hello state").unwrap();
        assert_eq!(read_verified(&path, Kind::State).unwrap(), b"hello state");
        assert!(matches!(
            read_verified(&path, Kind::Commit),
            Err(Error::CorruptCheckpoint { .. })
        ));
        let good = fs::read(&path).unwrap();

        let mut flipped = good.clone();
        flipped[HEADER + 2] ^= 1;
        fs::write(&path, &flipped).unwrap();
        let e = read_verified(&path, Kind::State).unwrap_err().to_string();
        assert!(e.contains("checksum mismatch"), "{e}");

        fs::write(&path, &good[..good.len() - 3]).unwrap();
        let e = read_verified(&path, Kind::State).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");

        fs::write(&path, b"garbage").unwrap();
        let e = read_verified(&path, Kind::State).unwrap_err().to_string();
        assert!(
            e.contains("bad header") && e.contains(&path.display().to_string()),
            "{e}"
        );

        // No temporary file is left behind by a successful write.
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["f"]);
    }
}
