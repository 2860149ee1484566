"""Program 4 of the seed notebook: for every batch of lines from the text files that appear in a
directory, a DataFrame of words and a SQL word count printed as Spark's table.

The same program runs on PySpark with `ember` -> `pyspark` in the imports:
    mkdir -p /tmp/add_books_here
    python examples/python/04_sql_over_stream.py --duration 30 &
    cp book.txt /tmp/book.txt && mv /tmp/book.txt /tmp/add_books_here/
"""

import argparse
import traceback

from ember import SparkConf
from ember.context import SparkContext
from ember.sql import Row, SparkSession
from ember.streaming import StreamingContext


def getSparkSessionInstance(sparkConf):
    """The SparkSession, made once (lazily, on the first batch)."""
    if "sparkSessionSingletonInstance" not in globals():
        globals()["sparkSessionSingletonInstance"] = SparkSession \
            .builder \
            .config(conf=sparkConf) \
            .getOrCreate()
    return globals()["sparkSessionSingletonInstance"]


def process(time, rdd):
    print("========= %s =========" % str(time))
    if rdd.isEmpty():
        return
    try:
        spark = getSparkSessionInstance(rdd.context.getConf())
        # Convert RDD[String] to RDD[Row] to DataFrame
        words = rdd.flatMap(lambda line: line.split(" "))
        wordsDataFrame = spark.createDataFrame(words.map(lambda w: Row(word=w)))
        # Creates a temporary view using the DataFrame, counts words with SQL and prints them
        wordsDataFrame.createOrReplaceTempView("words")
        wordCountsDataFrame = spark.sql("select word, count(*) as total from words group by word")
        # (The notebook writes print(wordCountsDataFrame.show()), which also prints None.)
        wordCountsDataFrame.show()
    except Exception:
        print(traceback.format_exc())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="/tmp/add_books_here", help="directory to watch")
    parser.add_argument("--checkpoint", default="checkpoint",
                        help="checkpoint directory (the notebook's `checkpoint`)")
    parser.add_argument("--duration", type=float, default=30,
                        help="seconds to run before stopping (the notebook sleeps 30)")
    args = parser.parse_args()

    sc = SparkContext.getOrCreate(SparkConf().setMaster("local[*]"))
    ssc = StreamingContext(sc, 1)
    ssc.checkpoint(args.checkpoint)

    lines = ssc.textFileStream(args.dir)
    lines.foreachRDD(process)

    ssc.start()
    ssc.awaitTerminationOrTimeout(args.duration)
    ssc.stop(stopSparkContext=True)


if __name__ == "__main__":
    main()
