//! The registry of settings: every key ember knows, declared once with its type, bounds,
//! default and documentation (as Spark's `ConfigBuilder` entries or DataFusion's
//! `ConfigOptions`).
//!
//! Code reads a setting through its declaration, which parses the text of a [`Conf`] into a
//! typed value and supplies the default, so no use site parses or repeats a default:
//!
//! ```
//! use ember::Conf;
//! use ember::conf::settings;
//!
//! let conf = Conf::new().set("ember.input.maxLineBytes", "1m");
//! assert_eq!(settings::MAX_LINE_BYTES.get(&conf)?, 1 << 20);
//! assert_eq!(settings::MAX_LINE_BYTES.get(&Conf::new())?, 16 << 20); // the default
//!
//! let bad = Conf::new().set("ember.input.maxLineBytes", "abc");
//! assert_eq!(
//!     settings::MAX_LINE_BYTES.get(&bad).unwrap_err().to_string(),
//!     "setting ember.input.maxLineBytes=abc is not a size (bytes, with an optional k/m/g/t suffix)"
//! );
//! # Ok::<(), ember::Error>(())
//! ```
//!
//! A [`Context`](crate::Context) checks its configuration against the registry when it is made
//! ([`check`]): a known key with a bad value is an [`Error::InvalidSetting`], and an unknown key
//! under `spark.` or `ember.` is logged as a warning (it is most likely a typo, and Spark would
//! ignore it silently). Settings that PySpark programs commonly set and that mean nothing to
//! ember (JVM memory, executors, ...) are registered as accepted but not used, so that such
//! programs run without warnings. [`help`] renders the registry for `ember wordcount --help`.

use std::fmt::Write as _;

use crate::conf::Conf;
use crate::error::{Error, Result, SettingProblem};
use crate::time::Duration;

/// How a setting's text becomes a typed value: the setting's type and bounds.
pub trait Kind: Sync {
    /// The typed value.
    type Value;
    /// How a default is declared (a `&'static str` for text, else the value itself), so that
    /// defaults can be constants.
    type Default: Copy + Sync;
    /// Parses a set value, checking the bounds.
    fn parse(&self, text: &str) -> Result<Self::Value, SettingProblem>;
    /// The value of a declared default.
    fn value_of(&self, default: Self::Default) -> Self::Value;
    /// A declared default as a user would write it.
    fn show(&self, default: Self::Default) -> String;
    /// The type and bounds, as `--help` lists them: `size, 1 to 1g`.
    fn describe(&self) -> String;
}

/// `true` or `false`, in any case (as Spark's; PySpark's `conf.set(k, True)` sets `True`).
#[derive(Clone, Copy, Debug)]
pub struct Flag;

impl Kind for Flag {
    type Value = bool;
    type Default = bool;
    fn parse(&self, text: &str) -> Result<bool, SettingProblem> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if text.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(SettingProblem::NotA("true or false".into()))
        }
    }
    fn value_of(&self, default: bool) -> bool {
        default
    }
    fn show(&self, default: bool) -> String {
        default.to_string()
    }
    fn describe(&self) -> String {
        "true/false".into()
    }
}

/// A whole number within bounds (both included).
#[derive(Clone, Copy, Debug)]
pub struct Count {
    min: u64,
    max: u64,
}

impl Count {
    /// Any whole number from `min` to `max`.
    pub const fn between(min: u64, max: u64) -> Self {
        Count { min, max }
    }
    /// Any whole number from `min` on.
    pub const fn at_least(min: u64) -> Self {
        Count { min, max: u64::MAX }
    }
}

impl Kind for Count {
    type Value = u64;
    type Default = u64;
    fn parse(&self, text: &str) -> Result<u64, SettingProblem> {
        let text = text.trim();
        let n = match text.parse::<u64>() {
            Ok(n) => n,
            // All digits, but more than a u64 holds.
            Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(SettingProblem::TooLarge(self.max.to_string()));
            }
            Err(_) => return Err(SettingProblem::NotA("a whole number".into())),
        };
        within(n, self.min, self.max, |n| n.to_string())
    }
    fn value_of(&self, default: u64) -> u64 {
        default
    }
    fn show(&self, default: u64) -> String {
        default.to_string()
    }
    fn describe(&self) -> String {
        describe_range("whole number", self.min, self.max, |n| n.to_string())
    }
}

/// A size in bytes, with Spark's optional suffixes `k`, `m`, `g`, `t` (binary units, an
/// optional `b` after them), within bounds (both included).
#[derive(Clone, Copy, Debug)]
pub struct Size {
    min: u64,
    max: u64,
}

impl Size {
    /// Any size from `min` to `max` bytes.
    pub const fn between(min: u64, max: u64) -> Self {
        Size { min, max }
    }
    /// Any size (what [`Conf::get_bytes`] accepts).
    pub const ANY: Size = Size::between(0, u64::MAX);
}

impl Kind for Size {
    type Value = u64;
    type Default = u64;
    fn parse(&self, text: &str) -> Result<u64, SettingProblem> {
        let n = parse_bytes(text).map_err(|overflow| {
            if overflow {
                SettingProblem::TooLarge(show_bytes(self.max))
            } else {
                SettingProblem::NotA("a size (bytes, with an optional k/m/g/t suffix)".into())
            }
        })?;
        within(n, self.min, self.max, show_bytes)
    }
    fn value_of(&self, default: u64) -> u64 {
        default
    }
    fn show(&self, default: u64) -> String {
        show_bytes(default)
    }
    fn describe(&self) -> String {
        describe_range("size", self.min, self.max, show_bytes)
    }
}

/// A duration: whole milliseconds, or a whole number with one of Spark's units `ms`, `s`, `m`
/// or `min`, `h`, `d`; within bounds (both included).
#[derive(Clone, Copy, Debug)]
pub struct Millis {
    min: u64,
    max: u64,
}

impl Millis {
    /// Any duration from `min` to `max`.
    pub const fn between(min: Duration, max: Duration) -> Self {
        Millis {
            min: min.as_millis(),
            max: max.as_millis(),
        }
    }
    /// Any duration (what [`Conf::get_millis`] accepts).
    pub const ANY: Millis = Millis {
        min: 0,
        max: u64::MAX,
    };
}

