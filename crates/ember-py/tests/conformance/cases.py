"""Conformance cases for the DStream API, recorded from real PySpark 3.5.3.

Every case's `build(ssc, sc, inputs)` uses only the PySpark API through the
objects it is handed (no `pyspark` import), so the same function runs on
PySpark and on ember; `runner.run_case` feeds `inputs` from `queueStream`s and
collects the returned DStream. `record.py` writes what PySpark produced to
`expected/<name>.json`.

Durations are multiples of `B`, the batch duration every case uses unless it
says otherwise. `B` is 0.5 s, as in PySpark's own streaming tests: PySpark
accepts fractional seconds (`Duration(int(seconds * 1000))`), and 0.5 is exact
in binary floating point so `int(k * B * 1000)` never rounds.

Values are compared by `repr`, so every case turns unordered collections that
have no stable `repr` (the `ResultIterable`s of groupByKey and cogroup) into
sorted lists before they are collected.
"""

import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

B = 0.5  # seconds: the batch duration of every case unless `batch_duration` is given


@dataclass
class Case:
    name: str
    # One list of batches per input stream; a batch is a list of elements.
    inputs: List[List[List[Any]]]
    # build(ssc, sc, inputs) -> DStream to collect (may raise for error cases).
    build: Callable
    # How many outputs of the returned stream to collect (one per slide).
    batches: int
    # Whether the order of elements inside a batch is part of the result.
    ordered: bool = False
    batch_duration: float = B
    # Set ssc.checkpoint(<temporary directory>) before building.
    checkpoint: bool = False
    # Per input stream: None = queueStream(list of lists) (sc.parallelize with
    # the default parallelism), or n = queueStream of sc.parallelize(batch, n).
    partitions: Optional[List[Optional[int]]] = None
    # Per input stream keyword arguments of queueStream (oneAtATime, default).
    queue_kwargs: Optional[List[Dict[str, Any]]] = None
    # 2: collect with foreachRDD(lambda t, rdd: ...); 1: foreachRDD(lambda rdd: ...).
    foreach_arity: int = 2
    # Run on a new SparkContext: ssc.checkpoint(dir) also sets the
    # SparkContext's checkpoint directory, which outlives the StreamingContext,
    # and PySpark's start() only checks the SparkContext's.
    fresh_context: bool = False
    # Non-empty when the recorded behaviour is an accident of PySpark's
    # implementation rather than a documented rule (says which).
    quirk: str = ""
    doc: str = ""


def w(k):
    """k batches, in seconds (window and slide durations)."""
    return k * B


# Shared inputs ---------------------------------------------------------------

NUMS = [[1, 2, 3, 4, 5], [6, 7], [], [8, 9, 10, 11]]
WORDS = [["hello world", "hello ember"], ["a b c", ""], [], ["spark streaming spark"]]
PAIRS = [
    [("a", 1), ("b", 2), ("a", 3)],
    [("b", 4), ("c", 5)],
    [],
    [("a", 6), ("a", 7), ("c", 8), ("d", 9)],
]
PAIRS2 = [
    [("a", "x"), ("c", "y"), ("a", "z")],
    [("b", "u")],
    [("a", "v")],
    [],
]
MIXED = [
    ["s", 1, 2.5, None, ("t", 2), ("n", ("e", 3.0)), -7, True],
    [0.1, 1e20, float("inf"), "", "quote'\"", "üñí"],
]
# Window inputs: one batch per B, enough batches to see windows fill and drain.
WIN = [[1], [2, 3], [4], [], [5, 6], [7], [], [], [], [], [], []]
WIN_KEYS = [
    ["a"],
    ["a", "b"],
    ["b"],
    [],
    ["a", "c", "c"],
    ["c"],
    [],
    [],
    [],
    [],
    [],
    [],
]
WIN_PAIRS = [[(k, 1) for k in batch] for batch in WIN_KEYS]
STATE = [
    [("a", 1), ("b", 1)],
    [("a", 1)],
    [],
    [("b", 5), ("c", 1)],
    [("a", 1)],
]


def _sorted_values(s):
    return s.mapValues(lambda vs: sorted(vs))


