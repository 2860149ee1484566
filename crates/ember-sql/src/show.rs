//! Spark's `DataFrame.show()` table (`Dataset.showString` in Spark 3.5), byte for byte.
//!
//! Spark measures text in Java `String` terms: lengths are UTF-16 code units, truncation cuts
//! at a code unit (a cut emoji leaves half a surrogate pair, which Java writes as `?`), and a
//! cell's width is its length plus one for every character in Spark's list of full-width
//! ranges. The tests in `tests/show_spark.rs` compare with tables printed by real Spark.

/// The minimum width of a column.
const MIN_WIDTH: usize = 3;

/// The table `show(num_rows, truncate)` prints, without `println`'s final newline.
///
/// `header` holds the column names, `rows` the rendered cells of at most `num_rows` rows, and
/// `has_more` says whether the data had more rows than `num_rows` (then the footer
/// `only showing top N rows` follows). `truncate` = 0 means no truncation, and cells are then
/// left-aligned; otherwise cells longer than `truncate` keep `truncate - 3` characters and get
/// `...` (or are cut to `truncate` characters when `truncate < 4`), and are right-aligned.
pub fn show_string(
    header: &[String],
    rows: &[Vec<String>],
    has_more: bool,
    num_rows: usize,
    truncate: usize,
) -> String {
    let header: Vec<String> = header.iter().map(|h| escape_meta_characters(h)).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .take(num_rows)
        .map(|row| {
            row.iter()
                .map(|c| truncate_cell(&escape_meta_characters(c), truncate))
                .collect()
        })
        .collect();

    let mut widths = vec![MIN_WIDTH; header.len()];
    for row in std::iter::once(&header).chain(&cells) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(half_width(cell));
        }
    }

    let mut sep = String::from("+");
    for w in &widths {
        sep.push_str(&"-".repeat(*w));
        sep.push('+');
    }
    sep.push('\n');

    let line = |out: &mut String, row: &[String]| {
        out.push('|');
        for (cell, w) in row.iter().zip(&widths) {
            let pad = " ".repeat(w.saturating_sub(half_width(cell)));
            if truncate > 0 {
                out.push_str(&pad);
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&pad);
            }
            out.push('|');
        }
        out.push('\n');
    };

    let mut out = sep.clone();
    line(&mut out, &header);
    out.push_str(&sep);
    for row in &cells {
        line(&mut out, row);
    }
    out.push_str(&sep);
    if has_more {
        let noun = if num_rows == 1 { "row" } else { "rows" };
        out.push_str(&format!("only showing top {num_rows} {noun}\n"));
    }
    out
}

/// The table `show(num_rows, truncate, vertical=True)` prints: one block per row, headed
/// `-RECORD i`, with a line per column (` name | value `), names and values padded to the widest
/// of each, and `(0 rows)` when there are none. Arguments as [`show_string`].
///
/// ```
/// use ember_sql::show_string_vertical;
/// let header = vec!["word".to_string(), "total".to_string()];
/// let rows = vec![vec!["hello".to_string(), "2".to_string()]];
/// assert_eq!(
///     show_string_vertical(&header, &rows, false, 20, 20),
///     "-RECORD 0------\n word  | hello \n total | 2     \n"
/// );
/// ```
pub fn show_string_vertical(
    header: &[String],
    rows: &[Vec<String>],
    has_more: bool,
    num_rows: usize,
    truncate: usize,
) -> String {
    // As in the horizontal table, names are escaped but never truncated.
    let header: Vec<String> = header.iter().map(|h| escape_meta_characters(h)).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .take(num_rows)
        .map(|row| {
            row.iter()
                .map(|c| truncate_cell(&escape_meta_characters(c), truncate))
                .collect()
        })
        .collect();
    let name_width = header
        .iter()
        .map(|h| half_width(h))
        .fold(MIN_WIDTH, usize::max);
    let data_width = cells
        .iter()
        .flatten()
        .map(|c| half_width(c))
        .fold(MIN_WIDTH, usize::max);
    let pad = |s: &str, width: usize| " ".repeat(width.saturating_sub(half_width(s)));

    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        // Spark pads the record line with dashes to the width of a field line ("+ 5": the
        // spaces and the bar around the two columns).
        let title = format!("-RECORD {i}");
        let dashes = (name_width + data_width + 5).saturating_sub(title.encode_utf16().count());
        out.push_str(&title);
        out.push_str(&"-".repeat(dashes));
        out.push('\n');
        for (name, cell) in header.iter().zip(row) {
            out.push_str(&format!(
                " {name}{} | {cell}{} \n",
                pad(name, name_width),
                pad(cell, data_width)
            ));
        }
    }
    if cells.is_empty() {
        out.push_str("(0 rows)\n");
    } else if has_more {
        let noun = if num_rows == 1 { "row" } else { "rows" };
        out.push_str(&format!("only showing top {num_rows} {noun}\n"));
    }
    out
}

