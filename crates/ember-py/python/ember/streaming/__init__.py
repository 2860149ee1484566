"""Spark Streaming's API: ``StreamingContext`` and ``DStream``, as in ``pyspark.streaming``."""

from ember.streaming.context import StreamingContext
from ember.streaming.dstream import DStream

__all__ = ["StreamingContext", "DStream"]