impl Kind for Millis {
    type Value = Duration;
    type Default = Duration;
    fn parse(&self, text: &str) -> Result<Duration, SettingProblem> {
        let ms = parse_millis(text).map_err(|overflow| {
            if overflow {
                SettingProblem::TooLarge(show_millis(self.max))
            } else {
                SettingProblem::NotA(
                    "a duration (milliseconds, or a whole number with ms, s, m, min, h or d)"
                        .into(),
                )
            }
        })?;
        within(ms, self.min, self.max, show_millis).map(Duration::milliseconds)
    }
    fn value_of(&self, default: Duration) -> Duration {
        default
    }
    fn show(&self, default: Duration) -> String {
        show_millis(default.as_millis())
    }
    fn describe(&self) -> String {
        describe_range("duration", self.min, self.max, show_millis)
    }
}

/// A decimal number (Java's `double`, as Spark's `conf.getDouble`), checked by a rule that
/// Spark states in its own words (the PID rate estimator's `require`s).
#[derive(Clone, Copy, Debug)]
pub struct Decimal {
    /// The bound, as `--help` shows it: `at least 0`.
    bound: &'static str,
    /// Spark's message for a value the rule refuses, or `None` for a valid one.
    refuse: fn(f64) -> Option<String>,
}

impl Decimal {
    /// A finite decimal number that `refuse` accepts; `bound` says which, for `--help`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::conf::settings::{Decimal, Kind};
    ///
    /// let gain = Decimal::checked("at least 0", |v| (v < 0.0).then(|| format!("{v} < 0")));
    /// assert_eq!(gain.parse(" 0.25 "), Ok(0.25));
    /// assert_eq!(gain.parse("-1").unwrap_err().to_string(), "invalid: requirement failed: -1 < 0");
    /// assert_eq!(gain.parse("x").unwrap_err().to_string(), "not a decimal number");
    /// assert_eq!(gain.describe(), "decimal, at least 0");
    /// ```
    pub const fn checked(bound: &'static str, refuse: fn(f64) -> Option<String>) -> Self {
        Decimal { bound, refuse }
    }
}

impl Kind for Decimal {
    type Value = f64;
    type Default = f64;
    fn parse(&self, text: &str) -> Result<f64, SettingProblem> {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| SettingProblem::NotA("a decimal number".into()))?;
        // Spark's rules are comparisons, which NaN fails; infinities mean nothing here either.
        if let Some(message) = (self.refuse)(value) {
            return Err(SettingProblem::Invalid(format!(
                "requirement failed: {message}"
            )));
        }
        if !value.is_finite() {
            return Err(SettingProblem::NotA("a finite decimal number".into()));
        }
        Ok(value)
    }
    fn value_of(&self, default: f64) -> f64 {
        default
    }
    fn show(&self, default: f64) -> String {
        // `{:?}` keeps a fractional part (`1.0`), as Java and Spark's documentation write them.
        format!("{default:?}")
    }
    fn describe(&self) -> String {
        format!("decimal, {}", self.bound)
    }
}

/// One of a few names, exactly as written; anything else gets Spark's message.
#[derive(Clone, Copy, Debug)]
pub struct Choice {
    names: &'static [&'static str],
    /// Spark's message for an unknown name, before the name: `Unknown rate estimator: `.
    unknown: &'static str,
}

impl Choice {
    /// One of `names`; any other value is refused with `unknown` followed by the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::conf::settings::{Choice, Kind};
    ///
    /// let estimator = Choice::of(&["pid"], "Unknown rate estimator: ");
    /// assert_eq!(estimator.parse("pid"), Ok("pid".to_string()));
    /// assert_eq!(
    ///     estimator.parse("PID").unwrap_err().to_string(),
    ///     "invalid: Unknown rate estimator: PID"
    /// );
    /// ```
    pub const fn of(names: &'static [&'static str], unknown: &'static str) -> Self {
        Choice { names, unknown }
    }
}

impl Kind for Choice {
    type Value = String;
    type Default = &'static str;
    fn parse(&self, text: &str) -> Result<String, SettingProblem> {
        if self.names.contains(&text) {
            Ok(text.to_owned())
        } else {
            Err(SettingProblem::Invalid(format!("{}{text}", self.unknown)))
        }
    }
    fn value_of(&self, default: &'static str) -> String {
        default.to_owned()
    }
    fn show(&self, default: &'static str) -> String {
        default.to_owned()
    }
    fn describe(&self) -> String {
        format!("one of: {}", self.names.join(", "))
    }
}

/// Any text.
#[derive(Clone, Copy, Debug)]
pub struct Text;

impl Kind for Text {
    type Value = String;
    type Default = &'static str;
    fn parse(&self, text: &str) -> Result<String, SettingProblem> {
        Ok(text.to_owned())
    }
    fn value_of(&self, default: &'static str) -> String {
        default.to_owned()
    }
    fn show(&self, default: &'static str) -> String {
        default.to_owned()
    }
    fn describe(&self) -> String {
        "text".into()
    }
}

/// A setting with a default: [`Setting::get`] gives the set value or the default.
#[derive(Clone, Copy, Debug)]
pub struct Setting<K: Kind> {
    key: &'static str,
    kind: K,
    default: K::Default,
    doc: &'static str,
}

impl<K: Kind> Setting<K> {
    /// Declares setting `key` of type `kind` with `default` and a one-paragraph `doc`.
    pub const fn new(key: &'static str, kind: K, default: K::Default, doc: &'static str) -> Self {
        Setting {
            key,
            kind,
            default,
            doc,
        }
    }

