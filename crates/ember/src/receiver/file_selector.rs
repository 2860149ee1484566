//! Which files of a monitored directory belong to a batch: the selection rules of Spark's
//! `FileInputDStream` (see `shared/reference/spark-streaming.md` §2.1).
//!
//! For the batch at time `T` a file is selected when
//! 1. its name does not start with `.` (Spark's default filter) nor with `_` (see below);
//! 2. its modification time is after `max(initial threshold, T - remember)`, where the initial
//!    threshold is the stream's creation time with `new_files_only` (pre-existing files are
//!    ignored) and 0 otherwise, and `remember = slide × ceil(min_remember / slide)`;
//! 3. its modification time is not after `T` (a file from the future waits for its batch);
//! 4. it was not selected by an earlier batch within the remember window.
//!
//! Files directly in the directory are candidates, and so are the files one level down in
//! sub-directories (Spark reads a new sub-directory's files as its quirk).
//!
//! Every file is known by its canonical path (the watched directory's canonical path, resolved
//! once it exists, joined with the names listed; symbolic links resolved): the remembered
//! selections are compared and checkpointed that way, so a program restarted with another
//! spelling of the same directory (`in`, `./in`, an absolute path, a path through a link) reads
//! no file twice, and a file reachable under two names in one listing counts once.
//!
//! Differences from Spark, on purpose:
//! * names starting with `_` are skipped. Spark's filter lets them through, then Hadoop rejects
//!   them and the *whole batch* is lost with "Input path does not exist";
//! * a file in a sub-directory is judged by its own modification time, where Spark judges the
//!   sub-directory's. Files are selected one by one, never whole directories;
//! * a sub-directory is listed only when it lies inside the watched directory: a link to `.`,
//!   `..` or anywhere outside would list files twice or read another directory;
//! * a checkpoint directory is never listed: the context's own (whose commit records and state
//!   files would otherwise be read as text) and any directory holding ember's checkpoint lock
//!   file next to commit records.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::time::{Duration, Time};

/// Picks the new files of a monitored directory for each batch and remembers what it picked.
pub(crate) struct FileSelector {
    /// The directory as the program named it (in errors).
    dir: PathBuf,
    /// Its canonical path, resolved once the directory exists: files are listed under it.
    root: Option<PathBuf>,
    /// Canonical paths of directories never listed (the context's checkpoint directory).
    excluded: Vec<PathBuf>,
    /// Whether it was reported that the watched directory is a checkpoint directory.
    reported_checkpoint_root: bool,
    /// Files modified at or before this time are never selected.
    initial_threshold: Time,
    min_remember: Duration,
    /// Batch time -> the files selected for it (canonical paths), within the remember window.
    selected: BTreeMap<Time, Vec<PathBuf>>,
    /// All files in `selected`, for the "not selected before" check.
    recent: HashSet<PathBuf>,
}

/// The candidates of one listing, each file once.
#[derive(Default)]
struct Listing {
    files: Vec<Candidate>,
    seen: HashSet<PathBuf>,
}

impl Listing {
    /// Adds the file at canonical path `path`, unless it was listed under another name already.
    fn add(&mut self, path: PathBuf, meta: &fs::Metadata) {
        if self.seen.insert(path.clone()) {
            self.files.push(candidate(path, meta));
        }
    }
}

/// A candidate file found by listing.
struct Candidate {
    path: PathBuf,
    mtime: Time,
    len: u64,
}

impl FileSelector {
    /// A selector for `dir`, which may not exist yet (its canonical path is then resolved at the
    /// first listing that finds it). With `new_files_only`, files modified at or before
    /// `created_at` are ignored. `min_remember` is Spark's
    /// `spark.streaming.fileStream.minRememberDuration` (60 s by default).
    pub(crate) fn new(
        dir: PathBuf,
        new_files_only: bool,
        created_at: Time,
        min_remember: Duration,
    ) -> Self {
        let initial_threshold = if new_files_only {
            created_at
        } else {
            Time::from_millis(0)
        };
        let root = fs::canonicalize(&dir).ok();
        FileSelector {
            dir,
            root,
            excluded: Vec::new(),
            reported_checkpoint_root: false,
            initial_threshold,
            min_remember,
            selected: BTreeMap::new(),
            recent: HashSet::new(),
        }
    }

