"""Spark SQL over batches, on ember-sql (Apache DataFusion): ``SparkSession``, ``DataFrame``,
``Row``, as in ``pyspark.sql``."""

from ember.sql.types import Row
from ember.sql.dataframe import DataFrame, GroupedData
from ember.sql.session import SparkSession
from ember.sql.utils import AnalysisException, ParseException

__all__ = ["SparkSession", "DataFrame", "GroupedData", "Row", "AnalysisException",
           "ParseException"]
