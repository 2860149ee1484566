//! What a receiver reports about itself: [`ReceiverInfo`] (Spark's `ReceiverInfo`) and the
//! events that carry it to the listeners (`onReceiverStarted`, `onReceiverError`,
//! `onReceiverStopped`).

/// What a receiver is reported to run on (Spark reports the executor's host).
const LOCATION: &str = "localhost";

/// A receiver's state as reported to listeners (Spark's `ReceiverInfo`).
///
/// # Examples
///
/// A listener that prints why receivers stopped:
///
/// ```
/// use ember::receiver::ReceiverInfo;
/// use ember::scheduler::StreamingListener;
///
/// struct StopReasons;
///
/// impl StreamingListener for StopReasons {
///     fn on_receiver_stopped(&self, info: &ReceiverInfo) {
///         eprintln!("{} on {} stopped: {}", info.name, info.location, info.last_error_message);
///     }
/// }
///
/// let info = ReceiverInfo {
///     stream_id: 0,
///     name: "SocketReceiver-0".to_string(),
///     active: false,
///     location: "localhost".to_string(),
///     last_error_message: "Socket data stream had no more data".to_string(),
///     last_error_time: -1,
/// };
/// StopReasons.on_receiver_stopped(&info);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverInfo {
    /// Id of the input stream the receiver feeds.
    pub stream_id: usize,
    /// `<receiver name>-<stream id>`, e.g. `SocketReceiver-0`, as Spark names receivers.
    pub name: String,
    /// Whether the receiver is running (Spark's ACTIVE / INACTIVE).
    pub active: bool,
    /// Where the receiver runs.
    pub location: String,
    /// The last error or stop message, empty if none.
    pub last_error_message: String,
    /// When the last error was reported, in milliseconds since the epoch (on the streaming
    /// context's clock); -1 if none.
    pub last_error_time: i64,
}

impl ReceiverInfo {
    /// The info of the receiver `name` of stream `stream_id`, running here.
    pub(crate) fn local(
        stream_id: usize,
        name: &str,
        active: bool,
        message: &str,
        error_time: i64,
    ) -> Self {
        ReceiverInfo {
            stream_id,
            name: name.to_string(),
            active,
            location: LOCATION.to_string(),
            last_error_message: message.to_string(),
            last_error_time: error_time,
        }
    }
}

/// What happened to a receiver; becomes the listener's `onReceiver{Started,Error,Stopped}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReceiverEvent {
    /// `on_start` is about to be called (also after each restart).
    Started(ReceiverInfo),
    /// The receiver called [`ReceiverContext::report_error`](super::ReceiverContext::report_error).
    Error(ReceiverInfo),
    /// `on_stop` was called, for a restart or for good; `last_error_message` says why.
    Stopped(ReceiverInfo),
}
