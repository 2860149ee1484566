"""``DataFrame``: a query result or table of a :class:`~ember.sql.SparkSession`, with PySpark's
``DataFrame`` methods, computed by ember-sql (Apache DataFusion) when shown, collected or
counted.

Columns are named by strings (PySpark's ``Column`` objects do not exist here): ``select``,
``orderBy`` and ``groupBy`` take column names or SQL expressions, ``filter``/``where`` a SQL
condition, and ``selectExpr`` SQL expressions, as in PySpark.
"""

from __future__ import annotations

__all__ = ["DataFrame", "GroupedData"]

# Spark's upper bound of `show`'s row count (`ByteArrayMethods.MAX_ROUNDED_ARRAY_LENGTH - 1`).
_MAX_SHOW_ROWS = 2147483631

# Spark's `typeName` of the types `dtypes` names by their `simpleString`, for `printSchema`.
_TYPE_NAMES = {"bigint": "long", "int": "integer", "smallint": "short", "tinyint": "byte"}


def _quote(name: str) -> str:
    """A column name as a SQL identifier (backticks keep its case and any odd characters)."""
    return "`%s`" % name.replace("`", "``")


class DataFrame:
    """A distributed collection of rows with named columns (PySpark's ``DataFrame``)."""

    def __init__(self, native, session):
        self._native = native
        self.sparkSession = session

    # -- schema ----------------------------------------------------------------------------
    @property
    def columns(self) -> list:
        """The column names."""
        return self._native.columns()

    @property
    def dtypes(self) -> list:
        """``(name, type)`` per column, with Spark's type names (``bigint``, ``string``)."""
        return self._native.dtypes()

    def printSchema(self, level=None) -> None:
        """Prints the schema as Spark's tree (``root`` then `` |-- name: type (nullable =
        ...)``)."""
        print(self._tree_string())

    def _tree_string(self) -> str:
        lines = ["root"]

        def add(prefix, name, type_name, nullable, null_word):
            if type_name.startswith("array<") and type_name.endswith(">"):
                lines.append("%s-- %s: array (%s = %s)" % (prefix, name, null_word,
                                                           str(nullable).lower()))
                add(prefix.replace("-", " ") + "    |", "element", type_name[6:-1], True,
                    "containsNull")
            else:
                lines.append("%s-- %s: %s (%s = %s)" % (
                    prefix, name, _TYPE_NAMES.get(type_name, type_name), null_word,
                    str(nullable).lower()))

        for name, type_name, nullable in self._native.fields():
            add(" |", name, type_name, nullable, "nullable")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return "DataFrame[%s]" % ", ".join("%s: %s" % c for c in self.dtypes)

    # -- actions ---------------------------------------------------------------------------
    def show(self, n: int = 20, truncate=True, vertical: bool = False) -> None:
        """Prints the first ``n`` rows as Spark's table, through ``print`` (so that Jupyter
        shows it in the cell). ``truncate=True`` cuts cells to 20 characters, ``False`` keeps
        them whole, a number cuts them to that many; ``vertical`` prints one block per row.
        Returns ``None``, as PySpark's ``show``."""
        print(self._show_string(n, truncate, vertical))

    def _show_string(self, n=20, truncate=True, vertical=False) -> str:
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError("[NOT_INT] Argument `n` should be an int, got %s." % type(n).__name__)
        if not isinstance(vertical, bool):
            raise TypeError("[NOT_BOOL] Argument `vertical` should be a bool, got %s."
                            % type(vertical).__name__)
        if isinstance(truncate, bool) and truncate:
            width = 20
        else:
            try:
                width = int(truncate)
            except ValueError:
                raise TypeError("[NOT_BOOL] Argument `truncate` should be a bool, got %s."
                                % type(truncate).__name__) from None
        # Spark clamps both: a negative count shows no rows, a negative width truncates nothing.
        rows = min(max(n, 0), _MAX_SHOW_ROWS)
        return self._native.show_string(rows, max(width, 0), vertical)

    def collect(self) -> list:
        """Every row, as :class:`~ember.sql.Row` with the column names as fields."""
        return self._native.collect()

    def count(self) -> int:
        """The number of rows."""
        return self._native.count()

    def take(self, num: int) -> list:
        """The first ``num`` rows."""
        return self._native.head(max(int(num), 0))

    def head(self, n=None):
        """The first row (``None`` if there is none), or a list of the first ``n`` rows."""
        if n is None:
            rows = self.take(1)
            return rows[0] if rows else None
        return self.take(n)

    def first(self):
        """The first row, or ``None``."""
        return self.head()

    def tail(self, num: int) -> list:
        rows = self.collect()
        return rows[len(rows) - num:] if num > 0 else []

    def isEmpty(self) -> bool:
        return not self.take(1)

    def toLocalIterator(self, prefetchPartitions: bool = False):
        return iter(self.collect())

    def toPandas(self):
        """The rows as a pandas ``DataFrame`` (needs pandas: ``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError(
                "DataFrame.toPandas() needs pandas, which is not installed: "
                "pip install pandas (or pip install 'ember[pandas]')") from e
        columns = self.columns
        dtypes = dict(self.dtypes)
        rows = self.collect()
        pdf = pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)
        for name, type_name in dtypes.items():
            if name not in pdf.columns:
                continue
            if type_name == "timestamp":
                pdf[name] = pd.to_datetime(pdf[name])
            elif not rows:
                empty_type = {"bigint": "int64", "int": "int32", "smallint": "int16",
                              "tinyint": "int8", "double": "float64", "float": "float32",
                              "boolean": "bool"}.get(type_name)
                if empty_type:
                    pdf[name] = pdf[name].astype(empty_type)
        return pdf

    # -- views -----------------------------------------------------------------------------
    def createOrReplaceTempView(self, name: str) -> None:
        """Registers the rows as the temporary view ``name`` of the session, replacing a view
        of that name."""
        self._native.create_or_replace_temp_view(name)

    def createTempView(self, name: str) -> None:
        """Registers the rows as the temporary view ``name``; fails if that view exists."""
        from ember.sql.utils import AnalysisException
        if self.sparkSession._native.table_exists(name):
            raise AnalysisException(
                "[TEMP_TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create the temporary view `%s` "
                "because it already exists.\nChoose a different name, drop or replace the "
                "existing view,  or add the IF NOT EXISTS clause to tolerate pre-existing views."
                % name)
        self._native.create_or_replace_temp_view(name)

    def registerTempTable(self, name: str) -> None:
        """Deprecated name of :meth:`createOrReplaceTempView`."""
        self.createOrReplaceTempView(name)

    # -- transformations -------------------------------------------------------------------
    def _new(self, native) -> "DataFrame":
        return DataFrame(native, self.sparkSession)

    def _column_expr(self, col) -> str:
        """A column name (quoted so that its case is kept) or, for anything else, the SQL
        expression as given."""
        if not isinstance(col, str):
            raise TypeError(
                "ember's DataFrame takes columns as strings (names or SQL expressions), got %s"
                % type(col).__name__)
        return _quote(col) if col in self.columns else col

    def select(self, *cols) -> "DataFrame":
        """The given columns (names, ``"*"`` or SQL expressions)."""
        if len(cols) == 1 and isinstance(cols[0], (list, tuple)):
            cols = tuple(cols[0])
        return self._new(self._native.select([self._column_expr(c) for c in cols]))

    def selectExpr(self, *expr) -> "DataFrame":
        """The given SQL expressions as columns: ``selectExpr("word", "total * 2 as twice")``."""
        if len(expr) == 1 and isinstance(expr[0], (list, tuple)):
            expr = tuple(expr[0])
        return self._new(self._native.select(list(expr)))

    def filter(self, condition: str) -> "DataFrame":
        """The rows for which the SQL condition holds: ``filter("total > 1")``."""
        if not isinstance(condition, str):
            raise TypeError("ember's filter takes a SQL condition as a string, got %s"
                            % type(condition).__name__)
        return self._new(self._native.filter(condition))

    where = filter

    def limit(self, num: int) -> "DataFrame":
        """The first ``num`` rows."""
        return self._new(self._native.limit(max(int(num), 0)))

    def orderBy(self, *cols, ascending=True) -> "DataFrame":
        """Sorted by the given columns; ``ascending`` is a bool or a list of them, one per
        column. A SQL expression may end in ``asc``/``desc`` itself."""
        if len(cols) == 1 and isinstance(cols[0], (list, tuple)):
            cols = tuple(cols[0])
        if isinstance(ascending, (list, tuple)):
            if len(ascending) != len(cols):
                raise ValueError("[LENGTH_SHOULD_BE_THE_SAME] ascending should have the same "
                                 "length as cols")
            orders = list(ascending)
        else:
            orders = [ascending] * len(cols)
        exprs = [self._column_expr(c) + ("" if asc else " desc") for c, asc in zip(cols, orders)]
        return self._new(self._native.order_by(exprs))

    sort = orderBy

    def distinct(self) -> "DataFrame":
        return self._new(self._native.distinct())

    def dropDuplicates(self, subset=None) -> "DataFrame":
        if subset:
            raise NotImplementedError("ember's dropDuplicates takes no subset")
        return self.distinct()

    drop_duplicates = dropDuplicates

    def union(self, other: "DataFrame") -> "DataFrame":
        """The rows of both, by column position (duplicates kept)."""
        return self._new(self._native.union(other._native))

    unionAll = union

    def join(self, other: "DataFrame", on=None, how=None) -> "DataFrame":
        """Joined on equal values of the column(s) ``on``; ``how`` is ``inner`` (default),
        ``left``, ``right``, ``full``, ``left_semi`` or ``left_anti``."""
        if on is None:
            raise NotImplementedError("ember's join needs the column(s) `on`")
        on = [on] if isinstance(on, str) else list(on)
        return self._new(self._native.join(other._native, on, how or "inner"))

    def groupBy(self, *cols) -> "GroupedData":
        """Groups by the given columns, for ``count()``, ``agg``, ``sum``, ..."""
        if len(cols) == 1 and isinstance(cols[0], (list, tuple)):
            cols = tuple(cols[0])
        return GroupedData(self, [self._column_expr(c) for c in cols])

    groupby = groupBy

    def agg(self, *exprs) -> "DataFrame":
        """Aggregates over all rows: ``agg({"total": "max"})``."""
        return self.groupBy().agg(*exprs)

    def toDF(self, *cols) -> "DataFrame":
        """The same rows with the columns renamed by position."""
        if len(cols) != len(self.columns):
            raise ValueError("[LENGTH_SHOULD_BE_THE_SAME] the number of new column names (%d) "
                             "should be the number of columns (%d)"
                             % (len(cols), len(self.columns)))
        return self._new(self._native.select(
            ["%s as %s" % (_quote(old), _quote(new)) for old, new in zip(self.columns, cols)]))

    def withColumnRenamed(self, existing: str, new: str) -> "DataFrame":
        return self._new(self._native.select([
            "%s as %s" % (_quote(c), _quote(new if c == existing else c)) for c in self.columns]))

    def drop(self, *cols) -> "DataFrame":
        gone = set(cols)
        return self._new(self._native.select([_quote(c) for c in self.columns if c not in gone]))

    # Caching is a no-op: a DataFrame's table is held in memory already.
    def cache(self) -> "DataFrame":
        return self

    def persist(self, storageLevel=None) -> "DataFrame":
        return self

    def unpersist(self, blocking: bool = False) -> "DataFrame":
        return self

    @property
    def rdd(self):
        """The rows as an RDD of :class:`~ember.sql.Row`."""
        from ember.rdd import RDD
        return RDD(self._native.to_rdd(), self.sparkSession.sparkContext)


# PySpark's names of `agg`'s functions, to SQL.
_AGG_FUNCTIONS = {"mean": "avg", "average": "avg", "avg": "avg", "sum": "sum", "max": "max",
                  "min": "min", "count": "count", "first": "first_value",
                  "last": "last_value"}


class GroupedData:
    """Rows grouped by columns (``df.groupBy(...)``), aggregated by ``count``, ``agg``,
    ``sum``, ``avg``/``mean``, ``max`` and ``min``."""

    def __init__(self, df: DataFrame, groups: list):
        self._df = df
        self._groups = groups

    def _agg(self, exprs):
        return self._df._new(self._df._native.group_by_agg(self._groups, exprs))

    def agg(self, *exprs) -> DataFrame:
        """Aggregates given as ``{column: function}`` (``{"total": "sum"}`` makes the column
        ``sum(total)``), or SQL expressions as strings."""
        if len(exprs) == 1 and isinstance(exprs[0], dict):
            out = []
            for col, fn in exprs[0].items():
                sql_fn = _AGG_FUNCTIONS.get(fn.lower(), fn)
                arg = "*" if col == "*" else _quote(col)
                # Spark names the column after the function it resolved (`mean` is `avg`).
                shown = "avg" if sql_fn == "avg" else fn
                out.append("%s(%s) as %s" % (sql_fn, arg, _quote("%s(%s)" % (shown, col))))
            return self._agg(out)
        if not all(isinstance(e, str) for e in exprs):
            raise TypeError("ember's agg takes a dict {column: function} or SQL expressions "
                            "as strings")
        return self._agg(list(exprs))

    def count(self) -> DataFrame:
        """The number of rows of each group, in a column ``count``."""
        return self._agg(["count(*) as `count`"])

    def _numeric(self, fn, cols):
        """``fn`` of each column of ``cols`` (every numeric column when none is given)."""
        if not cols:
            cols = [n for n, t in self._df.dtypes
                    if t in ("bigint", "int", "smallint", "tinyint", "double", "float")
                    or t.startswith("decimal")]
        return self._agg(["%s(%s) as %s" % (_AGG_FUNCTIONS[fn], _quote(c),
                                            _quote("%s(%s)" % (fn, c))) for c in cols])

    def sum(self, *cols) -> DataFrame:
        return self._numeric("sum", cols)

    def avg(self, *cols) -> DataFrame:
        return self._numeric("avg", cols)

    def mean(self, *cols) -> DataFrame:
        return self._numeric("avg", cols)

    def max(self, *cols) -> DataFrame:
        return self._numeric("max", cols)

    def min(self, *cols) -> DataFrame:
        return self._numeric("min", cols)
