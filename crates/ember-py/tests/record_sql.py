"""Records what real PySpark 3.5.3 prints and returns for the SQL cases that ``test_sql.py``
runs on ember: ``DataFrame.show`` output (exact bytes), ``repr(df)`` and ``repr(df.collect())``.

Each case is a function ``(spark, Row) -> (DataFrame, show_kwargs)`` that uses only the API both
packages share, so the same code runs on PySpark (here) and on ember (in the tests).

Run from this directory with a virtual environment that has PySpark (Java 17 needed)::

    python3 -m venv /tmp/pyspark && /tmp/pyspark/bin/pip install pyspark==3.5.3
    /tmp/pyspark/bin/python record_sql.py        # rewrites expected_sql/

Time zone: both sides run in UTC (a naive ``datetime`` is a UTC wall-clock time on ember; the
script pins PySpark's session and JVM time zone to UTC so that PySpark agrees).
"""

from __future__ import annotations

import datetime
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected_sql")

LINES = ["to be or not to be", "that is the question", "to be is to do", "the question is"]

LONG = [
    (1, "short", "a"),
    (2, "exactly twenty chars", "b"),
    (3, "twenty-one characters", "c"),
    (4, "a much longer string that goes past the default width of twenty", "d"),
]


SECOND_BATCH = ["to be"]

# The seed notebook's query (test_sql.py runs it as written, unordered, in a stream); the
# recordings add an order so that the table is deterministic.
SEED_QUERY = "select word, count(*) as total from words group by word"


def seed_query_on(spark, Row, lines):
    """The seed notebook's fourth cell on one batch of ``lines``: RDD of Row(word=w), a view,
    the word count query."""
    sc = spark.sparkContext
    words = sc.parallelize(lines, 2).flatMap(lambda line: line.split(" ")).map(lambda w: w)
    df = spark.createDataFrame(words.map(lambda w: Row(word=w)))
    df.createOrReplaceTempView("words")
    return spark.sql(SEED_QUERY + " order by total desc, word"), {}


def seed_wordcount(spark, Row):
    return seed_query_on(spark, Row, LINES)


def seed_wordcount_second_batch(spark, Row):
    return seed_query_on(spark, Row, SECOND_BATCH)


def seed_wordcount_print_none(spark, Row):
    """As the notebook writes it: print(df.show()) prints the table, then None."""
    df, _ = seed_wordcount(spark, Row)
    return df, {"print_result": True}


def long_strings_default(spark, Row):
    return spark.createDataFrame(LONG, ["id", "text", "tag"]), {}


def long_strings_untruncated(spark, Row):
    return spark.createDataFrame(LONG, ["id", "text", "tag"]), {"truncate": False}


def long_strings_truncate_8(spark, Row):
    return spark.createDataFrame(LONG, ["id", "text", "tag"]), {"truncate": 8}


def long_strings_truncate_2(spark, Row):
    return spark.createDataFrame(LONG, ["id", "text", "tag"]), {"n": 3, "truncate": 2}


def ints_and_floats(spark, Row):
    data = [Row(i=0, big=9223372036854775807, f=0.1, g=1e20),
            Row(i=-42, big=-9223372036854775807, f=1.5e-5, g=1234567.0),
            Row(i=7, big=123456789012, f=-0.0, g=12345678.0),
            Row(i=1, big=2, f=1.0 / 3.0, g=float("nan"))]
    return spark.createDataFrame(data), {}


def nulls(spark, Row):
    data = [("a", 1, None), (None, None, 2.5), ("c", 3, 0.5)]
    return spark.createDataFrame(data, ["s", "n", "x"]), {}


def empty_result(spark, Row):
    df = spark.createDataFrame([("a", 1)], ["word", "total"])
    df.createOrReplaceTempView("one")
    return spark.sql("select word, total from one where total > 5"), {}


def more_rows_than_shown(spark, Row):
    df = spark.createDataFrame([(i, "w%d" % i) for i in range(25)], ["n", "w"])
    return df.orderBy("n"), {}


def first_three(spark, Row):
    df = spark.createDataFrame([(i, "w%d" % i) for i in range(25)], ["n", "w"])
    return df.orderBy("n"), {"n": 3}


def first_one(spark, Row):
    df = spark.createDataFrame([(i, "w%d" % i) for i in range(5)], ["n", "w"])
    return df.orderBy("n"), {"n": 1}


def zero_rows_shown(spark, Row):
    return spark.createDataFrame([("a", 1)], ["word", "total"]), {"n": 0}


