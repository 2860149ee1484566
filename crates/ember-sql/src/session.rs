//! The SQL session (Spark's `SparkSession`): turns RDDs of rows into tables, keeps temporary
//! views, runs queries. One per process through [`SqlSession::get_or_create`], the seed's
//! "lazily instantiated global instance".

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::options::JsonReadOptions;
use datafusion::prelude::{CsvReadOptions, SessionConfig, SessionContext};
use ember::sync::RecoverPoison;
use ember::{Context, Data, Rdd};
use serde::Serialize;

use crate::convert::rows_to_batch;
use crate::dataframe::DataFrame;
use crate::error::{Result, SqlError};
use crate::infer::{infer_kinds, schema_of};
use crate::row::{Names, Row};

/// The process's session, for [`SqlSession::get_or_create`].
static ACTIVE: Mutex<Option<SqlSession>> = Mutex::new(None);

/// Above this many rows, a batch's partitions become Arrow batches on several threads.
const PARALLEL_ROWS: usize = 64 * 1024;

/// A SQL session over an ember [`Context`]: cheap to clone, shared by every clone.
///
/// DataFusion is asynchronous; the session owns a small single-threaded Tokio runtime and its
/// methods block on it, so callers (a `foreach_rdd` closure, a command line) stay synchronous.
#[derive(Clone)]
pub struct SqlSession {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Context,
    df: SessionContext,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for SqlSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSession")
            .field("context", &self.inner.ctx)
            .finish_non_exhaustive()
    }
}

impl SqlSession {
    /// The process's session, created on first use (Spark's
    /// `SparkSession.builder.config(conf=rdd.context.getConf()).getOrCreate()`). A session whose
    /// context was stopped is replaced by one on `ctx`.
    pub fn get_or_create(ctx: &Context) -> Result<SqlSession> {
        let mut active = ACTIVE.lock().recover();
        if let Some(s) = active.as_ref().filter(|s| !s.inner.ctx.is_stopped()) {
            return Ok(s.clone());
        }
        let session = SqlSession::new(ctx)?;
        *active = Some(session.clone());
        Ok(session)
    }

    /// A new session of its own (its views are not shared with the process's session).
    pub fn new(ctx: &Context) -> Result<SqlSession> {
        let config = SessionConfig::new()
            // Batches are small and the runtime has one thread: splitting a query into
            // partitions would only add repartitioning.
            .with_target_partitions(1)
            .with_information_schema(true)
            // Spark's SQL dialect: backticks, Spark's literals and functions where DataFusion
            // has them; and Spark's ordering of nulls (first when ascending).
            .set_str("datafusion.sql_parser.dialect", "spark")
            .set_str("datafusion.sql_parser.default_null_ordering", "nulls_min");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .thread_name("ember-sql")
            .build()
            .map_err(SqlError::Runtime)?;
        Ok(SqlSession {
            inner: Arc::new(Inner {
                ctx: ctx.clone(),
                df: SessionContext::new_with_config(config),
                runtime,
            }),
        })
    }

    /// The ember context this session belongs to.
    pub fn context(&self) -> &Context {
        &self.inner.ctx
    }

    /// DataFusion's session, for what ember-sql does not wrap (user-defined functions, other
    /// table providers).
    pub fn datafusion(&self) -> &SessionContext {
        &self.inner.df
    }

