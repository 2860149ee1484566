//! Spark SQL for Python on ember-sql (Apache DataFusion): [`NativeSqlSession`] and
//! [`NativeDataFrame`], which `ember.sql.SparkSession` and `ember.sql.DataFrame` wrap.
//!
//! Records cross once per table, not once per value: a `createDataFrame` turns the RDD's
//! [`Value`]s (or a Python list) into ember-sql rows, and ember-sql builds Arrow columns from
//! them without the GIL; `collect` turns the result's rows into `ember.sql.Row`s. Schemas are
//! inferred as PySpark infers them from Python values (`str` → `string`, `int` → `bigint`,
//! `float` → `double`, `bool` → `boolean`, `datetime.date` → `date`, `datetime.datetime` →
//! `timestamp`, `list` → `array<...>`), from every row rather than a sample.
//!
//! Errors get PySpark's exception types: [`AnalysisException`] for a query naming an unknown
//! table or column, [`ParseException`] (a subclass) for one that does not parse, `TypeError` and
//! `ValueError` with PySpark's messages for data whose schema cannot be inferred.

use ember::Rdd;
use ember_sql::datafusion::error::DataFusionError;
use ember_sql::{DataFrame, Names, Row, SqlError, SqlSession, Value as SqlValue};
use pyo3::exceptions::{PyException, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{IntoPyDict, PyDict, PyList, PyTuple};

use crate::context::NativeContext;
use crate::errors::to_py_err;
use crate::rdd::NativeRdd;
use crate::value::Value;

// Named after the Python module that exports them, so that a traceback reads
// `ember.sql.utils.AnalysisException: ...` as PySpark's reads `pyspark.errors...`.
pyo3::create_exception!(
    ember.sql.utils,
    AnalysisException,
    PyException,
    "A query that cannot be analysed: an unknown table, view or column, or types that do not \
     fit (Spark's AnalysisException)."
);
pyo3::create_exception!(
    ember.sql.utils,
    ParseException,
    AnalysisException,
    "A query that does not parse (Spark's ParseException)."
);

/// Adds this module's classes and exceptions to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<NativeSqlSession>()?;
    m.add_class::<NativeDataFrame>()?;
    m.add("AnalysisException", py.get_type::<AnalysisException>())?;
    m.add("ParseException", py.get_type::<ParseException>())?;
    Ok(())
}

/// PySpark's message when a column holds only `None`s.
const CANNOT_DETERMINE_TYPE: &str =
    "[CANNOT_DETERMINE_TYPE] Some of types cannot be determined after inferring.";
/// PySpark's message for `createDataFrame` of nothing.
const CANNOT_INFER_EMPTY_SCHEMA: &str =
    "[CANNOT_INFER_EMPTY_SCHEMA] Can not infer schema from empty dataset.";

/// The Python exception for an ember-sql error.
fn sql_err(e: SqlError) -> PyErr {
    let message = e.to_string();
    match e {
        SqlError::Query(q) => match q.find_root() {
            DataFusionError::SQL(..) => ParseException::new_err(message),
            DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(_) => AnalysisException::new_err(message),
            _ => PyRuntimeError::new_err(message),
        },
        SqlError::NoSuchTable { .. } | SqlError::NotFound(_) => AnalysisException::new_err(message),
        SqlError::Schema(_) | SqlError::Conversion(_) => PyTypeError::new_err(message),
        SqlError::InvalidArgument(_) => PyValueError::new_err(message),
        SqlError::Read { .. } | SqlError::Output(_) => PyOSError::new_err(message),
        SqlError::Ember(e) => to_py_err(e),
        _ => PyRuntimeError::new_err(message),
    }
}

// ---------------------------------------------------------------------------------------------
// Python values to rows

/// `datetime.date`, `datetime.datetime` and the epoch as a naive `datetime`, looked up once.
struct DateTypes {
    date: Py<PyAny>,
    datetime: Py<PyAny>,
    epoch: Py<PyAny>,
    timedelta: Py<PyAny>,
    utc: Py<PyAny>,
}

