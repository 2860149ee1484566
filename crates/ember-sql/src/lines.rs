//! A batch of text lines as a table: one column `line` (Spark's `spark.read.text`), CSV records
//! (`spark.read.csv` without a header: columns `_c0`, `_c1`, ... with inferred types) or JSON
//! objects (`spark.read.json`, JSON Lines, inferred types). This is what `ember sql` queries per
//! batch.

use std::io::Cursor;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use crate::dataframe::DataFrame;
use crate::error::{Result, SqlError};
use crate::session::SqlSession;

/// How the lines of a stream become rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// One column `line` holding the whole line.
    Text,
    /// Comma-separated values without a header: columns `_c0`, `_c1`, ... whose types are
    /// inferred from the batch (integers, floats, booleans, dates, timestamps, strings).
    Csv,
    /// One JSON object per line: a column per key, types inferred from the batch.
    Json,
}

impl FromStr for LineFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(LineFormat::Text),
            "csv" => Ok(LineFormat::Csv),
            "json" => Ok(LineFormat::Json),
            _ => Err(format!("unknown format {s} (use text, csv or json)")),
        }
    }
}

/// The schema of a text batch: one string column `line`.
pub fn text_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("line", DataType::Utf8, true)]))
}

impl SqlSession {
    /// A table of `lines` in `format`. A text batch of no lines is an empty table with the
    /// column `line`; CSV and JSON batches of no lines have no schema and are refused, as
    /// [`SqlSession::create_data_frame`] refuses an empty RDD.
    pub fn create_data_frame_from_lines(
        &self,
        lines: &[String],
        format: LineFormat,
    ) -> Result<DataFrame> {
        let (schema, batches) = match format {
            LineFormat::Text => {
                let schema = text_schema();
                let column = StringArray::from_iter_values(lines.iter());
                let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(column)])?;
                (schema, vec![batch])
            }
            LineFormat::Csv => csv_batches(nonblank(lines)?)?,
            LineFormat::Json => json_batches(nonblank(lines)?)?,
        };
        self.create_data_frame_from_batches(schema, batches)
    }
}

/// The lines joined for a reader, blank lines left out (they are not records).
fn nonblank(lines: &[String]) -> Result<Vec<u8>> {
    let mut text = Vec::new();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        text.extend_from_slice(line.as_bytes());
        text.push(b'\n');
    }
    if text.is_empty() {
        return Err(SqlError::Schema(
            "can not infer schema from an empty batch".into(),
        ));
    }
    Ok(text)
}

fn csv_batches(text: Vec<u8>) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    use arrow_csv::reader::{Format, ReaderBuilder};
    let format = Format::default().with_header(false);
    let (inferred, _) = format.infer_schema(Cursor::new(&text), None)?;
    // Spark's names for the columns of a header-less CSV.
    let fields: Vec<Field> = inferred
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| Field::new(format!("_c{i}"), f.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let reader = ReaderBuilder::new(schema.clone())
        .with_header(false)
        .build(Cursor::new(text))?;
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

fn json_batches(text: Vec<u8>) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    use arrow_json::reader::{ReaderBuilder, infer_json_schema};
    let (schema, _) = infer_json_schema(Cursor::new(&text), None)?;
    let schema = Arc::new(schema);
    let reader = ReaderBuilder::new(schema.clone()).build(Cursor::new(text))?;
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}
