"""Spark SQL over batches, on ember-sql (Apache DataFusion): ``SparkSession``, ``DataFrame``,
``Row``, as in ``pyspark.sql``."""

from ember.sql.types import Row

__all__ = ["Row"]