fn date_types(py: Python<'_>) -> PyResult<&DateTypes> {
    static TYPES: PyOnceLock<DateTypes> = PyOnceLock::new();
    TYPES.get_or_try_init(py, || {
        let m = py.import("datetime")?;
        let datetime = m.getattr("datetime")?;
        Ok(DateTypes {
            date: m.getattr("date")?.unbind(),
            epoch: datetime.call1((1970, 1, 1))?.unbind(),
            datetime: datetime.unbind(),
            timedelta: m.getattr("timedelta")?.unbind(),
            utc: m.getattr("timezone")?.getattr("utc")?.unbind(),
        })
    })
}

/// The proleptic Gregorian ordinal of 1970-01-01 (`date(1970, 1, 1).toordinal()`).
const EPOCH_ORDINAL: i64 = 719_163;

/// A Python object that is not one of [`Value`]'s own variants (a `date`, a `datetime`): its
/// column value, or PySpark's error for a type a column cannot hold.
fn sql_value_of_object(obj: &Bound<'_, PyAny>) -> PyResult<SqlValue> {
    let py = obj.py();
    let types = date_types(py)?;
    // `datetime` is a subclass of `date`: test it first.
    if obj.is_instance(types.datetime.bind(py))? {
        // A naive datetime is a wall-clock time, shown as it is (ember's session time zone is
        // UTC); an aware one is converted to UTC first.
        let naive = if obj.getattr("tzinfo")?.is_none() {
            obj.clone()
        } else {
            obj.call_method1("astimezone", (types.utc.bind(py),))?
                .call_method(
                    "replace",
                    (),
                    Some(&[("tzinfo", py.None())].into_py_dict(py)?),
                )?
        };
        let delta = naive.sub(types.epoch.bind(py))?;
        let days: i64 = delta.getattr("days")?.extract()?;
        let seconds: i64 = delta.getattr("seconds")?.extract()?;
        let micros: i64 = delta.getattr("microseconds")?.extract()?;
        return Ok(SqlValue::Timestamp(
            (days * 86_400 + seconds) * 1_000_000 + micros,
        ));
    }
    if obj.is_instance(types.date.bind(py))? {
        let ordinal: i64 = obj.call_method0("toordinal")?.extract()?;
        return Ok(SqlValue::Date((ordinal - EPOCH_ORDINAL) as i32));
    }
    Err(PyTypeError::new_err(format!(
        "[CANNOT_INFER_TYPE_FOR_FIELD] ember SQL cannot hold a value of type {} in a column \
         (str, int, float, bool, None, datetime.date, datetime.datetime and lists of them can)",
        obj.get_type().name()?
    )))
}

/// One column value.
fn sql_value(py: Python<'_>, v: &Value) -> PyResult<SqlValue> {
    Ok(match v {
        Value::None => SqlValue::Null,
        Value::Bool(b) => SqlValue::Bool(*b),
        Value::Int(i) => SqlValue::Int(*i),
        Value::Float(f) => SqlValue::Float(*f),
        Value::Str(s) => SqlValue::Str(s.to_string()),
        Value::List(items) => SqlValue::List(
            items
                .iter()
                .map(|x| sql_value(py, x))
                .collect::<PyResult<_>>()?,
        ),
        // Dates, datetimes and other objects travel pickled; only the first two fit a column.
        Value::Pickled(_) => sql_value_of_object(&v.to_py(py)?)?,
        Value::Tuple(_) | Value::Row(..) => {
            return Err(PyTypeError::new_err(
                "[CANNOT_INFER_TYPE_FOR_FIELD] ember SQL has no struct columns: a nested tuple \
                 or Row cannot be a column value",
            ));
        }
        Value::Bytes(_) => {
            return Err(PyTypeError::new_err(
                "[CANNOT_INFER_TYPE_FOR_FIELD] ember SQL has no binary columns: bytes cannot be \
                 a column value",
            ));
        }
    })
}

/// Turns records into rows, sharing one [`Names`] among the rows that have the same fields.
struct RowMaker {
    /// Column names given to `createDataFrame` (PySpark's `schema` as a list of names).
    schema: Option<Vec<String>>,
    /// The last field names seen and their shared [`Names`].
    last: Option<(Vec<String>, Names)>,
}

