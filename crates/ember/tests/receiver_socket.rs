//! The public receiver API as an application sees it: implementing `Receiver`, and the
//! `SocketReceiver` value. Running receivers needs a streaming context; the socket behaviour
//! (reconnection, malformed input, stop) is tested inside the crate, in `receiver/socket.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use ember::receiver::{Receiver, ReceiverContext, ReceiverInfo, SocketReceiver};

/// A custom receiver as a user would write one: a thread that stores until stopped.
struct Ticker {
    running: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver<u64> for Ticker {
    fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
        let ctx = ctx.clone();
        let running = Arc::clone(&self.running);
        running.store(true, Ordering::SeqCst);
        self.thread = Some(std::thread::spawn(move || {
            let mut n = 0;
            while running.load(Ordering::SeqCst) && !ctx.is_stopped() {
                ctx.store(n);
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }));
    }

    fn on_stop(&mut self) {
        self.running.store(false, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn name(&self) -> String {
        "Ticker".to_string()
    }
}

#[test]
fn custom_receivers_are_boxed_as_trait_objects() {
    let mut receivers: Vec<Box<dyn Receiver<u64>>> = vec![Box::new(Ticker {
        running: Arc::new(AtomicBool::new(false)),
        thread: None,
    })];
    assert_eq!(receivers[0].name(), "Ticker");
    // Stopping a receiver that never started does nothing.
    receivers[0].on_stop();
}

#[test]
fn socket_receiver_is_a_string_receiver() {
    let mut receiver: Box<dyn Receiver<String>> =
        Box::new(SocketReceiver::new("localhost", 9999, 1 << 20));
    assert_eq!(receiver.name(), "SocketReceiver");
    receiver.on_stop();
    let configured = SocketReceiver::new("example.invalid", 7, 16)
        .with_connect_timeout(std::time::Duration::from_millis(10));
    assert_eq!(configured.address(), "example.invalid:7");
}

#[test]
fn contexts_can_be_shared_with_receiving_threads() {
    fn shareable<C: Send + Sync + Clone + 'static>() {}
    shareable::<ReceiverContext<String>>();
    shareable::<ReceiverContext<Vec<u8>>>();
}

#[test]
fn receiver_info_is_plain_data() {
    let info = ReceiverInfo {
        stream_id: 0,
        name: "SocketReceiver-0".to_string(),
        active: true,
        location: "localhost".to_string(),
        last_error_message: String::new(),
        last_error_time: -1,
    };
    let mut stopped = info.clone();
    stopped.active = false;
    stopped.last_error_message = "Stopped by driver".to_string();
    assert_ne!(info, stopped);
    assert!(format!("{info:?}").contains("SocketReceiver-0"));
}
