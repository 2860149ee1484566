"""Spark SQL's exceptions, as PySpark's ``pyspark.sql.utils`` (and ``pyspark.errors``) name them:
``AnalysisException`` for a query naming an unknown table, view or column, ``ParseException``
(a subclass) for a query that does not parse."""

from ember._native import AnalysisException, ParseException

__all__ = ["AnalysisException", "ParseException"]