impl RowMaker {
    fn new(schema: Option<Vec<String>>) -> RowMaker {
        RowMaker { schema, last: None }
    }

    /// The names of a row of `len` values whose own field names are `fields` (empty for a
    /// tuple): the schema's names first, as PySpark renames columns by position, then the
    /// row's own, then `_i`.
    fn names(&mut self, fields: &[String], len: usize) -> Option<Names> {
        let names: Vec<String> = match &self.schema {
            None if fields.is_empty() => return None,
            None => fields.to_vec(),
            Some(schema) => (0..len.max(schema.len()))
                .map(|i| {
                    schema
                        .get(i)
                        .or_else(|| fields.get(i))
                        .cloned()
                        .unwrap_or_else(|| format!("_{}", i + 1))
                })
                .collect(),
        };
        match &self.last {
            Some((seen, shared)) if *seen == names => Some(shared.clone()),
            _ => {
                let shared = Names::new(names.clone());
                self.last = Some((names, shared.clone()));
                Some(shared)
            }
        }
    }

    fn row(&mut self, py: Python<'_>, record: &Value) -> PyResult<Row> {
        match record {
            Value::Row(row) => self.row_of(py, &row.0, &row.1),
            Value::Tuple(values) | Value::List(values) => self.row_of(py, &[], values),
            Value::Pickled(_) => {
                let obj = record.to_py(py)?;
                let (fields, values) = record_of_object(&obj)?.ok_or_else(|| {
                    cannot_infer(
                        obj.get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                    )
                })?;
                self.row_of(py, &fields, &values)
            }
            other => Err(cannot_infer(python_type_name(py, other)?)),
        }
    }

    fn row_of(&mut self, py: Python<'_>, fields: &[String], values: &[Value]) -> PyResult<Row> {
        let values = values
            .iter()
            .map(|v| sql_value(py, v))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(match self.names(fields, values.len()) {
            Some(names) => Row::with_names(names, values),
            None => Row::new(values),
        })
    }
}

/// The fields and values of a record the engine holds pickled: a `dict` (its keys sorted, as
/// PySpark orders them) or a named tuple (its fields in order); `None` for anything else.
fn record_of_object(obj: &Bound<'_, PyAny>) -> PyResult<Option<(Vec<String>, Vec<Value>)>> {
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut items = dict
            .iter()
            .map(|(k, v)| Ok((k.extract::<String>()?, Value::from_py(&v)?)))
            .collect::<PyResult<Vec<_>>>()?;
        items.sort_by(|a, b| a.0.cmp(&b.0));
        return Ok(Some(items.into_iter().unzip()));
    }
    if let Ok(tuple) = obj.cast::<PyTuple>()
        && let Ok(fields) = obj.getattr("_fields")
    {
        let fields: Vec<String> = fields.extract()?;
        let values = tuple
            .iter()
            .map(|v| Value::from_py(&v))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Some((fields, values)));
    }
    Ok(None)
}

/// PySpark's error for a record that is not a row.
fn cannot_infer(type_name: String) -> PyErr {
    PyTypeError::new_err(format!(
        "[CANNOT_INFER_SCHEMA_FOR_TYPE] Can not infer schema for type: `{type_name}`."
    ))
}

fn python_type_name(py: Python<'_>, v: &Value) -> PyResult<String> {
    Ok(v.to_py(py)?.get_type().name()?.to_string())
}

/// Builds the data frame of `parts` and refuses what PySpark refuses: no rows, or a column of
/// `None`s only (whose type nothing determines).
fn data_frame_of(
    py: Python<'_>,
    session: &SqlSession,
    parts: Vec<Vec<Row>>,
) -> PyResult<NativeDataFrame> {
    if parts.iter().all(Vec::is_empty) {
        return Err(PyValueError::new_err(CANNOT_INFER_EMPTY_SCHEMA));
    }
    let ctx = session.context().clone();
    let df = py
        .detach(|| session.create_data_frame(&Rdd::from_partitions(&ctx, parts)))
        .map_err(sql_err)?;
    if df.dtypes().iter().any(|(_, t)| t == "void") {
        return Err(PyValueError::new_err(CANNOT_DETERMINE_TYPE));
    }
    Ok(NativeDataFrame { inner: df })
}

