//! Window arguments checked when the stream is made: [`WindowError`] and the `try_` variants of
//! the window operations.
//!
//! Spark checks a window's durations in the constructor of `WindowedDStream` or
//! `ReducedWindowedDStream`, and PySpark before it reaches the JVM, so both raise at the call.
//! ember's window operations never fail when called (a stream made with invalid durations
//! carries Spark's message, and registering an output on it returns it); the `try_` variants
//! run the same check first and return the error at once, for programs and bindings that must
//! raise where Spark raises. The error knows both wordings: its `Display` is Spark's (Scala's)
//! message, [`WindowError::pyspark_message`] is the `ValueError` text of PySpark's
//! `_validate_window_param`.

use std::fmt;

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::dstream::reduced_window::WindowFilter;
use crate::dstream::window::WindowCheck;
use crate::error::Error;
use crate::partitioner::Partitioning;
use crate::time::Duration;

/// Which duration of a window operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowArgument {
    /// The window's length (`windowDuration`).
    Window,
    /// The interval between windows (`slideDuration`).
    Slide,
}

/// Window durations a stream cannot have: the window or the slide is not a multiple of the
/// parent stream's slide, or the slide is zero. `Display` gives Spark's message (that of
/// `WindowedDStream` for `window` and what Spark composes from it, that of
/// `ReducedWindowedDStream`, with `requirement failed: `, for the incremental windows);
/// [`pyspark_message`](Self::pyspark_message) gives PySpark's.
///
/// # Examples
///
/// ```
/// use ember::dstream::{WindowArgument, WindowError};
/// use ember::testing::StreamTest;
/// use ember::Duration;
///
/// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
/// let numbers = t.input(vec![vec![1, 2]]);
/// let e: WindowError = numbers
///     .try_window(Duration::milliseconds(1500), Duration::seconds(1))
///     .unwrap_err();
/// assert_eq!(e.argument(), WindowArgument::Window);
/// assert_eq!(
///     e.to_string(),
///     "The window duration of windowed DStream (1500 ms) must be a multiple of the slide \
///      duration of parent DStream (1000 ms)"
/// );
/// assert_eq!(
///     e.pyspark_message(),
///     "windowDuration must be multiple of the parent dstream's slide (batch) duration (1000 ms)"
/// );
/// # Ok::<(), ember::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowError {
    check: WindowCheck,
    argument: WindowArgument,
    /// The refused duration.
    value: Duration,
    /// The parent stream's slide.
    parent: Duration,
}

impl WindowError {
    /// Which duration was refused (the window is checked first, as Spark and PySpark do).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::dstream::WindowArgument;
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let numbers = t.input(vec![vec![1]]);
    /// let e = numbers.try_window(Duration::seconds(2), Duration::milliseconds(500)).unwrap_err();
    /// assert_eq!(e.argument(), WindowArgument::Slide);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn argument(&self) -> WindowArgument {
        self.argument
    }

    /// PySpark's message for this error, the text of the `ValueError` its window operations
    /// raise (`windowDuration must be multiple of the parent dstream's slide (batch) duration
    /// (1000 ms)`, `slideDuration must be ...`). A zero slide passes PySpark's check (it skips
    /// a falsy slide); ember refuses it with its own message, the same as `Display`'s.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let pairs = t.input(vec![vec![("a".to_string(), 1)]]);
    /// let e = pairs
    ///     .try_reduce_by_key_and_window(|a, b| a + b, Duration::seconds(2), Duration::milliseconds(1500), None)
    ///     .unwrap_err();
    /// assert_eq!(
    ///     e.pyspark_message(),
    ///     "slideDuration must be multiple of the parent dstream's slide (batch) duration (1000 ms)"
    /// );
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn pyspark_message(&self) -> String {
        if self.argument == WindowArgument::Slide && self.value.is_zero() {
            return self.to_string();
        }
        let name = match self.argument {
            WindowArgument::Window => "windowDuration",
            WindowArgument::Slide => "slideDuration",
        };
        format!(
            "{name} must be multiple of the parent dstream's slide (batch) duration ({} ms)",
            self.parent.as_millis()
        )
    }
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (class, prefix, must) = match self.check {
            WindowCheck::Windowed => ("windowed DStream", "", "must be a multiple"),
            WindowCheck::Reduced => (
                "ReducedWindowedDStream",
                "requirement failed: ",
                "must be multiple",
            ),
        };
        let (value, parent) = (self.value, self.parent);
        match self.argument {
            WindowArgument::Window => write!(
                f,
                "{prefix}The window duration of {class} ({value}) {must} of the slide duration of parent DStream ({parent})"
            ),
            // ember's own check: Spark divides by a zero slide at the first batch.
            WindowArgument::Slide if value.is_zero() => write!(
                f,
                "requirement failed: The slide duration of {class} ({value}) must be positive"
            ),
            WindowArgument::Slide => write!(
                f,
                "{prefix}The slide duration of {class} ({value}) {must} of the slide duration of parent DStream ({parent})"
            ),
        }
    }
}