def _sum_state(new_values, state):
    return sum(new_values) + (state or 0)


CASES: List[Case] = []


def case(*args, **kwargs):
    CASES.append(Case(*args, **kwargs))


# Element-wise ----------------------------------------------------------------

case("map", [NUMS], lambda ssc, sc, i: i[0].map(lambda x: x * 2), 4, ordered=True)
case(
    "map_to_tuples",
    [NUMS],
    lambda ssc, sc, i: i[0].map(lambda x: (x, str(x), x / 2, None, (x, [x]))),
    4,
    ordered=True,
)
case("map_mixed_values", [MIXED], lambda ssc, sc, i: i[0].map(lambda x: x), 2, ordered=True,
     doc="repr of strings, ints, floats (inf, 1e20), None, bools, nested tuples, unicode")
case("flatMap", [WORDS], lambda ssc, sc, i: i[0].flatMap(lambda l: l.split(" ")), 4, ordered=True,
     doc="''.split(' ') is [''], so an empty line yields one empty word")
case("flatMap_generator", [NUMS], lambda ssc, sc, i: i[0].flatMap(lambda x: (x for _ in range(x % 3))), 4,
     ordered=True)
case("filter", [NUMS], lambda ssc, sc, i: i[0].filter(lambda x: x % 2 == 0), 4, ordered=True)
case("mapPartitions", [NUMS], lambda ssc, sc, i: i[0].mapPartitions(lambda it: [sum(it)]), 4, ordered=True,
     doc="shows the partitioning of queueStream(list) = sc.parallelize(batch) with spark.default.parallelism=2")
case("mapPartitions_3_slices", [NUMS], lambda ssc, sc, i: i[0].mapPartitions(lambda it: [list(it)]), 4,
     ordered=True, partitions=[3])
case("mapPartitionsWithIndex", [NUMS],
     lambda ssc, sc, i: i[0].mapPartitionsWithIndex(lambda idx, it: [(idx, list(it))]), 4, ordered=True)
case("glom", [NUMS], lambda ssc, sc, i: i[0].glom(), 4, ordered=True)
case("glom_1_slice", [NUMS], lambda ssc, sc, i: i[0].glom(), 4, ordered=True, partitions=[1])

# Per-batch aggregates ----------------------------------------------------------

case("reduce", [NUMS], lambda ssc, sc, i: i[0].reduce(operator.add), 4,
     doc="an empty batch gives an empty output, not the identity")
case("reduce_max", [NUMS], lambda ssc, sc, i: i[0].reduce(max), 4)
case("count", [NUMS], lambda ssc, sc, i: i[0].count(), 4)
case("count_empty_1_slice", [[[], [1]]], lambda ssc, sc, i: i[0].count(), 2, partitions=[1])
case("countByValue", [WIN_KEYS[:6]], lambda ssc, sc, i: i[0].countByValue(), 6)

# Combining streams and re-partitioning ------------------------------------------

case("union", [NUMS, [[100], [], [200, 300], [400]]], lambda ssc, sc, i: i[0].union(i[1]), 4)
case("union_ordered", [NUMS, [[100], [], [200, 300], [400]]], lambda ssc, sc, i: i[0].union(i[1]), 4,
     ordered=True, doc="RDD.union keeps the left partitions first")
case("repartition", [NUMS], lambda ssc, sc, i: i[0].repartition(3), 4)
case("repartition_num_partitions", [NUMS], lambda ssc, sc, i: i[0].repartition(3).glom().count(), 4)
case("ssc_union", [NUMS, [[100], [], [200, 300], [400]], [["x"], ["y"], [], []]],
     lambda ssc, sc, i: ssc.union(*[s.map(lambda x: x) for s in i]), 4,
     doc="mapped first: ssc.union of the queueStreams themselves fails (see error_ssc_union_queue_streams)")
case("ssc_union_single", [NUMS], lambda ssc, sc, i: ssc.union(i[0]), 4)

# transform / transformWith / foreachRDD ---------------------------------------------

case("transform_rdd", [NUMS], lambda ssc, sc, i: i[0].transform(lambda rdd: rdd.map(lambda x: x + 1)), 4)
case("transform_sortBy", [NUMS],
     lambda ssc, sc, i: i[0].transform(lambda rdd: rdd.sortBy(lambda x: -x)), 4, ordered=True)
