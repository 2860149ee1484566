"""``DStream``: a stream of batches, with every method of PySpark's ``DStream``.

Consecutive Python steps (``map``, ``flatMap``, ``filter``, ``mapPartitions``, ...) are fused
into one function per partition before they reach the engine, as PySpark's ``PipelinedDStream``
does, so the engine enters Python once per partition per batch for the whole chain. Shuffles,
windows, state and unions run natively; ``reduceByKey(operator.add)`` and the counting windows
add natively too.
"""

from __future__ import annotations

import datetime
import inspect
import itertools
import operator
from functools import reduce as _reduce

from ember import _recognize
from ember.rdd import RDD, _combine_locally, _fuse, _join_rows
from ember.resultiterable import ResultIterable

__all__ = ["DStream", "MapWithStateDStream"]


def _arity(f) -> int:
    """The number of positional parameters of ``f`` (PySpark reads ``f.__code__.co_argcount``;
    this also works for builtins and ``functools.partial``)."""
    code = getattr(f, "__code__", None)
    if code is not None and not inspect.ismethod(f):
        return code.co_argcount
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return 1
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _time(millis):
    return datetime.datetime.fromtimestamp(millis / 1000.0)


def _millis(seconds) -> int:
    """A duration in seconds (int or float, as PySpark takes them) in milliseconds."""
    return int(round(float(seconds) * 1000))


def _native_op(f):
    """The name of a binary function the engine computes itself, or None."""
    return _recognize.binary(f)


