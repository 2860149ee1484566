// Alike on purpose: the test-only `launch` repeats `launch_logged`'s parameters because it is that call without a block log.
//! Runs one [`Receiver`]: Spark's `ReceiverSupervisor`.
//!
//! Each receiver gets a supervisor thread (`ember-receiver-<id>`) that calls `on_start`, handles
//! the receiver's restart and stop requests, and every [`TICK`] lets the receiver's
//! [`BlockGenerator`] push the records that waited long enough. Blocks go to a bounded queue that
//! the stream's worker drains with [`ReceiverHandle::try_recv_block`].
//!
//! Every `on_start` runs in a new *generation* (see [`ReceiverContext`]). The restart delay is
//! measured on the injected clock ([`ReceiverSettings::clock`]): the system clock in production,
//! a [`ManualClock`](crate::scheduler::ManualClock) in tests, which then decide when a restart
//! happens. The supervisor polls the clock every tick, so a manual clock needs no way to wake it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};

use super::Receiver;
use super::block_generator::{Block, BlockGenerator, BlockLog};
use super::context::{Control, ReceiverContext, Shared};
use super::event::ReceiverEvent;
use super::rate_limiter::RateLimiter;
use super::state::{AtomicReceiverState, ReceiverState};
use crate::scheduler::clock::{Clock, SystemClock};
use crate::sync::RecoverPoison;

/// How often the supervisor thread wakes to push due records and to look at the clock during a
/// restart delay. Real time: it paces polling, it is not a duration of the receiver's life.
const TICK: Duration = Duration::from_millis(20);

/// How a receiver is supervised.
#[derive(Clone)]
pub(crate) struct ReceiverSettings {
    /// Delay of [`ReceiverContext::restart`] (Spark's `spark.streaming.receiverRestartDelay`).
    pub restart_delay: Duration,
    /// Capacity of the block queue, in blocks (Spark's `spark.streaming.blockQueueSize`).
    pub queue_blocks: usize,
    /// The clock of restart delays, block intervals and error times: the streaming context's.
    pub clock: Arc<dyn Clock>,
    /// The receiver's rate limit, which the rate controller may change (no limit by default).
    pub limiter: Arc<RateLimiter>,
}

/// Blocks a receiver may have queued before `store` waits (Spark's `blockQueueSize` default is
/// 10 blocks of 200 ms; ours are at most 4,096 records or 64 KiB of text each). 16 blocks keep
/// both workers of a 2-core machine busy while a block is being cut, yet bound what a fast
/// sender can pile up to about 1 MiB of text: beyond that TCP pushes back on the sender.
pub(crate) const QUEUE_BLOCKS: usize = 16;

/// Spark's `spark.streaming.receiverRestartDelay` default.
pub(crate) const RESTART_DELAY: Duration = Duration::from_millis(2000);

impl ReceiverSettings {
    /// The settings of a stream's receiver: restart after `restart_delay` on `clock`, with the
    /// default queue of [`QUEUE_BLOCKS`].
    pub(crate) fn new(restart_delay: Duration, clock: Arc<dyn Clock>) -> Self {
        ReceiverSettings {
            restart_delay,
            queue_blocks: QUEUE_BLOCKS,
            limiter: Arc::new(RateLimiter::new(Arc::clone(&clock), None)),
            clock,
        }
    }
}

impl Default for ReceiverSettings {
    fn default() -> Self {
        ReceiverSettings::new(RESTART_DELAY, Arc::new(SystemClock))
    }
}

/// The driver's side of a launched receiver.
pub(crate) struct ReceiverHandle<T> {
    shared: Arc<Shared<T>>,
    blocks: crossbeam_channel::Receiver<Block<T>>,
    /// Disconnected when the supervisor thread ends.
    done: crossbeam_channel::Receiver<()>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Starts `receiver` on its own supervisor thread `ember-receiver-<stream_id>`.
#[cfg(test)]
pub(crate) fn launch<T: Send + 'static>(
    receiver: Box<dyn Receiver<T>>,
    stream_id: usize,
    settings: ReceiverSettings,
    events: Sender<ReceiverEvent>,
    wake: Arc<dyn Fn() + Send + Sync>,
) -> ReceiverHandle<T> {
    launch_logged(receiver, stream_id, settings, events, wake, None)
}

