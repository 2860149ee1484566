//! The `DataFrame` (Spark's `Dataset[Row]`): a query plan over tables, computed when it is
//! shown, collected or counted. Transformations take Spark SQL expressions as text
//! (`"count(*) as total"`, `"word desc"`), as PySpark's `selectExpr`, `filter(str)` and
//! `expr(...)` do; [`DataFrame::datafusion`] gives DataFusion's typed API for the rest.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::common::{Column, JoinType};
use datafusion::logical_expr::{Expr, SortExpr};
use datafusion::prelude::coalesce;
use ember::Rdd;

use crate::convert::batches_to_rows;
use crate::error::{Result, SqlError};
use crate::render::render_value;
use crate::row::Row;
use crate::session::SqlSession;
use crate::show::show_string;

/// Rows `show()` prints by default.
pub const DEFAULT_SHOW_ROWS: usize = 20;
/// Characters `show()` keeps of a long cell by default.
pub const DEFAULT_TRUNCATE: usize = 20;

/// A table or query result of a [`SqlSession`]. Cloning is cheap; every method leaves `self`
/// usable.
#[derive(Clone)]
pub struct DataFrame {
    session: SqlSession,
    df: datafusion::dataframe::DataFrame,
}

impl std::fmt::Debug for DataFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataFrame")
            .field("columns", &self.columns())
            .finish_non_exhaustive()
    }
}

impl DataFrame {
    pub(crate) fn new(session: SqlSession, df: datafusion::dataframe::DataFrame) -> DataFrame {
        DataFrame { session, df }
    }

    /// Wraps a DataFusion data frame of `session`'s DataFusion context.
    pub fn from_datafusion(
        session: &SqlSession,
        df: datafusion::dataframe::DataFrame,
    ) -> DataFrame {
        DataFrame::new(session.clone(), df)
    }

    /// DataFusion's data frame, for its typed expression API.
    pub fn datafusion(&self) -> &datafusion::dataframe::DataFrame {
        &self.df
    }

    /// The session this data frame belongs to.
    pub fn session(&self) -> &SqlSession {
        &self.session
    }

    fn with(&self, df: datafusion::dataframe::DataFrame) -> DataFrame {
        DataFrame::new(self.session.clone(), df)
    }

    // -----------------------------------------------------------------------------------------
    // Schema

