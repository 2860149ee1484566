"""``RDD``: one batch's data, with PySpark's RDD methods.

An ``RDD`` is a native RDD of values (held by the engine as Rust data) plus a pending chain of
Python steps. ``map``, ``filter``, ``flatMap`` and the other narrow steps are fused into one
function per partition, as PySpark's ``PipelinedRDD`` does, and run when an action or a shuffle
needs their result: Python is entered once per partition for the whole chain. Shuffles
(``partitionBy``, ``groupByKey``, ``cogroup``, ``repartition``, ``distinct``) run natively.
"""

from __future__ import annotations

import heapq
import itertools
import operator
import os
from collections import defaultdict
from functools import reduce as _reduce

from ember import _native
from ember.resultiterable import ResultIterable

__all__ = ["RDD"]


def _fuse(prev, f):
    """``f`` after ``prev``, both ``(index, iterator) -> iterator``."""
    if prev is None:
        return f
    return lambda i, it: f(i, prev(i, it))


class RDD:
    """A partitioned collection of elements, as PySpark's RDD."""

    def __init__(self, native, ctx, func=None):
        self._base = native
        self._func = func
        self.ctx = ctx
        self.is_cached = False

    # -- plumbing --------------------------------------------------------------------------
    @property
    def context(self):
        """The :class:`~ember.SparkContext` of this RDD."""
        return self.ctx

    def _native(self):
        """The native RDD with the pending Python steps applied (computed once)."""
        if self._func is not None:
            f = self._func
            self._base = self._base.map_partitions(lambda i, part: f(i, iter(part)))
            self._func = None
        return self._base

    def _new(self, native):
        return RDD(native, self.ctx)

    def _partition(self, i):
        """The elements of partition ``i`` with the pending steps applied, as a list."""
        part = self._base.partition(i)
        return list(self._func(i, iter(part))) if self._func is not None else part

    # -- narrow steps (pipelined) ----------------------------------------------------------
    def mapPartitionsWithIndex(self, f, preservesPartitioning=False):
        return RDD(self._base, self.ctx, _fuse(self._func, f))

    def mapPartitions(self, f, preservesPartitioning=False):
        return self.mapPartitionsWithIndex(lambda _, it: f(it), preservesPartitioning)

    def map(self, f, preservesPartitioning=False):
        return self.mapPartitionsWithIndex(lambda _, it: map(f, it), preservesPartitioning)

    def flatMap(self, f, preservesPartitioning=False):
        return self.mapPartitionsWithIndex(
            lambda _, it: itertools.chain.from_iterable(map(f, it)), preservesPartitioning)

    def filter(self, f):
        return self.mapPartitionsWithIndex(lambda _, it: filter(f, it), True)

    def mapValues(self, f):
        return self.map(lambda kv: (kv[0], f(kv[1])), True)

    def flatMapValues(self, f):
        return self.flatMap(lambda kv: ((kv[0], x) for x in f(kv[1])), True)

    def keys(self):
        return self.map(lambda kv: kv[0])

    def values(self):
        return self.map(lambda kv: kv[1])

    def keyBy(self, f):
        return self.map(lambda x: (f(x), x))

    def glom(self):
        return self.mapPartitions(lambda it: [list(it)])

    def zipWithIndex(self):
        sizes = [len(p) for p in self._native().partitions()]
        starts = list(itertools.accumulate([0] + sizes[:-1]))
        return self.mapPartitionsWithIndex(
            lambda i, it: ((x, starts[i] + j) for j, x in enumerate(it)))

    # -- wide steps (native shuffles) ------------------------------------------------------
    def _parts(self, numPartitions):
        return self.getNumPartitions() if numPartitions is None else int(numPartitions)

    def partitionBy(self, numPartitions, partitionFunc=None):
        """(key, value) pairs into ``numPartitions`` partitions: pair ``(k, v)`` goes to
        ``partitionFunc(k) % numPartitions`` (default ``portable_hash``, as PySpark's)."""
        n = max(int(numPartitions), 1)
        if partitionFunc is None:
            partitionFunc = portable_hash
        buckets = [[] for _ in range(n)]
        for i in range(self._base.num_partitions()):
            for kv in self._partition_iter(i):
                buckets[partitionFunc(kv[0]) % n].append(kv)
        return self._new(_native.NativeRdd.from_partitions(self.ctx._native, buckets))

    def combineByKey(self, createCombiner, mergeValue, mergeCombiners, numPartitions=None,
                     partitionFunc=None):
        n = max(self._parts(numPartitions), 1)

        combine_local = _combine_locally(createCombiner, mergeValue)

        def merge(_, it):
            acc = {}
            for k, c in it:
                acc[k] = mergeCombiners(acc[k], c) if k in acc else c
            return acc.items()

        local = self.mapPartitionsWithIndex(combine_local)
        return self._new(local._native().partition_by(n)).mapPartitionsWithIndex(merge, True)

    def reduceByKey(self, func, numPartitions=None, partitionFunc=None):
        return self.combineByKey(lambda v: v, func, func, numPartitions)

    def foldByKey(self, zeroValue, func, numPartitions=None, partitionFunc=None):
        import copy
        return self.combineByKey(lambda v: func(copy.deepcopy(zeroValue), v), func, func,
                                 numPartitions)

    def aggregateByKey(self, zeroValue, seqFunc, combFunc, numPartitions=None,
                       partitionFunc=None):
        import copy
        return self.combineByKey(lambda v: seqFunc(copy.deepcopy(zeroValue), v), seqFunc,
                                 combFunc, numPartitions)

    def groupByKey(self, numPartitions=None, partitionFunc=None):
        grouped = self._native().group_by_key(self._parts(numPartitions))
        return self._new(grouped).mapValues(ResultIterable)

    def groupBy(self, f, numPartitions=None, partitionFunc=None):
        return self.map(lambda x: (f(x), x)).groupByKey(numPartitions)

    def cogroup(self, other, numPartitions=None):
        grouped = self._native().cogroup(other._native(), numPartitions)
        return self._new(grouped).mapValues(
            lambda vw: (ResultIterable(vw[0]), ResultIterable(vw[1])))

    def _joined(self, other, numPartitions, left_outer, right_outer):
        grouped = self._native().cogroup(other._native(), numPartitions)
        return self._new(grouped).flatMap(_join_rows(left_outer, right_outer), True)

    def join(self, other, numPartitions=None):
        return self._joined(other, numPartitions, False, False)

    def leftOuterJoin(self, other, numPartitions=None):
        return self._joined(other, numPartitions, True, False)

    def rightOuterJoin(self, other, numPartitions=None):
        return self._joined(other, numPartitions, False, True)

    def fullOuterJoin(self, other, numPartitions=None):
        return self._joined(other, numPartitions, True, True)

    def subtractByKey(self, other, numPartitions=None):
        grouped = self._native().cogroup(other._native(), numPartitions)
        return self._new(grouped).flatMap(
            lambda kv: [(kv[0], v) for v in kv[1][0]] if not kv[1][1] else [])

    def union(self, other):
        return self._new(self._native().union(other._native()))

    def repartition(self, numPartitions):
        return self._new(self._native().repartition(max(int(numPartitions), 1)))

    def coalesce(self, numPartitions, shuffle=False):
        if shuffle:
            return self.repartition(numPartitions)
        return self._new(self._native().coalesce(max(int(numPartitions), 1)))

    def distinct(self, numPartitions=None):
        return self._new(self._native().distinct(numPartitions))

    def sortBy(self, keyfunc, ascending=True, numPartitions=None):
        """Sorted by ``keyfunc``; the result keeps the order across its partitions."""
        n = max(self._parts(numPartitions), 1)
        data = sorted(self.collect(), key=keyfunc, reverse=not ascending)
        cut = [data[i * len(data) // n:(i + 1) * len(data) // n] for i in range(n)]
        return self._new(_native.NativeRdd.from_partitions(self.ctx._native, cut))

    def sortByKey(self, ascending=True, numPartitions=None, keyfunc=lambda x: x):
        return self.sortBy(lambda kv: keyfunc(kv[0]), ascending, numPartitions)

    # -- persistence (batches live in memory already) --------------------------------------
    def cache(self):
        self.is_cached = True
        self._native()
        return self

    def persist(self, storageLevel=None):
        return self.cache()

    def unpersist(self, blocking=False):
        self.is_cached = False
        return self

    def checkpoint(self):
        pass

    def isCheckpointed(self):
        return False

    # -- actions ---------------------------------------------------------------------------
    def getNumPartitions(self) -> int:
        return self._base.num_partitions()

    def collect(self):
        """All elements, in partition order."""
        if self._func is None:
            return self._base.collect()
        out = []
        for i in range(self._base.num_partitions()):
            out.extend(self._partition(i))
        return out

    def count(self) -> int:
        if self._func is None:
            return self._base.count()
        return sum(len(self._partition(i)) for i in range(self._base.num_partitions()))

    def take(self, num: int):
        """The first ``num`` elements, computing partitions one at a time until there are enough."""
        out = []
        for i in range(self._base.num_partitions()):
            if len(out) >= num:
                break
            out.extend(itertools.islice(self._partition_iter(i), num - len(out)))
        return out

    def _partition_iter(self, i):
        part = self._base.partition(i)
        return self._func(i, iter(part)) if self._func is not None else iter(part)

    def first(self):
        taken = self.take(1)
        if not taken:
            raise ValueError("RDD is empty")
        return taken[0]

    def isEmpty(self) -> bool:
        return self.getNumPartitions() == 0 or len(self.take(1)) == 0

    def _per_partition(self, f):
        """``f(iterator)`` of every partition, in order."""
        return [f(self._partition_iter(i)) for i in range(self._base.num_partitions())]

    def reduce(self, f):
        sentinel = object()
        vals = [v for v in self._per_partition(lambda it: _reduce_or(f, it, sentinel))
                if v is not sentinel]
        if not vals:
            raise ValueError("Can not reduce() empty RDD")
        return _reduce(f, vals)

    def fold(self, zeroValue, op):
        import copy
        vals = self._per_partition(lambda it: _reduce(op, it, copy.deepcopy(zeroValue)))
        return _reduce(op, vals, zeroValue)

    def aggregate(self, zeroValue, seqOp, combOp):
        import copy
        vals = self._per_partition(lambda it: _reduce(seqOp, it, copy.deepcopy(zeroValue)))
        return _reduce(combOp, vals, zeroValue)

    def sum(self):
        return self.fold(0, operator.add)

    def max(self, key=None):
        return self.reduce(lambda a, b: max(a, b, key=key) if key else max(a, b))

    def min(self, key=None):
        return self.reduce(lambda a, b: min(a, b, key=key) if key else min(a, b))

    def mean(self):
        data = self.collect()
        return sum(data) / len(data) if data else float("nan")

    def top(self, num, key=None):
        return heapq.nlargest(num, self.collect(), key=key)

    def takeOrdered(self, num, key=None):
        return heapq.nsmallest(num, self.collect(), key=key)

    def foreach(self, f):
        def run(it):
            for x in it:
                f(x)
        self._per_partition(run)

    def foreachPartition(self, f):
        self._per_partition(f)

    def countByValue(self):
        counts = defaultdict(int)
        for x in self.collect():
            counts[x] += 1
        return counts

    def countByKey(self):
        return self.map(lambda kv: kv[0]).countByValue()

    def collectAsMap(self):
        return dict(self.collect())

    def lookup(self, key):
        return [v for k, v in self.collect() if k == key]

    def saveAsTextFile(self, path, compressionCodecClass=None):
        """One file ``part-NNNNN`` per partition, each element as ``str(x)`` on its own line,
        and an empty ``_SUCCESS`` file, as Spark writes them."""
        if os.path.exists(path):
            raise FileExistsError("Output directory %s already exists" % path)
        os.makedirs(path)
        for i in range(self._base.num_partitions()):
            with open(os.path.join(path, "part-%05d" % i), "w", encoding="utf-8") as out:
                for x in self._partition_iter(i):
                    out.write(x if isinstance(x, str) else str(x))
                    out.write("\n")
        open(os.path.join(path, "_SUCCESS"), "w").close()

    def toDF(self, schema=None, sampleRatio=None):
        from ember.sql.session import SparkSession
        return SparkSession.builder.getOrCreate().createDataFrame(self, schema)

    def __repr__(self):
        return "RDD[%d partitions]" % self.getNumPartitions()


def _combine_locally(createCombiner, mergeValue):
    """``f(index, iterator)`` combining the (key, value) pairs it sees per key: the map side of
    ``combineByKey``, for RDDs and streams alike."""
    def combine(_, it):
        acc = {}
        for k, v in it:
            acc[k] = mergeValue(acc[k], v) if k in acc else createCombiner(v)
        return acc.items()
    return combine


def _join_rows(left_outer, right_outer):
    """The rows of a join from one cogrouped ``(k, (vs, ws))``; an outer side with no values
    pairs with ``None``. Shared by RDD and DStream joins."""
    def rows(kv):
        k, (vs, ws) = kv
        if not vs and right_outer:
            vs = [None]
        if not ws and left_outer:
            ws = [None]
        return [(k, (v, w)) for v in vs for w in ws]
    return rows


def portable_hash(x) -> int:
    """PySpark's hash of a key, stable across processes for everything but ``str`` and
    ``bytes`` (whose hash depends on PYTHONHASHSEED, as in PySpark)."""
    if x is None:
        return 0
    if isinstance(x, tuple):
        h = 0x345678
        for i in x:
            h ^= portable_hash(i)
            h *= 1000003
            h &= 0xFFFFFFFFFFFFFFFF
        h ^= len(x)
        if h == -1:
            h = -2
        return int(h)
    return hash(x)


def _reduce_or(f, it, empty):
    """``reduce(f, it)``, or ``empty`` for an empty iterator."""
    it = iter(it)
    for first in it:
        return _reduce(f, it, first)
    return empty
