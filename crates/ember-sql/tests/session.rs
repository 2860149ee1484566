//! The session and data frames: schema inference, serde structs, Spark's SQL, errors as values,
//! static CSV/JSON tables joined with a batch, and the DataFrame methods.

// Alike on purpose (`duplicates` shows them as shapes): the literal rows of the data frames of
// `dataframe_methods` and `joins_keep_each_key_once`, written out as a reader expects a table.

use ember::{Conf, Context};
use ember_sql::{LineFormat, Row, SqlError, SqlSession, Value, row};
use serde::{Deserialize, Serialize};

fn session() -> SqlSession {
    let sc = Context::get_or_create(Conf::new().set_master("local[2]")).unwrap();
    SqlSession::new(&sc).unwrap()
}

fn words(spark: &SqlSession, words: &[&str]) -> ember_sql::DataFrame {
    let rdd = spark
        .context()
        .parallelize(words.iter().map(|w| w.to_string()).collect(), 2)
        .map(|w| row!(word = w));
    spark.create_data_frame(&rdd).unwrap()
}

fn strings(rows: &[Row]) -> Vec<String> {
    rows.iter().map(ToString::to_string).collect()
}

/// The rows `query` returns.
fn query(spark: &SqlSession, query: &str) -> Vec<Row> {
    spark.sql(query).unwrap().collect().unwrap()
}

/// A data frame of `rows`, with the inferred schema.
fn frame(spark: &SqlSession, rows: Vec<Row>) -> ember_sql::DataFrame {
    spark.create_data_frame_from_rows(rows).unwrap()
}

/// Column names and types, as `DataFrame::dtypes` gives them.
fn dtypes(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, typ)| (name.to_string(), typ.to_string()))
        .collect()
}

#[test]
fn the_seeds_query() {
    let spark = session();
    words(&spark, &["a", "b", "a", "c", "a"])
        .create_or_replace_temp_view("words")
        .unwrap();
    let df = spark
        .sql("select word, count(*) as total from words group by word order by total desc, word")
        .unwrap();
    assert_eq!(df.columns(), ["word", "total"]);
    assert_eq!(
        strings(&df.collect().unwrap()),
        [
            "Row(word='a', total=3)",
            "Row(word='b', total=1)",
            "Row(word='c', total=1)"
        ]
    );
    assert_eq!(df.count().unwrap(), 3);
    // A view is replaced by the next batch's.
    words(&spark, &["z"])
        .create_or_replace_temp_view("words")
        .unwrap();
    assert_eq!(spark.table("words").unwrap().count().unwrap(), 1);
}

#[test]
fn get_or_create_is_one_per_process() {
    let sc = Context::get_or_create(Conf::new().set_master("local[2]")).unwrap();
    let a = SqlSession::get_or_create(&sc).unwrap();
    let b = SqlSession::get_or_create(&sc).unwrap();
    words(&a, &["x"])
        .create_or_replace_temp_view("shared_view")
        .unwrap();
    assert_eq!(b.table("shared_view").unwrap().count().unwrap(), 1);
    assert!(b.drop_temp_view("shared_view").unwrap());
    assert!(!a.drop_temp_view("shared_view").unwrap());
}

#[test]
fn schema_inference_from_values() {
    let spark = session();
    let t = chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
        .unwrap()
        .and_hms_opt(3, 4, 5)
        .unwrap();
    let rows = vec![
        row!(
            i = 1i64,
            f = 0.5,
            s = "x",
            b = true,
            t = t,
            l = vec![1i64, 2],
            n = Value::Null
        ),
        row!(
            i = None::<i64>,
            f = 2i64,
            s = None::<String>,
            b = None::<bool>,
            t = Value::Null,
            l = Value::Null,
            n = Value::Null
        ),
    ];
    let df = frame(&spark, rows);
    assert_eq!(
        df.dtypes(),
        dtypes(&[
            ("i", "bigint"),
            ("f", "double"),
            ("s", "string"),
            ("b", "boolean"),
            ("t", "timestamp"),
            ("l", "array<bigint>"),
            ("n", "void"),
        ])
    );
    assert_eq!(
        df.show_string(20, 20).unwrap(),
        "+----+---+----+----+-------------------+------+----+\n\
         |   i|  f|   s|   b|                  t|     l|   n|\n\
         +----+---+----+----+-------------------+------+----+\n\
         |   1|0.5|   x|true|2024-01-02 03:04:05|[1, 2]|NULL|\n\
         |NULL|2.0|NULL|NULL|               NULL|  NULL|NULL|\n\
         +----+---+----+----+-------------------+------+----+\n"
    );
    // Values come back as they went in (the integer in a double column as a double).
    let back = df.collect().unwrap();
    assert_eq!(back[0].get_by_name("t"), Some(&Value::from(t)));
    assert_eq!(back[1].get_by_name("f"), Some(&Value::Float(2.0)));
    assert_eq!(
        back[0].get_by_name("l"),
        Some(&Value::List(vec![Value::Int(1), Value::Int(2)]))
    );
}