/// Starts `receiver` on its own supervisor thread `ember-receiver-<stream_id>`, writing its
/// blocks to `log` (if any) before queueing them.
pub(crate) fn launch_logged<T: Send + 'static>(
    receiver: Box<dyn Receiver<T>>,
    stream_id: usize,
    settings: ReceiverSettings,
    events: Sender<ReceiverEvent>,
    wake: Arc<dyn Fn() + Send + Sync>,
    log: Option<Arc<dyn BlockLog<T>>>,
) -> ReceiverHandle<T> {
    let (generator, block_rx) =
        BlockGenerator::new(stream_id, settings.queue_blocks, log, wake, settings.clock);
    let (control_tx, control_rx) = crossbeam_channel::unbounded();
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let shared = Arc::new(Shared {
        stream_id,
        name: format!("{}-{stream_id}", receiver.name()),
        generator,
        control: control_tx,
        events,
        state: AtomicReceiverState::new(ReceiverState::Initialized),
        generation: AtomicU64::new(0),
        driver_stop: AtomicBool::new(false),
        terminated: AtomicBool::new(false),
        restart_delay: settings.restart_delay,
        limiter: settings.limiter,
    });
    let thread_shared = Arc::clone(&shared);
    let spawned = thread::Builder::new()
        .name(format!("ember-receiver-{stream_id}"))
        .spawn(move || {
            let _done = done_tx;
            supervise(receiver, &thread_shared, &control_rx);
            thread_shared.terminated.store(true, Ordering::Release);
            thread_shared.generator.flush_all();
        });
    let thread = match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            let message = format!("Error starting receiver {stream_id}: {e}");
            tracing::error!("{message}");
            shared.terminated.store(true, Ordering::Release);
            shared.emit(ReceiverEvent::Error(shared.info(
                false,
                &message,
                shared.error_time(),
            )));
            None
        }
    };
    ReceiverHandle {
        shared,
        blocks: block_rx,
        done: done_rx,
        thread: Mutex::new(thread),
    }
}

/// The supervisor thread's loop: start, then serve restart and stop requests until stopped.
fn supervise<T: Send + 'static>(
    mut receiver: Box<dyn Receiver<T>>,
    shared: &Arc<Shared<T>>,
    control: &crossbeam_channel::Receiver<Control>,
) {
    if !start_receiver(&mut *receiver, shared) {
        return;
    }
    loop {
        match control.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => shared.generator.flush_due(),
            Ok(Control::Stop { message }) => {
                stop_receiver(&mut *receiver, shared, &message);
                return;
            }
            Err(RecvTimeoutError::Disconnected) => {
                stop_receiver(&mut *receiver, shared, "Stopped by driver");
                return;
            }
            Ok(Control::Restart {
                generation,
                message,
                delay,
            }) => {
                if generation != shared.generation.load(Ordering::Acquire)
                    || !shared.state.is_started()
                {
                    tracing::debug!(
                        "Ignoring a stale restart request of stream {}: {message}",
                        shared.stream_id
                    );
                    continue;
                }
                // A warning, as Spark's: a source that cannot be reached ("Error connecting to
                // ...") must be visible at the default log level, not only as empty batches.
                tracing::warn!(
                    "Restarting receiver with delay {}ms: {message}",
                    delay.as_millis()
                );
                // The delay is counted from before the Stopped event: whoever sees that event
                // (a test advancing a manual clock) then finds the deadline already fixed.
                let clock = shared.generator.clock();
                let restart_at = clock.now() + crate::time::Duration::from(delay);
                stop_receiver(&mut *receiver, shared, &message);
                if !wait_restart_delay(shared, control, restart_at) {
                    return;
                }
                tracing::info!("Starting receiver again");
                if !start_receiver(&mut *receiver, shared) {
                    return;
                }
                tracing::info!("Receiver started again");
            }
        }
    }
}

