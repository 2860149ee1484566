//! `show()` byte for byte against tables printed by real Spark (PySpark 3.5.3 on Java 17):
//! `fixtures/show_cases.json`, made by `fixtures/make_show_fixtures.py`. Every case goes the
//! whole way: rows → schema inference → Arrow → DataFusion → collected rows → Spark's table.

use std::sync::Arc;

use ember::{Conf, Context};
use ember_sql::datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use ember_sql::{Row, SqlSession, Value};
use serde_json::Value as J;

const FIXTURES: &str = include_str!("fixtures/show_cases.json");

/// The element type of Spark's `array<T>`.
fn element_type(typ: &str) -> Option<&str> {
    typ.strip_prefix("array<").and_then(|t| t.strip_suffix('>'))
}

fn value(v: &J, typ: &str) -> Value {
    match v {
        J::Null => Value::Null,
        J::Object(tagged) => {
            if let Some(J::String(f)) = tagged.get("float") {
                Value::Float(match f.as_str() {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    other => other.parse().unwrap(),
                })
            } else if let Some(J::String(t)) = tagged.get("ts") {
                let t = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
                    .unwrap_or_else(|e| panic!("timestamp {t}: {e}"));
                Value::from(t)
            } else if let Some(J::String(d)) = tagged.get("date") {
                Value::from(chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap())
            } else {
                panic!("unknown tagged value {v}")
            }
        }
        J::Array(items) => {
            let inner =
                element_type(typ).unwrap_or_else(|| panic!("a list in a column of type {typ}"));
            Value::List(items.iter().map(|i| value(i, inner)).collect())
        }
        J::Bool(b) => Value::Bool(*b),
        J::String(s) => Value::Str(s.clone()),
        J::Number(n) if typ == "double" => Value::Float(n.as_f64().unwrap()),
        J::Number(n) => Value::Int(n.as_i64().unwrap()),
    }
}

fn arrow_type(typ: &str) -> DataType {
    match typ {
        "string" => DataType::Utf8,
        "bigint" => DataType::Int64,
        "double" => DataType::Float64,
        "boolean" => DataType::Boolean,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        t => {
            let inner = element_type(t).unwrap();
            DataType::List(Arc::new(Field::new("element", arrow_type(inner), true)))
        }
    }
}

/// A session on the process's context.
fn session() -> SqlSession {
    let sc = Context::get_or_create(Conf::new().set_master("local[2]")).unwrap();
    SqlSession::new(&sc).unwrap()
}

/// A case's columns (name and Spark type) and its rows.
fn columns_and_rows(case: &J) -> (Vec<(String, String)>, Vec<Row>) {
    let columns: Vec<(String, String)> = case["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c[0].as_str().unwrap().to_owned(),
                c[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let names = ember_sql::Names::new(columns.iter().map(|(n, _)| n.clone()));
    let rows = case["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let values = r
                .as_array()
                .unwrap()
                .iter()
                .zip(&columns)
                .map(|(v, (_, t))| value(v, t))
                .collect();
            Row::with_names(names.clone(), values)
        })
        .collect();
    (columns, rows)
}

#[test]
fn show_matches_spark_byte_for_byte() {
    let spark = session();
    let fixtures: J = serde_json::from_str(FIXTURES).unwrap();
    assert_eq!(fixtures["spark_version"], "3.5.3");
    let cases = fixtures["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "fixtures hold {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (columns, rows) = columns_and_rows(case);
        let df = if rows.is_empty() {
            // No rows, no inference: the schema is given, as Spark's createDataFrame(rows, schema).
            let schema = Arc::new(Schema::new(
                columns
                    .iter()
                    .map(|(n, t)| Field::new(n, arrow_type(t), true))
                    .collect::<Vec<_>>(),
            ));
            spark
                .create_data_frame_from_batches(schema, vec![])
                .unwrap()
        } else {
            spark.create_data_frame_from_rows(rows).unwrap()
        };
        let n = case["n"].as_u64().unwrap() as usize;
        let truncate = case["truncate"].as_u64().unwrap() as usize;
        // show() prints showString and println's newline: the fixture holds both.
        let got = format!("{}\n", df.show_string(n, truncate).unwrap());
        let want = case["expected"].as_str().unwrap();
        if got != want {
            failures.push(format!("case {name}:\n--- spark\n{want}--- ember\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn inferred_types_are_sparks() {
    let spark = session();
    let fixtures: J = serde_json::from_str(FIXTURES).unwrap();
    // The fixtures' column types are Spark's names; inference from the values gives them back.
    for case in fixtures["cases"].as_array().unwrap() {
        let (columns, rows) = columns_and_rows(case);
        if rows.is_empty() {
            continue;
        }
        let df = spark.create_data_frame_from_rows(rows).unwrap();
        assert_eq!(df.dtypes(), columns, "case {}", case["name"]);
    }
}