    /// Never lists directory `dir` (the context's checkpoint directory), by its canonical path.
    pub(crate) fn exclude(&mut self, dir: &Path) {
        self.excluded
            .push(fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()));
    }

    /// How long selections are remembered: `slide × ceil(min_remember / slide)`.
    pub(crate) fn remember_duration(&self, slide: Duration) -> Duration {
        if slide.is_zero() {
            return self.min_remember;
        }
        let slides = self.min_remember.as_millis().div_ceil(slide.as_millis());
        slide * slides
    }

    /// The files of the batch at `batch_time`, sorted by (modification time, path).
    ///
    /// Asking again for a batch time already answered (for example after [`FileSelector::restore`])
    /// returns the same files instead of listing again.
    pub(crate) fn select(&mut self, batch_time: Time, slide: Duration) -> Result<Vec<PathBuf>> {
        if let Some(files) = self.selected.get(&batch_time) {
            return Ok(files.clone());
        }
        let remember = self.remember_duration(slide);
        self.forget_before(batch_time - remember);
        let threshold = self.initial_threshold.max(batch_time - remember);

        let began = Instant::now();
        let candidates = self.list()?;
        let mut chosen: Vec<Candidate> = candidates
            .into_iter()
            .filter(|c| {
                c.mtime > threshold && c.mtime <= batch_time && !self.recent.contains(&c.path)
            })
            .collect();
        chosen.sort_by(|a, b| (a.mtime, &a.path).cmp(&(b.mtime, &b.path)));
        let took = began.elapsed();
        if !slide.is_zero() && took > slide.to_std() {
            tracing::warn!(
                "Time taken to find new files {} exceeds the batch size. Consider increasing the batch size or reducing the number of files in the monitored directories.",
                took.as_millis()
            );
        }

        for file in chosen.iter().filter(|c| c.len == 0) {
            tracing::error!(
                "File {} has no data in it. Spark Streaming can only ingest files that have been \"moved\" to the directory assigned to the file stream. Refer to the streaming programming guide for more details.",
                file.path.display()
            );
        }
        let files: Vec<PathBuf> = chosen.into_iter().map(|c| c.path).collect();
        if !files.is_empty() {
            tracing::debug!("New files at time {batch_time}: {files:?}");
        }
        self.recent.extend(files.iter().cloned());
        self.selected.insert(batch_time, files.clone());
        Ok(files)
    }

    /// Files modified at or before this time are never selected (checkpoint data).
    pub(crate) fn initial_threshold(&self) -> Time {
        self.initial_threshold
    }

    /// The remembered selections, oldest batch first (checkpoint data).
    pub(crate) fn remembered(&self) -> Vec<(Time, Vec<PathBuf>)> {
        self.selected
            .iter()
            .map(|(time, files)| (*time, files.clone()))
            .collect()
    }

    /// Replaces the threshold and the remembered selections with checkpointed ones. Paths are
    /// canonicalized where the file still exists: a checkpoint written by an older ember holds
    /// them as the program spelled them, and they must compare with this run's listings.
    pub(crate) fn restore(
        &mut self,
        initial_threshold: Time,
        remembered: Vec<(Time, Vec<PathBuf>)>,
    ) {
        self.initial_threshold = initial_threshold;
        self.selected = remembered
            .into_iter()
            .map(|(time, files)| {
                let files = files
                    .into_iter()
                    .map(|f| fs::canonicalize(&f).unwrap_or(f))
                    .collect();
                (time, files)
            })
            .collect();
        self.recent = self.selected.values().flatten().cloned().collect();
    }

    /// Drops the selections of batches before `limit` (Spark's `clearMetadata`). Safe: a file
    /// selected before `limit` has an mtime at or before `limit`, which the threshold rejects.
    fn forget_before(&mut self, limit: Time) {
        let kept = self.selected.split_off(&limit);
        let old = std::mem::replace(&mut self.selected, kept);
        for path in old.into_values().flatten() {
            self.recent.remove(&path);
        }
    }

    /// The watched directory's canonical path, resolved at the first call that finds it.
    fn root(&mut self) -> Result<PathBuf> {
        if let Some(root) = &self.root {
            return Ok(root.clone());
        }
        match fs::canonicalize(&self.dir) {
            Ok(root) => {
                self.root = Some(root.clone());
                Ok(root)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(Error::MissingDirectory(self.dir.clone()))
            }
            Err(e) => Err(Error::io(
                format!("listing directory {}", self.dir.display()),
                e,
            )),
        }
    }

    /// Regular files of the directory and of its sub-directories (one level), by canonical
    /// path, each once, with skipped names and checkpoint directories left out.
    fn list(&mut self) -> Result<Vec<Candidate>> {
        let root = self.root()?;
        let entries = match fs::read_dir(&root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::MissingDirectory(self.dir.clone()));
            }
            Err(e) => {
                return Err(Error::io(
                    format!("listing directory {}", self.dir.display()),
                    e,
                ));
            }
        };
        let entries = entries
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io(format!("listing directory {}", self.dir.display()), e))?;
        if self.is_checkpoint(&root, &entries) {
            if !std::mem::replace(&mut self.reported_checkpoint_root, true) {
                tracing::error!(
                    "The monitored directory {} is a checkpoint directory: none of its files are read as input. Use another directory for checkpoints or for input.",
                    self.dir.display()
                );
            }
            return Ok(Vec::new());
        }
        let mut out = Listing::default();
        for entry in entries {
            let name = entry.file_name();
            if skipped(&name) {
                continue;
            }
            let path = root.join(&name);
            // Follows symbolic links, as a file system listing in Hadoop does.
            let Some(meta) = metadata(&path) else {
                continue;
            };
            let Some(path) = canonical(&entry, path) else {
                continue;
            };
            if meta.is_file() {
                out.add(path, &meta);
            } else if meta.is_dir() {
                if path == root || !path.starts_with(&root) {
                    tracing::debug!(
                        "Skipping {}: it leads to {}, the monitored directory itself or outside it",
                        root.join(&name).display(),
                        path.display()
                    );
                    continue;
                }
                self.list_sub_directory(&path, &mut out);
            }
        }
        Ok(out.files)
    }

    /// Adds the regular files of sub-directory `dir` (a canonical path), unless it is a
    /// checkpoint directory.
    fn list_sub_directory(&self, dir: &Path, out: &mut Listing) {
        let entries: Vec<fs::DirEntry> = match fs::read_dir(dir) {
            Ok(entries) => entries.flatten().collect(),
            Err(e) => {
                // It may have been removed since the listing of its parent.
                tracing::debug!("Skipping sub-directory {}: {e}", dir.display());
                return;
            }
        };
        if self.is_checkpoint(dir, &entries) {
            tracing::debug!("Skipping checkpoint directory {}", dir.display());
            return;
        }
        for entry in entries {
            let name = entry.file_name();
            if skipped(&name) {
                continue;
            }
            let path = dir.join(&name);
            let Some(meta) = metadata(&path).filter(fs::Metadata::is_file) else {
                continue;
            };
            if let Some(path) = canonical(&entry, path) {
                out.add(path, &meta);
            }
        }
    }

    /// Whether directory `dir` (a canonical path) holding `entries` is a checkpoint directory.
    fn is_checkpoint(&self, dir: &Path, entries: &[fs::DirEntry]) -> bool {
        self.excluded.iter().any(|e| e == dir)
            || crate::checkpoint::is_checkpoint_listing(entries.iter().map(fs::DirEntry::file_name))
    }
}

