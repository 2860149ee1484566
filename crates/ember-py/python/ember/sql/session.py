"""``SparkSession``: the entry point of Spark SQL, as ``pyspark.sql.SparkSession``, on ember-sql
(Apache DataFusion).

The seed notebook's pattern works unchanged::

    spark = SparkSession.builder.config(conf=rdd.context.getConf()).getOrCreate()
    spark.createDataFrame(rdd.map(lambda w: Row(word=w))).createOrReplaceTempView("words")
    spark.sql("select word, count(*) as total from words group by word").show()

One session runs per ``SparkContext``; ``getOrCreate`` returns it, and makes a new one (and, if
needed, a new context from the builder's settings) once its context was stopped.
"""

from __future__ import annotations

import threading

from ember import _native
from ember.conf import SparkConf
from ember.context import SparkContext
from ember.sql.dataframe import DataFrame

__all__ = ["SparkSession", "RuntimeConfig", "Catalog"]


class _classproperty:
    """A read-only property of the class (``SparkSession.builder``)."""

    def __init__(self, f):
        self._f = f

    def __get__(self, instance, owner):
        return self._f(owner)


class RuntimeConfig:
    """The session's settings (``spark.conf``): the context's settings and the builder's
    options. ember's SQL engine reads none of them; they are kept for programs that read them
    back."""

    def __init__(self, settings):
        self._settings = dict(settings)

    def set(self, key, value):
        self._settings[key] = str(value) if not isinstance(value, bool) else str(value).lower()

    def get(self, key, default=None):
        if key in self._settings:
            return self._settings[key]
        return default

    def unset(self, key):
        self._settings.pop(key, None)

    def getAll(self):
        return dict(self._settings)

    def isModifiable(self, key):
        return not key.startswith("spark.driver.") and key != "spark.master"


class Catalog:
    """The session's temporary views (``spark.catalog``)."""

    def __init__(self, session):
        self._session = session

    def dropTempView(self, viewName: str) -> bool:
        """Drops the temporary view ``viewName``; whether it existed."""
        return self._session._native.drop_temp_view(viewName)

    def tableExists(self, tableName: str, dbName=None) -> bool:
        """Whether the view or table ``tableName`` exists."""
        return self._session._native.table_exists(tableName)