/// Spark's `SchemaUtils.escapeMetaCharacters`: control characters that would break the table
/// are shown as their escapes.
pub fn escape_meta_characters(s: &str) -> String {
    if !s.contains(['\n', '\r', '\t', '\u{c}', '\u{8}', '\u{b}', '\u{7}']) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{7}' => out.push_str("\\a"),
            c => out.push(c),
        }
    }
    out
}

/// Truncation in UTF-16 code units, as Java's `String.substring`.
fn truncate_cell(s: &str, truncate: usize) -> String {
    if truncate == 0 || s.len() <= truncate {
        // UTF-8 length bounds the UTF-16 length from above: short strings need no counting.
        return s.to_owned();
    }
    let units: Vec<u16> = s.encode_utf16().collect();
    if units.len() <= truncate {
        return s.to_owned();
    }
    let keep = if truncate < 4 { truncate } else { truncate - 3 };
    // Half a surrogate pair is written as `?` by Java's encoder.
    let mut out: String = char::decode_utf16(units[..keep].iter().copied())
        .map(|r| r.unwrap_or('?'))
        .collect();
    if truncate >= 4 {
        out.push_str("...");
    }
    out
}

/// Spark's `Utils.stringHalfWidth`: UTF-16 length plus one per full-width character.
pub fn half_width(s: &str) -> usize {
    s.chars()
        .map(|c| if is_full_width(c) { 2 } else { c.len_utf16() })
        .sum()
}

/// The ranges of Spark's `fullWidthRegex` (Hangul Jamo, CJK, Hangul syllables, CJK
/// compatibility, vertical forms, CJK compatibility forms, full-width forms). Characters outside
/// the Basic Multilingual Plane (emoji) are two UTF-16 units and not listed: they count 2.
fn is_full_width(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE10..=0xFE19
        | 0xFE30..=0xFE6F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn seed_table() {
        let t = show_string(
            &s(&["word", "total"]),
            &[s(&["hello", "2"]), s(&["a-very-long-word-indeed", "1"])],
            false,
            20,
            20,
        );
        assert_eq!(
            t,
            "+--------------------+-----+\n|                word|total|\n+--------------------+-----+\n|               hello|    2|\n|a-very-long-word-...|    1|\n+--------------------+-----+\n"
        );
    }

    #[test]
    fn vertical_table_pads_names_and_values_and_says_when_empty() {
        let t = show_string_vertical(
            &s(&["w", "long name"]),
            &[s(&["日本", "x"]), s(&["a", "abcdef"])],
            true,
            2,
            5,
        );
        assert_eq!(
            t,
            "-RECORD 0----------\n w         | 日本  \n long name | x     \n\
             -RECORD 1----------\n w         | a     \n long name | ab... \n\
             only showing top 2 rows\n"
        );
        assert_eq!(
            show_string_vertical(&s(&["w"]), &[], true, 0, 20),
            "(0 rows)\n"
        );
    }

    #[test]
    fn widths_follow_spark() {
        assert_eq!(half_width("日本語"), 6);
        assert_eq!(half_width("😀"), 2);
        assert_eq!(half_width("café"), 4);
        assert_eq!(truncate_cell("😀😀😀", 4), "?...");
        assert_eq!(truncate_cell("abcdef", 3), "abc");
    }
}