    /// The Arrow schema of the rows.
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(self.df.schema().as_arrow().fields().clone()))
    }

    /// The column names (Spark's `df.columns`).
    pub fn columns(&self) -> Vec<String> {
        self.df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The column names and Spark's names of their types (Spark's `df.dtypes`):
    /// `[("word", "string"), ("total", "bigint")]`.
    pub fn dtypes(&self) -> Vec<(String, String)> {
        self.df
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), spark_type_name(f.data_type())))
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Actions

    /// Prints the first 20 rows as Spark's `show()` does, cells truncated to 20 characters,
    /// then an empty line. A stdout that cannot be written is an [`SqlError::Output`]: closed
    /// (the program is piped into `head`), which in a stream's output stops the stream quietly,
    /// or failed (see [`ember::output`]).
    pub fn show(&self) -> Result<()> {
        self.show_n(DEFAULT_SHOW_ROWS, DEFAULT_TRUNCATE)
    }

    /// Prints the first `rows` rows as Spark's `show(rows, truncate)`: `truncate` = 0 prints
    /// whole cells, left-aligned.
    pub fn show_n(&self, rows: usize, truncate: usize) -> Result<()> {
        let table = self.show_string(rows, truncate)?;
        ember::output::write_stdout(&format!("{table}\n"))?;
        Ok(())
    }

    /// The table [`show_n`](Self::show_n) prints, without the final empty line (Spark's
    /// `showString`). Only `rows + 1` rows are computed.
    pub fn show_string(&self, rows: usize, truncate: usize) -> Result<String> {
        let header = self.columns();
        let first = self.head(rows.saturating_add(1))?;
        let has_more = first.len() > rows;
        let cells: Vec<Vec<String>> = first
            .iter()
            .take(rows)
            .map(|r| r.values().iter().map(render_value).collect())
            .collect();
        Ok(show_string(&header, &cells, has_more, rows, truncate))
    }

    /// The first `n` rows (Spark's `head(n)`/`take(n)`).
    pub fn head(&self, n: usize) -> Result<Vec<Row>> {
        self.limit(n)?.collect()
    }

    /// All rows, in the order the query gives them (Spark's `collect()`).
    pub fn collect(&self) -> Result<Vec<Row>> {
        let schema = self.schema();
        let batches = self.session.block_on(self.df.clone().collect())?;
        batches_to_rows(&schema, &batches)
    }

    /// The number of rows (Spark's `count()`).
    pub fn count(&self) -> Result<u64> {
        Ok(self.session.block_on(self.df.clone().count())? as u64)
    }

    /// The rows as an RDD of the session's context, one partition per partition of the result
    /// (Spark's `df.rdd`).
    pub fn to_rdd(&self) -> Result<Rdd<Row>> {
        let schema = self.schema();
        let parts = self
            .session
            .block_on(self.df.clone().collect_partitioned())?;
        let parts = parts
            .iter()
            .map(|batches| batches_to_rows(&schema, batches))
            .collect::<Result<Vec<_>>>()?;
        Ok(Rdd::from_partitions(self.session.context(), parts))
    }

    /// Registers this data frame as the temporary view `name` of its session, replacing a view
    /// of that name (Spark's `createOrReplaceTempView`).
    pub fn create_or_replace_temp_view(&self, name: &str) -> Result<()> {
        self.session.register_view(name, self.df.clone())
    }

    // -----------------------------------------------------------------------------------------
    // Transformations

    fn expr(&self, sql: &str) -> Result<Expr> {
        Ok(self.df.parse_sql_expr(sql)?)
    }

    fn exprs(&self, sql: &[&str]) -> Result<Vec<Expr>> {
        sql.iter().map(|s| self.expr(s)).collect()
    }

    /// The given expressions as columns (Spark's `selectExpr`): `["word", "total * 2 as twice"]`.
    pub fn select(&self, exprs: &[&str]) -> Result<DataFrame> {
        Ok(self.with(self.df.clone().select(self.exprs(exprs)?)?))
    }

    /// The rows for which `condition` holds (Spark's `filter("total > 1")`).
    pub fn filter(&self, condition: &str) -> Result<DataFrame> {
        Ok(self.with(self.df.clone().filter(self.expr(condition)?)?))
    }

    /// Adds (or replaces) the column `name` computed by `expr` (Spark's `withColumn`).
    pub fn with_column(&self, name: &str, expr: &str) -> Result<DataFrame> {
        Ok(self.with(self.df.clone().with_column(name, self.expr(expr)?)?))
    }

    /// Groups by the given expressions, for [`GroupedData::agg`] or [`GroupedData::count`]
    /// (Spark's `groupBy`).
    pub fn group_by(&self, exprs: &[&str]) -> Result<GroupedData> {
        Ok(GroupedData {
            df: self.clone(),
            groups: self.exprs(exprs)?,
        })
    }

    /// Aggregates over all rows (Spark's `agg` without grouping): `["count(*) as n", "max(x)"]`.
    pub fn agg(&self, exprs: &[&str]) -> Result<DataFrame> {
        Ok(self.with(self.df.clone().aggregate(vec![], self.exprs(exprs)?)?))
    }

    /// Sorts by the given expressions, each optionally followed by `asc` or `desc` and `nulls
    /// first` or `nulls last` (Spark's `orderBy`; nulls come first when ascending, as in Spark).
    pub fn order_by(&self, exprs: &[&str]) -> Result<DataFrame> {
        let sorts = exprs
            .iter()
            .map(|s| self.sort_expr(s))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.with(self.df.clone().sort(sorts)?))
    }

    fn sort_expr(&self, s: &str) -> Result<SortExpr> {
        let mut rest = s.trim();
        let mut nulls_first = None;
        let lower = rest.to_ascii_lowercase();
        if lower.ends_with(" nulls first") || lower.ends_with(" nulls last") {
            nulls_first = Some(lower.ends_with(" nulls first"));
            let cut = lower.rfind(" nulls ").unwrap_or(rest.len());
            rest = rest[..cut].trim_end();
        }
        let lower = rest.to_ascii_lowercase();
        let mut asc = true;
        if lower.ends_with(" desc") {
            asc = false;
            rest = rest[..rest.len() - 5].trim_end();
        } else if lower.ends_with(" asc") {
            rest = rest[..rest.len() - 4].trim_end();
        }
        Ok(self.expr(rest)?.sort(asc, nulls_first.unwrap_or(asc)))
    }

    /// The first `n` rows (Spark's `limit`).
    pub fn limit(&self, n: usize) -> Result<DataFrame> {
        Ok(self.with(self.df.clone().limit(0, Some(n))?))
    }

    /// The distinct rows (Spark's `distinct`).
    pub fn distinct(&self) -> Result<DataFrame> {
        Ok(self.with(self.df.clone().distinct()?))
    }

    /// The rows of both, by column position (Spark's `union`, which keeps duplicates).
    pub fn union(&self, other: &DataFrame) -> Result<DataFrame> {
        Ok(self.with(self.df.clone().union(other.df.clone())?))
    }

    /// Joins with `other` on equal values of the columns `on`, which both have (Spark's
    /// `join(other, on, how)`). `how` is one of `inner`, `left` (`left_outer`), `right`
    /// (`right_outer`), `full` (`outer`, `full_outer`), `left_semi` (`semi`) and `left_anti`
    /// (`anti`). As in Spark, the result has each `on` column once, first, then the other
    /// columns of `self`, then those of `other` (none for semi and anti joins).
    pub fn join(&self, other: &DataFrame, on: &[&str], how: &str) -> Result<DataFrame> {
        let join_type = match how.to_ascii_lowercase().replace('_', "").as_str() {
            "inner" => JoinType::Inner,
            "left" | "leftouter" => JoinType::Left,
            "right" | "rightouter" => JoinType::Right,
            "full" | "outer" | "fullouter" => JoinType::Full,
            "leftsemi" | "semi" => JoinType::LeftSemi,
            "leftanti" | "anti" => JoinType::LeftAnti,
            _ => {
                return Err(SqlError::InvalidArgument(format!(
                    "Unsupported join type '{how}'. Supported join types include: 'inner', \
                     'left', 'left_outer', 'right', 'right_outer', 'full', 'outer', \
                     'full_outer', 'left_semi', 'semi', 'left_anti', 'anti'."
                )));
            }
        };
        let (left_cols, right_cols) = (self.columns(), other.columns());
        for key in on {
            for (side, cols) in [("left", &left_cols), ("right", &right_cols)] {
                if !cols.iter().any(|c| c == key) {
                    return Err(SqlError::NotFound(format!(
                        "join column {key} is not a column of the {side} side (its columns: {})",
                        cols.join(", ")
                    )));
                }
            }
        }
        // Both sides get a name of their own, so that columns present on both stay apart.
        const L: &str = "__ember_left";
        const R: &str = "__ember_right";
        let column = |q: &str, name: &str| Expr::Column(Column::new(Some(q), name));
        let lkeys: Vec<String> = on.iter().map(|k| format!("{L}.{k}")).collect();
        let rkeys: Vec<String> = on.iter().map(|k| format!("{R}.{k}")).collect();
        let lkeys: Vec<&str> = lkeys.iter().map(String::as_str).collect();
        let rkeys: Vec<&str> = rkeys.iter().map(String::as_str).collect();
        let joined = self.df.clone().alias(L)?.join(
            other.df.clone().alias(R)?,
            join_type,
            &lkeys,
            &rkeys,
            None,
        )?;
        let mut out: Vec<Expr> = on
            .iter()
            .map(|k| {
                let key = match join_type {
                    JoinType::Right => column(R, k),
                    JoinType::Full => coalesce(vec![column(L, k), column(R, k)]),
                    _ => column(L, k),
                };
                key.alias(*k)
            })
            .collect();
        out.extend(
            left_cols
                .iter()
                .filter(|c| !on.contains(&c.as_str()))
                .map(|c| column(L, c).alias(c)),
        );
        if !matches!(join_type, JoinType::LeftSemi | JoinType::LeftAnti) {
            out.extend(
                right_cols
                    .iter()
                    .filter(|c| !on.contains(&c.as_str()))
                    .map(|c| column(R, c).alias(c)),
            );
        }
        Ok(self.with(joined.select(out)?))
    }
}

