//! The lifecycle of a [`StreamingContext`] (Spark's `StreamingContextState`):
//! `Initialized --start--> Active --stop--> Stopped`, with at most one active context per
//! process, and the ways to wait for the end of a run.

use std::sync::{Arc, Mutex};

use crate::conf::settings;
use crate::error::{Error, Result};
use crate::exec::{self, Execution, Plan};
use crate::scheduler::listener::ListenerBus;
use crate::scheduler::rate::ReceiverRateStatus;
use crate::scheduler::rate::controller::RateControl;
use crate::scheduler::runtime::{Runtime, StopMode};
use crate::streaming::StreamingContextState;
use crate::streaming::context::StreamingContext;
use crate::sync::RecoverPoison;
use crate::time::Time;

/// The started, not yet stopped, context of this process (Spark allows one per JVM).
static ACTIVE: Mutex<Option<StreamingContext>> = Mutex::new(None);

/// A started context's run.
pub(super) struct Running {
    runtime: Arc<Runtime>,
    execution: Execution,
    started_at: Time,
}

/// Spark's `assertNoOtherContextIsActive`.
fn refuse_if_active(active: &Option<StreamingContext>) -> Result<()> {
    match active {
        None => Ok(()),
        Some(other) => {
            let since = other
                .inner
                .running
                .lock()
                .recover()
                .as_ref()
                .map(|r| r.started_at)
                .unwrap_or_default();
            Err(Error::IllegalState(format!(
                "Only one StreamingContext may be started in this process. Currently running \
                 StreamingContext was started at {}",
                since.to_local_datetime_string()
            )))
        }
    }
}

