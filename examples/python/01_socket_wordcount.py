"""Program 1 of the seed notebook: word counts of every one-second batch of lines read from a TCP
server, printed with pprint.

The same program runs on PySpark with `ember` -> `pyspark` in the imports. Start a server first:
    nc -lk 9999            (type lines and press Enter)
or  cargo run -p ember-cli -- feed --port 9999 --loop --rate 5 some.txt
then:
    python examples/python/01_socket_wordcount.py --duration 10
"""

import argparse

from ember import SparkConf
from ember.context import SparkContext
from ember.streaming import StreamingContext


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="localhost", help="server to read lines from")
    parser.add_argument("--port", type=int, default=9999, help="its port")
    parser.add_argument("--duration", type=float, default=10,
                        help="seconds to run before stopping (the notebook sleeps 10)")
    args = parser.parse_args()

    sc = SparkContext.getOrCreate(SparkConf().setMaster("local[*]"))
    ssc = StreamingContext(sc, 1)

    lines = ssc.socketTextStream(args.host, args.port)
    counts = lines.flatMap(lambda line: line.split(" "))\
                  .map(lambda word: (word, 1))\
                  .reduceByKey(lambda a, b: a+b)
    counts.pprint()

    ssc.start()
    ssc.awaitTerminationOrTimeout(args.duration)
    ssc.stop(stopSparkContext=True)


if __name__ == "__main__":
    main()