def vertical(spark, Row):
    return spark.createDataFrame(LONG, ["id", "text", "tag"]), {"vertical": True}


def vertical_untruncated_two(spark, Row):
    return (spark.createDataFrame(LONG, ["id", "text", "tag"]),
            {"n": 2, "truncate": False, "vertical": True})


def vertical_empty(spark, Row):
    df = spark.createDataFrame([("a", 1)], ["word", "total"])
    return df.filter("total > 5"), {"vertical": True}


def booleans_dates_timestamps(spark, Row):
    data = [(True, datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5)),
            (False, datetime.date(1969, 12, 31), datetime.datetime(2024, 1, 2, 3, 4, 5, 100000)),
            (None, None, datetime.datetime(1970, 1, 1, 0, 0, 0, 1))]
    return spark.createDataFrame(data, ["b", "d", "t"]), {}


def unicode_widths(spark, Row):
    data = [("日本語", "café"), ("한국어 텍스트입니다", "tab\there"), ("plain", "line\nbreak")]
    return spark.createDataFrame(data, ["wide", "escaped"]), {}


def arrays(spark, Row):
    data = [Row(k="a", xs=[1, 2, None]), Row(k="b", xs=[]), Row(k="c", xs=None)]
    return spark.createDataFrame(data), {}


def dicts_sorted_columns(spark, Row):
    return spark.createDataFrame([{"word": "x", "count": 2}, {"word": "y", "count": 3}]), {}


def group_by_count(spark, Row):
    words = [(w,) for line in LINES for w in line.split(" ")]
    return spark.createDataFrame(words, ["word"]).groupBy("word").count().orderBy("word"), {}


def select_filter_limit(spark, Row):
    df = spark.createDataFrame([(i, "w%d" % i, i * 1.5) for i in range(10)], ["n", "w", "x"])
    return df.select("w", "x").filter("x > 3").orderBy("x", ascending=False).limit(4), {}


def sql_expressions(spark, Row):
    df = spark.createDataFrame([("spark", 3), ("ember", 5)], ["name", "n"])
    df.createOrReplaceTempView("t")
    return spark.sql("select upper(name) as up, n * 2 as twice, n % 2 as odd, "
                     "length(name) as len, concat(name, '!') as shout from t order by name"), {}


def integer_division(spark, Row):
    """Spark's `/` always divides as doubles; DataFusion's divides integers as integers (a known
    difference of ember-sql, see test_sql.py)."""
    df = spark.createDataFrame([("spark", 3), ("ember", 5)], ["name", "n"])
    df.createOrReplaceTempView("t")
    return spark.sql("select name, n / 2 as half from t order by name"), {}


CASES = [seed_wordcount, seed_wordcount_second_batch, seed_wordcount_print_none, long_strings_default,
         long_strings_untruncated, long_strings_truncate_8, long_strings_truncate_2,
         ints_and_floats, nulls, empty_result, more_rows_than_shown, first_three, first_one,
         zero_rows_shown, vertical, vertical_untruncated_two, vertical_empty,
         booleans_dates_timestamps, unicode_widths, arrays, dicts_sorted_columns,
         group_by_count, select_filter_limit, sql_expressions, integer_division]


def run_case(case, spark, Row):
    """What the case prints (show's output, captured from sys.stdout) and its summary."""
    import contextlib
    import io

    df, kwargs = case(spark, Row)
    kwargs = dict(kwargs)
    print_result = kwargs.pop("print_result", False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = df.show(**kwargs)
        if print_result:
            print(result)
    schema = io.StringIO()
    with contextlib.redirect_stdout(schema):
        df.printSchema()
    summary = {"repr": repr(df), "collect": repr(df.collect()), "count": df.count(),
               "columns": df.columns, "dtypes": [list(t) for t in df.dtypes],
               "printSchema": schema.getvalue()}
    return out.getvalue(), summary


def main():
    os.environ["TZ"] = "UTC"
    import time
    time.tzset()
    from pyspark.sql import Row, SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("record_sql")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    os.makedirs(EXPECTED, exist_ok=True)
    for case in CASES:
        shown, summary = run_case(case, spark, Row)
        with open(os.path.join(EXPECTED, case.__name__ + ".show.txt"), "w",
                  encoding="utf-8", newline="") as f:
            f.write(shown)
        with open(os.path.join(EXPECTED, case.__name__ + ".json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("recorded", case.__name__)
    spark.stop()


if __name__ == "__main__":
    main()