impl StreamingContext {
    /// The started and not yet stopped context of this process, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, StreamingContext};
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// assert!(StreamingContext::get_active().is_none());
    /// t.collect(&t.input(vec![vec![1]]))?;
    /// t.context().start()?;
    /// let active = StreamingContext::get_active().expect("started");
    /// assert_eq!(active.batch_duration(), Duration::seconds(1));
    /// t.stop()?;
    /// assert!(StreamingContext::get_active().is_none());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn get_active() -> Option<StreamingContext> {
        ACTIVE.lock().recover().clone()
    }

    /// Starts the stream: `Initialized → Active`.
    ///
    /// Fails with Spark's messages when there is no output operation, when another context of
    /// this process is active, or when this one was stopped. A failed start leaves the context
    /// stopped, as in Spark. Starting an active context only logs a warning.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, StreamingContextState};
    ///
    /// {
    ///     let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    ///     let _numbers = t.input(vec![vec![1, 2]]);
    ///     // Nothing to run yet: the start fails, and the context is stopped for good.
    ///     let e = t.context().start().unwrap_err();
    ///     assert!(e.to_string().contains("No output operations registered"));
    ///     assert_eq!(t.context().state(), StreamingContextState::Stopped);
    /// }
    /// {
    ///     let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    ///     t.collect(&t.input(vec![vec![1, 2]]))?;
    ///     t.context().start()?;
    ///     assert_eq!(t.context().state(), StreamingContextState::Active);
    /// }
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn start(&self) -> Result<()> {
        let mut state = self.inner.state.lock().recover();
        match *state {
            StreamingContextState::Active => {
                tracing::warn!("StreamingContext has already been started");
                return Ok(());
            }
            StreamingContextState::Stopped => {
                return Err(Error::IllegalState(
                    "StreamingContext has already been stopped".into(),
                ));
            }
            StreamingContextState::Initialized => {}
        }
        // As Spark's `assertNoOtherContextIsActive`, checked before anything else: a refused
        // start leaves this context Initialized, so it can start once the other one stops.
        refuse_if_active(&ACTIVE.lock().recover())?;
        let outcome = self.start_locked();
        *state = match outcome {
            Ok(()) => StreamingContextState::Active,
            Err(_) => {
                self.stop_ui();
                self.inner.graph.lock().recover().release_outputs();
                StreamingContextState::Stopped
            }
        };
        drop(state);
        self.inner.state_changed.notify_all();
        outcome
    }

    fn start_locked(&self) -> Result<()> {
        let mut active = ACTIVE.lock().recover();
        refuse_if_active(&active)?;
        if self.inner.ctx.is_stopped() {
            return Err(Error::IllegalState(
                "Cannot start a StreamingContext on a stopped Context".into(),
            ));
        }
        let (outputs, fingerprint, nodes) = {
            let graph = self.inner.graph.lock().recover();
            if graph.outputs().is_empty() {
                return Err(Error::Requirement(
                    "No output operations registered, so nothing to execute".into(),
                ));
            }
            (
                graph.outputs().to_vec(),
                crate::hash::stable_hash(graph.shape()),
                graph.streams(),
            )
        };
        self.start_ui()?;
        let settle_steps = exec::settle_steps(nodes);
        let status = self.inner.status.clone();
        // The UI's listener first: the user's listeners may be slow.
        let mut listeners: Vec<Arc<dyn crate::scheduler::StreamingListener>> =
            vec![status.batches.clone()];
        listeners.extend(self.inner.listeners.lock().recover().iter().cloned());
        let remember = self.inner.graph.lock().recover().remember;
        let recovered = self.inner.recovered.lock().recover().clone();
        let checkpointing = self.checkpointing(recovered.as_deref())?;
        let rates = RateControl::from_conf(self.inner.ctx.conf(), self.inner.batch)?;
        let runtime = Arc::new(Runtime::new(
            remember,
            self.inner.clock.clone(),
            self.inner.ctx.clone(),
            ListenerBus::new(listeners),
            checkpointing,
            status.clone(),
            rates,
        ));
        let started_at = self.inner.clock.now();
        let (shape, stateful, state_partitions) = {
            let graph = self.inner.graph.lock().recover();
            (
                graph.shape().clone(),
                graph.live_stateful_ids(),
                graph.state_partitions(),
            )
        };
        self.report_to_status(&runtime, &shape, &stateful)?;
        let plan = Arc::new(Plan {
            outputs,
            batch: self.inner.batch,
            master: self.inner.ctx.master().clone(),
            fingerprint,
            connect_timeout: settings::CLUSTER_CONNECT_TIMEOUT
                .get(self.inner.ctx.conf())?
                .to_std(),
            heartbeat_timeout: settings::CLUSTER_HEARTBEAT_TIMEOUT
                .get(self.inner.ctx.conf())?
                .to_std(),
            start: started_at,
            settle_steps,
            resume: recovered.as_ref().map(|r| (r.commit.time, r.commit.zero)),
            shape,
            stateful,
            state_partitions,
        });
        if settings::STOP_GRACEFULLY_ON_SHUTDOWN.get(self.inner.ctx.conf())? {
            super::shutdown::install()?;
        }
        let execution = exec::launch(plan, runtime.clone())?;
        *self.inner.running.lock().recover() = Some(Running {
            runtime,
            execution,
            started_at,
        });
        *active = Some(self.clone());
        Ok(())
    }

    /// Tells the status what the run is made of: the stateful streams' names, where the
    /// checkpoints and the write-ahead log go.
    fn report_to_status(
        &self,
        runtime: &Runtime,
        shape: &crate::checkpoint::GraphShape,
        stateful: &[usize],
    ) -> Result<()> {
        let status = &self.inner.status;
        for entry in shape.entries() {
            if let crate::checkpoint::shape::ShapeEntry::Stream { id, operation, .. } = entry
                && stateful.contains(id)
            {
                status.state.declare(*id, operation);
            }
        }
        if let Some(ck) = &runtime.checkpointing {
            ck.report_to(status.checkpoints.clone());
            let wal = settings::WAL_ENABLED.get(self.inner.ctx.conf())?;
            if wal && self.inner.graph.lock().recover().has_receivers() {
                status.set_wal_dir(ck.dir.join("receivedData"));
            }
        }
        Ok(())
    }

    pub(super) fn runtime(&self) -> Option<Arc<Runtime>> {
        self.inner
            .running
            .lock()
            .recover()
            .as_ref()
            .map(|r| r.runtime.clone())
    }

    /// Waits until the context stops or a batch job fails; returns the first job failure (again
    /// on every call, as Spark rethrows it). Later batches keep running after a failure.
    ///
    /// # Examples
    ///
    /// A job that fails ends the wait with its error:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ember::scheduler::ManualClock;
    /// use ember::{Conf, Context, Duration, RddQueue, StreamingContext, Time};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let clock = ManualClock::new(Time::from_millis(0));
    /// let ssc = StreamingContext::with_clock(&sc, Duration::seconds(1), Arc::new(clock.clone()))?;
    /// let queue = RddQueue::from(vec![sc.parallelize(vec![-1], 1)]);
    /// ssc.queue_stream(queue, true, None).try_foreach_rdd(|rdd, _time| {
    ///     if rdd.collect().iter().any(|x| *x < 0) { Err("negative input") } else { Ok(()) }
    /// })?;
    /// ssc.start()?;
    /// clock.set(Time::from_millis(1000));
    /// let e = ssc.await_termination().unwrap_err();
    /// assert!(e.to_string().contains("negative input"), "{e}");
    /// ssc.stop(false, false)?;
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn await_termination(&self) -> Result<()> {
        self.await_inner(None).map(|_| ())
    }

    /// As [`await_termination`](Self::await_termination), waiting at most `timeout`: `Ok(true)`
    /// when stopped, `Ok(false)` on timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration as StdDuration;
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// t.collect(&t.input(vec![vec![1]]))?;
    /// t.run(1)?;
    /// assert!(!t.context().await_termination_or_timeout(StdDuration::from_millis(10))?);
    /// t.stop()?;
    /// assert!(t.context().await_termination_or_timeout(StdDuration::from_millis(10))?);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn await_termination_or_timeout(&self, timeout: std::time::Duration) -> Result<bool> {
        self.await_inner(Some(timeout))
    }

    fn await_inner(&self, timeout: Option<std::time::Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        // Before start there is nothing to wait on but a state change.
        loop {
            if let Some(rt) = self.runtime() {
                let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
                return rt.await_termination(left);
            }
            let state = self.inner.state.lock().recover();
            if *state == StreamingContextState::Stopped {
                return Ok(true);
            }
            match deadline {
                None => drop(self.inner.state_changed.wait(state).recover()),
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return Ok(false);
                    }
                    drop(
                        self.inner
                            .state_changed
                            .wait_timeout(state, d - now)
                            .recover(),
                    );
                }
            }
        }
    }

    /// Stops the stream. With `graceful`, receiving stops first and everything received is
    /// processed; otherwise batches not yet processed are dropped. With `stop_context`, the
    /// [`Context`](crate::Context) is stopped too; otherwise it can serve a new streaming
    /// context.
    ///
    /// Stopping a stopped context only logs (and still stops the Context if asked, as Spark).
    /// Fails when called from a listener callback, as Spark does.
    ///
    /// The graph's output operations, and with them every node, closure and queue of the
    /// graph, are dropped here: a stopped context never runs again.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, StreamingContext};
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// t.collect(&t.input(vec![vec![1]]))?;
    /// t.run(1)?;
    /// t.context().stop(false, true)?;
    /// // A stopped context cannot start again, but its `Context` serves a new one.
    /// assert!(t.context().start().is_err());
    /// let next = StreamingContext::new(t.context().context(), Duration::seconds(1))?;
    /// # drop(next);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn stop(&self, stop_context: bool, graceful: bool) -> Result<()> {
        if std::thread::current().name() == Some("ember-listener-bus") {
            return Err(Error::IllegalState(
                "Cannot stop StreamingContext within listener bus thread.".into(),
            ));
        }
        let mut state = self.inner.state.lock().recover();
        match *state {
            StreamingContextState::Initialized => {
                *state = StreamingContextState::Stopped;
                self.inner.graph.lock().recover().release_outputs();
                self.stop_ui();
            }
            StreamingContextState::Stopped => {
                tracing::warn!("StreamingContext has already been stopped")
            }
            StreamingContextState::Active => {
                let mode = if graceful {
                    StopMode::Graceful
                } else {
                    StopMode::Immediate
                };
                let running = self.inner.running.lock().recover().take();
                if let Some(mut running) = running {
                    running.runtime.request_stop(mode);
                    // Called from a job (e.g. inside foreach_rdd) the caller is the driver worker
                    // itself: it finishes the stop when the job returns; waiting here would wait
                    // for ourselves.
                    if !running.runtime.on_worker_thread() {
                        running.execution.join();
                        running.runtime.bus.close();
                        if let Some(ck) = &running.runtime.checkpointing {
                            ck.release_lock();
                        }
                    }
                    // Keep the runtime so that a later await returns as soon as the run ends.
                    *self.inner.running.lock().recover() = Some(running);
                }
                self.stop_ui();
                *state = StreamingContextState::Stopped;
                self.inner.graph.lock().recover().release_outputs();
                let mut active = ACTIVE.lock().recover();
                if active
                    .as_ref()
                    .is_some_and(|a| Arc::ptr_eq(&a.inner, &self.inner))
                {
                    *active = None;
                }
                tracing::info!("StreamingContext stopped successfully");
            }
        }
        drop(state);
        self.inner.state_changed.notify_all();
        if stop_context {
            self.inner.ctx.stop();
        }
        Ok(())
    }

    /// Computes the batches through `time` now if they have not run (Spark's `getOrCompute`, for
    /// `slice`), waiting until they are computed; their output jobs still run at their times.
    /// Nothing to do unless the context is running.
    pub(crate) fn compute_through(&self, time: Time) -> Result<()> {
        let Some(rt) = self.runtime() else {
            return Ok(());
        };
        if rt.computed_through(time) {
            return Ok(());
        }
        // The driver's worker computes batches: from its own thread (an output job, a
        // `transform` function), waiting for it would wait forever.
        if rt.on_worker_thread() {
            return Err(Error::IllegalState(format!(
                "batches through {time} have not been computed yet; they cannot be computed from inside the stream's own jobs or transformations"
            )));
        }
        rt.compute_through(time);
        Ok(())
    }

    /// How many times this context's current or last run failed to write a checkpoint (a
    /// worker's share of the state, or the commit record). Each failure is logged as an error
    /// when it happens and the stream goes on from the previous commit; a program that must
    /// not end as a success after one (the `ember` command) reads this when the run ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    /// let totals = t
    ///     .input(vec![vec![("a".to_string(), 1u64)]])
    ///     .update_state_by_key(|new: &[u64], s: Option<u64>| Some(s.unwrap_or(0) + new.iter().sum::<u64>()), None);
    /// t.collect(&totals)?;
    /// t.run(1)?;
    /// assert_eq!(t.context().checkpoint_failures(), 0);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn checkpoint_failures(&self) -> u64 {
        self.runtime()
            .and_then(|rt| rt.checkpointing.clone())
            .map_or(0, |ck| ck.failures())
    }

    /// How many input files this context's current or last run skipped because they could not
    /// be read: a file of a directory stream ([`text_file_stream`](Self::text_file_stream)) that
    /// vanished or became unreadable between the listing that selected it and its reading, or
    /// whose reading failed part way (its lines read until then stay in the batch). Each is
    /// logged as an error naming the file and the cause, and its batch goes on with the other
    /// files; a program that must not end as a success after one (the `ember` command) reads
    /// this when the run ends. Counts the files read by this process's workers (in a cluster,
    /// each process counts its own); a large file that several workers read a part of each
    /// counts once per part that failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.collect(&t.context().text_file_stream(dir.path()))?;
    /// t.run(1)?;
    /// assert_eq!(t.context().input_failures(), 0);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn input_failures(&self) -> u64 {
        self.runtime().map_or(0, |rt| rt.input_failures())
    }

    /// Rate control of every receiver input stream of the current or last run, in stream order:
    /// its limit (`spark.streaming.receiver.maxRate`, or what backpressure set last), whether
    /// it is throttled now, and what it received and what of it the batches processed (see
    /// [`ReceiverRateStatus`]). Empty before the start and for a run without receivers.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Conf, Duration};
    ///
    /// let conf = Conf::new()
    ///     .set_master("local[2]")
    ///     .set("spark.streaming.receiver.maxRate", "100");
    /// let t = StreamTest::with_conf(conf, Duration::seconds(1))?;
    /// let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = server.local_addr().unwrap().port();
    /// t.collect(&t.context().socket_text_stream("127.0.0.1", port))?;
    /// assert!(t.context().receiver_rates().is_empty(), "not started");
    /// t.run(1)?;
    /// let rates = t.context().receiver_rates();
    /// assert_eq!(rates[0].rate_limit, Some(100.0));
    /// assert!(!rates[0].backpressure);
    /// assert_eq!(rates[0].lag_records(), 0);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn receiver_rates(&self) -> Vec<ReceiverRateStatus> {
        self.runtime()
            .map_or_else(Vec::new, |rt| rt.rates.statuses())
    }

    /// Blocks until batch `time` has completed, at most `timeout` (for tests).
    pub(crate) fn wait_batch(&self, time: Time, timeout: std::time::Duration) -> bool {
        self.runtime()
            .is_some_and(|rt| rt.wait_batch(time, timeout))
    }

    /// Waits until the checkpoint shares and commits of the batches completed so far are
    /// written (the checkpoint writer writes them in the background), if the run checkpoints.
    pub(crate) fn wait_checkpoints_written(&self) {
        if let Some(ck) = self.runtime().and_then(|rt| rt.checkpointing.clone()) {
            ck.wait_written();
        }
    }
}
