"""ember: Spark Streaming's DStreams rebuilt in Rust, with PySpark's Python API.

A PySpark streaming program runs on ember when its imports say ``ember`` instead of ``pyspark``::

    from ember import SparkConf, SparkContext
    from ember.streaming import StreamingContext

The modules mirror PySpark's layout: ``ember`` (``SparkConf``, ``SparkContext``, ``RDD``),
``ember.context``, ``ember.conf``, ``ember.rdd``, ``ember.streaming`` (``StreamingContext``,
``DStream``) and ``ember.sql`` (``SparkSession``, ``Row``, ``DataFrame``).
"""

from ember.conf import SparkConf
from ember.context import SparkContext
from ember.rdd import RDD
from ember.resultiterable import ResultIterable
from ember.storagelevel import StorageLevel

__all__ = ["SparkConf", "SparkContext", "RDD", "ResultIterable", "StorageLevel"]