impl std::error::Error for WindowError {}

/// For `?` in functions returning ember's [`Error`]: Spark's message, as an invalid argument.
impl From<WindowError> for Error {
    fn from(e: WindowError) -> Self {
        Error::InvalidArgument(e.to_string())
    }
}

/// Checks a window of `window` every `slide` on a stream sliding every `parent`, following
/// `check`'s Spark class: the window first, then a zero slide, then the slide.
pub(crate) fn check_window_args(
    check: WindowCheck,
    parent: Duration,
    window: Duration,
    slide: Duration,
) -> Result<(), WindowError> {
    let refuse = |argument, value| {
        Err(WindowError {
            check,
            argument,
            value,
            parent,
        })
    };
    if !window.is_multiple_of(parent) {
        return refuse(WindowArgument::Window, window);
    }
    if slide.is_zero() || !slide.is_multiple_of(parent) {
        return refuse(WindowArgument::Slide, slide);
    }
    Ok(())
}

impl<T: Data> DStream<T> {
    fn check_window(
        &self,
        check: WindowCheck,
        window: Duration,
        slide: Duration,
    ) -> Result<(), WindowError> {
        check_window_args(check, self.meta.slide, window, slide)
    }

    /// [`window`](Self::window), with invalid durations refused at once with Spark's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let numbers = t.input(vec![vec![1], vec![2]]);
    /// let last_two = numbers.try_window(Duration::seconds(2), Duration::seconds(1))?;
    /// let out = t.collect(&last_two)?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), [vec![1], vec![1, 2]]);
    /// assert!(numbers.try_window(Duration::seconds(2), Duration::milliseconds(0)).is_err());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn try_window(
        &self,
        window_duration: Duration,
        slide_duration: Duration,
    ) -> Result<DStream<T>, WindowError> {
        self.check_window(WindowCheck::Windowed, window_duration, slide_duration)?;
        Ok(self.window(window_duration, slide_duration))
    }

    /// [`reduce_by_window`](Self::reduce_by_window), with invalid durations refused at once
    /// with Spark's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let numbers = t.input(vec![vec![1], vec![2]]);
    /// let sums = numbers.try_reduce_by_window(|a, b| a + b, Duration::seconds(2), Duration::seconds(1))?;
    /// let out = t.collect(&sums)?;
    /// t.run(2)?;
    /// assert_eq!(out.batches(), [[1], [3]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn try_reduce_by_window(
        &self,
        f: impl Fn(T, T) -> T + Send + Sync + 'static,
        window_duration: Duration,
        slide_duration: Duration,
    ) -> Result<DStream<T>, WindowError> {
        self.check_window(WindowCheck::Windowed, window_duration, slide_duration)?;
        Ok(self.reduce_by_window(f, window_duration, slide_duration))
    }

    /// [`reduce_by_window_inv`](Self::reduce_by_window_inv), with invalid durations refused at
    /// once with Spark's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let numbers = t.input(vec![vec![1]]);
    /// let e = numbers
    ///     .try_reduce_by_window_inv(|a, b| a + b, |a, b| a - b, Duration::milliseconds(1500), Duration::seconds(1))
    ///     .unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "requirement failed: The window duration of ReducedWindowedDStream (1500 ms) must be \
    ///      multiple of the slide duration of parent DStream (1000 ms)"
    /// );
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn try_reduce_by_window_inv(
        &self,
        f: impl Fn(T, T) -> T + Send + Sync + 'static,
        inv_f: impl Fn(T, T) -> T + Send + Sync + 'static,
        window_duration: Duration,
        slide_duration: Duration,
    ) -> Result<DStream<T>, WindowError> {
        self.check_window(WindowCheck::Reduced, window_duration, slide_duration)?;
        Ok(self.reduce_by_window_inv(f, inv_f, window_duration, slide_duration))
    }

    /// [`count_by_window`](Self::count_by_window), with invalid durations refused at once with
    /// Spark's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let numbers = t.input(vec![vec![1]]);
    /// let e = numbers.try_count_by_window(Duration::seconds(2), Duration::milliseconds(300));
    /// assert!(e.unwrap_err().to_string().contains("The slide duration of ReducedWindowedDStream (300 ms)"));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn try_count_by_window(
        &self,
        window_duration: Duration,
        slide_duration: Duration,
    ) -> Result<DStream<u64>, WindowError> {
        self.check_window(WindowCheck::Reduced, window_duration, slide_duration)?;
        Ok(self.count_by_window(window_duration, slide_duration))
    }
}