#[test]
fn positional_rows_are_named_like_tuples() {
    let spark = session();
    let df = frame(&spark, vec![row!["a", 1], row!["b", 2]]);
    assert_eq!(df.columns(), ["_1", "_2"]);
    df.create_or_replace_temp_view("pairs").unwrap();
    let r = query(&spark, "select sum(_2) as s from pairs");
    assert_eq!(r[0].get(0), Some(&Value::Int(3)));
}

#[test]
fn conflicting_and_ragged_rows_are_schema_errors() {
    let spark = session();
    let e = spark
        .create_data_frame_from_rows(vec![row!(a = 1i64), row!(a = "x")])
        .unwrap_err();
    assert!(matches!(e, SqlError::Schema(_)));
    assert_eq!(
        e.to_string(),
        "cannot infer the schema: field a: can not merge type bigint and string"
    );
    let e = spark
        .create_data_frame(&spark.context().empty_rdd::<Row>())
        .unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Person {
    name: String,
    age: i64,
    email: Option<String>,
    scores: Vec<f64>,
}

#[test]
fn serde_structs_become_columns_in_field_order() {
    let spark = session();
    let people = spark.context().parallelize(
        vec![
            Person {
                name: "Ann".into(),
                age: 31,
                email: None,
                scores: vec![1.5],
            },
            Person {
                name: "Bob".into(),
                age: 27,
                email: Some("b@x".into()),
                scores: vec![],
            },
        ],
        2,
    );
    let df = spark.create_data_frame_from_serde(&people).unwrap();
    assert_eq!(df.columns(), ["name", "age", "email", "scores"]);
    assert_eq!(
        df.dtypes()[3],
        ("scores".to_string(), "array<double>".to_string())
    );
    df.create_or_replace_temp_view("people").unwrap();
    let r = query(&spark, "select name from people where age > 30");
    assert_eq!(strings(&r), ["Row(name='Ann')"]);
    // Plain values are one column `value`.
    let n = spark
        .create_data_frame_from_serde(&spark.context().parallelize(vec![1i64, 2, 3], 1))
        .unwrap();
    assert_eq!(n.columns(), ["value"]);
    assert_eq!(
        n.agg(&["sum(value) as s"]).unwrap().collect().unwrap()[0].get(0),
        Some(&Value::Int(6))
    );
}

#[test]
fn sparks_dialect_backticks_and_count_star() {
    let spark = session();
    spark
        .create_data_frame_from_rows(vec![
            Row::from_pairs([("Word Count", Value::Int(2)), ("word", Value::from("x"))]),
            Row::from_pairs([("Word Count", Value::Int(5)), ("word", Value::from("y"))]),
        ])
        .unwrap()
        .create_or_replace_temp_view("t")
        .unwrap();
    let r = query(
        &spark,
        "select `word`, `Word Count` * 2 as twice, count(*) over () as n from t order by `word`",
    );
    assert_eq!(
        strings(&r),
        [
            "Row(word='x', twice=4, n=2)",
            "Row(word='y', twice=10, n=2)"
        ]
    );
}

#[test]
fn bad_queries_are_errors_that_name_the_problem() {
    let spark = session();
    words(&spark, &["a"])
        .create_or_replace_temp_view("words")
        .unwrap();

    let syntax = spark.sql("selec word from words").unwrap_err();
    assert!(matches!(syntax, SqlError::Query(_)));
    // DataFusion's error is kept whole, as the source.
    let cause = std::error::Error::source(&syntax)
        .and_then(|e| e.downcast_ref::<ember_sql::datafusion::error::DataFusionError>());
    assert_eq!(cause.map(|e| e.to_string()), Some(syntax.to_string()));
    assert!(syntax.to_string().contains("selec"), "{syntax}");

    let column = spark.sql("select wrd from words").unwrap_err();
    assert!(column.to_string().contains("wrd"), "{column}");

    let table = spark.sql("select * from nowhere").unwrap_err();
    assert!(table.to_string().contains("nowhere"), "{table}");

    // A type error: a string where a number is needed.
    let types = spark
        .sql("select word from words where word - 1 > 0")
        .and_then(|df| df.collect())
        .unwrap_err();
    assert!(
        types.to_string().to_lowercase().contains("utf8") || types.to_string().contains("word"),
        "{types}"
    );

    let unknown_fn = spark
        .sql("select no_such_function(word) from words")
        .unwrap_err();
    assert!(
        unknown_fn.to_string().contains("no_such_function"),
        "{unknown_fn}"
    );

    assert!(spark.table("nowhere").is_err());
    assert!(spark.parse("select (").is_err());
    assert!(spark.parse("select x from not_yet_there").is_ok());
}

#[test]
fn dataframe_methods() {
    let spark = session();
    let df = frame(
        &spark,
        vec![
            row!(word = "a", n = 3i64, city = "x"),
            row!(word = "b", n = 1i64, city = "y"),
            row!(word = "c", n = 2i64, city = "x"),
            row!(word = "d", n = None::<i64>, city = "y"),
        ],
    );

    let selected = df.select(&["word", "n * 10 as tens"]).unwrap();
    assert_eq!(selected.columns(), ["word", "tens"]);

    let filtered = df.filter("n >= 2").unwrap().order_by(&["n desc"]).unwrap();
    assert_eq!(
        strings(&filtered.select(&["word"]).unwrap().collect().unwrap()),
        ["Row(word='a')", "Row(word='c')"]
    );

    // Nulls first when ascending, last when descending, as in Spark.
    let words_by = |order: &str| {
        df.order_by(&[order])
            .unwrap()
            .select(&["word"])
            .unwrap()
            .collect()
            .unwrap()
    };
    assert_eq!(words_by("n")[0].get(0), Some(&Value::from("d")));
    assert_eq!(words_by("n DESC")[3].get(0), Some(&Value::from("d")));

    let grouped = df
        .group_by(&["city"])
        .unwrap()
        .agg(&["count(*) as words", "sum(n) as total"])
        .unwrap()
        .order_by(&["city"])
        .unwrap();
    assert_eq!(
        strings(&grouped.collect().unwrap()),
        [
            "Row(city='x', words=2, total=5)",
            "Row(city='y', words=2, total=1)"
        ]
    );
    let counted = df.group_by(&["city"]).unwrap().count().unwrap();
    assert_eq!(counted.columns(), ["city", "count"]);

    assert_eq!(df.limit(2).unwrap().count().unwrap(), 2);
    assert_eq!(
        df.select(&["city"])
            .unwrap()
            .distinct()
            .unwrap()
            .count()
            .unwrap(),
        2
    );
    assert_eq!(df.union(&df).unwrap().count().unwrap(), 8);
    let with = df.with_column("upper", "upper(word)").unwrap();
    assert_eq!(with.columns(), ["word", "n", "city", "upper"]);

    let rdd = df.to_rdd().unwrap();
    assert_eq!(rdd.count(), 4);
    assert_eq!(
        rdd.collect()[0].get_by_name("word"),
        Some(&Value::from("a"))
    );

    assert!(df.filter("nope > 1").is_err());
    assert!(df.select(&["(("]).is_err());
}

#[test]
fn joins_keep_each_key_once() {
    let spark = session();
    let batch = frame(
        &spark,
        vec![
            row!(id = 1i64, word = "a"),
            row!(id = 2i64, word = "b"),
            row!(id = 3i64, word = "c"),
        ],
    );
    let names = frame(
        &spark,
        vec![
            row!(id = 1i64, name = "one"),
            row!(id = 2i64, name = "two"),
            row!(id = 4i64, name = "four"),
        ],
    );
    let inner = batch
        .join(&names, &["id"], "inner")
        .unwrap()
        .order_by(&["id"])
        .unwrap();
    assert_eq!(inner.columns(), ["id", "word", "name"]);
    assert_eq!(
        strings(&inner.collect().unwrap()),
        [
            "Row(id=1, word='a', name='one')",
            "Row(id=2, word='b', name='two')"
        ]
    );
    let left = batch.join(&names, &["id"], "left_outer").unwrap();
    assert_eq!(left.count().unwrap(), 3);
    let full = batch
        .join(&names, &["id"], "outer")
        .unwrap()
        .order_by(&["id"])
        .unwrap();
    let ids: Vec<Value> = full
        .collect()
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap().clone())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4].map(Value::Int));
    let anti = batch.join(&names, &["id"], "left_anti").unwrap();
    assert_eq!(strings(&anti.collect().unwrap()), ["Row(id=3, word='c')"]);
    assert!(batch.join(&names, &["id"], "sideways").is_err());
    assert!(
        batch
            .join(&names, &["word"], "inner")
            .unwrap_err()
            .to_string()
            .contains("word")
    );
}

