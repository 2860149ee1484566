"""Shared fixtures: one SparkContext per test session (as a notebook has), a StreamingContext
per test that is always stopped, and a collector that waits for batches with a hang guard."""

import threading
import time

import pytest

from ember import SparkConf, SparkContext
from ember.streaming import StreamingContext

# Upper bound for anything a test waits for; reaching it fails the test (it is a hang guard,
# not a performance assertion).
HANG_GUARD_S = 120


@pytest.fixture(scope="session")
def _session_conf():
    # The web UI on any free port: test runs in parallel must not compete for 4040.
    yield SparkConf().setMaster("local[2]").setAppName("ember-tests").set("spark.ui.port", "0")
    active = SparkContext._active_spark_context
    if active is not None:
        active.stop()


@pytest.fixture
def sc(_session_conf):
    # The active context, as a notebook keeps one; made again if a test (the conformance cases,
    # the notebook's stop(stopSparkContext=True)) stopped it, so no test depends on the order.
    return SparkContext.getOrCreate(_session_conf)


@pytest.fixture
def ssc(sc):
    made = []

    def make(batch_s=0.2):
        s = StreamingContext(sc, batch_s)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop(stopSparkContext=False)


class Collector:
    """Gathers each batch's elements of a stream through foreachRDD."""

    def __init__(self, stream, sort=True):
        self.batches = []
        self.times = []
        self._cond = threading.Condition()
        self._sort = sort
        stream.foreachRDD(self._take)

    def _take(self, time_, rdd):
        data = rdd.collect()
        if self._sort:
            data = sorted(data, key=repr)
        with self._cond:
            self.batches.append(data)
            self.times.append(time_)
            self._cond.notify_all()

    def wait(self, n):
        deadline = time.monotonic() + HANG_GUARD_S
        with self._cond:
            while len(self.batches) < n:
                left = deadline - time.monotonic()
                assert left > 0, "hang guard: only %d of %d batches arrived" % (
                    len(self.batches), n)
                self._cond.wait(left)
            return self.batches[:n]


@pytest.fixture
def collect():
    return Collector