/// A grouped data frame (Spark's `GroupedData`), from [`DataFrame::group_by`].
#[derive(Debug, Clone)]
pub struct GroupedData {
    df: DataFrame,
    groups: Vec<Expr>,
}

impl GroupedData {
    /// One row per group: the grouping columns, then the aggregates (Spark's `agg`):
    /// `["count(*) as total", "avg(len) as mean"]`.
    pub fn agg(&self, exprs: &[&str]) -> Result<DataFrame> {
        let aggs = self.df.exprs(exprs)?;
        Ok(self
            .df
            .with(self.df.df.clone().aggregate(self.groups.clone(), aggs)?))
    }

    /// The number of rows of each group, in a column `count` (Spark's `groupBy(...).count()`).
    pub fn count(&self) -> Result<DataFrame> {
        self.agg(&["count(*) as count"])
    }
}

/// Spark's name of an Arrow type (`bigint`, `string`, `array<double>`).
pub fn spark_type_name(t: &DataType) -> String {
    match t {
        DataType::Null => "void".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            format!("{t}").to_lowercase()
        }
        DataType::Float16 | DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            format!("array<{}>", spark_type_name(f.data_type()))
        }
        DataType::Dictionary(_, v) => spark_type_name(v),
        other => format!("{other}").to_lowercase(),
    }
}
