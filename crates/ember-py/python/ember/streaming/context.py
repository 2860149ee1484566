"""``StreamingContext``: cuts live input into batches and runs the streams defined on it."""

from __future__ import annotations

import os
import signal
import threading

from ember import _native
from ember.rdd import RDD
from ember.streaming.dstream import DStream, _arity, _millis, _time

__all__ = ["StreamingContext"]


class StreamingContext:
    """The entry point of streaming, with PySpark's constructor and methods.

    ``batchDuration`` is in seconds and may be a float (``0.5``). The lifecycle rules are
    Spark's: streams are defined before ``start``; a started context cannot take new ones; a
    stopped context cannot start again; one context is active per process at a time.
    """

    _activeContext: "StreamingContext | None" = None
    _lock = threading.RLock()

    def __init__(self, sparkContext, batchDuration=None, jssc=None):
        if batchDuration is None:
            raise ValueError("batchDuration is required")
        self._sc = sparkContext
        self._batch_ms = _millis(batchDuration)
        self._native = _native.NativeStreamingContext(sparkContext._native, self._batch_ms)
        self._previous_sigint = None

    # -- creation --------------------------------------------------------------------------
    @classmethod
    def getOrCreate(cls, checkpointPath, setupFunc):
        """The context ``setupFunc()`` defines, with its state restored from the checkpoint in
        ``checkpointPath`` when there is one.

        Unlike PySpark, ember never unpickles code from a checkpoint: ``setupFunc`` always runs,
        so a changed program restarts from its data (state, received blocks, file lists).
        """
        ssc = setupFunc()
        if not isinstance(ssc, StreamingContext):
            raise TypeError("setupFunc must return a StreamingContext, got %r" % (ssc,))
        ssc._native.restore(str(checkpointPath))
        return ssc

    @classmethod
    def getActive(cls):
        """The active context of this process, or ``None``."""
        with cls._lock:
            active = cls._activeContext
            if active is not None and active._native.state() != "ACTIVE":
                cls._activeContext = None
                return None
            return active

    @classmethod
    def getActiveOrCreate(cls, checkpointPath, setupFunc):
        active = cls.getActive()
        if active is not None:
            return active
        if checkpointPath is not None:
            return cls.getOrCreate(checkpointPath, setupFunc)
        return setupFunc()

    @property
    def sparkContext(self):
        return self._sc

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Starts the stream. Interrupting the program (Ctrl-C, a notebook's interrupt) while it
        runs stops the stream before ``KeyboardInterrupt`` reaches the caller."""
        self._native.start()
        with StreamingContext._lock:
            StreamingContext._activeContext = self
        self._install_interrupt_handler()

    def _install_interrupt_handler(self):
        # A notebook kernel raises KeyboardInterrupt in the main thread; when that thread is in
        # time.sleep (the seed notebook's cells), no ember code runs to notice. A handler that
        # stops the stream first, then raises as Python's default handler does, makes an
        # interrupt stop the stream wherever the main thread is.
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            previous = signal.getsignal(signal.SIGINT)
        except (ValueError, TypeError):
            return
        ssc = self

        def on_interrupt(signum, frame):
            try:
                if ssc._native.state() == "ACTIVE":
                    ssc._native.stop(False, False)
            finally:
                if callable(previous) and previous is not on_interrupt:
                    previous(signum, frame)
                else:
                    raise KeyboardInterrupt

        try:
            signal.signal(signal.SIGINT, on_interrupt)
            self._previous_sigint = previous
        except ValueError:
            pass

    def _restore_interrupt_handler(self):
        previous, self._previous_sigint = self._previous_sigint, None
        if previous is not None and threading.current_thread() is threading.main_thread():
            try:
                signal.signal(signal.SIGINT, previous)
            except (ValueError, TypeError):
                pass

    def awaitTermination(self, timeout=None):
        """Waits until the stream stops; raises the first error of a failed batch (the user's
        own exception when the batch failed in Python code)."""
        if timeout is None:
            self._native.await_termination(None)
        else:
            self._native.await_termination(float(timeout))

    def awaitTerminationOrTimeout(self, timeout) -> bool:
        """Waits at most ``timeout`` seconds; returns whether the stream stopped."""
        return self._native.await_termination(float(timeout))

    def stop(self, stopSparkContext: bool = True, stopGraceFully: bool = False) -> None:
        """Stops the stream, and the SparkContext too unless ``stopSparkContext=False``.
        ``stopGraceFully`` finishes the data already received first."""
        self._native.stop(False, bool(stopGraceFully))
        with StreamingContext._lock:
            if StreamingContext._activeContext is self:
                StreamingContext._activeContext = None
        self._restore_interrupt_handler()
        if stopSparkContext:
            self._sc.stop()

    def remember(self, duration) -> None:
        """Keeps every stream's batches at least ``duration`` seconds (for ``slice``)."""
        self._native.remember(_millis(duration))

    def checkpoint(self, directory) -> None:
        """Checkpoints state, received data and file lists into ``directory``."""
        self._native.checkpoint(os.fspath(directory))

    # -- inputs ----------------------------------------------------------------------------
    def socketTextStream(self, hostname, port, storageLevel=None) -> DStream:
        """Lines (UTF-8, ``\\n``-separated) read from a TCP server."""
        return DStream(self._native.socket_text_stream(str(hostname), int(port)), self)

    def textFileStream(self, directory) -> DStream:
        """Lines of the files that appear in ``directory`` after the start."""
        return DStream(self._native.text_file_stream(os.fspath(directory)), self)

    def queueStream(self, rdds, oneAtATime=True, default=None) -> DStream:
        """One RDD of ``rdds`` (RDDs or lists) per batch, or all in the first batch when
        ``oneAtATime`` is false; then ``default`` each batch."""
        def as_rdd(x):
            return x if isinstance(x, RDD) else self._sc.parallelize(x)

        rdds = list(rdds)
        if not rdds and default is not None:
            # As PySpark (`rdds = [rdds]`): an empty queue with a default first gives one empty
            # batch, then the default.
            rdds = [[]]
        natives = [as_rdd(r)._native() for r in rdds]
        # PySpark hands the JVM an empty RDD of one partition when there is no default (checked
        # on PySpark 3.5.3), so every batch after the queue runs dry is an empty RDD.
        if default is None:
            default = self._sc.parallelize([], 1)
        default = as_rdd(default)._native()
        return DStream(self._native.queue_stream(natives, bool(oneAtATime), default), self)

    def union(self, *dstreams) -> DStream:
        """The union of streams of the same slide."""
        if not dstreams:
            raise ValueError("should have at least one DStream to union")
        if len(dstreams) == 1:
            return dstreams[0]
        if len({s._native_stream().slide_ms() for s in dstreams}) > 1:
            raise ValueError("All DStreams should have same slide duration")
        return DStream(self._native.union([s._native_stream() for s in dstreams]), self)

    def transform(self, dstreams, transformFunc) -> DStream:
        """A stream computed by ``transformFunc(rdds)`` (or ``transformFunc(time, rdds)``) from
        the batches of several streams."""
        dstreams = list(dstreams)
        if not dstreams:
            raise ValueError("should have at least one DStream to transform")
        func = transformFunc
        two = _arity(func) == 2
        ssc = self

        def call(millis, *natives):
            rdds = [RDD(n, ssc._sc) for n in natives]
            out = func(_time(millis), rdds) if two else func(rdds)
            return out._native()

        natives = [s._native_stream() for s in dstreams]
        return DStream(self._native.transform_streams(natives, call), self)

    def addStreamingListener(self, streamingListener) -> None:
        raise NotImplementedError("ember's Python package has no streaming listeners yet")