case(
    "transform_time_rdd",
    [NUMS],
    lambda ssc, sc, i: i[0].transform(
        lambda t, rdd: rdd.map(
            lambda x, t=t: (x, type(t).__name__, t.tzinfo is None, round(t.timestamp() * 1000) % 500)
        )
    ),
    4,
    doc="time is a naive datetime on the batch grid (epoch ms a multiple of the batch duration)",
)
case("transform_chained", [NUMS],
     lambda ssc, sc, i: i[0].transform(lambda rdd: rdd.map(lambda x: x * 10))
     .transform(lambda t, rdd: rdd.union(rdd))
     .transform(lambda rdd: rdd.filter(lambda x: x > 20)), 4)
case("transform_context", [NUMS],
     lambda ssc, sc, i: i[0].transform(lambda rdd: rdd.context.parallelize([rdd.count()])), 4)
case("transformWith", [PAIRS, PAIRS2],
     lambda ssc, sc, i: i[0].transformWith(lambda a, b: a.join(b).mapValues(lambda vw: vw), i[1]), 4)
case("transformWith_time", [NUMS, [[100], [], [200, 300], [400]]],
     lambda ssc, sc, i: i[0].transformWith(
         lambda t, a, b: a.union(b).map(lambda x, t=t: (x, type(t).__name__)), i[1]), 4)
case("foreachRDD_rdd_only", [NUMS], lambda ssc, sc, i: i[0].map(lambda x: -x), 4, foreach_arity=1,
     doc="collected with foreachRDD(lambda rdd: ...); batch index = call order")
case("ssc_transform", [NUMS, [[100], [], [200, 300], [400]]],
     lambda ssc, sc, i: ssc.transform(
         [i[0], i[1]],
         lambda rdds: rdds[0].map(lambda x: ("l", x)).union(rdds[1].map(lambda x: ("r", x)))), 4)
case("ssc_transform_pairs", [PAIRS, PAIRS2],
     lambda ssc, sc, i: ssc.transform([i[0], i[1]], lambda rdds: rdds[0].cogroup(rdds[1])
                                      .mapValues(lambda vw: (sorted(vw[0]), sorted(vw[1])))), 4)
case("context_is_ssc", [NUMS],
     lambda ssc, sc, i: i[0].map(lambda x: x) if i[0].context() is ssc else None, 1,
     doc="DStream.context() returns the StreamingContext itself")
case("cache", [NUMS], lambda ssc, sc, i: i[0].map(lambda x: x + 1).cache().map(lambda x: x * 2), 4)
case("checkpoint_interval", [STATE],
     lambda ssc, sc, i: i[0].updateStateByKey(_sum_state).checkpoint(w(2)), 5, checkpoint=True)

# Pair operations ------------------------------------------------------------------

case("mapValues", [PAIRS], lambda ssc, sc, i: i[0].mapValues(lambda v: v * 10), 4, ordered=True)
case("flatMapValues", [PAIRS], lambda ssc, sc, i: i[0].flatMapValues(lambda v: range(v % 3)), 4,
     ordered=True)
case("groupByKey", [PAIRS], lambda ssc, sc, i: _sorted_values(i[0].groupByKey()), 4)
case("groupByKey_value_type", [PAIRS],
     lambda ssc, sc, i: i[0].groupByKey().mapValues(lambda vs: (type(vs).__name__, len(vs))), 4,
     doc="values are pyspark.resultiterable.ResultIterable (has len)")
case("groupByKey_numPartitions", [PAIRS], lambda ssc, sc, i: i[0].groupByKey(3).glom().count(), 4)
case("reduceByKey", [PAIRS], lambda ssc, sc, i: i[0].reduceByKey(operator.add), 4)
case("reduceByKey_numPartitions", [PAIRS],
     lambda ssc, sc, i: i[0].reduceByKey(operator.add, 1).glom().map(sorted), 4)
