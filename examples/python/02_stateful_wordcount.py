"""Program 2 of the seed notebook: running word counts over a TCP server's lines with
updateStateByKey, starting from an initial state ({hello: 1, world: 1}); state is checkpointed.

The same program runs on PySpark with `ember` -> `pyspark` in the imports. Start a server first
(`nc -lk 9999`, or `cargo run -p ember-cli -- feed --port 9999 --loop --rate 5 some.txt`), then:
    python examples/python/02_stateful_wordcount.py --duration 5
"""

import argparse

from ember import SparkConf
from ember.context import SparkContext
from ember.streaming import StreamingContext


def updateFunc(new_values, last_sum):
    return sum(new_values) + (last_sum or 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="localhost", help="server to read lines from")
    parser.add_argument("--port", type=int, default=9999, help="its port")
    parser.add_argument("--checkpoint", default="checkpoint",
                        help="checkpoint directory (the notebook's `checkpoint`)")
    parser.add_argument("--duration", type=float, default=5,
                        help="seconds to run before stopping (the notebook sleeps 5)")
    args = parser.parse_args()

    sc = SparkContext.getOrCreate(SparkConf().setMaster("local[*]"))
    initialStateRDD = sc.parallelize([(u'hello', 1), (u'world', 1)])

    ssc = StreamingContext(sc, 1)
    ssc.checkpoint(args.checkpoint)

    lines = ssc.socketTextStream(args.host, args.port)
    running_counts = lines.flatMap(lambda line: line.split(" "))\
                          .map(lambda word: (word, 1))\
                          .updateStateByKey(updateFunc, initialRDD=initialStateRDD)
    running_counts.pprint()

    ssc.start()
    ssc.awaitTerminationOrTimeout(args.duration)
    ssc.stop(stopSparkContext=True)


if __name__ == "__main__":
    main()