// ---------------------------------------------------------------------------------------------
// Rows to Python values

/// `ember.sql.types.Row._make`, looked up once.
fn make_row(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static MAKE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    Ok(MAKE
        .get_or_try_init(py, || {
            py.import("ember.sql.types")?
                .getattr("Row")?
                .getattr("_make")
                .map(Bound::unbind)
        })?
        .bind(py))
}

/// A column value as Python's object: `None`, `bool`, `int`, `float`, `str`, `datetime.date`,
/// naive `datetime.datetime` (UTC wall-clock time), `list`.
fn py_value<'py>(py: Python<'py>, v: &SqlValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        SqlValue::Null => py.None().into_bound(py),
        SqlValue::Bool(b) => pyo3::types::PyBool::new(py, *b).to_owned().into_any(),
        SqlValue::Int(i) => i.into_pyobject(py)?.into_any(),
        SqlValue::Float(f) => pyo3::types::PyFloat::new(py, *f).into_any(),
        SqlValue::Str(s) => pyo3::types::PyString::new(py, s).into_any(),
        SqlValue::Date(days) => date_types(py)?
            .date
            .bind(py)
            .call_method1("fromordinal", (*days as i64 + EPOCH_ORDINAL,))?,
        SqlValue::Timestamp(micros) => {
            let types = date_types(py)?;
            let delta = types
                .timedelta
                .bind(py)
                .call((), Some(&[("microseconds", *micros)].into_py_dict(py)?))?;
            types.epoch.bind(py).add(delta)?
        }
        SqlValue::List(items) => PyList::new(
            py,
            items
                .iter()
                .map(|x| py_value(py, x))
                .collect::<PyResult<Vec<_>>>()?,
        )?
        .into_any(),
    })
}

/// The rows as `ember.sql.Row`s with the columns' names.
fn py_rows<'py>(py: Python<'py>, columns: &[String], rows: &[Row]) -> PyResult<Bound<'py, PyList>> {
    let make = make_row(py)?;
    let fields = PyTuple::new(py, columns)?;
    let out = rows
        .iter()
        .map(|r| {
            let values = r
                .values()
                .iter()
                .map(|v| py_value(py, v))
                .collect::<PyResult<Vec<_>>>()?;
            make.call1((&fields, PyTuple::new(py, values)?))
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, out)
}

/// A row as the engine's [`Value::Row`] (for `df.rdd`): dates and timestamps become their
/// Python objects, pickled as [`Value`] holds other objects.
fn engine_value(py: Python<'_>, v: &SqlValue) -> PyResult<Value> {
    Ok(match v {
        SqlValue::Null => Value::None,
        SqlValue::Bool(b) => Value::Bool(*b),
        SqlValue::Int(i) => Value::Int(*i),
        SqlValue::Float(f) => Value::Float(*f),
        SqlValue::Str(s) => Value::Str(s.as_str().into()),
        SqlValue::List(items) => Value::List(
            items
                .iter()
                .map(|x| engine_value(py, x))
                .collect::<PyResult<_>>()?,
        ),
        SqlValue::Date(_) | SqlValue::Timestamp(_) => Value::from_py(&py_value(py, v)?)?,
    })
}

// ---------------------------------------------------------------------------------------------
// The classes

/// The SQL session of a context (Python's `SparkSession` holds one): ember-sql's process-wide
/// session, replaced when its context was stopped.
#[pyclass(module = "ember._native", frozen)]
pub struct NativeSqlSession {
    inner: SqlSession,
}

#[pymethods]
impl NativeSqlSession {
    /// The session of `ctx`'s engine context.
    #[staticmethod]
    fn get_or_create(ctx: &NativeContext) -> PyResult<Self> {
        let inner = SqlSession::get_or_create(&ctx.inner()?).map_err(sql_err)?;
        Ok(NativeSqlSession { inner })
    }