class DStream:
    """A discretized stream: one RDD per batch."""

    def __init__(self, native, ssc, prev=None, func=None, whole=True):
        # Either a native stream, or a native parent and pending Python steps. `whole` says
        # whether some pending step needs each partition whole (mapPartitions, glom); a chain of
        # element-wise steps runs on runs of elements as they arrive instead, so that no batch
        # is held in memory.
        self._native = native
        self._prev = prev
        self._func = func
        self._whole = whole
        self._ssc = ssc
        self._sc = ssc._sc
        self.is_cached = False
        self.is_checkpointed = False

    def _native_stream(self):
        if self._native is None:
            f = self._func
            if self._whole:
                self._native = self._prev.map_partitions(lambda i, part: f(i, iter(part)))
            else:
                self._native = self._prev.map_runs(lambda i, run: f(i, iter(run)))
        return self._native

    def context(self):
        """The :class:`StreamingContext` of this stream."""
        return self._ssc

    def _slide_ms(self) -> int:
        return (self._native if self._native is not None else self._prev).slide_ms()

    # -- narrow steps (fused) --------------------------------------------------------------
    def _pipe(self, f, whole):
        """``f(index, iterator)`` after the pending steps, fused with them when possible."""
        if self._native is None and not (self.is_cached or self.is_checkpointed):
            return DStream(None, self._ssc, self._prev, _fuse(self._func, f),
                           whole or self._whole)
        return DStream(None, self._ssc, self._native_stream(), f, whole)

    def mapPartitionsWithIndex(self, f, preservesPartitioning=False):
        return self._pipe(f, True)

    def mapPartitions(self, f, preservesPartitioning=False):
        return self.mapPartitionsWithIndex(lambda _, it: f(it), preservesPartitioning)

    def _native_step(self, f):
        """The engine's own form of ``f`` when it has one and no Python step is pending
        (see ember._recognize), else None."""
        return _recognize.unary(f) if self._func is None else None

    def map(self, f, preservesPartitioning=False):
        step = self._native_step(f)
        if step is not None and step[0] == "pair_with":
            return DStream(self._native_stream().pair_with(step[1]), self._ssc)
        return self._pipe(lambda _, it: map(f, it), False)

    def flatMap(self, f, preservesPartitioning=False):
        step = self._native_step(f)
        if step is not None and step[0] == "split":
            return DStream(self._native_stream().split(step[1], f), self._ssc)
        return self._pipe(lambda _, it: itertools.chain.from_iterable(map(f, it)), False)

    def filter(self, f):
        return self._pipe(lambda _, it: filter(f, it), False)

    def glom(self):
        return self.mapPartitions(lambda it: [list(it)])

    def mapValues(self, f):
        return self.map(lambda kv: (kv[0], f(kv[1])), True)

    def flatMapValues(self, f):
        return self.flatMap(lambda kv: ((kv[0], x) for x in f(kv[1])), True)

    # -- aggregations ----------------------------------------------------------------------
    def reduce(self, func):
        """One element per batch: the batch reduced with ``func``."""
        return self.map(lambda x: (None, x)).reduceByKey(func, 1).map(lambda kv: kv[1])

    def count(self):
        """One element per batch: its number of elements."""
        return self.mapPartitions(lambda it: [sum(1 for _ in it)]).reduce(operator.add)

    def countByValue(self):
        """``(value, count)`` per distinct value of each batch."""
        return self.map(lambda x: (x, 1)).reduceByKey(operator.add)

    def _partitions(self, numPartitions):
        return None if numPartitions is None else max(int(numPartitions), 1)

    def reduceByKey(self, func, numPartitions=None):
        """``(key, value)`` pairs of each batch reduced per key with ``func``."""
        native = _native_op(func)
        if native is not None:
            return DStream(self._native_stream().reduce_by_key(func, native,
                                                               self._partitions(numPartitions)),
                           self._ssc)
        # Combine within each partition in Python, shuffle natively, merge in Python: one entry
        # into Python per partition on each side, as PySpark's combineByKey.
        return self.combineByKey(lambda v: v, func, func, numPartitions)

    def combineByKey(self, createCombiner, mergeValue, mergeCombiners, numPartitions=None):
        combine_local = _combine_locally(createCombiner, mergeValue)

        def merge(_, it):
            return ((k, _reduce(mergeCombiners, cs)) for k, cs in it)

        # Combining within each run of arriving elements is as correct as within the whole
        # partition (the merge after the shuffle combines the runs' combiners) and holds no
        # batch in memory.
        local = self._pipe(combine_local, False)
        grouped = local._native_stream().group_by_key(self._partitions(numPartitions))
        return DStream(None, self._ssc, grouped, merge, False)

    def groupByKey(self, numPartitions=None):
        grouped = self._native_stream().group_by_key(self._partitions(numPartitions))
        return DStream(grouped, self._ssc).mapValues(ResultIterable)

    def partitionBy(self, numPartitions, partitionFunc=None):
        return self.transform(lambda rdd: rdd.partitionBy(numPartitions, partitionFunc))

    def repartition(self, numPartitions):
        return DStream(self._native_stream().repartition(max(int(numPartitions), 1)), self._ssc)

    # -- joins -----------------------------------------------------------------------------
    def _check_same_slide(self, other):
        if self._slide_ms() != other._slide_ms():
            raise ValueError("the two DStream should have same slide duration")

    def _cogrouped(self, other, numPartitions):
        self._check_same_slide(other)
        return DStream(self._native_stream().cogroup(other._native_stream(),
                                                     self._partitions(numPartitions)), self._ssc)

    def cogroup(self, other, numPartitions=None):
        return self._cogrouped(other, numPartitions).mapValues(
            lambda vw: (ResultIterable(vw[0]), ResultIterable(vw[1])))

    def _joined(self, other, numPartitions, left_outer, right_outer):
        rows = _join_rows(left_outer, right_outer)
        return self._cogrouped(other, numPartitions).flatMap(rows, True)

    def join(self, other, numPartitions=None):
        return self._joined(other, numPartitions, False, False)

    def leftOuterJoin(self, other, numPartitions=None):
        return self._joined(other, numPartitions, True, False)

    def rightOuterJoin(self, other, numPartitions=None):
        return self._joined(other, numPartitions, False, True)

    def fullOuterJoin(self, other, numPartitions=None):
        return self._joined(other, numPartitions, True, True)

    def union(self, other):
        self._check_same_slide(other)
        return DStream(self._native_stream().union(other._native_stream()), self._ssc)

    # -- RDD-level functions ---------------------------------------------------------------
    def transform(self, func):
        """The stream of ``func(rdd)`` or ``func(time, rdd)`` of every batch."""
        n = _arity(func)
        if n == 1:
            old = func
            func = lambda t, rdd: old(rdd)  # noqa: E731
        elif n != 2:
            raise AssertionError("func should take one or two arguments")
        sc = self._sc

        def call(millis, native):
            return func(_time(millis), RDD(native, sc))._native()

        return DStream(self._native_stream().transform(call), self._ssc)

    def transformWith(self, func, other, keepSerializer=False):
        """The stream of ``func(rdd_a, rdd_b)`` or ``func(time, rdd_a, rdd_b)``."""
        n = _arity(func)
        if n == 2:
            old = func
            func = lambda t, a, b: old(a, b)  # noqa: E731
        elif n != 3:
            raise AssertionError("func should take two or three arguments")
        self._check_same_slide(other)
        sc = self._sc

        def call(millis, a, b):
            return func(_time(millis), RDD(a, sc), RDD(b, sc))._native()

        return DStream(self._native_stream().transform_with(other._native_stream(), call),
                       self._ssc)

    def foreachRDD(self, func):
        """Runs ``func(rdd)`` or ``func(time, rdd)`` on every batch (an output operation)."""
        if _arity(func) == 1:
            old = func
            func = lambda t, rdd: old(rdd)  # noqa: E731
        sc = self._sc

        def call(millis, native):
            func(_time(millis), RDD(native, sc))

        self._native_stream().foreach_rdd(call)

    def pprint(self, num=10):
        """Prints the first ``num`` elements of every batch to ``sys.stdout``, as PySpark does."""
        def take_and_print(time, rdd):
            taken = rdd.take(num + 1)
            print("-------------------------------------------")
            print("Time: %s" % time)
            print("-------------------------------------------")
            for record in taken[:num]:
                print(record)
            if len(taken) > num:
                print("...")
            print("")

        self.foreachRDD(take_and_print)

    def saveAsTextFiles(self, prefix, suffix=None):
        """Every batch into the directory ``prefix-<time in ms>[.suffix]``."""
        def save(time, rdd):
            path = "%s-%d" % (prefix, int(time.timestamp() * 1000))
            if suffix:
                path += "." + suffix
            try:
                rdd.saveAsTextFile(path)
            except FileExistsError:
                pass  # a batch re-run after recovery: its output is already there

        self.foreachRDD(save)

    # -- persistence and checkpoints -------------------------------------------------------
    def cache(self):
        self.is_cached = True
        return self

    def persist(self, storageLevel=None):
        return self.cache()

    def checkpoint(self, interval):
        """Checkpoints this stream every ``interval`` seconds (a multiple of its slide)."""
        self.is_checkpointed = True
        self._native_stream().checkpoint(_millis(interval))
        return self

    def slice(self, begin, end):
        """The RDDs of the batches from ``begin`` to ``end`` (``datetime`` or seconds since the
        epoch), both included."""
        def ms(t):
            if isinstance(t, datetime.datetime):
                return int(t.timestamp() * 1000)
            return int(float(t) * 1000)

        return [RDD(n, self._sc) for n in self._native_stream().slice(ms(begin), ms(end))]

    # -- windows ---------------------------------------------------------------------------
    def _validate_window_param(self, window, slide):
        duration = self._slide_ms()
        if _millis(window) % duration != 0:
            raise ValueError("windowDuration must be multiple of the parent dstream's slide "
                             "(batch) duration (%d ms)" % duration)
        if slide and _millis(slide) % duration != 0:
            raise ValueError("slideDuration must be multiple of the parent dstream's slide "
                             "(batch) duration (%d ms)" % duration)

    def window(self, windowDuration, slideDuration=None):
        """The union of the batches of the last ``windowDuration`` seconds, every
        ``slideDuration`` seconds (default: every batch)."""
        self._validate_window_param(windowDuration, slideDuration)
        slide = self._slide_ms() if slideDuration is None else _millis(slideDuration)
        return DStream(self._native_stream().window(_millis(windowDuration), slide), self._ssc)

    def reduceByWindow(self, reduceFunc, invReduceFunc, windowDuration, slideDuration):
        keyed = self.map(lambda x: (1, x))
        reduced = keyed.reduceByKeyAndWindow(reduceFunc, invReduceFunc, windowDuration,
                                             slideDuration, 1)
        return reduced.map(lambda kv: kv[1])

    def countByWindow(self, windowDuration, slideDuration):
        return self.map(lambda x: 1).reduceByWindow(operator.add, operator.sub,
                                                    windowDuration, slideDuration)

    def countByValueAndWindow(self, windowDuration, slideDuration, numPartitions=None):
        keyed = self.map(lambda x: (x, 1))
        counted = keyed.reduceByKeyAndWindow(operator.add, operator.sub, windowDuration,
                                             slideDuration, numPartitions)
        return counted.filter(lambda kv: kv[1] > 0)

    def groupByKeyAndWindow(self, windowDuration, slideDuration, numPartitions=None):
        ls = self.mapValues(lambda x: [x])
        grouped = ls.reduceByKeyAndWindow(lambda a, b: a.extend(b) or a,
                                          lambda a, b: a[len(b):], windowDuration,
                                          slideDuration, numPartitions)
        return grouped.mapValues(ResultIterable)

    def reduceByKeyAndWindow(self, func, invFunc, windowDuration, slideDuration=None,
                             numPartitions=None, filterFunc=None):
        """``(key, value)`` pairs reduced per key over a sliding window. With ``invFunc``, each
        window is the previous one plus the new batches minus the old ones (keys stay, at their
        "zero", unless ``filterFunc`` drops them), as Spark computes it."""
        self._validate_window_param(windowDuration, slideDuration)
        reduced = self.reduceByKey(func, numPartitions)
        slide = self._slide_ms() if slideDuration is None else _millis(slideDuration)
        window = _millis(windowDuration)
        if invFunc is None or window < 5 * slide:
            # PySpark computes a window incrementally (with invFunc) only when it spans at least
            # five slides; a shorter one is reduced from its batches, so keys whose values
            # left the window disappear instead of staying at their "zero".
            whole = reduced.window(windowDuration, slide / 1000.0).reduceByKey(func,
                                                                               numPartitions)
            if invFunc is None:
                return whole
            # With invFunc PySpark's stream is checkpointed whatever its length (so a checkpoint
            # directory is required), every multiple of the slide of at least 10 s.
            whole = whole.filter(filterFunc) if filterFunc else whole
            return whole.checkpoint(slide * -(-10000 // slide) / 1000.0)
        native = reduced._native_stream().reduce_by_key_and_window_inv(
            func, _native_op(func), invFunc, _native_op(invFunc), _millis(windowDuration),
            slide, self._partitions(numPartitions), filterFunc)
        return DStream(native, self._ssc)

    # -- state -----------------------------------------------------------------------------
    def updateStateByKey(self, updateFunc, numPartitions=None, initialRDD=None):
        """Keeps a state per key: every batch, ``updateFunc(new_values, last_state)`` for every
        key with new values or a state; returning ``None`` removes the key."""
        if initialRDD is not None and not isinstance(initialRDD, RDD):
            initialRDD = self._sc.parallelize(initialRDD)
        initial = initialRDD._native() if initialRDD is not None else None

        def update_partition(rows):
            out = []
            for key, values, state in rows:
                new = updateFunc(values, state)
                if new is not None:
                    out.append((key, new))
            return out

        native = self._native_stream().update_state_by_key(
            update_partition, self._partitions(numPartitions), initial,
            _recognize.update(updateFunc))
        return DStream(native, self._ssc)

    def mapWithState(self, spec):
        """A state per key that ``spec``'s function reads and changes for every record,
        emitting what it returns (an ember extension: Scala's ``mapWithState``; see
        :mod:`ember.streaming.state`). Keys without records cost nothing in a batch, unless
        they time out. Needs ``ssc.checkpoint(dir)``, as ``updateStateByKey``."""
        from ember.streaming.state import StateSpec

        if not isinstance(spec, StateSpec):
            raise TypeError("mapWithState takes a StateSpec, e.g. StateSpec.function(f)")
        initial = spec._initial
        if initial is not None and not isinstance(initial, RDD):
            initial = self._sc.parallelize(initial)
        timeout_ms = None if spec._timeout_s is None else _millis(spec._timeout_s)
        native = self._native_stream().map_with_state(
            spec._batch_function(), spec._partitions,
            initial._native() if initial is not None else None, timeout_ms)
        return MapWithStateDStream(native, self._ssc)


class MapWithStateDStream(DStream):
    """The stream of :meth:`DStream.mapWithState`: what the function emitted, and through
    :meth:`stateSnapshots` every key's state."""

    def __init__(self, native_state, ssc):
        super().__init__(native_state.stream(), ssc)
        self._state = native_state

    def stateSnapshots(self):
        """``(key, state)`` of every key after each batch (this costs in proportion to the
        whole state every batch)."""
        return DStream(self._state.state_snapshots(), self._ssc)

    def checkpoint(self, interval):
        """Checkpoint the state every ``interval`` seconds."""
        self._state.checkpoint(_millis(interval))
        self.is_checkpointed = True
        return self
