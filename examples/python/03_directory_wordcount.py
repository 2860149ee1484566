"""Program 3 of the seed notebook: running word counts of the text files that appear in a
directory (only files added after the start are read; add them atomically, e.g. write elsewhere
and `mv` them in).

The same program runs on PySpark with `ember` -> `pyspark` in the imports:
    mkdir -p /tmp/add_books_here
    python examples/python/03_directory_wordcount.py --duration 30 &
    cp book.txt /tmp/book.txt && mv /tmp/book.txt /tmp/add_books_here/
"""

import argparse

from ember import SparkConf
from ember.context import SparkContext
from ember.streaming import StreamingContext


def updateFunc(new_values, last_sum):
    return sum(new_values) + (last_sum or 0)


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
    running_counts = lines.flatMap(lambda line: line.split(" "))\
                          .map(lambda word: (word, 1))\
                          .updateStateByKey(updateFunc)
    running_counts.pprint()

    ssc.start()
    ssc.awaitTerminationOrTimeout(args.duration)
    ssc.stop(stopSparkContext=True)


if __name__ == "__main__":
    main()