case("combineByKey", [PAIRS],
     lambda ssc, sc, i: i[0].combineByKey(
         lambda v: (v, 1), lambda c, v: (c[0] + v, c[1] + 1), lambda a, b: (a[0] + b[0], a[1] + b[1])), 4)
case("partitionBy", [[[(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")], [(10, "x")]]],
     lambda ssc, sc, i: i[0].partitionBy(2).glom().map(sorted), 2, ordered=True,
     doc="int keys: portable_hash(k) = hash(k), so partition = k % 2")
case("partitionBy_func", [[[(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")], [(10, "x")]]],
     lambda ssc, sc, i: i[0].partitionBy(3, lambda k: k * 7).glom().map(sorted), 2, ordered=True)
case("cogroup", [PAIRS, PAIRS2],
     lambda ssc, sc, i: i[0].cogroup(i[1]).mapValues(lambda vw: (sorted(vw[0]), sorted(vw[1]))), 4)
case("join", [PAIRS, PAIRS2], lambda ssc, sc, i: i[0].join(i[1]), 4)
case("leftOuterJoin", [PAIRS, PAIRS2], lambda ssc, sc, i: i[0].leftOuterJoin(i[1]), 4)
case("rightOuterJoin", [PAIRS, PAIRS2], lambda ssc, sc, i: i[0].rightOuterJoin(i[1]), 4)
case("fullOuterJoin", [PAIRS, PAIRS2], lambda ssc, sc, i: i[0].fullOuterJoin(i[1]), 4)
case("join_numPartitions", [PAIRS, PAIRS2], lambda ssc, sc, i: i[0].join(i[1], 3).glom().count(), 4)

# Windows ---------------------------------------------------------------------------

case("window", [WIN], lambda ssc, sc, i: i[0].window(w(3)), 10, doc="default slide = batch")
case("window_slide2", [WIN], lambda ssc, sc, i: i[0].window(w(3), w(2)), 5,
     doc="outputs only at every 2nd batch (batch index 2, 4, ...)")
case("window_tumbling", [WIN], lambda ssc, sc, i: i[0].window(w(2), w(2)), 5)
case("window_smaller_than_slide", [WIN], lambda ssc, sc, i: i[0].window(w(1), w(3)), 3)
case("reduceByWindow", [WIN], lambda ssc, sc, i: i[0].reduceByWindow(operator.add, None, w(3), w(1)), 10)
case("reduceByWindow_inv_small", [WIN],
     lambda ssc, sc, i: i[0].reduceByWindow(operator.add, operator.sub, w(3), w(1)), 10, checkpoint=True,
     doc="window < 5 slides: PySpark recomputes from the window instead of using invFunc")
case("reduceByWindow_inv_large", [WIN],
     lambda ssc, sc, i: i[0].reduceByWindow(operator.add, operator.sub, w(5), w(1)), 12, checkpoint=True,
     doc="window >= 5 slides: incremental with invFunc")
case("countByWindow_small", [WIN], lambda ssc, sc, i: i[0].countByWindow(w(2), w(1)), 10, checkpoint=True)
case("countByWindow_large", [WIN], lambda ssc, sc, i: i[0].countByWindow(w(5), w(1)), 12, checkpoint=True)
case("countByWindow_slide2", [WIN], lambda ssc, sc, i: i[0].countByWindow(w(4), w(2)), 6, checkpoint=True)
case("reduceByKeyAndWindow", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, None, w(3)), 10)
case("reduceByKeyAndWindow_slide2", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, None, w(3), w(2)), 5)
case("reduceByKeyAndWindow_inv_small", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, operator.sub, w(3), w(1)), 10,
     checkpoint=True)
case("reduceByKeyAndWindow_inv_large", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, operator.sub, w(5), w(1)), 12,
     checkpoint=True, doc="incremental: keys whose count returns to 0 stay in the output")
case("reduceByKeyAndWindow_inv_large_filter", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, operator.sub, w(5), w(1),
                                                  filterFunc=lambda kv: kv[1] > 0), 12, checkpoint=True)
case("reduceByKeyAndWindow_inv_small_filter", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, operator.sub, w(2), w(1), None,
                                                  lambda kv: kv[0] != "b"), 10, checkpoint=True)
case("reduceByKeyAndWindow_numPartitions", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, None, w(2), w(1), 3).glom().count(), 6)
case("reduceByKeyAndWindow_inv_default_slide", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, operator.sub, w(6)), 12, checkpoint=True)
case("groupByKeyAndWindow", [WIN_PAIRS],
     lambda ssc, sc, i: _sorted_values(i[0].groupByKeyAndWindow(w(2), w(1))), 10, checkpoint=True)