    /// The setting's key.
    pub const fn key(&self) -> &'static str {
        self.key
    }

    /// The default, as declared (a `&'static str` for text).
    ///
    /// ```
    /// use ember::conf::settings;
    ///
    /// assert_eq!(settings::APP_NAME.default(), "ember");
    /// assert!(!settings::WAL_ENABLED.default());
    /// ```
    pub const fn default(&self) -> K::Default {
        self.default
    }

    /// The value `conf` sets, parsed and checked, or the default when unset.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Duration};
    /// use ember::conf::settings;
    ///
    /// let conf = Conf::new().set("spark.streaming.receiverRestartDelay", "500ms");
    /// assert_eq!(settings::RECEIVER_RESTART_DELAY.get(&conf)?, Duration::milliseconds(500));
    /// let days = Conf::new().set("spark.streaming.receiverRestartDelay", "2d");
    /// assert_eq!(
    ///     settings::RECEIVER_RESTART_DELAY.get(&days).unwrap_err().to_string(),
    ///     "setting spark.streaming.receiverRestartDelay=2d is too large (at most 1d)"
    /// );
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn get(&self, conf: &Conf) -> Result<K::Value> {
        match conf.get(self.key) {
            None => Ok(self.kind.value_of(self.default)),
            Some(text) => self.parse(text),
        }
    }

    /// The value of a configuration that a [`Context`](crate::Context) checked when it was made
    /// (`ctx.conf()`), where every known setting is valid, for code that cannot fail. On a
    /// configuration no context checked, an invalid value gives the default and a warning.
    ///
    /// ```
    /// use ember::Conf;
    /// use ember::conf::settings;
    ///
    /// let conf = Conf::new().set("spark.streaming.stopGracefullyOnShutdown", "TRUE");
    /// assert!(settings::STOP_GRACEFULLY_ON_SHUTDOWN.value(&conf));
    /// ```
    pub fn value(&self, conf: &Conf) -> K::Value {
        self.get(conf).unwrap_or_else(|e| {
            tracing::warn!("{e}; using the default, {}", self.kind.show(self.default));
            self.kind.value_of(self.default)
        })
    }

    /// Parses `text` as a value of this setting.
    pub fn parse(&self, text: &str) -> Result<K::Value> {
        self.kind
            .parse(text)
            .map_err(|problem| Error::invalid_setting(self.key, text, problem))
    }
}

/// A setting without a default: [`Optional::get`] gives `None` when it is unset. Also the form
/// of settings that ember accepts without using them ([`Unset::NotUsed`]).
#[derive(Clone, Copy, Debug)]
pub struct Optional<K: Kind> {
    key: &'static str,
    kind: K,
    unset: Unset,
    doc: &'static str,
}

/// What an unset [`Optional`] setting means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unset {
    /// What ember does without the setting, e.g. "the number of workers".
    Means(&'static str),
    /// ember does not use the setting; it accepts it (and checks its value against its type)
    /// so that programs written for Spark run unchanged, and its doc says why.
    NotUsed,
}

impl<K: Kind> Optional<K> {
    /// Declares setting `key` of type `kind`; `unset` says what happens without it.
    pub const fn new(key: &'static str, kind: K, unset: Unset, doc: &'static str) -> Self {
        Optional {
            key,
            kind,
            unset,
            doc,
        }
    }

    /// The setting's key.
    pub const fn key(&self) -> &'static str {
        self.key
    }

    /// The value `conf` sets, parsed and checked, or `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::Conf;
    /// use ember::conf::settings;
    ///
    /// assert_eq!(settings::DEFAULT_PARALLELISM.get(&Conf::new())?, None);
    /// let conf = Conf::new().set("spark.default.parallelism", "4");
    /// assert_eq!(settings::DEFAULT_PARALLELISM.get(&conf)?, Some(4));
    /// let zero = Conf::new().set("spark.default.parallelism", "0");
    /// assert_eq!(
    ///     settings::DEFAULT_PARALLELISM.get(&zero).unwrap_err().to_string(),
    ///     "setting spark.default.parallelism=0 is too small (at least 1)"
    /// );
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn get(&self, conf: &Conf) -> Result<Option<K::Value>> {
        conf.get(self.key).map(|text| self.parse(text)).transpose()
    }

    /// Parses `text` as a value of this setting.
    pub fn parse(&self, text: &str) -> Result<K::Value> {
        self.kind
            .parse(text)
            .map_err(|problem| Error::invalid_setting(self.key, text, problem))
    }
}

/// A registered setting, whatever its type: what [`check`] and [`help`] need.
pub trait Entry: Sync {
    /// The key.
    fn key(&self) -> &'static str;
    /// The type and bounds: `size, 1 to 1g`.
    fn describe(&self) -> String;
    /// The default as a user would write it, or what happens when unset; `None` for a setting
    /// ember does not use.
    fn default_text(&self) -> Option<String>;
    /// What the setting does.
    fn doc(&self) -> &'static str;
    /// Whether ember uses the setting (some are only accepted, for PySpark programs).
    fn used(&self) -> bool;
    /// Checks that `text` is a valid value.
    fn check(&self, text: &str) -> Result<()>;
}

impl<K: Kind> Entry for Setting<K> {
    fn key(&self) -> &'static str {
        self.key
    }
    fn describe(&self) -> String {
        self.kind.describe()
    }
    fn default_text(&self) -> Option<String> {
        Some(self.kind.show(self.default))
    }
    fn doc(&self) -> &'static str {
        self.doc
    }
    fn used(&self) -> bool {
        true
    }
    fn check(&self, text: &str) -> Result<()> {
        self.parse(text).map(drop)
    }
}

impl<K: Kind> Entry for Optional<K> {
    fn key(&self) -> &'static str {
        self.key
    }
    fn describe(&self) -> String {
        self.kind.describe()
    }
    fn default_text(&self) -> Option<String> {
        match self.unset {
            Unset::Means(unset) => Some(format!("unset: {unset}")),
            Unset::NotUsed => None,
        }
    }
    fn doc(&self) -> &'static str {
        self.doc
    }
    fn used(&self) -> bool {
        self.unset != Unset::NotUsed
    }
    fn check(&self, text: &str) -> Result<()> {
        self.parse(text).map(drop)
    }
}

/// The most worker threads of one process (`local[N]`). Large servers have up to 768 hardware
/// threads, and `local[*]` must fit them. Beyond that no machine matches, and the cost is
/// quadratic: timely connects every worker with every other, so a dataflow of N workers holds N²
/// channels; measured on 2 cores (debug build), `local[256]` starts in about 2 s and
/// `local[1024]` in about 85 s, and `local[100000]` never would.
pub const MAX_THREADS: usize = 1024;

