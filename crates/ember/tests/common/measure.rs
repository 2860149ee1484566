//! What a test or a benchmark measures outside the engine: the process's resident memory and
//! the bytes a directory holds. Shared by the integration tests (through `common`) and the
//! benchmarks (which include this file by path).

use std::path::Path;

/// The process's resident set size, in bytes (`VmRSS` of /proc/self/status), or `None` where
/// that file does not say.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The bytes of every file below `dir` (0 for what cannot be read).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                dir_size(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}