case("groupByKeyAndWindow_large", [WIN_PAIRS],
     lambda ssc, sc, i: _sorted_values(i[0].groupByKeyAndWindow(w(5), w(1))), 12, checkpoint=True)
case("countByValueAndWindow", [WIN_KEYS], lambda ssc, sc, i: i[0].countByValueAndWindow(w(2), w(1)), 10,
     checkpoint=True)
case("countByValueAndWindow_large", [WIN_KEYS],
     lambda ssc, sc, i: i[0].countByValueAndWindow(w(5), w(1)), 12, checkpoint=True,
     doc="zero counts are filtered out (kv[1] > 0)")

# updateStateByKey -------------------------------------------------------------------

case("updateStateByKey", [STATE], lambda ssc, sc, i: i[0].updateStateByKey(_sum_state), 7, checkpoint=True,
     doc="every known key is output every batch, also in batches without new values")
case("updateStateByKey_args", [STATE],
     lambda ssc, sc, i: i[0].updateStateByKey(
         lambda vs, s: (type(vs).__name__, sorted(vs), s is None, s[3] + 1 if s else 1)), 5, checkpoint=True,
     doc="new values arrive as a list, the first state as None")
case("updateStateByKey_initialRDD", [STATE],
     lambda ssc, sc, i: i[0].updateStateByKey(_sum_state, initialRDD=sc.parallelize([("a", 100), ("z", 7)])),
     5, checkpoint=True)
case("updateStateByKey_initial_list", [STATE],
     lambda ssc, sc, i: i[0].updateStateByKey(_sum_state, initialRDD=[("b", 50)]), 5, checkpoint=True)
case("updateStateByKey_none_deletes", [STATE],
     lambda ssc, sc, i: i[0].updateStateByKey(
         lambda vs, s: None if sum(vs) + (s or 0) >= 3 else sum(vs) + (s or 0)), 6, checkpoint=True,
     doc="returning None removes the key; it starts again from None later")
case("updateStateByKey_numPartitions", [STATE],
     lambda ssc, sc, i: i[0].updateStateByKey(_sum_state, 3).glom().count(), 4, checkpoint=True)
case("updateStateByKey_numPartitions_values", [STATE],
     lambda ssc, sc, i: i[0].updateStateByKey(_sum_state, numPartitions=3), 5, checkpoint=True)

# queueStream variants ------------------------------------------------------------------

case("queueStream_all_at_once", [NUMS], lambda ssc, sc, i: i[0], 3, queue_kwargs=[{"oneAtATime": False}],
     doc="the first batch takes every queued RDD, later batches are empty")
case("queueStream_default", [NUMS[:2]], lambda ssc, sc, i: i[0], 4, queue_kwargs=[{"default": ["d", "e"]}],
     doc="once the queue is empty every batch is the default RDD")
case("queueStream_all_at_once_default", [NUMS], lambda ssc, sc, i: i[0], 3,
     queue_kwargs=[{"oneAtATime": False, "default": [0]}])
case("queueStream_empty_with_default", [[]], lambda ssc, sc, i: i[0], 3, queue_kwargs=[{"default": [42]}],
     doc="queueStream([], default=d): PySpark queues one empty RDD first, then d every batch")
case("queueStream_rdds", [NUMS], lambda ssc, sc, i: i[0].glom(), 4, ordered=True, partitions=[3])

# Invalid arguments: the expected result is the exception ------------------------------------

case("error_window_not_multiple", [NUMS], lambda ssc, sc, i: i[0].window(w(1.5)), 1)
case("error_window_slide_not_multiple", [NUMS], lambda ssc, sc, i: i[0].window(w(2), w(1.5)), 1)
case("error_window_fraction_of_batch", [NUMS], lambda ssc, sc, i: i[0].window(w(0.5), w(0.5)), 1)
case("error_reduceByWindow_not_multiple", [NUMS],
     lambda ssc, sc, i: i[0].reduceByWindow(operator.add, None, w(2.5), w(1)), 1)