    /// A table of an RDD's records (`Row`s, tuples or lists), columns named by `schema` when
    /// given.
    #[pyo3(signature = (rdd, schema=None))]
    fn create_data_frame_from_rdd(
        &self,
        py: Python<'_>,
        rdd: &NativeRdd,
        schema: Option<Vec<String>>,
    ) -> PyResult<NativeDataFrame> {
        let mut maker = RowMaker::new(schema);
        let parts = rdd
            .inner
            .partitions()
            .iter()
            .map(|p| {
                p.iter()
                    .map(|r| maker.row(py, r))
                    .collect::<PyResult<Vec<_>>>()
            })
            .collect::<PyResult<Vec<_>>>()?;
        data_frame_of(py, &self.inner, parts)
    }

    /// A table of a Python iterable of records.
    #[pyo3(signature = (data, schema=None))]
    fn create_data_frame_from_values(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        schema: Option<Vec<String>>,
    ) -> PyResult<NativeDataFrame> {
        let mut maker = RowMaker::new(schema);
        let mut rows = Vec::new();
        for x in data.try_iter()? {
            let x = x?;
            // Dicts and named tuples are read here, before they would be pickled (a named tuple
            // of a test or notebook cell often cannot be).
            let row = match record_of_object(&x)? {
                Some((fields, values)) => maker.row_of(py, &fields, &values)?,
                None => maker.row(py, &Value::from_py(&x)?)?,
            };
            rows.push(row);
        }
        data_frame_of(py, &self.inner, vec![rows])
    }

    /// Runs a query (`spark.sql`).
    fn sql(&self, py: Python<'_>, query: &str) -> PyResult<NativeDataFrame> {
        let df = py.detach(|| self.inner.sql(query)).map_err(sql_err)?;
        Ok(NativeDataFrame { inner: df })
    }

    /// The view or table `name` (`spark.table`).
    fn table(&self, py: Python<'_>, name: &str) -> PyResult<NativeDataFrame> {
        let df = py.detach(|| self.inner.table(name)).map_err(|e| match e {
            SqlError::NoSuchTable { .. } => AnalysisException::new_err(format!(
                "[TABLE_OR_VIEW_NOT_FOUND] The table or view `{name}` cannot be found."
            )),
            e => sql_err(e),
        })?;
        Ok(NativeDataFrame { inner: df })
    }

    /// Whether the view or table `name` exists.
    fn table_exists(&self, py: Python<'_>, name: &str) -> bool {
        py.detach(|| self.inner.table(name)).is_ok()
    }

    /// Removes the view `name`; whether it existed.
    fn drop_temp_view(&self, name: &str) -> PyResult<bool> {
        self.inner.drop_temp_view(name).map_err(sql_err)
    }
}

/// A query result or table (Python's `DataFrame` holds one), computed when shown, collected or
/// counted.
#[pyclass(module = "ember._native", frozen)]
pub struct NativeDataFrame {
    inner: DataFrame,
}

impl NativeDataFrame {
    fn derive(&self, r: ember_sql::Result<DataFrame>) -> PyResult<NativeDataFrame> {
        Ok(NativeDataFrame {
            inner: r.map_err(sql_err)?,
        })
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[pymethods]
impl NativeDataFrame {
    /// The column names.
    fn columns(&self) -> Vec<String> {
        self.inner.columns()
    }

    /// `(name, Spark's type name)` per column.
    fn dtypes(&self) -> Vec<(String, String)> {
        self.inner.dtypes()
    }

    /// `(name, Spark's type name, nullable)` per column, for `printSchema`.
    fn fields(&self) -> Vec<(String, String, bool)> {
        let schema = self.inner.schema();
        schema
            .fields()
            .iter()
            .zip(self.inner.dtypes())
            .map(|(f, (name, t))| (name, t, f.is_nullable()))
            .collect()
    }

    /// The number of rows.
    fn count(&self, py: Python<'_>) -> PyResult<u64> {
        py.detach(|| self.inner.count()).map_err(sql_err)
    }

    /// Every row, as `ember.sql.Row`s.
    fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = py.detach(|| self.inner.collect()).map_err(sql_err)?;
        py_rows(py, &self.inner.columns(), &rows)
    }

    /// The first `n` rows, as `ember.sql.Row`s.
    fn head<'py>(&self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyList>> {
        let rows = py.detach(|| self.inner.head(n)).map_err(sql_err)?;
        py_rows(py, &self.inner.columns(), &rows)
    }