/// Waits until the receiver's clock reaches `deadline`, still pushing due records. Returns
/// false if a stop came meanwhile.
fn wait_restart_delay<T: Send + 'static>(
    shared: &Shared<T>,
    control: &crossbeam_channel::Receiver<Control>,
    deadline: crate::time::Time,
) -> bool {
    let clock = shared.generator.clock();
    loop {
        if shared.driver_stop.load(Ordering::Acquire) {
            return false;
        }
        let now = clock.now();
        if now >= deadline {
            return true;
        }
        // Never longer than a tick: a manual clock can jump to the deadline at any moment.
        let left = Duration::from_millis((deadline - now).as_millis());
        match control.recv_timeout(left.min(TICK)) {
            Ok(Control::Stop { message }) => {
                // The receiver is already stopped, so no second Stopped event (as in Spark).
                tracing::info!(
                    "Receiver for stream {} stopped while waiting to restart: {message}",
                    shared.stream_id
                );
                return false;
            }
            // Already restarting: further requests add nothing.
            Ok(Control::Restart { .. }) => {}
            Err(RecvTimeoutError::Timeout) => shared.generator.flush_due(),
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// Spark's `startReceiver`: a new generation, the Started event, then `on_start`. A panicking
/// `on_start` stops the receiver for good, as an exception does in Spark. Returns whether it
/// started.
fn start_receiver<T: Send + 'static>(
    receiver: &mut dyn Receiver<T>,
    shared: &Arc<Shared<T>>,
) -> bool {
    let generation = shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
    shared.state.store(ReceiverState::Started);
    let ctx = ReceiverContext::new(Arc::clone(shared), generation);
    tracing::info!("Starting receiver {}", shared.stream_id);
    shared.emit(ReceiverEvent::Started(shared.info(true, "", -1)));
    match catch_unwind(AssertUnwindSafe(|| receiver.on_start(&ctx))) {
        Ok(()) => true,
        Err(panic) => {
            let message = format!("Error starting receiver {}", shared.stream_id);
            tracing::error!("{message}: {}", panic_text(&*panic));
            stop_receiver(receiver, shared, &message);
            false
        }
    }
}

/// Spark's `stopReceiver`: `on_stop` and the Stopped event, once per start.
fn stop_receiver<T: Send + 'static>(
    receiver: &mut dyn Receiver<T>,
    shared: &Shared<T>,
    message: &str,
) {
    if shared.state.swap(ReceiverState::Stopped) != ReceiverState::Started {
        tracing::debug!(
            "Receiver for stream {} has been stopped already",
            shared.stream_id
        );
        return;
    }
    tracing::info!("Stopping receiver with message: {message}");
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| receiver.on_stop())) {
        tracing::error!(
            "Receiver for stream {} panicked in on_stop: {}",
            shared.stream_id,
            panic_text(&*panic)
        );
    }
    tracing::info!("Called receiver onStop");
    shared.emit(ReceiverEvent::Stopped(shared.info(false, message, -1)));
    tracing::info!(
        "Deregistered receiver for stream {}: {message}",
        shared.stream_id
    );
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic".to_string()
    }
}

impl<T: Send + 'static> ReceiverHandle<T> {
    /// The next queued block, without waiting.
    #[cfg(test)]
    pub(crate) fn try_recv(&self) -> Option<Vec<T>> {
        self.try_recv_block().map(|b| b.items)
    }

    /// The next queued block with its write-ahead-log sequence number, without waiting.
    pub(crate) fn try_recv_block(&self) -> Option<Block<T>> {
        self.blocks
            .try_recv()
            .ok()
            .or_else(|| self.shared.generator.take_leftover())
    }

    /// Stops the receiver (`on_stop`, Stopped event "Stopped by driver"), waits at most `timeout`
    /// for its supervisor thread, then moves the pending records into the queue. Idempotent.
    ///
    /// `timeout` is real time, not the receiver's clock: it bounds how long the driver waits for
    /// user code (`on_stop`) that may be stuck, which a manual clock standing still must not
    /// turn into a hang.
    pub(crate) fn stop(&self, timeout: Duration) {
        self.shared.stop_by_driver();
        match self.done.recv_timeout(timeout) {
            Err(RecvTimeoutError::Disconnected) => {
                if let Some(thread) = self.thread.lock().recover().take() {
                    // The thread has signalled its end, so this join does not wait.
                    if thread.join().is_err() {
                        tracing::error!(
                            "Supervisor thread of receiver {} panicked",
                            self.shared.stream_id
                        );
                    }
                }
            }
            Ok(()) | Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(
                    "Receiver for stream {} did not stop within {} ms; leaving it behind",
                    self.shared.stream_id,
                    timeout.as_millis()
                );
            }
        }
        self.shared.generator.flush_all();
    }

    /// Whether the receiver is stopped for good.
    #[allow(
        dead_code,
        reason = "part of the handle's API; the engine only stops receivers so far"
    )]
    pub(crate) fn is_stopped(&self) -> bool {
        self.shared.terminated.load(Ordering::Acquire)
    }
}