case("error_reduceByWindow_inv_slide_not_multiple", [NUMS],
     lambda ssc, sc, i: i[0].reduceByWindow(operator.add, operator.sub, w(2), w(0.5)), 1)
case("error_countByWindow_not_multiple", [NUMS], lambda ssc, sc, i: i[0].countByWindow(w(1.5), w(1)), 1)
case("error_reduceByKeyAndWindow_not_multiple", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, operator.sub, w(3.5), w(1)), 1)
case("error_reduceByKeyAndWindow_slide_not_multiple", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, None, w(3), w(1.5)), 1)
case("error_groupByKeyAndWindow_not_multiple", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].groupByKeyAndWindow(w(1.5), w(1)), 1)
case("error_countByValueAndWindow_not_multiple", [WIN_KEYS],
     lambda ssc, sc, i: i[0].countByValueAndWindow(w(2), w(1.5)), 1)
case("error_transform_three_args", [NUMS], lambda ssc, sc, i: i[0].transform(lambda a, b, c: a), 1)
case("error_transform_no_args", [NUMS], lambda ssc, sc, i: i[0].transform(lambda: None), 1)
case("error_transform_varargs", [NUMS], lambda ssc, sc, i: i[0].transform(lambda *rdds: rdds[-1]), 1,
     quirk="PySpark decides by __code__.co_argcount, which is 0 for *args")
case("error_transformWith_one_arg", [NUMS, NUMS],
     lambda ssc, sc, i: i[0].transformWith(lambda a: a, i[1]), 1)
case("error_transformWith_four_args", [NUMS, NUMS],
     lambda ssc, sc, i: i[0].transformWith(lambda t, a, b, c: a, i[1]), 1)
case("error_union_different_slide", [NUMS],
     lambda ssc, sc, i: i[0].union(i[0].window(w(2), w(2))), 1)
case("error_ssc_union_empty", [NUMS], lambda ssc, sc, i: ssc.union(), 1)
case("error_ssc_union_different_slide", [NUMS],
     lambda ssc, sc, i: ssc.union(i[0], i[0].window(w(2), w(2))), 1)
case("error_ssc_union_different_serializer", [[["a"], ["b"]]],
     lambda ssc, sc, i: ssc.union(i[0], i[0].map(lambda x: x)), 1,
     quirk="a queueStream keeps the serializer of sc.parallelize(batch), BatchedSerializer(batch size "
           "max(1, len // defaultParallelism)), when every queued batch gives the same batch size; a "
           "mapped stream has sc.serializer; ssc.union compares them")
case("ssc_union_queue_and_mapped", [NUMS],
     lambda ssc, sc, i: ssc.union(i[0], i[0].map(lambda x: x * 100)), 4,
     quirk="works because NUMS's batches give different parallelize batch sizes, so queueStream "
           "re-serialises them all to sc.serializer (see error_ssc_union_different_serializer)")
case("error_ssc_union_queue_streams", [NUMS, [[100], [], [200, 300], [400]]],
     lambda ssc, sc, i: ssc.union(*i), 1,
     quirk="the second stream's batches all give parallelize batch size 1, so it keeps "
           "BatchedSerializer(1); the first was re-serialised to sc.serializer (see "
           "error_ssc_union_different_serializer)")
case("error_stateful_without_checkpoint", [STATE],
     lambda ssc, sc, i: i[0].updateStateByKey(_sum_state), 1, fresh_context=True,
     doc="raised by ssc.start(), not by updateStateByKey")
case("error_window_inv_without_checkpoint", [WIN_PAIRS],
     lambda ssc, sc, i: i[0].reduceByKeyAndWindow(operator.add, operator.sub, w(2), w(1)), 1,
     fresh_context=True)

_names = [c.name for c in CASES]
assert len(_names) == len(set(_names)), "duplicate case names"
CASES_BY_NAME = {c.name: c for c in CASES}
