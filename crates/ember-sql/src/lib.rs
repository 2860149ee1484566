//! ember-sql: SQL over ember's batches with Apache DataFusion, shaped as Spark's
//! `SparkSession` and `DataFrame`.
//!
//! The seed notebook's fourth program, on one batch: words become rows, the rows a temporary
//! view, and Spark's query runs on it.
//!
//! ```
//! use ember::{Conf, Context};
//! use ember_sql::{row, SqlSession};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
//! let lines = sc.parallelize(vec!["to be or".to_string(), "not to be".to_string()], 2);
//!
//! let spark = SqlSession::get_or_create(&sc)?;
//! let rows = lines
//!     .flat_map(|line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
//!     .map(|w| row!(word = w));
//! spark.create_data_frame(&rows)?.create_or_replace_temp_view("words")?;
//!
//! let counts = spark.sql("select word, count(*) as total from words group by word order by word")?;
//! counts.show()?; // Spark's table, on stdout
//! assert_eq!(
//!     counts.show_string(20, 20)?,
//!     "+----+-----+\n\
//!      |word|total|\n\
//!      +----+-----+\n\
//!      |  be|    2|\n\
//!      | not|    1|\n\
//!      |  or|    1|\n\
//!      |  to|    2|\n\
//!      +----+-----+\n"
//! );
//! assert_eq!(counts.count()?, 4);
//! # Ok(())
//! # }
//! ```
//!
//! On a stream, [`SqlStreamExt::show_sql`] does the seed's whole `foreachRDD(process)`, and
//! [`SqlStreamExt::foreach_sql`] hands each batch's result to a closure; a failing query fails
//! its batch only.
//!
//! DataFusion is asynchronous; a [`SqlSession`] owns a single-threaded Tokio runtime and every
//! method here is synchronous. Queries are parsed in Spark's dialect (backtick identifiers,
//! `count(*)`); unquoted identifiers are compared in lower case, so a column with capitals is
//! written with backticks. Timestamps are shown in UTC.

#![warn(missing_docs)]

mod convert;
mod dataframe;
mod error;
mod infer;
mod lines;
mod render;
mod row;
mod serde_rows;
mod session;
mod show;
mod stream;

pub use dataframe::{DEFAULT_SHOW_ROWS, DEFAULT_TRUNCATE, DataFrame, GroupedData, spark_type_name};
pub use error::{Result, SqlError};
pub use lines::{LineFormat, text_schema};
pub use render::render_value;
pub use row::{Names, Row, Value};
pub use session::SqlSession;
pub use show::{show_string, show_string_vertical};
pub use stream::{SqlStreamExt, batch_header};

/// DataFusion itself, for its typed expressions and Arrow types.
pub use datafusion;