impl<T> Drop for ReceiverHandle<T> {
    fn drop(&mut self) {
        // Never wait here; just make sure an abandoned receiver does not run forever.
        self.shared.stop_by_driver();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::receiver::block_generator::{BLOCK_INTERVAL, BLOCK_RECORDS};
    use crate::receiver::event::ReceiverInfo;
    use crate::scheduler::clock::ManualClock;
    use crate::time::Time;
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    /// The generous real-time bound of every wait of these tests: reaching it fails the test.
    pub(crate) const WAIT: Duration = Duration::from_secs(10);

    /// Collects the events of a launched receiver.
    pub(crate) fn events() -> (
        Sender<ReceiverEvent>,
        crossbeam_channel::Receiver<ReceiverEvent>,
    ) {
        crossbeam_channel::unbounded()
    }

    /// A manual clock at an arbitrary time that is not zero, so that times read from it are
    /// recognisable.
    pub(crate) fn manual_clock() -> ManualClock {
        ManualClock::new(Time::from_millis(1_000_000))
    }

    /// Settings with a restart delay of `restart_ms` on `clock`.
    pub(crate) fn settings(restart_ms: u64, clock: &ManualClock) -> ReceiverSettings {
        ReceiverSettings::new(Duration::from_millis(restart_ms), Arc::new(clock.clone()))
    }

    pub(crate) fn no_wake() -> Arc<dyn Fn() + Send + Sync> {
        Arc::new(|| {})
    }

    /// Receives blocks until `want` records arrived or `timeout` passed.
    pub(crate) fn collect<T: Send + 'static>(
        handle: &ReceiverHandle<T>,
        want: usize,
        timeout: Duration,
    ) -> Vec<T> {
        collect_blocks(handle, want, timeout)
            .into_iter()
            .flatten()
            .collect()
    }

