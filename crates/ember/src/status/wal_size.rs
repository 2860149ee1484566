//! The size of the receivers' write-ahead logs: the bytes of the files under the log's
//! directory, measured when the UI asks (a log is a few segment files per receiver, so the
//! listing is short, and it runs on the UI's thread, not the engine's).

use std::path::Path;

/// The bytes of the files under `dir`, through its subdirectories; 0 if it does not exist.
pub(super) fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_files_of_every_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(bytes_under(&dir.path().join("missing")), 0);
        std::fs::create_dir_all(dir.path().join("stream-0")).unwrap();
        std::fs::create_dir_all(dir.path().join("stream-1")).unwrap();
        std::fs::write(dir.path().join("stream-0/log-1"), [0u8; 10]).unwrap();
        std::fs::write(dir.path().join("stream-1/log-1"), [0u8; 5]).unwrap();
        assert_eq!(bytes_under(dir.path()), 15);
    }
}