/// The most partitions of `spark.default.parallelism`: every batch of a stream has one dataset
/// per partition on the worker that owns it, even an empty one, so a count far beyond the
/// workers only costs. 64 Ki partitions is 64 per worker on the largest process (1024 workers).
const MAX_PARTITIONS: u64 = 65_536;

const DAY: Duration = Duration::milliseconds(86_400_000);

/// Declares the settings and the registry [`ALL`] from one list, so that a setting cannot be
/// declared without being registered; its doc becomes its rustdoc and its `--help` text.
macro_rules! settings {
    ($(
        $(#[$attr:meta])*
        $name:ident: $ty:ty = $ctor:path {
            key: $key:literal,
            kind: $kind:expr,
            $what:ident: $default:expr,
            doc: $doc:literal $(,)?
        };
    )*) => {
        $(
            #[doc = concat!("`", $key, "`: ", $doc)]
            $(#[$attr])*
            pub const $name: $ty = $ctor($key, $kind, $default, $doc);
        )*

        /// Every setting ember knows (used or only accepted), in declaration order.
        pub static ALL: &[&dyn Entry] = &[$(&$name),*];
    };
}

settings! {
    // ----- Used by ember ----------------------------------------------------------------------

    MASTER: Setting<Text> = Setting::new {
        key: "spark.master",
        kind: Text,
        default: "local[*]",
        doc: "Where the application runs: `local` (one worker thread), `local[N]` (N threads, \
              1 to 1024) or `local[*]` (one per CPU).",
    };
    APP_NAME: Setting<Text> = Setting::new {
        key: "spark.app.name",
        kind: Text,
        default: "ember",
        doc: "The application's name, in log messages.",
    };
    DEFAULT_PARALLELISM: Optional<Count> = Optional::new {
        key: "spark.default.parallelism",
        kind: Count::between(1, MAX_PARTITIONS),
        unset: Unset::Means("the number of workers over all processes"),
        doc: "Partitions of shuffles, input streams and `parallelize` when an operation does \
              not say. Independent of the number of workers: partition p runs on worker \
              p % workers.",
    };
    CLUSTER_HOSTS: Optional<Text> = Optional::new {
        key: "ember.cluster.hosts",
        kind: Text,
        unset: Unset::Means("one process"),
        doc: "Every process's `host:port`, comma-separated, in process order (`--hosts`).",
    };
    CLUSTER_PROCESS: Setting<Count> = Setting::new {
        key: "ember.cluster.process",
        kind: Count::between(0, MAX_PARTITIONS),
        default: 0,
        doc: "This process's index among ember.cluster.hosts; process 0 is the driver \
              (`--process`).",
    };
    CLUSTER_CONNECT_TIMEOUT: Setting<Millis> = Setting::new {
        key: "ember.cluster.connectTimeout",
        kind: Millis::between(Duration::milliseconds(1), DAY),
        default: Duration::seconds(60),
        doc: "How long a cluster process waits for the others to come up.",
    };
    CLUSTER_HEARTBEAT_TIMEOUT: Setting<Millis> = Setting::new {
        key: "ember.cluster.heartbeatTimeout",
        // Processes greet each other several times within it; below 100 ms a busy machine's
        // scheduling alone could take a live process for lost.
        kind: Millis::between(Duration::milliseconds(100), DAY),
        default: Duration::seconds(5),
        doc: "How long a cluster process may stay silent before the others take it for lost \
              and stop with an error naming it.",
    };
    MAX_LINE_BYTES: Setting<Size> = Setting::new {
        key: "ember.input.maxLineBytes",
        // A line is one string in memory: the limit exists to bound memory, and a "line" over
        // 1 GiB is a file without line ends.
        kind: Size::between(1, 1 << 30),
        default: 16 << 20,
        doc: "The longest line a socket or file stream accepts; a longer line is dropped \
              (without being buffered) and reported.",
    };
    RECEIVER_RESTART_DELAY: Setting<Millis> = Setting::new {
        key: "spark.streaming.receiverRestartDelay",
        kind: Millis::between(Duration::milliseconds(0), DAY),
        default: Duration::seconds(2),
        doc: "How long a receiver waits before it restarts after an error or the end of its \
              input (a refused connection, a closed socket).",
    };
    FILE_MIN_REMEMBER: Setting<Millis> = Setting::new {
        key: "spark.streaming.fileStream.minRememberDuration",
        // Spark users raise it to make a new stream pick up files that already exist; ten
        // years covers any such use and keeps batch-time arithmetic far from overflowing.
        kind: Millis::between(Duration::milliseconds(0), Duration::milliseconds(3650 * 86_400_000)),
        default: Duration::seconds(60),
        doc: "A directory stream ignores files modified longer ago than this when it starts, \
              and remembers the files it selected for at least this long.",
    };
    WAL_ENABLED: Setting<Flag> = Setting::new {
        key: "spark.streaming.receiver.writeAheadLog.enable",
        kind: Flag,
        default: false,
        doc: "Receivers write what they receive to a write-ahead log in the checkpoint \
              directory before it is processed, so that a crash loses none of it (`--wal`). \
              Needs a checkpoint directory.",
    };
    RECEIVER_MAX_RATE: Optional<Count> = Optional::new {
        key: "spark.streaming.receiver.maxRate",
        kind: Count::at_least(0),
        unset: Unset::Means("no limit"),
        doc: "The most records per second each receiver stores (0: no limit). A receiver at \
              its limit stops reading its source for a while (a socket is then not read, and \
              TCP slows the sender down); no record is dropped. Backpressure never goes above \
              it.",
    };
    BACKPRESSURE_ENABLED: Setting<Flag> = Setting::new {
        key: "spark.streaming.backpressure.enabled",
        kind: Flag,
        default: false,
        doc: "After every batch, sets each receiver's rate from how fast the batches are \
              processed, so that processing keeps up with the batch interval and the \
              scheduling delay stays bounded (Spark's PID estimator, with ember's lag rule, see \
              ember.streaming.backpressure.drainLag), never above \
              spark.streaming.receiver.maxRate.",
    };
    BACKPRESSURE_INITIAL_RATE: Optional<Count> = Optional::new {
        key: "spark.streaming.backpressure.initialRate",
        kind: Count::at_least(1),
        unset: Unset::Means("spark.streaming.receiver.maxRate"),
        doc: "With backpressure, each receiver's rate (records/s) until the first batch has \
              been processed.",
    };
    BACKPRESSURE_RATE_ESTIMATOR: Setting<Choice> = Setting::new {
        key: "spark.streaming.backpressure.rateEstimator",
        kind: Choice::of(&["pid"], "Unknown rate estimator: "),
        default: "pid",
        doc: "How backpressure estimates the rate; `pid` is the only estimator, as in Spark.",
    };
    PID_PROPORTIONAL: Setting<Decimal> = Setting::new {
        key: "spark.streaming.backpressure.pid.proportional",
        kind: Decimal::checked("at least 0", crate::scheduler::rate::pid::refuse_proportional),
        default: 1.0,
        doc: "The PID estimator's weight of the difference between the last rate and the last \
              batch's processing rate.",
    };
    PID_INTEGRAL: Setting<Decimal> = Setting::new {
        key: "spark.streaming.backpressure.pid.integral",
        kind: Decimal::checked("at least 0", crate::scheduler::rate::pid::refuse_integral),
        default: 0.2,
        doc: "The PID estimator's weight of the records delayed by earlier batches (the \
              scheduling delay times the processing rate, over the batch interval).",
    };
    PID_DERIVED: Setting<Decimal> = Setting::new {
        key: "spark.streaming.backpressure.pid.derived",
        kind: Decimal::checked("at least 0", crate::scheduler::rate::pid::refuse_derivative),
        default: 0.0,
        doc: "The PID estimator's weight of how fast the difference changes.",
    };
    PID_MIN_RATE: Setting<Decimal> = Setting::new {
        key: "spark.streaming.backpressure.pid.minRate",
        kind: Decimal::checked("more than 0", crate::scheduler::rate::pid::refuse_min_rate),
        default: 100.0,
        doc: "The least rate (records/s) backpressure sets.",
    };
    BACKPRESSURE_DRAIN_LAG: Setting<Flag> = Setting::new {
        key: "ember.streaming.backpressure.drainLag",
        kind: Flag,
        default: true,
        doc: "With backpressure, also bound each receiver's rate so that the records it \
              received and the batches have not yet processed (beyond one batch) are processed \
              within the next batch interval, and set a rate from the first processed batch \
              already (Spark waits for the second). false: Spark's PID estimator alone.",
    };
    STOP_GRACEFULLY_ON_SHUTDOWN: Setting<Flag> = Setting::new {
        key: "spark.streaming.stopGracefullyOnShutdown",
        kind: Flag,
        default: false,
        doc: "The first SIGINT or SIGTERM stops the streaming context gracefully (everything \
              received is processed); a second one ends the process at once.",
    };

    UI_ENABLED: Setting<Flag> = Setting::new {
        key: "spark.ui.enabled",
        kind: Flag,
        default: true,
        doc: "Every running streaming context serves its web UI: live statistics, Spark's REST \
              API under /api/v1 and Prometheus metrics at /metrics (`--no-ui`).",
    };
    UI_HOST: Setting<Text> = Setting::new {
        key: "spark.ui.host",
        kind: Text,
        default: "127.0.0.1",
        doc: "The address the web UI listens on; 0.0.0.0 opens it to the network, for anyone \
              who can reach the machine.",
    };
    UI_PORT: Setting<Count> = Setting::new {
        key: "spark.ui.port",
        kind: Count::between(0, 65_535),
        default: 4040,
        doc: "The web UI's port; if it is busy, the next ones are tried (spark.port.maxRetries). \
              0 takes any free port (`--ui-port`). With every port busy the stream runs without \
              its UI, with a warning.",
    };
    PORT_MAX_RETRIES: Setting<Count> = Setting::new {
        key: "spark.port.maxRetries",
        kind: Count::between(0, 1_000),
        default: 16,
        doc: "How many ports after spark.ui.port the web UI tries when one is busy.",
    };
    UI_KILL_ENABLED: Setting<Flag> = Setting::new {
        key: "spark.ui.killEnabled",
        kind: Flag,
        default: false,
        doc: "The web UI may stop the stream (gracefully, with a POST to /streaming/kill/); \
              else the UI is read-only. Unlike Spark's, off by default.",
    };
    UI_RETAINED_BATCHES: Setting<Count> = Setting::new {
        key: "spark.streaming.ui.retainedBatches",
        kind: Count::between(1, 1_000_000),
        default: 1000,
        doc: "Completed batches (and checkpoints) the web UI, its REST API and its metrics keep.",
    };

    // ----- Accepted for PySpark programs, not used ----------------------------------------------

    DRIVER_MEMORY: Optional<Text> = Optional::new {
        key: "spark.driver.memory",
        kind: Text,
        unset: Unset::NotUsed,
        doc: "Not used: ember runs in this process and sizes no heap in advance.",
    };
    EXECUTOR_MEMORY: Optional<Text> = Optional::new {
        key: "spark.executor.memory",
        kind: Text,
        unset: Unset::NotUsed,
        doc: "Not used: ember has no separate executors and sizes no heap in advance.",
    };
    DRIVER_CORES: Optional<Count> = Optional::new {
        key: "spark.driver.cores",
        kind: Count::at_least(1),
        unset: Unset::NotUsed,
        doc: "Not used: spark.master's `local[N]` sets the worker threads.",
    };
    EXECUTOR_CORES: Optional<Count> = Optional::new {
        key: "spark.executor.cores",
        kind: Count::at_least(1),
        unset: Unset::NotUsed,
        doc: "Not used: spark.master's `local[N]` sets the worker threads.",
    };
    EXECUTOR_INSTANCES: Optional<Count> = Optional::new {
        key: "spark.executor.instances",
        kind: Count::at_least(0),
        unset: Unset::NotUsed,
        doc: "Not used: ember.cluster.hosts lists the processes.",
    };
    DRIVER_HOST: Optional<Text> = Optional::new {
        key: "spark.driver.host",
        kind: Text,
        unset: Unset::NotUsed,
        doc: "Not used: processes find each other through ember.cluster.hosts.",
    };
    DRIVER_BIND_ADDRESS: Optional<Text> = Optional::new {
        key: "spark.driver.bindAddress",
        kind: Text,
        unset: Unset::NotUsed,
        doc: "Not used: processes find each other through ember.cluster.hosts.",
    };
    DRIVER_EXTRA_JAVA_OPTIONS: Optional<Text> = Optional::new {
        key: "spark.driver.extraJavaOptions",
        kind: Text,
        unset: Unset::NotUsed,
        doc: "Not used: there is no JVM.",
    };
    EXECUTOR_EXTRA_JAVA_OPTIONS: Optional<Text> = Optional::new {
        key: "spark.executor.extraJavaOptions",
        kind: Text,
        unset: Unset::NotUsed,
        doc: "Not used: there is no JVM.",
    };
    SPARK_HOME: Optional<Text> = Optional::new {
        key: "spark.home",
        kind: Text,
        unset: Unset::NotUsed,
        doc: "Not used (PySpark's setSparkHome): ember needs no Spark installation.",
    };
    SERIALIZER: Optional<Text> = Optional::new {
        key: "spark.serializer",
        kind: Text,
        unset: Unset::NotUsed,
        doc: "Not used: records are held as Rust values, with one format for shuffles and \
              checkpoints.",
    };
    UI_SHOW_CONSOLE_PROGRESS: Optional<Flag> = Optional::new {
        key: "spark.ui.showConsoleProgress",
        kind: Flag,
        unset: Unset::NotUsed,
        doc: "Not used: ember prints no progress bar.",
    };
    SQL_SHUFFLE_PARTITIONS: Optional<Count> = Optional::new {
        key: "spark.sql.shuffle.partitions",
        kind: Count::between(1, MAX_PARTITIONS),
        unset: Unset::NotUsed,
        doc: "Not used: SQL on a batch takes its partitions from spark.default.parallelism.",
    };
    SQL_SESSION_TIME_ZONE: Optional<Text> = Optional::new {
        key: "spark.sql.session.timeZone",
        kind: Text,
        unset: Unset::NotUsed,
        doc: "Not used: ember-sql shows timestamps in UTC.",
    };
    BLOCK_INTERVAL: Optional<Millis> = Optional::new {
        key: "spark.streaming.blockInterval",
        kind: Millis::ANY,
        unset: Unset::NotUsed,
        doc: "Not used: receivers cut blocks every 50 ms.",
    };
}

/// Families of keys that are accepted and not used, with why (PySpark's `setExecutorEnv` sets
/// `spark.executorEnv.NAME`).
pub const IGNORED_PREFIXES: &[(&str, &str)] = &[(
    "spark.executorEnv.",
    "Not used: ember has no separate executors; set the environment of the process itself.",
)];

/// The registered setting with key `key`.
///
/// ```
/// use ember::conf::settings;
///
/// let entry = settings::find("ember.input.maxLineBytes").unwrap();
/// assert_eq!(entry.describe(), "size, 1 to 1g");
/// assert_eq!(entry.default_text().as_deref(), Some("16m"));
/// assert!(settings::find("spark.foo").is_none());
/// ```
pub fn find(key: &str) -> Option<&'static dyn Entry> {
    ALL.iter().copied().find(|e| e.key() == key)
}

/// An unknown key of a configuration: under `spark.` or `ember.`, and neither registered nor of
/// a family in [`IGNORED_PREFIXES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// The key as it was set.
    pub key: String,
    /// The registered key it most likely misspells, if one is close.
    pub closest: Option<&'static str>,
}

