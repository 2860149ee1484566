"""``SparkContext``: the entry point for RDDs, and what a ``StreamingContext`` is made from."""

from __future__ import annotations

import threading

from ember import _native
from ember.conf import SparkConf

__all__ = ["SparkContext"]

_LOG_LEVELS = ("ALL", "DEBUG", "ERROR", "FATAL", "INFO", "OFF", "TRACE", "WARN")


class SparkContext:
    """ember's engine context, with PySpark's constructor and methods.

    Only one context runs in a process at a time, as in PySpark; ``SparkContext.getOrCreate``
    returns it.
    """

    _active_spark_context: "SparkContext | None" = None
    _lock = threading.RLock()

    def __init__(self, master=None, appName=None, sparkHome=None, pyFiles=None,
                 environment=None, batchSize=0, serializer=None, conf=None, gateway=None,
                 jsc=None, profiler_cls=None, udf_profiler_cls=None, memory_profiler_cls=None):
        conf = (conf or SparkConf())._copy()
        if master:
            conf.setMaster(master)
        if appName:
            conf.setAppName(appName)
        if sparkHome:
            conf.setSparkHome(sparkHome)
        conf.setIfMissing("spark.master", "local[*]")
        if not conf.contains("spark.app.name"):
            raise RuntimeError("An application name must be set in your configuration")
        with SparkContext._lock:
            active = SparkContext._active_spark_context
            if active is not None:
                raise ValueError(
                    "Cannot run multiple SparkContexts at once; existing SparkContext(app=%s, "
                    "master=%s) created by __init__" % (active.appName, active.master))
            self._conf = conf
            self._native = _native.NativeContext(conf.getAll())
            SparkContext._active_spark_context = self

    @classmethod
    def getOrCreate(cls, conf: SparkConf | None = None) -> "SparkContext":
        """The running context, or a new one made from ``conf``."""
        with cls._lock:
            if cls._active_spark_context is None:
                conf = (conf or SparkConf())._copy()
                conf.setIfMissing("spark.app.name", "ember")
                SparkContext(conf=conf)
            return cls._active_spark_context

    # -- properties ------------------------------------------------------------------------
    @property
    def master(self) -> str:
        return self._conf.get("spark.master")

    @property
    def appName(self) -> str:
        return self._conf.get("spark.app.name")

    @property
    def defaultParallelism(self) -> int:
        return self._native.default_parallelism()

    @property
    def uiWebUrl(self) -> str | None:
        """The URL of the web UI, e.g. ``http://127.0.0.1:4040``, while a StreamingContext on
        this context runs and serves it (``spark.ui.enabled``, on by default); else None. The
        streaming page is at ``<uiWebUrl>/streaming/``, Spark's REST API under
        ``<uiWebUrl>/api/v1/applications`` and Prometheus metrics at ``<uiWebUrl>/metrics``."""
        return self._native.ui_web_url()

    @property
    def applicationId(self) -> str:
        """The application's id, ``local-<start ms>``, as the REST API lists it."""
        return self._native.application_id()

    @property
    def startTime(self) -> int:
        """When this context was made, in ms since the epoch."""
        return self._native.start_time()

    @property
    def defaultMinPartitions(self) -> int:
        return min(self.defaultParallelism, 2)

    @property
    def version(self) -> str:
        from importlib.metadata import version
        return version("ember")

    def getConf(self) -> SparkConf:
        """A copy of the context's settings."""
        return self._conf._copy()

    def setLogLevel(self, logLevel: str) -> None:
        """Sets the level of the engine's log (on stderr): ALL, DEBUG, ERROR, FATAL, INFO, OFF,
        TRACE or WARN, as PySpark accepts them."""
        level = str(logLevel).upper()
        if level not in _LOG_LEVELS:
            raise ValueError(
                "Supplied level %s did not match one of: %s" % (logLevel, ",".join(_LOG_LEVELS)))
        _native.set_log_level(level)

    def setJobGroup(self, groupId, description, interruptOnCancel=False):
        pass

    def setLocalProperty(self, key, value):
        pass

    # -- RDDs ------------------------------------------------------------------------------
    def parallelize(self, c, numSlices: int | None = None):
        """An RDD of the elements of ``c`` cut into ``numSlices`` partitions."""
        from ember.rdd import RDD
        if isinstance(c, range):
            c = list(c)
        n = self.defaultParallelism if numSlices is None else int(numSlices)
        return RDD(_native.NativeRdd.parallelize(self._native, c, max(n, 1)), self)

    def emptyRDD(self):
        from ember.rdd import RDD
        return RDD(_native.NativeRdd.from_partitions(self._native, []), self)

    def range(self, start, end=None, step=1, numSlices=None):
        if end is None:
            start, end = 0, start
        return self.parallelize(range(start, end, step), numSlices)

    def union(self, rdds):
        first, *rest = rdds
        for r in rest:
            first = first.union(r)
        return first

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self) -> None:
        """Stops the context (and any streaming context made from it)."""
        from ember.streaming.context import StreamingContext
        active = StreamingContext._activeContext
        if active is not None and active._sc is self:
            active.stop(stopSparkContext=False)
        self._native.stop()
        with SparkContext._lock:
            if SparkContext._active_spark_context is self:
                SparkContext._active_spark_context = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return "<SparkContext master=%s appName=%s>" % (self.master, self.appName)