#[test]
fn static_csv_and_json_tables_join_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("cities.csv");
    std::fs::write(
        &csv,
        "word,city,population\na,Paris,2100000\nb,Rome,2800000\n",
    )
    .unwrap();
    let json = dir.path().join("langs.txt");
    std::fs::write(
        &json,
        "{\"word\":\"a\",\"lang\":\"fr\"}\n{\"word\":\"c\",\"lang\":\"de\"}\n",
    )
    .unwrap();

    let spark = session();
    let cities = spark.read_csv(&csv).unwrap();
    assert_eq!(
        cities.dtypes(),
        dtypes(&[
            ("word", "string"),
            ("city", "string"),
            ("population", "bigint")
        ])
    );
    cities.create_or_replace_temp_view("cities").unwrap();
    spark
        .read_json(&json)
        .unwrap()
        .create_or_replace_temp_view("langs")
        .unwrap();
    words(&spark, &["a", "a", "b", "c"])
        .create_or_replace_temp_view("words")
        .unwrap();
    let r = query(
        &spark,
        "select w.word, count(*) as total, c.city, l.lang from words w \
         left join cities c on w.word = c.word left join langs l on w.word = l.word \
         group by w.word, c.city, l.lang order by w.word",
    );
    assert_eq!(
        strings(&r),
        [
            "Row(word='a', total=2, city='Paris', lang='fr')",
            "Row(word='b', total=1, city='Rome', lang=None)",
            "Row(word='c', total=1, city=None, lang='de')",
        ]
    );
    let missing = spark.read_csv(dir.path().join("nope.csv")).unwrap_err();
    assert!(missing.to_string().contains("nope.csv"), "{missing}");
}