class SparkSession:
    """A SQL session over a :class:`~ember.SparkContext` (PySpark's ``SparkSession``)."""

    _instantiatedSession: "SparkSession | None" = None
    _activeSession: "SparkSession | None" = None
    _lock = threading.RLock()

    class Builder:
        """Settings for :meth:`getOrCreate` (``SparkSession.builder``)."""

        def __init__(self):
            self._options: dict[str, str] = {}

        def config(self, key=None, value=None, conf=None, *, map=None):
            """Sets ``key`` to ``value``, every setting of ``conf`` (a ``SparkConf``), or every
            item of ``map``."""
            if conf is not None:
                for k, v in conf.getAll():
                    self._options[k] = str(v)
            if map is not None:
                for k, v in map.items():
                    self._options[k] = _conf_text(v)
            if key is not None:
                self._options[key] = _conf_text(value)
            return self

        def master(self, master: str):
            return self.config("spark.master", master)

        def appName(self, name: str):
            return self.config("spark.app.name", name)

        def enableHiveSupport(self):
            """Accepted for compatibility; ember has no Hive catalog."""
            return self

        def getOrCreate(self) -> "SparkSession":
            """The running session, or a new one on the running ``SparkContext`` (made from
            these settings when there is none)."""
            with SparkSession._lock:
                session = SparkSession._instantiatedSession
                if session is None or session._sc._native.is_stopped():
                    conf = SparkConf()
                    for k, v in self._options.items():
                        conf.set(k, v)
                    sc = SparkContext.getOrCreate(conf)
                    session = SparkSession(sc, options=self._options)
                else:
                    for k, v in self._options.items():
                        session.conf.set(k, v)
                SparkSession._activeSession = session
                return session

        def create(self) -> "SparkSession":
            return self.getOrCreate()

    builder = _classproperty(lambda cls: cls.Builder())

    def __init__(self, sparkContext: SparkContext, jsparkSession=None, options=None):
        self._sc = sparkContext
        self._native = _native.NativeSqlSession.get_or_create(sparkContext._native)
        settings = dict(sparkContext.getConf().getAll())
        settings.update(options or {})
        self.conf = RuntimeConfig(settings)
        self.catalog = Catalog(self)
        with SparkSession._lock:
            if (SparkSession._instantiatedSession is None
                    or SparkSession._instantiatedSession._sc._native.is_stopped()):
                SparkSession._instantiatedSession = self
            SparkSession._activeSession = self

    @classmethod
    def getActiveSession(cls) -> "SparkSession | None":
        return cls._activeSession

    @classmethod
    def active(cls) -> "SparkSession":
        session = cls._activeSession
        if session is None:
            return cls.builder.getOrCreate()
        return session

    @property
    def sparkContext(self) -> SparkContext:
        """The context this session runs on."""
        return self._sc

    @property
    def version(self) -> str:
        return self._sc.version

    def newSession(self) -> "SparkSession":
        """ember keeps one set of temporary views per context; the new session shares them."""
        return SparkSession(self._sc)

    # -- data frames -----------------------------------------------------------------------
    def createDataFrame(self, data, schema=None, samplingRatio=None, verifySchema=True):
        """A ``DataFrame`` of ``data``: an RDD or a list of ``Row``s, tuples, lists or dicts, or
        a pandas ``DataFrame``. ``schema`` may be a list of column names (renaming the columns
        by position); column types are inferred from every value as PySpark infers them
        (``str`` -> string, ``int`` -> bigint, ``float`` -> double, ``bool`` -> boolean,
        ``datetime.date`` -> date, ``datetime.datetime`` -> timestamp, ``list`` -> array)."""
        from ember.rdd import RDD

        if isinstance(data, DataFrame):
            raise TypeError("[INVALID_TYPE] Argument `data` should not be a DataFrame.")
        names = _schema_names(schema)
        if isinstance(data, RDD):
            native = self._native.create_data_frame_from_rdd(data._native(), names)
            return DataFrame(native, self)
        if _is_pandas(data):
            if names is None:
                names = [str(c) for c in data.columns]
            data = _pandas_records(data)
        elif not isinstance(data, (list, tuple)):
            data = list(data)
        return DataFrame(self._native.create_data_frame_from_values(data, names), self)

    def sql(self, sqlQuery: str, args=None, **kwargs) -> DataFrame:
        """Runs a query over the session's temporary views. Parsing and planning happen now: a
        query that does not parse raises ``ParseException``, one naming an unknown table or
        column ``AnalysisException``."""
        if args or kwargs:
            raise NotImplementedError("ember's spark.sql takes no query parameters (args)")
        return DataFrame(self._native.sql(sqlQuery), self)

    def table(self, tableName: str) -> DataFrame:
        """The temporary view ``tableName`` as a ``DataFrame``."""
        return DataFrame(self._native.table(tableName), self)

    def range(self, start, end=None, step=1, numPartitions=None) -> DataFrame:
        """A ``DataFrame`` with one ``bigint`` column ``id``."""
        if end is None:
            start, end = 0, start
        ids = range(start, end, step)
        if not ids:
            # No rows to infer the type from: the column's type is given by the query.
            return self.sql("select cast(1 as bigint) as id where false")
        return self.createDataFrame([(i,) for i in ids], ["id"])

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self) -> None:
        """Stops the session and its ``SparkContext``, as PySpark does."""
        self._sc.stop()
        with SparkSession._lock:
            if SparkSession._instantiatedSession is self:
                SparkSession._instantiatedSession = None
            if SparkSession._activeSession is self:
                SparkSession._activeSession = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _conf_text(value) -> str:
    """A setting's value as Spark stores it (booleans in lower case)."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _schema_names(schema):
    """Column names from ``createDataFrame``'s ``schema``: ``None`` or a list of names."""
    if schema is None:
        return None
    if isinstance(schema, (list, tuple)) and all(isinstance(s, str) for s in schema):
        return list(schema)
    raise TypeError(
        "ember's createDataFrame takes a schema as a list of column names (types are inferred "
        "from the data); got %r" % (schema,))


def _is_pandas(data) -> bool:
    return type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "itertuples")


def _pandas_records(pdf):
    """The rows of a pandas ``DataFrame`` as tuples of Python values: numpy scalars become
    Python's ``int``, ``float``, ``bool``; a missing value is ``None``, except NaN in a float
    column, which stays a NaN ``double`` as in PySpark."""
    import math

    float_columns = [getattr(dt, "kind", "") == "f" for dt in pdf.dtypes]

    def plain(x, is_float):
        if hasattr(x, "item") and not isinstance(x, (str, bytes)):
            x = x.item()
        if hasattr(x, "to_pydatetime"):
            x = x.to_pydatetime()
        if x is None or type(x).__name__ in ("NaTType", "NAType"):
            return None
        if isinstance(x, float) and math.isnan(x) and not is_float:
            return None
        return x

    return [tuple(plain(x, f) for x, f in zip(row, float_columns))
            for row in pdf.itertuples(index=False, name=None)]