/// Checks every setting of `conf` against the registry: the first known setting with an invalid
/// value is an [`Error::InvalidSetting`]; the unknown `spark.*` and `ember.*` keys are returned
/// (other keys belong to the program and are left alone). [`Context`](crate::Context) calls it
/// when it is made, and logs each unknown key as a warning.
///
/// # Examples
///
/// ```
/// use ember::Conf;
/// use ember::conf::settings::{self, Unknown};
///
/// let conf = Conf::new()
///     .set("spark.driver.memory", "2g") // accepted, not used
///     .set("ember.input.maxLineByte", "1m") // a typo
///     .set("myapp.threshold", "3"); // the program's own
/// assert_eq!(
///     settings::check(&conf)?,
///     [Unknown { key: "ember.input.maxLineByte".into(), closest: Some("ember.input.maxLineBytes") }]
/// );
///
/// let bad = Conf::new().set("spark.streaming.stopGracefullyOnShutdown", "yes");
/// assert_eq!(
///     settings::check(&bad).unwrap_err().to_string(),
///     "setting spark.streaming.stopGracefullyOnShutdown=yes is not true or false"
/// );
/// # Ok::<(), ember::Error>(())
/// ```
pub fn check(conf: &Conf) -> Result<Vec<Unknown>> {
    let mut unknown = Vec::new();
    for (key, value) in conf.all() {
        if let Some(entry) = find(key) {
            entry.check(value)?;
        } else if (key.starts_with("spark.") || key.starts_with("ember."))
            && !IGNORED_PREFIXES.iter().any(|(p, _)| key.starts_with(p))
        {
            unknown.push(Unknown {
                key: key.to_owned(),
                closest: closest(key),
            });
        }
    }
    Ok(unknown)
}

