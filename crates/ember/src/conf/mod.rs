//! Application configuration (Spark's `SparkConf`): [`Conf`], a map of string settings, and
//! [`settings`], the registry that gives each of ember's settings its type, bounds, default and
//! doc. A [`Context`](crate::Context) checks the registered settings when it is made; code reads
//! them through the registry (`settings::MAX_LINE_BYTES.get(&conf)?`).
//!
//! ```
//! use ember::Conf;
//! let conf = Conf::new().set_master("local[4]").set_app_name("wordcount");
//! assert_eq!(conf.master().unwrap().threads(), 4);
//! ```

pub mod settings;

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use settings::{Count, Flag, Kind, Millis, Size};

// The keys of the settings the rest of the crate names; each is declared, with its type, default
// and doc, in `settings`.

/// Setting key of the master URL (`local`, `local[N]`, `local[*]`).
pub const MASTER: &str = settings::MASTER.key();
/// Setting key of the application name.
pub const APP_NAME: &str = settings::APP_NAME.key();
/// Setting key of the cluster's process addresses, comma-separated `host:port`, in process order.
pub const CLUSTER_HOSTS: &str = settings::CLUSTER_HOSTS.key();
/// Setting key of this process's index among [`CLUSTER_HOSTS`].
pub const CLUSTER_PROCESS: &str = settings::CLUSTER_PROCESS.key();
/// Setting key of how long a cluster process waits for the others to come up (default 60 s).
pub const CLUSTER_CONNECT_TIMEOUT: &str = settings::CLUSTER_CONNECT_TIMEOUT.key();
/// Setting key of how long a cluster process may stay silent before the others take it for lost
/// and stop (default 5 s; processes greet each other several times within it).
pub const CLUSTER_HEARTBEAT_TIMEOUT: &str = settings::CLUSTER_HEARTBEAT_TIMEOUT.key();
/// Setting key of the longest line a socket or file source accepts, in bytes (default 16 MiB).
pub const MAX_LINE_BYTES: &str = settings::MAX_LINE_BYTES.key();
/// Setting key of the delay before a receiver restarts, in milliseconds (Spark's default 2000).
pub const RECEIVER_RESTART_DELAY: &str = settings::RECEIVER_RESTART_DELAY.key();
/// Setting key of the minimum time a file stream remembers files (Spark's default 60s).
pub const FILE_MIN_REMEMBER: &str = settings::FILE_MIN_REMEMBER.key();
/// Setting key of the default number of partitions of shuffles, inputs and `parallelize`
/// (Spark's `spark.default.parallelism`; the number of workers when unset). It is independent of
/// the number of workers: PySpark's own tests run one partition on `local[2]`.
pub const DEFAULT_PARALLELISM: &str = settings::DEFAULT_PARALLELISM.key();

/// Where and how wide the application runs (the parsed master URL plus the cluster settings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Master {
    threads: usize,
    hosts: Vec<String>,
    process: usize,
}

impl Master {
    /// Worker threads in this process (`N` of `local[N]`).
    pub fn threads(&self) -> usize {
        self.threads
    }
    /// Addresses of all processes, in process order; empty for a single-process run.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }
    /// Index of this process among [`Master::hosts`] (0 when running alone).
    pub fn process(&self) -> usize {
        self.process
    }
    /// Number of processes taking part.
    pub fn processes(&self) -> usize {
        self.hosts.len().max(1)
    }
    /// Total number of workers over all processes.
    pub fn total_workers(&self) -> usize {
        self.threads * self.processes()
    }
}

/// Key-value settings of an application, Spark's `SparkConf` with Rust naming. Builder methods
/// consume and return the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conf {
    settings: BTreeMap<String, String>,
}

