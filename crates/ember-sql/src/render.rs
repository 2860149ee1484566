//! Values as Spark's `show()` writes them (Spark 3.5's `ToPrettyString`): `NULL`, Java's
//! `Double.toString`, timestamps without trailing fractional zeros, lists in brackets.

use std::fmt::Write as _;

use crate::row::Value;

/// The text of one cell, before `show()` escapes control characters and truncates it.
pub fn render_value(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("NULL"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&java_double(*f)),
        Value::Str(s) => out.push_str(s),
        Value::Date(days) => out.push_str(&date(*days)),
        Value::Timestamp(micros) => out.push_str(&timestamp(*micros)),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
    }
}

/// Java's `Double.toString`: plain notation with at least one fractional digit for magnitudes
/// in [1e-3, 1e7), computerized scientific notation (`1.0E20`, `1.5E-5`) otherwise, and the
/// shortest digits that round-trip (as Rust's own formatting chooses them).
pub fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let magnitude = f.abs();
    if f == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let plain = format!("{f}");
        return if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
}

/// `yyyy-MM-dd` of a day count since 1970-01-01.
pub fn date(days: i32) -> String {
    match chrono::NaiveDate::default().checked_add_signed(chrono::TimeDelta::days(days as i64)) {
        Some(d) => d.format("%Y-%m-%d").to_string(),
        None => format!("{days} days"),
    }
}

/// `yyyy-MM-dd HH:mm:ss[.fraction]` in UTC, the fraction without trailing zeros, as Spark
/// prints a timestamp (`2024-01-02 03:04:05.1`).
pub fn timestamp(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let Some(t) = chrono::DateTime::from_timestamp(secs, 0) else {
        return format!("{micros} us");
    };
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    if frac != 0 {
        let digits = format!("{frac:06}");
        s.push('.');
        s.push_str(digits.trim_end_matches('0'));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_as_java_prints_them() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (1e20, "1.0E20"),
            (1e-5, "1.0E-5"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (0.001, "0.001"),
            (0.000999, "9.99E-4"),
            (1.0 / 3.0, "0.3333333333333333"),
            (2.5e-300, "2.5E-300"),
            (-1e7, "-1.0E7"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (f, want) in cases {
            assert_eq!(java_double(f), want, "{f:e}");
        }
    }

    #[test]
    fn timestamps_and_dates() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00");
        assert_eq!(timestamp(100_000), "1970-01-01 00:00:00.1");
        assert_eq!(timestamp(-500_000), "1969-12-31 23:59:59.5");
        assert_eq!(timestamp(1), "1970-01-01 00:00:00.000001");
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-1), "1969-12-31");
    }

    #[test]
    fn lists_and_nulls() {
        let v = Value::List(vec![Value::Int(1), Value::Null]);
        assert_eq!(render_value(&v), "[1, NULL]");
        assert_eq!(render_value(&Value::List(vec![])), "[]");
        assert_eq!(render_value(&Value::Null), "NULL");
    }
}