/// The registered key closest to `key` in edit distance (letter case aside), if close enough
/// to be a typo: at most 2 edits, or one in five characters for long keys.
fn closest(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    let limit = (key.len() / 5).max(2);
    ALL.iter()
        .map(|e| (edit_distance(&key, &e.key().to_ascii_lowercase()), e.key()))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over bytes (keys are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Every setting as text, for `--help`: key, type and bounds, default, and what it does; the
/// settings ember uses first, then those it accepts without using. Generated from the registry,
/// so the help cannot drift from what the code reads.
///
/// ```
/// let help = ember::conf::settings::help();
/// assert!(help.contains("ember.input.maxLineBytes=<size, 1 to 1g>  [default: 16m]"));
/// assert!(help.contains("spark.ui.enabled=<true/false>"));
/// ```
pub fn help() -> String {
    const WIDTH: usize = 92;
    const INDENT: &str = "      ";
    let mut entries: Vec<&dyn Entry> = ALL.to_vec();
    entries.sort_by_key(|e| e.key());
    let mut out = String::from("Settings (--conf KEY=VALUE, repeatable):\n");
    wrap(
        &mut out,
        "A bad value of one of these settings fails at the start, naming the setting; an \
         unknown spark.* or ember.* key is warned about and ignored.",
        "  ",
        WIDTH,
    );
    for e in entries.iter().filter(|e| e.used()) {
        let head = format!("  {}=<{}>", e.key(), e.describe());
        let default = match e.default_text() {
            Some(d) if d.starts_with("unset: ") => format!("[{d}]"),
            Some(d) => format!("[default: {d}]"),
            None => String::new(),
        };
        // The default beside the key when it fits, else on a line of its own.
        if head.len() + 2 + default.len() <= WIDTH {
            let _ = writeln!(out, "\n{head}  {default}");
        } else {
            let _ = writeln!(out, "\n{head}\n{INDENT}{default}");
        }
        wrap(&mut out, e.doc(), INDENT, WIDTH);
    }
    out.push_str("\nAccepted for PySpark programs, not used (values are still checked):\n");
    for e in entries.iter().filter(|e| !e.used()) {
        let _ = writeln!(out, "\n  {}=<{}>", e.key(), e.describe());
        wrap(&mut out, e.doc(), INDENT, WIDTH);
    }
    for (prefix, doc) in IGNORED_PREFIXES {
        let _ = writeln!(out, "\n  {prefix}*");
        wrap(&mut out, doc, INDENT, WIDTH);
    }
    out
}

/// Appends `text` wrapped at `width` columns, each line starting with `indent`.
fn wrap(out: &mut String, text: &str, indent: &str, width: usize) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > width {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
}

/// `n` within `min..=max`, or which bound it crosses (shown with `show`).
fn within(n: u64, min: u64, max: u64, show: impl Fn(u64) -> String) -> Result<u64, SettingProblem> {
    if n < min {
        Err(SettingProblem::TooSmall(show(min)))
    } else if n > max {
        Err(SettingProblem::TooLarge(show(max)))
    } else {
        Ok(n)
    }
}

fn describe_range(what: &str, min: u64, max: u64, show: impl Fn(u64) -> String) -> String {
    match (min, max) {
        (0, u64::MAX) => what.to_owned(),
        (min, u64::MAX) => format!("{what}, at least {}", show(min)),
        (min, max) => format!("{what}, {} to {}", show(min), show(max)),
    }
}

/// A size in bytes with Spark's suffixes; `Err(true)` when it overflows, `Err(false)` when it is
/// no size.
pub(crate) fn parse_bytes(text: &str) -> Result<u64, bool> {
    let v = text.trim().to_ascii_lowercase();
    let v = v.strip_suffix('b').unwrap_or(&v);
    let (num, shift) = match v.chars().last() {
        Some('k') => (&v[..v.len() - 1], 10),
        Some('m') => (&v[..v.len() - 1], 20),
        Some('g') => (&v[..v.len() - 1], 30),
        Some('t') => (&v[..v.len() - 1], 40),
        _ => (v, 0),
    };
    let n = parse_digits(num.trim())?;
    n.checked_mul(1 << shift).ok_or(true)
}

/// A duration in milliseconds with Spark's units (a bare number is milliseconds); `Err(true)`
/// when it overflows, `Err(false)` when it is no duration.
pub(crate) fn parse_millis(text: &str) -> Result<u64, bool> {
    let v = text.trim().to_ascii_lowercase();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let mult: u64 = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(false),
    };
    parse_digits(num)?.checked_mul(mult).ok_or(true)
}

/// Decimal digits as a u64; `Err(true)` when they overflow, `Err(false)` when they are not
/// digits.
fn parse_digits(num: &str) -> Result<u64, bool> {
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(false);
    }
    num.parse().map_err(|_| true)
}