impl Conf {
    /// An empty configuration (master defaults to `local[*]` when unset).
    pub fn new() -> Self {
        Conf::default()
    }
    /// Sets the master URL: `local`, `local[N]` or `local[*]`.
    pub fn set_master(self, master: &str) -> Self {
        self.set(MASTER, master)
    }
    /// Sets the application name.
    pub fn set_app_name(self, name: &str) -> Self {
        self.set(APP_NAME, name)
    }
    /// Runs this process as process `process` of the cluster whose process addresses (`host:port`,
    /// in process order) are `hosts`. Every process runs the same program.
    pub fn set_cluster(self, hosts: &[String], process: usize) -> Self {
        self.set(CLUSTER_HOSTS, &hosts.join(","))
            .set(CLUSTER_PROCESS, &process.to_string())
    }
    /// Reads the cluster's process addresses from a file (one `host:port` a line; blank lines and
    /// `#` comments ignored) and runs this process as process `process`.
    pub fn set_hosts_file(self, path: &Path, process: usize) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading hosts file {}", path.display()), e))?;
        let hosts: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        if hosts.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "hosts file {} lists no process",
                path.display()
            )));
        }
        Ok(self.set_cluster(&hosts, process))
    }
    /// Sets any setting.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.settings.insert(key.to_owned(), value.to_owned());
        self
    }
    /// The value of a setting, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }
    /// The value of a setting, or `default`.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }
    /// A boolean setting (`true`/`false`, in any case, as Spark's), or `default`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::Conf;
    ///
    /// let conf = Conf::new().set("spark.streaming.receiver.writeAheadLog.enable", "true");
    /// assert!(conf.get_bool("spark.streaming.receiver.writeAheadLog.enable", false)?);
    /// assert!(!conf.get_bool("unset.key", false)?);
    /// assert!(Conf::new().set("k", "yes").get_bool("k", false).is_err());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn get_bool(&self, key: &str, default: bool) -> Result<bool> {
        self.get_parsed(key, Flag, default)
    }
    /// A whole-number setting, or `default`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::Conf;
    ///
    /// let conf = Conf::new().set("ember.cluster.process", "1");
    /// assert_eq!(conf.get_u64("ember.cluster.process", 0)?, 1);
    /// assert_eq!(conf.get_u64("unset.key", 7)?, 7);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn get_u64(&self, key: &str, default: u64) -> Result<u64> {
        self.get_parsed(key, Count::at_least(0), default)
    }
    /// A size setting in bytes; accepts Spark's suffixes `k`, `m`, `g`, `t` (binary units).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::Conf;
    ///
    /// let conf = Conf::new().set("ember.input.maxLineBytes", "16m");
    /// assert_eq!(conf.get_bytes("ember.input.maxLineBytes", 0)?, 16 * 1024 * 1024);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn get_bytes(&self, key: &str, default: u64) -> Result<u64> {
        self.get_parsed(key, Size::ANY, default)
    }
    /// A duration setting in milliseconds; accepts Spark's suffixes `ms`, `s`, `m`, `min`, `h`,
    /// `d` (a bare number is milliseconds).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::Conf;
    ///
    /// let conf = Conf::new().set("spark.streaming.receiverRestartDelay", "2s");
    /// assert_eq!(conf.get_millis("spark.streaming.receiverRestartDelay", 0)?, 2000);
    /// assert_eq!(Conf::new().set("k", "500").get_millis("k", 0)?, 500);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn get_millis(&self, key: &str, default: u64) -> Result<u64> {
        Ok(self
            .get_parsed(
                key,
                Millis::ANY,
                crate::time::Duration::milliseconds(default),
            )?
            .as_millis())
    }
    /// The setting `key` parsed as `kind`, or `default`: the getters above, for any key. Code
    /// that reads one of ember's own settings goes through its declaration in [`settings`],
    /// which knows its type, bounds and default.
    fn get_parsed<K: Kind>(&self, key: &str, kind: K, default: K::Value) -> Result<K::Value> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => kind
                .parse(v)
                .map_err(|problem| Error::invalid_setting(key, v, problem)),
        }
    }
    /// The default number of partitions set by [`DEFAULT_PARALLELISM`], if set. A value that is
    /// not a positive whole number is an error (Spark would fail only later, at the first
    /// `parallelize` or shuffle that uses it).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::Conf;
    ///
    /// let conf = Conf::new().set_master("local[2]").set("spark.default.parallelism", "1");
    /// assert_eq!(conf.default_parallelism()?, Some(1));
    /// assert_eq!(Conf::new().default_parallelism()?, None);
    /// let zero = Conf::new().set("spark.default.parallelism", "0").default_parallelism();
    /// assert_eq!(
    ///     zero.unwrap_err().to_string(),
    ///     "requirement failed: Positive number of partitions required (spark.default.parallelism=0)"
    /// );
    /// assert!(Conf::new().set("spark.default.parallelism", "two").default_parallelism().is_err());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn default_parallelism(&self) -> Result<Option<usize>> {
        let Some(v) = self.get(DEFAULT_PARALLELISM) else {
            return Ok(None);
        };
        match self.get_u64(DEFAULT_PARALLELISM, 0)? {
            0 => Err(Error::Requirement(format!(
                "Positive number of partitions required ({DEFAULT_PARALLELISM}={v})"
            ))),
            n => usize::try_from(n).map(Some).map_err(|_| {
                Error::InvalidArgument(format!("setting {DEFAULT_PARALLELISM}={v} is too large"))
            }),
        }
    }
    /// The application name (`ember` when unset).
    pub fn app_name(&self) -> &str {
        self.get_or(APP_NAME, settings::APP_NAME.default())
    }
    /// Every setting, sorted by key.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    /// The parsed master and cluster settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::Conf;
    ///
    /// let master = Conf::new().set_master("local[3]").master()?;
    /// assert_eq!((master.threads(), master.processes(), master.total_workers()), (3, 1, 3));
    /// let hosts = vec!["10.0.0.1:7000".to_string(), "10.0.0.2:7000".to_string()];
    /// let cluster = Conf::new().set_master("local[2]").set_cluster(&hosts, 1).master()?;
    /// assert_eq!((cluster.process(), cluster.total_workers()), (1, 4));
    /// assert!(Conf::new().set_master("yarn").master().is_err());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn master(&self) -> Result<Master> {
        let url = self.get_or(MASTER, settings::MASTER.default()).trim();
        let threads = parse_master(url)?;
        let hosts: Vec<String> = settings::CLUSTER_HOSTS
            .get(self)?
            .map(|h| {
                h.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        // Bounded by the registry far below usize::MAX, and by the hosts just below.
        let process = settings::CLUSTER_PROCESS.get(self)? as usize;
        if !hosts.is_empty() && process >= hosts.len() {
            return Err(Error::InvalidArgument(format!(
                "process index {process} is out of range: the cluster lists {} processes",
                hosts.len()
            )));
        }
        Ok(Master {
            threads,
            hosts,
            process,
        })
    }
}