#[test]
fn lines_as_text_csv_and_json() {
    let spark = session();
    let lines: Vec<String> = ["1,a,2.5", "2,b,", "", "3,c,1"].map(String::from).to_vec();
    let csv = spark
        .create_data_frame_from_lines(&lines, LineFormat::Csv)
        .unwrap();
    assert_eq!(
        csv.dtypes(),
        dtypes(&[("_c0", "bigint"), ("_c1", "string"), ("_c2", "double")])
    );
    assert_eq!(csv.count().unwrap(), 3);
    let text = spark
        .create_data_frame_from_lines(&lines, LineFormat::Text)
        .unwrap();
    assert_eq!(text.columns(), ["line"]);
    assert_eq!(text.count().unwrap(), 4);
    let json_lines = ["{\"a\": 1, \"b\": \"x\"}", "{\"a\": 2}"].map(String::from);
    let json = spark
        .create_data_frame_from_lines(&json_lines, LineFormat::Json)
        .unwrap();
    assert_eq!(
        strings(&json.order_by(&["a"]).unwrap().collect().unwrap()),
        ["Row(a=1, b='x')", "Row(a=2, b=None)"]
    );
    assert!(
        spark
            .create_data_frame_from_lines(&["{oops".to_string()], LineFormat::Json)
            .is_err()
    );
    assert!(
        spark
            .create_data_frame_from_lines(&[], LineFormat::Csv)
            .is_err()
    );
}
