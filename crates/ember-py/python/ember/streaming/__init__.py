"""Spark Streaming's API: ``StreamingContext`` and ``DStream``, as in ``pyspark.streaming``, and
ember's ``mapWithState`` extension (``StateSpec``, ``State``; see :mod:`ember.streaming.state`)."""

from ember.streaming.context import StreamingContext
from ember.streaming.dstream import DStream, MapWithStateDStream
from ember.streaming.state import State, StateSpec

__all__ = ["StreamingContext", "DStream", "MapWithStateDStream", "State", "StateSpec"]