fn parse_master(url: &str) -> Result<usize> {
    let invalid = || Error::InvalidArgument(format!("Could not parse Master URL: '{url}'"));
    if url == "local" {
        return Ok(1);
    }
    let inner = url
        .strip_prefix("local[")
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(invalid)?;
    if inner == "*" {
        // A machine with more CPUs than the bound still runs, on as many threads as allowed.
        return Ok(std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(settings::MAX_THREADS));
    }
    let too_many = || {
        Error::InvalidArgument(format!(
            "Asked to run locally with {inner} threads: at most {} worker threads per process \
             (local[*] runs one per CPU)",
            settings::MAX_THREADS
        ))
    };
    match inner.parse::<usize>() {
        Ok(0) => Err(Error::InvalidArgument(format!(
            "Asked to run locally with {inner} threads"
        ))),
        Ok(n) if n > settings::MAX_THREADS => Err(too_many()),
        Ok(n) => Ok(n),
        Err(_) if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) => Err(too_many()),
        Err(_) => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_parse_as_spark_does() {
        assert_eq!(parse_master("local").unwrap(), 1);
        assert_eq!(parse_master("local[3]").unwrap(), 3);
        assert!(parse_master("local[*]").unwrap() >= 1);
        assert_eq!(
            parse_master("yarn").unwrap_err().to_string(),
            "Could not parse Master URL: 'yarn'"
        );
        assert!(parse_master("local[0]").is_err());
        assert_eq!(parse_master("local[1024]").unwrap(), 1024);
        let too_many = "Asked to run locally with 100000 threads: at most 1024 worker threads \
                        per process (local[*] runs one per CPU)";
        assert_eq!(
            parse_master("local[100000]").unwrap_err().to_string(),
            too_many
        );
        assert!(
            parse_master("local[99999999999999999999999]")
                .unwrap_err()
                .to_string()
                .contains("at most 1024 worker threads")
        );
        assert!(parse_master("local[*]").unwrap() <= settings::MAX_THREADS);
    }

    #[test]
    fn cluster_settings() {
        let hosts = vec!["127.0.0.1:4000".to_string(), "127.0.0.1:4001".to_string()];
        let m = Conf::new()
            .set_master("local[2]")
            .set_cluster(&hosts, 1)
            .master()
            .unwrap();
        assert_eq!(
            (m.threads(), m.processes(), m.process(), m.total_workers()),
            (2, 2, 1, 4)
        );
        let bad = Conf::new().set_cluster(&hosts, 2).master();
        assert!(bad.unwrap_err().to_string().contains("out of range"));
    }

    #[test]
    fn getters_for_any_key_parse_without_bounds() {
        let conf = Conf::new()
            .set("a", "16m")
            .set("b", "1min")
            .set("c", "TRUE")
            .set("d", "x");
        assert_eq!(conf.get_bytes("a", 0).unwrap(), 16 << 20);
        assert_eq!(conf.get_millis("b", 0).unwrap(), 60_000);
        assert!(conf.get_bool("c", false).unwrap());
        assert_eq!(conf.get_u64("unset", 7).unwrap(), 7);
        assert_eq!(
            conf.get_millis("d", 0).unwrap_err().to_string(),
            "setting d=x is not a duration (milliseconds, or a whole number with ms, s, m, min, h or d)"
        );
        assert_eq!(
            conf.get_u64("d", 0).unwrap_err().to_string(),
            "setting d=x is not a whole number"
        );
    }
}