    /// Runs a DataFusion future to completion on the session's runtime. From inside another
    /// Tokio runtime (where blocking is not allowed) it runs on a scoped thread.
    pub(crate) fn block_on<F>(&self, f: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(|| self.inner.runtime.block_on(f))
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            })
        } else {
            self.inner.runtime.block_on(f)
        }
    }

    /// A table of the RDD's rows (Spark's `createDataFrame(rdd)`). Column names come from the
    /// first row's field names (`_1`, `_2`, ... without names), types are inferred from every
    /// value (see [`Value`](crate::Value)). An empty RDD has no schema to infer and is refused, as in Spark;
    /// the seed's pattern returns early on `rdd.is_empty()`.
    pub fn create_data_frame(&self, rdd: &Rdd<Row>) -> Result<DataFrame> {
        self.data_frame_from_partitions(rdd.partitions())
    }

    /// A table of local rows (Spark's `createDataFrame(list)`).
    pub fn create_data_frame_from_rows(&self, rows: Vec<Row>) -> Result<DataFrame> {
        self.data_frame_from_partitions(&[rows])
    }

    /// A table of an RDD of serde structs, one column per field, in declaration order (Spark's
    /// `createDataFrame(rdd, JavaBean.class)`, Scala's `toDF()` on case classes). Fields map as
    /// [`Value`](crate::Value)'s variants (integers, floats, strings, booleans, `Option`s,
    /// `Vec`s); a nested struct or map becomes its JSON text. A tuple gives columns `_1`, `_2`, ..., a single
    /// value (`Rdd<i64>`) one column `value`.
    pub fn create_data_frame_from_serde<T: Data + Serialize>(
        &self,
        rdd: &Rdd<T>,
    ) -> Result<DataFrame> {
        let mut names: Option<Names> = None;
        let parts = rdd
            .partitions()
            .iter()
            .map(|part| {
                part.iter()
                    .map(|x| crate::serde_rows::to_row(x, &mut names))
                    .collect::<Result<Vec<Row>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        self.data_frame_from_partitions(&parts)
    }

    fn data_frame_from_partitions(&self, parts: &[Vec<Row>]) -> Result<DataFrame> {
        let Some((names, kinds)) = infer_kinds(parts)? else {
            return Err(SqlError::Schema(
                "can not infer schema from an empty dataset (skip empty batches, as the seed \
                 does with rdd.is_empty())"
                    .into(),
            ));
        };
        let schema = schema_of(&names, &kinds);
        let total: usize = parts.iter().map(Vec::len).sum();
        let threads = self.inner.ctx.default_parallelism().clamp(1, 8);
        let batches: Vec<RecordBatch> = if total >= PARALLEL_ROWS && threads > 1 {
            // Converting rows is most of the cost of a large batch: cut them into one slice per
            // thread (whatever the partitioning) and convert the slices at once.
            let rows: Vec<&Row> = parts.iter().flatten().collect();
            let chunk = rows.len().div_ceil(threads);
            std::thread::scope(|s| {
                let handles: Vec<_> = rows
                    .chunks(chunk)
                    .map(|slice| s.spawn(|| rows_to_batch(&schema, &kinds, slice)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect::<Result<Vec<_>>>()
            })?
        } else {
            let rows: Vec<&Row> = parts.iter().flatten().collect();
            vec![rows_to_batch(&schema, &kinds, &rows)?]
        };
        self.data_frame_from_batches(schema, batches)
    }

    /// A table of Arrow record batches that share `schema`.
    pub fn create_data_frame_from_batches(
        &self,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<DataFrame> {
        self.data_frame_from_batches(schema, batches)
    }

    fn data_frame_from_batches(
        &self,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<DataFrame> {
        let table = MemTable::try_new(schema, vec![batches])?;
        let df = self.inner.df.read_table(Arc::new(table))?;
        Ok(DataFrame::new(self.clone(), df))
    }

    /// Runs a query (Spark's `spark.sql`). Parsing and planning happen here, so a query that
    /// does not parse or names an unknown table or column fails now, with DataFusion's message;
    /// the rows are computed when the result is shown or collected.
    pub fn sql(&self, query: &str) -> Result<DataFrame> {
        let df = self.block_on(self.inner.df.sql(query))?;
        Ok(DataFrame::new(self.clone(), df))
    }

    /// Checks that `query` parses, without planning it (its tables need not exist yet).
    pub fn parse(&self, query: &str) -> Result<()> {
        let state = self.inner.df.state();
        let dialect = state.config().options().sql_parser.dialect;
        state.sql_to_statement(query, &dialect)?;
        Ok(())
    }

    /// The temporary view or table `name` (Spark's `spark.table`).
    pub fn table(&self, name: &str) -> Result<DataFrame> {
        let df =
            self.block_on(self.inner.df.table(name))
                .map_err(|source| SqlError::NoSuchTable {
                    name: name.to_owned(),
                    source,
                })?;
        Ok(DataFrame::new(self.clone(), df))
    }

    /// Removes the temporary view `name`; whether it existed (Spark's `dropTempView`).
    pub fn drop_temp_view(&self, name: &str) -> Result<bool> {
        Ok(self.inner.df.deregister_table(name)?.is_some())
    }

    /// Registers `df` as the view `name`, replacing a view of that name.
    pub(crate) fn register_view(
        &self,
        name: &str,
        df: datafusion::dataframe::DataFrame,
    ) -> Result<()> {
        self.inner.df.deregister_table(name)?;
        self.inner.df.register_table(name, df.into_view())?;
        Ok(())
    }

    /// A static table from a CSV file with a header line, column types inferred from the data
    /// (Spark's `spark.read.option("header", true).option("inferSchema", true).csv(path)`), to
    /// join batches with.
    pub fn read_csv(&self, path: impl AsRef<Path>) -> Result<DataFrame> {
        let path = path.as_ref();
        let file = checked_path(path, "CSV")?;
        let ext = extension(path);
        let options = CsvReadOptions::new().file_extension(&ext);
        let df = self
            .block_on(self.inner.df.read_csv(file, options))
            .map_err(|e| read_error(path, "CSV", e))?;
        Ok(DataFrame::new(self.clone(), df))
    }

    /// A static table from a file of JSON objects, one per line (Spark's `spark.read.json`,
    /// JSON Lines), column types inferred.
    pub fn read_json(&self, path: impl AsRef<Path>) -> Result<DataFrame> {
        let path = path.as_ref();
        let file = checked_path(path, "JSON")?;
        let ext = extension(path);
        let options = JsonReadOptions::default().file_extension(&ext);
        let df = self
            .block_on(self.inner.df.read_json(file, options))
            .map_err(|e| read_error(path, "JSON", e))?;
        Ok(DataFrame::new(self.clone(), df))
    }
}

fn checked_path(path: &Path, what: &str) -> Result<String> {
    if !path.is_file() {
        return Err(SqlError::Read {
            context: format!("reading {what} file {}", path.display()),
            source: "no such file".into(),
        });
    }
    let abs = std::fs::canonicalize(path).map_err(|e| SqlError::Read {
        context: format!("reading {what} file {}", path.display()),
        source: e.into(),
    })?;
    Ok(abs.to_string_lossy().into_owned())
}

/// The file's own extension (with its dot), so that DataFusion reads `people.txt` as well as
/// `people.csv` (it otherwise skips files that do not end in `.csv`/`.json`).
fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default()
}

fn read_error(path: &Path, what: &str, e: datafusion::error::DataFusionError) -> SqlError {
    SqlError::Read {
        context: format!("reading {what} file {}", path.display()),
        source: e.into(),
    }
}