/// Names Spark's default filter rejects (`.`), and names Hadoop would fail the batch on (`_`).
fn skipped(name: &OsStr) -> bool {
    name.to_str()
        .is_none_or(|name| name.starts_with('.') || name.starts_with('_'))
}

/// The canonical path of the entry listed as `path` under a canonical directory: `path` itself
/// unless the entry is a symbolic link, which is resolved (`None` if that fails: it dangles or
/// was removed).
fn canonical(entry: &fs::DirEntry, path: PathBuf) -> Option<PathBuf> {
    if entry.file_type().is_ok_and(|t| !t.is_symlink()) {
        return Some(path);
    }
    match fs::canonicalize(&path) {
        Ok(resolved) => Some(resolved),
        Err(e) => {
            tracing::debug!("Skipping {}: {e}", path.display());
            None
        }
    }
}

fn metadata(path: &Path) -> Option<fs::Metadata> {
    match fs::metadata(path) {
        Ok(meta) => Some(meta),
        Err(e) => {
            // Removed between listing and stat, or a dangling link: not a file to read.
            tracing::debug!("Skipping {}: {e}", path.display());
            None
        }
    }
}

fn candidate(path: PathBuf, meta: &fs::Metadata) -> Candidate {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64);
    Candidate {
        path,
        mtime: Time::from_millis(mtime),
        len: meta.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::time::SystemTime;

    /// A batch time well in the past so that tests never depend on the clock.
    const BASE: u64 = 1_700_000_000_000;
    const SLIDE: Duration = Duration::seconds(1);

    fn t(offset_ms: i64) -> Time {
        Time::from_millis((BASE as i64 + offset_ms) as u64)
    }

    fn write(path: &Path, content: &str, mtime: Time) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(
            SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(mtime.as_millis()),
        )
        .unwrap();
    }

    fn selector(dir: &Path, new_files_only: bool) -> FileSelector {
        FileSelector::new(
            dir.to_path_buf(),
            new_files_only,
            t(0),
            Duration::seconds(60),
        )
    }

    fn names(files: &[PathBuf], root: &Path) -> Vec<String> {
        files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn missing_directory_is_an_error_until_it_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap().join("later");
        let mut sel = selector(&dir, true);
        match sel.select(t(1000), SLIDE) {
            Err(Error::MissingDirectory(path)) => assert_eq!(path, dir),
            other => panic!("expected MissingDirectory, got {other:?}"),
        }
        write(&dir.join("a.txt"), "a", t(1500));
        assert_eq!(names(&sel.select(t(2000), SLIDE).unwrap(), &dir), ["a.txt"]);
    }

    #[test]
    fn dot_and_underscore_files_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        write(&dir.join("a.txt"), "a", t(500));
        write(&dir.join(".hidden.txt"), "h", t(500));
        write(&dir.join("_SUCCESS"), "s", t(500));
        write(&dir.join("_tmp/b.txt"), "b", t(500));
        write(&dir.join(".staging/c.txt"), "c", t(500));
        let mut sel = selector(dir, true);
        assert_eq!(names(&sel.select(t(1000), SLIDE).unwrap(), dir), ["a.txt"]);
    }

    #[test]
    fn pre_existing_files_are_ignored_only_with_new_files_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        write(&dir.join("old.txt"), "old", t(-10_000));
        write(&dir.join("at-creation.txt"), "c", t(0));
        write(&dir.join("new.txt"), "new", t(1));
        assert_eq!(
            names(&selector(dir, true).select(t(1000), SLIDE).unwrap(), dir),
            ["new.txt"]
        );
        assert_eq!(
            names(&selector(dir, false).select(t(1000), SLIDE).unwrap(), dir),
            ["old.txt", "at-creation.txt", "new.txt"]
        );
    }

    #[test]
    fn future_file_waits_for_its_batch() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        write(&dir.join("future.txt"), "f", t(1500));
        let mut sel = selector(dir, true);
        assert!(sel.select(t(1000), SLIDE).unwrap().is_empty());
        assert_eq!(
            names(&sel.select(t(2000), SLIDE).unwrap(), dir),
            ["future.txt"]
        );
        assert!(sel.select(t(3000), SLIDE).unwrap().is_empty());
    }

    #[test]
    fn mtime_exactly_at_batch_time_belongs_to_that_batch() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        write(&dir.join("edge.txt"), "e", t(2000));
        let mut sel = selector(dir, true);
        assert!(sel.select(t(1000), SLIDE).unwrap().is_empty());
        assert_eq!(
            names(&sel.select(t(2000), SLIDE).unwrap(), dir),
            ["edge.txt"]
        );
    }

    #[test]
    fn files_older_than_the_remember_window_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        // Batch at +200 s: threshold = 200 s - 60 s = +140 s.
        write(&dir.join("too-old.txt"), "x", t(120_000));
        write(&dir.join("at-threshold.txt"), "x", t(140_000));
        write(&dir.join("recent.txt"), "x", t(150_000));
        let mut sel = selector(dir, false);
        assert_eq!(
            names(&sel.select(t(200_000), SLIDE).unwrap(), dir),
            ["recent.txt"]
        );
    }

    #[test]
    fn remember_duration_rounds_up_to_whole_slides() {
        let sel = FileSelector::new(PathBuf::from("x"), true, t(0), Duration::seconds(60));
        assert_eq!(
            sel.remember_duration(Duration::seconds(1)),
            Duration::seconds(60)
        );
        assert_eq!(
            sel.remember_duration(Duration::seconds(7)),
            Duration::seconds(63)
        );
        assert_eq!(
            sel.remember_duration(Duration::seconds(90)),
            Duration::seconds(90)
        );
        assert_eq!(
            sel.remember_duration(Duration::milliseconds(0)),
            Duration::seconds(60)
        );
    }

    #[test]
    fn a_file_is_never_returned_twice() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        write(&dir.join("a.txt"), "a", t(500));
        let mut sel = selector(dir, true);
        assert_eq!(names(&sel.select(t(1000), SLIDE).unwrap(), dir), ["a.txt"]);
        // Rewritten with an mtime inside the window: updates are ignored, as in Spark.
        write(&dir.join("a.txt"), "a, rewritten", t(1500));
        write(&dir.join("b.txt"), "b", t(1200));
        assert_eq!(names(&sel.select(t(2000), SLIDE).unwrap(), dir), ["b.txt"]);
        for batch in 3..70 {
            assert!(
                sel.select(t(batch * 1000), SLIDE).unwrap().is_empty(),
                "batch {batch}"
            );
        }
    }

    #[test]
    fn asking_twice_for_a_batch_gives_the_same_answer() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        write(&dir.join("a.txt"), "a", t(500));
        let mut sel = selector(dir, true);
        let first = sel.select(t(1000), SLIDE).unwrap();
        assert_eq!(sel.select(t(1000), SLIDE).unwrap(), first);
        assert_eq!(first.len(), 1);
    }

    #[test]
    fn sub_directory_files_one_level_down_sorted_by_mtime_then_path() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        write(&dir.join("z.txt"), "z", t(300));
        write(&dir.join("sub/b.txt"), "b", t(200));
        write(&dir.join("sub/a.txt"), "a", t(300));
        write(&dir.join("sub/deeper/c.txt"), "c", t(300));
        let mut sel = selector(dir, true);
        assert_eq!(
            names(&sel.select(t(1000), SLIDE).unwrap(), dir),
            ["sub/b.txt", "sub/a.txt", "z.txt"]
        );
    }

    #[test]
    fn empty_files_are_still_selected() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        write(&dir.join("empty.txt"), "", t(500));
        let mut sel = selector(dir, true);
        assert_eq!(
            names(&sel.select(t(1000), SLIDE).unwrap(), dir),
            ["empty.txt"]
        );
    }

    #[test]
    fn remembered_selections_survive_a_restore() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        write(&dir.join("a.txt"), "a", t(500));
        write(&dir.join("b.txt"), "b", t(1500));
        let mut sel = selector(dir, true);
        sel.select(t(1000), SLIDE).unwrap();
        sel.select(t(2000), SLIDE).unwrap();
        let saved = sel.remembered();
        assert_eq!(
            saved,
            [
                (t(1000), vec![dir.join("a.txt")]),
                (t(2000), vec![dir.join("b.txt")])
            ]
        );

        let mut recovered = selector(dir, true);
        recovered.restore(sel.initial_threshold(), saved);
        // The recovered batches give their files again; later batches do not repeat them.
        assert_eq!(
            recovered.select(t(2000), SLIDE).unwrap(),
            [dir.join("b.txt")]
        );
        write(&dir.join("c.txt"), "c", t(2500));
        assert_eq!(
            names(&recovered.select(t(3000), SLIDE).unwrap(), dir),
            ["c.txt"]
        );
    }

    #[test]
    fn old_selections_are_forgotten_after_the_remember_window() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().canonicalize().unwrap();
        write(&dir.join("a.txt"), "a", t(500));
        let mut sel = selector(dir, true);
        sel.select(t(1000), SLIDE).unwrap();
        sel.select(t(61_000), SLIDE).unwrap();
        assert_eq!(
            sel.remembered().first().map(|(time, _)| *time),
            Some(t(1000))
        );
        sel.select(t(62_000), SLIDE).unwrap();
        assert_eq!(
            sel.remembered().first().map(|(time, _)| *time),
            Some(t(61_000))
        );
        assert!(sel.recent.is_empty());
    }

    /// A temporary directory and its canonical path.
    fn canonical_tempdir() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().canonicalize().unwrap();
        (tmp, path)
    }

    #[test]
    fn files_are_known_by_canonical_path_however_the_directory_is_spelled() {
        let (_tmp, base) = canonical_tempdir();
        let dir = base.join("in");
        write(&dir.join("a.txt"), "a", t(500));
        std::os::unix::fs::symlink(&dir, base.join("alias")).unwrap();
        fs::create_dir(base.join("other")).unwrap();
        for spelling in [
            dir.clone(),
            base.join("other/../in"),
            base.join("in/."),
            base.join("alias"),
        ] {
            let mut sel = selector(&spelling, true);
            assert_eq!(
                sel.select(t(1000), SLIDE).unwrap(),
                [dir.join("a.txt")],
                "{}",
                spelling.display()
            );
        }
    }

    #[test]
    fn a_directory_created_after_the_stream_is_canonicalized_when_it_appears() {
        let (_tmp, base) = canonical_tempdir();
        let alias = base.join("alias");
        // A link to a directory that does not exist yet.
        std::os::unix::fs::symlink(base.join("later"), &alias).unwrap();
        let mut sel = selector(&alias, true);
        assert!(matches!(
            sel.select(t(1000), SLIDE),
            Err(Error::MissingDirectory(p)) if p == alias
        ));
        write(&base.join("later/a.txt"), "a", t(1500));
        assert_eq!(
            sel.select(t(2000), SLIDE).unwrap(),
            [base.join("later/a.txt")]
        );
    }

    #[test]
    fn links_to_the_directory_its_parent_or_outside_are_not_listed() {
        let (_tmp, base) = canonical_tempdir();
        let dir = base.join("in");
        write(&dir.join("a.txt"), "a", t(500));
        write(&dir.join("sub/b.txt"), "b", t(500));
        write(&base.join("parent.txt"), "p", t(500));
        write(&base.join("elsewhere/c.txt"), "c", t(500));
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
        };
        link(Path::new("."), "self");
        link(Path::new(".."), "up");
        link(&dir, "absolute-self");
        link(&base.join("elsewhere"), "outside");
        // A sub-directory reached a second time through a link inside the directory, and a
        // link from the sub-directory back to its parent (sub-directories' directories are never
        // listed): each file still counts once.
        link(&dir.join("sub"), "sub-again");
        std::os::unix::fs::symlink("..", dir.join("sub/back")).unwrap();
        let mut sel = selector(&dir, true);
        let mut files = names(&sel.select(t(1000), SLIDE).unwrap(), &dir);
        files.sort();
        assert_eq!(files, ["a.txt", "sub/b.txt"]);
    }

    #[test]
    fn a_file_reachable_under_two_names_counts_once() {
        let (_tmp, base) = canonical_tempdir();
        let dir = base.join("in");
        write(&dir.join("a.txt"), "a", t(500));
        std::os::unix::fs::symlink("a.txt", dir.join("link.txt")).unwrap();
        let mut sel = selector(&dir, true);
        assert_eq!(sel.select(t(1000), SLIDE).unwrap(), [dir.join("a.txt")]);
        // Nor is it selected again later through the link.
        assert!(sel.select(t(2000), SLIDE).unwrap().is_empty());
    }

    #[test]
    fn checkpoint_directories_are_never_listed() {
        let (_tmp, base) = canonical_tempdir();
        let dir = base.join("in");
        write(&dir.join("a.txt"), "a", t(500));
        // The context's checkpoint directory, before it holds anything.
        write(&dir.join("ck/some-state"), "s", t(500));
        // Another program's: the lock next to a commit record.
        write(&dir.join("other-ck/.lock"), "", t(500));
        write(&dir.join("other-ck/checkpoint-1000"), "c", t(500));
        // The lock alone, or a commit record's name alone, is not a checkpoint.
        write(&dir.join("locked/.lock"), "", t(500));
        write(&dir.join("locked/d.txt"), "d", t(500));
        write(&dir.join("named/checkpoint-notes.txt"), "e", t(500));
        let mut sel = selector(&dir, true);
        // Named by another spelling: compared by canonical path.
        sel.exclude(&base.join("in/./ck"));
        let mut files = names(&sel.select(t(1000), SLIDE).unwrap(), &dir);
        files.sort();
        assert_eq!(
            files,
            ["a.txt", "locked/d.txt", "named/checkpoint-notes.txt"]
        );
    }

    #[test]
    fn a_watched_directory_that_is_a_checkpoint_gives_nothing() {
        let (_tmp, base) = canonical_tempdir();
        write(&base.join("checkpoint-1000"), "c", t(500));
        let mut sel = selector(&base, true);
        sel.exclude(&base);
        assert!(sel.select(t(1000), SLIDE).unwrap().is_empty());
    }

    #[test]
    fn restored_paths_of_an_older_checkpoint_are_canonicalized() {
        let (_tmp, base) = canonical_tempdir();
        let dir = base.join("in");
        write(&dir.join("a.txt"), "a", t(500));
        std::os::unix::fs::symlink(&dir, base.join("alias")).unwrap();
        // Written by a build that kept paths as the program spelled them; one file is gone.
        let old = vec![(
            t(1000),
            vec![base.join("alias/a.txt"), base.join("alias/gone.txt")],
        )];
        let mut sel = selector(&dir, true);
        sel.restore(t(0), old);
        assert_eq!(
            sel.remembered(),
            [(
                t(1000),
                vec![dir.join("a.txt"), base.join("alias/gone.txt")]
            )]
        );
        assert!(sel.select(t(2000), SLIDE).unwrap().is_empty());
    }
}