impl<T: Key> DStream<T> {
    /// [`count_by_value_and_window`](Self::count_by_value_and_window), with invalid durations
    /// refused at once with Spark's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let words = t.input(vec![vec!["a".to_string()]]);
    /// assert!(words.try_count_by_value_and_window(Duration::milliseconds(10), Duration::seconds(1), None).is_err());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn try_count_by_value_and_window(
        &self,
        window_duration: Duration,
        slide_duration: Duration,
        partitions: impl Partitioning,
    ) -> Result<DStream<(T, u64)>, WindowError> {
        self.check_window(WindowCheck::Reduced, window_duration, slide_duration)?;
        Ok(self.count_by_value_and_window(window_duration, slide_duration, partitions))
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// [`reduce_by_key_and_window`](Self::reduce_by_key_and_window), with invalid durations
    /// refused at once with Spark's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let pairs = t.input(vec![vec![("a".to_string(), 1)], vec![("a".to_string(), 2)]]);
    /// let sums = pairs.try_reduce_by_key_and_window(|a, b| a + b, Duration::seconds(2), Duration::seconds(1), None)?;
    /// let out = t.collect(&sums)?;
    /// t.run(2)?;
    /// assert_eq!(out.batches(), [[("a".to_string(), 1)], [("a".to_string(), 3)]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn try_reduce_by_key_and_window(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        window_duration: Duration,
        slide_duration: Duration,
        partitions: impl Partitioning,
    ) -> Result<DStream<(K, V)>, WindowError> {
        self.check_window(WindowCheck::Windowed, window_duration, slide_duration)?;
        Ok(self.reduce_by_key_and_window(f, window_duration, slide_duration, partitions))
    }

    /// [`reduce_by_key_and_window_inv`](Self::reduce_by_key_and_window_inv), with invalid
    /// durations refused at once with Spark's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let pairs = t.input(vec![vec![("a".to_string(), 1i64)]]);
    /// let e = pairs
    ///     .try_reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, Duration::seconds(3), Duration::seconds(1), None, None);
    /// assert!(e.is_ok());
    /// let e = pairs
    ///     .try_reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, Duration::seconds(3), Duration::milliseconds(1), None, None)
    ///     .unwrap_err();
    /// assert_eq!(
    ///     e.pyspark_message(),
    ///     "slideDuration must be multiple of the parent dstream's slide (batch) duration (1000 ms)"
    /// );
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn try_reduce_by_key_and_window_inv(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        inv_f: impl Fn(V, V) -> V + Send + Sync + 'static,
        window_duration: Duration,
        slide_duration: Duration,
        partitions: impl Partitioning,
        filter: Option<WindowFilter<K, V>>,
    ) -> Result<DStream<(K, V)>, WindowError> {
        self.check_window(WindowCheck::Reduced, window_duration, slide_duration)?;
        Ok(self.reduce_by_key_and_window_inv(
            f,
            inv_f,
            window_duration,
            slide_duration,
            partitions,
            filter,
        ))
    }

    /// [`group_by_key_and_window`](Self::group_by_key_and_window), with invalid durations
    /// refused at once with Spark's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let pairs = t.input(vec![vec![("a".to_string(), 1)], vec![("a".to_string(), 2)]]);
    /// let groups = pairs.try_group_by_key_and_window(Duration::seconds(2), Duration::seconds(1), None)?;
    /// let out = t.collect(&groups)?;
    /// t.run(2)?;
    /// assert_eq!(out.batches()[1], [("a".to_string(), vec![1, 2])]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn try_group_by_key_and_window(
        &self,
        window_duration: Duration,
        slide_duration: Duration,
        partitions: impl Partitioning,
    ) -> Result<DStream<(K, Vec<V>)>, WindowError> {
        self.check_window(WindowCheck::Windowed, window_duration, slide_duration)?;
        Ok(self.group_by_key_and_window(window_duration, slide_duration, partitions))
    }
}