/// Bytes in the largest binary unit that divides them exactly: `16m`, `1g`, `1000`.
fn show_bytes(n: u64) -> String {
    for (shift, unit) in [(40, "t"), (30, "g"), (20, "m"), (10, "k")] {
        if n != 0 && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// Milliseconds in the largest unit that divides them exactly: `60s`, `1d`, `1500ms`.
fn show_millis(ms: u64) -> String {
    for (unit_ms, unit) in [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1000, "s"),
    ] {
        if ms != 0 && ms.is_multiple_of(unit_ms) {
            return format!("{}{unit}", ms / unit_ms);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem<K: Kind>(kind: K, text: &str) -> String {
        match kind.parse(text) {
            Ok(_) => panic!("{text} parsed"),
            Err(p) => p.to_string(),
        }
    }

    #[test]
    fn flags_parse_in_any_case_and_nothing_else() {
        for (text, want) in [("true", true), ("FALSE", false), (" True ", true)] {
            assert_eq!(Flag.parse(text), Ok(want), "{text}");
        }
        for text in ["yes", "1", "", "t"] {
            assert_eq!(problem(Flag, text), "not true or false");
        }
    }

    #[test]
    fn counts_parse_whole_numbers_within_bounds() {
        let kind = Count::between(1, 10);
        assert_eq!(kind.parse(" 3 "), Ok(3));
        assert_eq!(kind.parse("10"), Ok(10));
        assert_eq!(problem(kind, "0"), "too small (at least 1)");
        assert_eq!(problem(kind, "11"), "too large (at most 10)");
        assert_eq!(
            problem(kind, "99999999999999999999999"),
            "too large (at most 10)"
        );
        for text in ["-2", "two", "1.5", ""] {
            assert_eq!(problem(kind, text), "not a whole number", "{text}");
        }
        assert_eq!(
            Count::at_least(0).parse("18446744073709551615"),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn sizes_parse_spark_suffixes_within_bounds() {
        let kind = Size::between(1, 1 << 30);
        for (text, want) in [
            ("512", 512),
            ("16m", 16 << 20),
            ("16M", 16 << 20),
            ("64kb", 64 << 10),
            ("1g", 1 << 30),
        ] {
            assert_eq!(kind.parse(text), Ok(want), "{text}");
        }
        let not_a_size = "not a size (bytes, with an optional k/m/g/t suffix)";
        for text in ["abc", "", "m", "1.5m", "-1", "16 mib"] {
            assert_eq!(problem(kind, text), not_a_size, "{text}");
        }
        assert_eq!(problem(kind, "0"), "too small (at least 1)");
        assert_eq!(problem(kind, "2g"), "too large (at most 1g)");
        assert_eq!(problem(kind, "99999999999t"), "too large (at most 1g)");
        assert_eq!(Size::ANY.parse("1t"), Ok(1 << 40));
    }

    #[test]
    fn durations_parse_spark_units_within_bounds() {
        let kind = Millis::between(Duration::milliseconds(1), DAY);
        for (text, want) in [
            ("2000", 2000),
            ("500ms", 500),
            ("60s", 60_000),
            ("1m", 60_000),
            ("1min", 60_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("5 S", 5000),
        ] {
            assert_eq!(kind.parse(text), Ok(Duration::milliseconds(want)), "{text}");
        }
        let not_a_duration =
            "not a duration (milliseconds, or a whole number with ms, s, m, min, h or d)";
        for text in ["x", "", "1.5s", "-1s", "10 years", "s"] {
            assert_eq!(problem(kind, text), not_a_duration, "{text}");
        }
        assert_eq!(problem(kind, "0"), "too small (at least 1ms)");
        assert_eq!(problem(kind, "25h"), "too large (at most 1d)");
        assert_eq!(
            problem(kind, "99999999999999999999d"),
            "too large (at most 1d)"
        );
    }

    #[test]
    fn text_takes_anything() {
        assert_eq!(Text.parse(" a b "), Ok(" a b ".to_string()));
    }

    #[test]
    fn errors_name_the_key_the_value_and_the_type() {
        let conf = Conf::new().set(MAX_LINE_BYTES.key(), "abc");
        let e = MAX_LINE_BYTES.get(&conf).unwrap_err();
        assert!(matches!(&e, Error::InvalidSetting { key, value, .. }
            if key == "ember.input.maxLineBytes" && value == "abc"));
        assert_eq!(
            e.to_string(),
            "setting ember.input.maxLineBytes=abc is not a size (bytes, with an optional k/m/g/t suffix)"
        );
        // `value` never fails: the default, with a warning.
        assert_eq!(MAX_LINE_BYTES.value(&conf), 16 << 20);
    }

    #[test]
    fn every_key_is_registered_once_and_every_default_is_valid() {
        let mut keys: Vec<&str> = ALL.iter().map(|e| e.key()).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before, "a key is registered twice");
        for e in ALL {
            assert!(e.key().starts_with("spark.") || e.key().starts_with("ember."));
            assert!(!e.doc().is_empty(), "{} has no doc", e.key());
            // A declared default must pass its own checks.
            if e.used()
                && let Some(default) = e.default_text()
                && !default.starts_with("unset: ")
            {
                e.check(&default)
                    .unwrap_or_else(|err| panic!("default of {}: {err}", e.key()));
            }
        }
    }

    #[test]
    fn the_settings_pyspark_programs_set_are_known() {
        for key in [
            "spark.driver.memory",
            "spark.executor.memory",
            "spark.driver.host",
            "spark.driver.bindAddress",
            "spark.ui.enabled",
            "spark.ui.port",
            "spark.ui.host",
            "spark.ui.killEnabled",
            "spark.serializer",
            "spark.sql.shuffle.partitions",
            "spark.app.name",
            "spark.master",
            "spark.streaming.receiver.maxRate",
            "spark.streaming.backpressure.enabled",
            "spark.streaming.backpressure.initialRate",
        ] {
            assert!(find(key).is_some(), "{key} is not registered");
        }
        let conf = Conf::new()
            .set("spark.driver.memory", "2g")
            .set("spark.ui.enabled", "False")
            .set("spark.executorEnv.PATH", "/bin")
            .set("spark.some.key", "1");
        let unknown = check(&conf).unwrap();
        assert_eq!(
            unknown,
            [Unknown {
                key: "spark.some.key".into(),
                closest: None
            }]
        );
    }

    #[test]
    fn unknown_keys_suggest_a_close_known_one() {
        assert_eq!(
            closest("ember.input.maxlinebytes"),
            Some("ember.input.maxLineBytes")
        );
        assert_eq!(
            closest("spark.streaming.receiverRestartDelays"),
            Some("spark.streaming.receiverRestartDelay")
        );
        assert_eq!(closest("spark.foo"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn help_lists_every_setting_with_type_default_and_doc() {
        let help = help();
        for e in ALL {
            assert!(
                help.contains(&format!("  {}=<{}>", e.key(), e.describe())),
                "{}",
                e.key()
            );
        }
        assert!(help.contains(
            "  spark.default.parallelism=<whole number, 1 to 65536>\n      \
             [unset: the number of workers over all processes]\n"
        ));
        assert!(help.contains(
            "  spark.streaming.receiverRestartDelay=<duration, 0ms to 1d>  [default: 2s]\n"
        ));
        assert!(help.contains("  spark.executorEnv.*"));
        assert!(help.lines().all(|l| l.len() <= 92), "{help}");
    }

    #[test]
    fn defaults_agree_with_the_code_that_has_its_own() {
        // `receiver/` keeps Spark's restart delay for receivers started without a context.
        assert_eq!(
            RECEIVER_RESTART_DELAY.default().to_std(),
            crate::receiver::supervisor::RESTART_DELAY
        );
    }

    #[test]
    fn shown_values_read_back() {
        assert_eq!(show_bytes(16 << 20), "16m");
        assert_eq!(show_bytes(1000), "1000");
        assert_eq!(show_bytes(0), "0");
        assert_eq!(show_millis(60_000), "1min");
        assert_eq!(show_millis(1500), "1500ms");
        assert_eq!(show_millis(0), "0ms");
        for ms in [60_000, 1500, 0, 86_400_000, 7_200_000] {
            assert_eq!(parse_millis(&show_millis(ms)), Ok(ms));
        }
        for n in [16 << 20, 1000, 0, 1 << 30] {
            assert_eq!(parse_bytes(&show_bytes(n)), Ok(n));
        }
    }
}