    /// Receives blocks until they hold `want` records or `timeout` passed.
    fn collect_blocks<T: Send + 'static>(
        handle: &ReceiverHandle<T>,
        want: usize,
        timeout: Duration,
    ) -> Vec<Vec<T>> {
        let deadline = Instant::now() + timeout;
        let mut blocks: Vec<Vec<T>> = Vec::new();
        while blocks.iter().map(Vec::len).sum::<usize>() < want && Instant::now() < deadline {
            match handle.try_recv() {
                Some(block) => blocks.push(block),
                None => thread::sleep(Duration::from_millis(2)),
            }
        }
        blocks
    }

    /// Gives a broken supervisor a few ticks to do what it must not do yet. Only ever makes a
    /// test pass less often on a wrong implementation, never fail on a right one.
    fn let_ticks_pass() {
        thread::sleep(TICK * 5);
    }

    /// Log of what a test receiver's callbacks saw, with the time of the receiver's clock.
    struct Calls {
        clock: ManualClock,
        log: Mutex<Vec<(String, Time)>>,
        starts: AtomicUsize,
    }

    impl Calls {
        fn record(&self, name: &str) {
            self.log
                .lock()
                .recover()
                .push((name.to_string(), self.clock.now()));
        }

        fn names(&self) -> Vec<String> {
            self.log
                .lock()
                .recover()
                .iter()
                .map(|(name, _)| name.clone())
                .collect()
        }
    }

    /// A receiver driven by a closure called from a thread started in `on_start`.
    struct ScriptReceiver {
        calls: Arc<Calls>,
        script: Arc<dyn Fn(usize, ReceiverContext<u32>) + Send + Sync>,
        thread: Option<JoinHandle<()>>,
    }

    impl Receiver<u32> for ScriptReceiver {
        fn on_start(&mut self, ctx: &ReceiverContext<u32>) {
            let start = self.calls.starts.fetch_add(1, Ordering::SeqCst);
            self.calls.record("start");
            let (script, ctx) = (Arc::clone(&self.script), ctx.clone());
            self.thread = Some(thread::spawn(move || script(start, ctx)));
        }
        fn on_stop(&mut self) {
            self.calls.record("stop");
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
        fn name(&self) -> String {
            "ScriptReceiver".into()
        }
    }

    /// A receiver running `script`, whose calls are logged with the time of `clock`.
    fn script_receiver(
        clock: &ManualClock,
        script: impl Fn(usize, ReceiverContext<u32>) + Send + Sync + 'static,
    ) -> (Box<dyn Receiver<u32>>, Arc<Calls>) {
        let calls = Arc::new(Calls {
            clock: clock.clone(),
            log: Mutex::new(Vec::new()),
            starts: AtomicUsize::new(0),
        });
        let receiver = ScriptReceiver {
            calls: Arc::clone(&calls),
            script: Arc::new(script),
            thread: None,
        };
        (Box::new(receiver), calls)
    }

    fn recv_event(rx: &crossbeam_channel::Receiver<ReceiverEvent>) -> ReceiverEvent {
        rx.recv_timeout(WAIT).expect("no receiver event in time")
    }

    /// The next event, which must be `Stopped`; returns what it says of the receiver.
    fn recv_stopped(rx: &crossbeam_channel::Receiver<ReceiverEvent>) -> ReceiverInfo {
        match recv_event(rx) {
            ReceiverEvent::Stopped(info) => info,
            other => panic!("expected Stopped, got {other:?}"),
        }
    }

    /// A launched [`script_receiver`], with what its tests look at.
    struct Scripted {
        clock: ManualClock,
        calls: Arc<Calls>,
        rx: crossbeam_channel::Receiver<ReceiverEvent>,
        handle: ReceiverHandle<u32>,
    }

    /// Launches a receiver running `script` as stream `stream_id`, restarted after
    /// `restart_ms` of a manual clock.
    fn launch_script(
        stream_id: usize,
        restart_ms: u64,
        script: impl Fn(usize, ReceiverContext<u32>) + Send + Sync + 'static,
    ) -> Scripted {
        let clock = manual_clock();
        let (receiver, calls) = script_receiver(&clock, script);
        let (tx, rx) = events();
        let handle = launch(
            receiver,
            stream_id,
            settings(restart_ms, &clock),
            tx,
            no_wake(),
        );
        Scripted {
            clock,
            calls,
            rx,
            handle,
        }
    }

    /// Stops `handle`, and checks that its supervisor ended within [`WAIT`].
    fn stop_within_wait<T: Send + 'static>(handle: &ReceiverHandle<T>) {
        handle.stop(WAIT);
        assert!(handle.is_stopped());
    }

    /// Launches (as stream 0) a receiver that `store`s `records` one by one, and waits until it
    /// has stored them all.
    fn launch_storing(records: Vec<u32>) -> Scripted {
        let (stored_tx, stored_rx) = crossbeam_channel::bounded(1);
        let scripted = launch_script(0, 100, move |_, ctx| {
            for &record in &records {
                ctx.store(record);
            }
            let _ = stored_tx.send(());
        });
        stored_rx
            .recv_timeout(WAIT)
            .expect("the script did not store");
        scripted
    }

    #[test]
    fn the_system_clock_is_the_default() {
        assert!(!ReceiverSettings::default().clock.is_manual());
    }

    #[test]
    fn store_many_delivers_blocks_and_wakes_the_worker() {
        let clock = manual_clock();
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&wakes);
        let (receiver, _) = script_receiver(&clock, |_, ctx| {
            ctx.store_many(vec![1, 2, 3]);
            ctx.store_many(Vec::new());
            ctx.store_many(vec![4]);
        });
        let (tx, _rx) = events();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let handle = launch(receiver, 3, settings(100, &clock), tx, wake);
        let got = collect(&handle, 4, WAIT);
        assert_eq!(got, [1, 2, 3, 4]);
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            2,
            "one wake per queued block, none for an empty one"
        );
        stop_within_wait(&handle);
    }

    #[test]
    fn store_flushes_full_blocks_and_the_rest_once_the_clock_passes_the_interval() {
        let Scripted {
            clock,
            rx: _rx,
            handle,
            ..
        } = launch_storing((0..(BLOCK_RECORDS as u32 + 10)).collect());
        let mut blocks = collect_blocks(&handle, BLOCK_RECORDS, WAIT);
        // The 10 leftover records wait until the clock passes the interval; then the supervisor
        // pushes them on its own, with no further store.
        clock.advance(BLOCK_INTERVAL);
        blocks.extend(collect_blocks(&handle, 10, WAIT));
        assert_eq!(
            blocks.iter().map(Vec::len).collect::<Vec<_>>(),
            [BLOCK_RECORDS, 10]
        );
        assert_eq!(blocks[1][9], BLOCK_RECORDS as u32 + 9);
        handle.stop(WAIT);
    }

    #[test]
    fn a_single_record_is_flushed_once_the_clock_passes_the_interval() {
        let Scripted {
            clock,
            rx: _rx,
            handle,
            ..
        } = launch_storing(vec![7]);
        clock.advance(BLOCK_INTERVAL - crate::time::Duration::milliseconds(1));
        let_ticks_pass();
        assert!(handle.try_recv().is_none(), "pushed before the interval");
        clock.advance(crate::time::Duration::milliseconds(1));
        assert_eq!(collect(&handle, 1, WAIT), [7]);
        handle.stop(WAIT);
    }

    #[test]
    fn events_are_started_then_stopped_and_stop_is_idempotent_and_bounded() {
        let Scripted {
            calls, rx, handle, ..
        } = launch_script(5, 100, |_, ctx| {
            ctx.store(1);
        });
        let ReceiverEvent::Started(info) = recv_event(&rx) else {
            panic!("expected Started first")
        };
        assert_eq!(
            info,
            ReceiverInfo {
                stream_id: 5,
                name: "ScriptReceiver-5".into(),
                active: true,
                location: "localhost".into(),
                last_error_message: String::new(),
                last_error_time: -1,
            }
        );
        // Bounded: the supervisor thread ends within the (generous) timeout of each stop.
        stop_within_wait(&handle);
        stop_within_wait(&handle);
        let info = recv_stopped(&rx);
        assert!(!info.active);
        assert_eq!(info.last_error_message, "Stopped by driver");
        assert!(
            rx.try_recv().is_err(),
            "a second stop must not emit a second event"
        );
        assert_eq!(calls.names(), ["start", "stop"]);
        // The record stored before the stop is flushed into the queue by stop, though the clock
        // never passed the block interval.
        assert_eq!(collect(&handle, 1, WAIT), [1]);
    }

    #[test]
    fn restart_calls_on_stop_then_on_start_after_the_delay() {
        let Scripted {
            clock,
            calls,
            rx,
            handle,
        } = launch_script(1, 200, |start, ctx| {
            ctx.store_many(vec![start as u32]);
            if start == 0 {
                ctx.restart("first connection ended");
                // A stale second request from the same start is ignored.
                ctx.restart("again");
            }
        });
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        assert_eq!(
            recv_stopped(&rx).last_error_message,
            "first connection ended"
        );
        // No new start while the clock has not passed the delay.
        let_ticks_pass();
        clock.advance(crate::time::Duration::milliseconds(199));
        let_ticks_pass();
        assert_eq!(calls.names(), ["start", "stop"]);
        clock.advance(crate::time::Duration::milliseconds(1));
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        assert_eq!(collect(&handle, 2, WAIT), [0, 1]);
        let log = calls.log.lock().recover().clone();
        let names: Vec<_> = log.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["start", "stop", "start"]);
        // Exactly the delay on the receiver's clock, which moved only when the test moved it.
        assert_eq!(
            log[2].1 - log[1].1,
            crate::time::Duration::milliseconds(200)
        );

        handle.stop(WAIT);
        assert!(matches!(recv_event(&rx), ReceiverEvent::Stopped(_)));
        assert_eq!(calls.starts.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn stop_during_the_restart_delay_does_not_wait_for_the_delay() {
        let Scripted {
            calls, rx, handle, ..
        } = launch_script(0, 60_000, |_, ctx| ctx.restart("going away"));
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        assert!(matches!(recv_event(&rx), ReceiverEvent::Stopped(_)));
        // The clock never moves, so the delay never passes: only the stop can end the wait.
        stop_within_wait(&handle);
        assert_eq!(calls.names(), ["start", "stop"]);
        assert!(
            rx.try_recv().is_err(),
            "no event after the receiver was already stopped"
        );
    }

    #[test]
    fn report_error_and_stop_from_the_receiver() {
        let Scripted {
            clock,
            calls,
            rx,
            handle,
        } = launch_script(2, 100, |_, ctx| {
            ctx.report_error("bad record");
            ctx.stop("done reading");
        });
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        match recv_event(&rx) {
            ReceiverEvent::Error(info) => {
                assert_eq!(info.last_error_message, "bad record");
                assert!(info.active);
                // The time of the receiver's clock, not of the wall clock.
                assert_eq!(info.last_error_time, clock.now().as_millis() as i64);
            }
            other => panic!("expected Error, got {other:?}"),
        }
        assert_eq!(recv_stopped(&rx).last_error_message, "done reading");
        let deadline = Instant::now() + WAIT;
        while !handle.is_stopped() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert!(handle.is_stopped());
        handle.stop(WAIT);
        assert_eq!(calls.names(), ["start", "stop"]);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn store_many_waits_on_a_full_queue_and_keeps_its_block_when_stopped() {
        let clock = manual_clock();
        let pushed = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pushed);
        let (receiver, _) = script_receiver(&clock, move |_, ctx| {
            for i in 0..100 {
                if ctx.is_stopped() {
                    break;
                }
                ctx.store_many(vec![i]);
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let (tx, _rx) = events();
        let settings = ReceiverSettings {
            queue_blocks: 4,
            ..settings(100, &clock)
        };
        let handle = launch(receiver, 0, settings, tx, no_wake());
        let wait_for = |count: usize| {
            let deadline = Instant::now() + WAIT;
            while pushed.load(Ordering::SeqCst) < count && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(2));
            }
        };
        wait_for(4);
        thread::sleep(Duration::from_millis(100));
        // Four blocks fit; the fifth store_many waits (back-pressure).
        assert_eq!(pushed.load(Ordering::SeqCst), 4);
        assert_eq!(handle.try_recv(), Some(vec![0]));
        wait_for(5);
        thread::sleep(Duration::from_millis(50));
        assert_eq!(pushed.load(Ordering::SeqCst), 5);
        // on_stop joins the script's thread, which is blocked in store_many: the supervisor can
        // only end if that store stops waiting. Its block is not dropped: it comes after the
        // queued ones, for the last batch of a graceful stop.
        stop_within_wait(&handle);
        let mut rest = Vec::new();
        while let Some(block) = handle.try_recv() {
            rest.extend(block);
        }
        assert_eq!(rest, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn panicking_on_start_stops_the_receiver() {
        struct Failing;
        impl Receiver<u32> for Failing {
            fn on_start(&mut self, _: &ReceiverContext<u32>) {
                panic!("cannot start");
            }
            fn on_stop(&mut self) {}
            fn name(&self) -> String {
                "Failing".into()
            }
        }
        let clock = manual_clock();
        let (tx, rx) = events();
        let handle = launch(Box::new(Failing), 4, settings(100, &clock), tx, no_wake());
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        assert_eq!(
            recv_stopped(&rx).last_error_message,
            "Error starting receiver 4"
        );
        stop_within_wait(&handle);
    }

    #[test]
    fn dropping_the_handle_stops_the_receiver() {
        let Scripted {
            calls, rx, handle, ..
        } = launch_script(0, 100, |_, _| {});
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        drop(handle);
        assert!(matches!(recv_event(&rx), ReceiverEvent::Stopped(_)));
        assert_eq!(calls.names(), ["start", "stop"]);
    }

    #[test]
    fn context_is_send_sync_clone() {
        fn check<C: Send + Sync + Clone + 'static>() {}
        check::<ReceiverContext<String>>();
        // Not Clone itself, but a context of a non-Clone type is still Clone.
        struct NotClone;
        check::<ReceiverContext<NotClone>>();
    }
}