    /// Spark's `showString(n, truncate, vertical)`: the table `show` prints (ending in a
    /// newline; `print` adds the empty line Spark's `show` ends with). `truncate` = 0 keeps
    /// whole cells.
    fn show_string(
        &self,
        py: Python<'_>,
        n: usize,
        truncate: usize,
        vertical: bool,
    ) -> PyResult<String> {
        if !vertical {
            return py
                .detach(|| self.inner.show_string(n, truncate))
                .map_err(sql_err);
        }
        let first = py
            .detach(|| self.inner.head(n.saturating_add(1)))
            .map_err(sql_err)?;
        let cells: Vec<Vec<String>> = first
            .iter()
            .take(n)
            .map(|r| r.values().iter().map(ember_sql::render_value).collect())
            .collect();
        Ok(ember_sql::show_string_vertical(
            &self.inner.columns(),
            &cells,
            first.len() > n,
            n,
            truncate,
        ))
    }

    /// Registers this frame as the temporary view `name`, replacing one of that name.
    fn create_or_replace_temp_view(&self, name: &str) -> PyResult<()> {
        self.inner
            .create_or_replace_temp_view(name)
            .map_err(sql_err)
    }

    /// The given SQL expressions as columns (`selectExpr`).
    fn select(&self, exprs: Vec<String>) -> PyResult<Self> {
        self.derive(self.inner.select(&strs(&exprs)))
    }

    /// The rows for which the SQL condition holds.
    fn filter(&self, condition: &str) -> PyResult<Self> {
        self.derive(self.inner.filter(condition))
    }

    /// The first `n` rows.
    fn limit(&self, n: usize) -> PyResult<Self> {
        self.derive(self.inner.limit(n))
    }

    /// Sorted by SQL expressions, each optionally followed by `asc`/`desc`.
    fn order_by(&self, exprs: Vec<String>) -> PyResult<Self> {
        self.derive(self.inner.order_by(&strs(&exprs)))
    }

    /// The distinct rows.
    fn distinct(&self) -> PyResult<Self> {
        self.derive(self.inner.distinct())
    }

    /// The rows of both, by column position.
    fn union(&self, other: &NativeDataFrame) -> PyResult<Self> {
        self.derive(self.inner.union(&other.inner))
    }

    /// Grouped by SQL expressions, aggregated by SQL expressions.
    fn group_by_agg(&self, groups: Vec<String>, aggs: Vec<String>) -> PyResult<Self> {
        let grouped = self.inner.group_by(&strs(&groups)).map_err(sql_err)?;
        self.derive(grouped.agg(&strs(&aggs)))
    }

    /// Joined with `other` on equal values of the columns `on`.
    fn join(&self, other: &NativeDataFrame, on: Vec<String>, how: &str) -> PyResult<Self> {
        self.derive(self.inner.join(&other.inner, &strs(&on), how))
    }

    /// The rows as an RDD of `Row`s (`df.rdd`).
    fn to_rdd(&self, py: Python<'_>) -> PyResult<NativeRdd> {
        let rdd = py.detach(|| self.inner.to_rdd()).map_err(sql_err)?;
        let columns = self.inner.columns();
        let parts = rdd
            .partitions()
            .iter()
            .map(|p| {
                p.iter()
                    .map(|r| {
                        let values = r
                            .values()
                            .iter()
                            .map(|v| engine_value(py, v))
                            .collect::<PyResult<Vec<_>>>()?;
                        Ok(Value::Row(Box::new((columns.clone(), values))))
                    })
                    .collect::<PyResult<Vec<_>>>()
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(NativeRdd::new(Rdd::from_partitions(rdd.context(), parts)))
    }
}
