//! Application configuration (Spark's `SparkConf`).
//!
//! ```
//! use ember::Conf;
//! let conf = Conf::new().set_master("local[4]").set_app_name("wordcount");
//! assert_eq!(conf.master().unwrap().threads(), 4);
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// Setting key of the master URL (`local`, `local[N]`, `local[*]`).
pub const MASTER: &str = "spark.master";
/// Setting key of the application name.
pub const APP_NAME: &str = "spark.app.name";
/// Setting key of the cluster's process addresses, comma-separated `host:port`, in process order.
pub const CLUSTER_HOSTS: &str = "ember.cluster.hosts";
/// Setting key of this process's index among [`CLUSTER_HOSTS`].
pub const CLUSTER_PROCESS: &str = "ember.cluster.process";
/// Setting key of how long a cluster process waits for the others to come up (default 60 s).
pub const CLUSTER_CONNECT_TIMEOUT: &str = "ember.cluster.connectTimeout";
/// Setting key of how long a cluster process may stay silent before the others take it for lost
/// and stop (default 5 s; processes greet each other several times within it).
pub const CLUSTER_HEARTBEAT_TIMEOUT: &str = "ember.cluster.heartbeatTimeout";
/// Setting key of the longest line a socket or file source accepts, in bytes (default 16 MiB).
pub const MAX_LINE_BYTES: &str = "ember.input.maxLineBytes";
/// Setting key of the delay before a receiver restarts, in milliseconds (Spark's default 2000).
pub const RECEIVER_RESTART_DELAY: &str = "spark.streaming.receiverRestartDelay";
/// Setting key of the minimum time a file stream remembers files (Spark's default 60s).
pub const FILE_MIN_REMEMBER: &str = "spark.streaming.fileStream.minRememberDuration";
/// Setting key of the default number of partitions of shuffles, inputs and `parallelize`
/// (Spark's `spark.default.parallelism`; the number of workers when unset). It is independent of
/// the number of workers: PySpark's own tests run one partition on `local[2]`.
pub const DEFAULT_PARALLELISM: &str = "spark.default.parallelism";

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
    /// A boolean setting (`true`/`false`), or `default`.
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
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                Error::InvalidArgument(format!("setting {key}={v} is not true or false"))
            }),
        }
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
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                Error::InvalidArgument(format!("setting {key}={v} is not a whole number"))
            }),
        }
    }
    /// A size setting in bytes; accepts Spark's suffixes `k`, `m`, `g` (binary units).
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
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        parse_bytes(v)
            .ok_or_else(|| Error::InvalidArgument(format!("setting {key}={v} is not a size")))
    }
    /// A duration setting in milliseconds; accepts Spark's suffixes `ms`, `s`, `m`, `min`, `h`
    /// (a bare number is milliseconds).
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
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        parse_millis(v)
            .ok_or_else(|| Error::InvalidArgument(format!("setting {key}={v} is not a duration")))
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
        self.get_or(APP_NAME, "ember")
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
        let url = self.get_or(MASTER, "local[*]").trim();
        let threads = parse_master(url)?;
        let hosts: Vec<String> = self
            .get(CLUSTER_HOSTS)
            .map(|h| {
                h.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let process = self.get_u64(CLUSTER_PROCESS, 0)? as usize;
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
        return Ok(std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1));
    }
    match inner.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err(Error::InvalidArgument(format!(
            "Asked to run locally with {inner} threads"
        ))),
        Err(_) => Err(invalid()),
    }
}

fn parse_bytes(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let v = v.strip_suffix('b').unwrap_or(&v);
    let (num, mult) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1u64 << 10),
        'm' => (&v[..v.len() - 1], 1 << 20),
        'g' => (&v[..v.len() - 1], 1 << 30),
        't' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

fn parse_millis(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(mult)
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
    fn sizes_and_durations() {
        assert_eq!(parse_bytes("16m"), Some(16 << 20));
        assert_eq!(parse_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_bytes("512"), Some(512));
        assert_eq!(parse_millis("60s"), Some(60_000));
        assert_eq!(parse_millis("2000"), Some(2000));
        assert_eq!(parse_millis("1min"), Some(60_000));
        assert_eq!(parse_millis("x"), None);
    }
}
