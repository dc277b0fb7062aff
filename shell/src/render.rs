//! How results look: aligned tables with a type line, JSON lines or CSV; NULL shown as `<null>`.

use std::fmt::Write as _;
use std::str::FromStr;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How the shell prints rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Csv,
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().trim_matches('\'').to_ascii_lowercase().as_str() {
            "table" | "tabular" => Ok(Self::Table),
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            other => Err(format!("unknown output format '{other}': use table, json or csv")),
        }
    }
}

/// How NULL reads in a table (distinct from any string a column could hold).
pub const NULL: &str = "<null>";

/// A result column: its name and, when the server described it, its SQL type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: Option<String>,
}

/// The SQL name of a Postgres type as Eddy reports it.
pub fn sql_type_name(pg: &str) -> String {
    match pg {
        "int2" | "int4" => "INTEGER",
        "int8" => "BIGINT",
        "float4" | "float8" => "DOUBLE",
        "numeric" => "DECIMAL",
        "bool" => "BOOLEAN",
        "text" | "varchar" | "bpchar" | "name" => "STRING",
        "bytea" => "BYTES",
        "date" => "DATE",
        "time" => "TIME",
        "timestamp" | "timestamptz" => "TIMESTAMP",
        "json" | "jsonb" => "JSON",
        other => return other.to_ascii_uppercase(),
    }
    .to_string()
}

/// A whole result as an aligned table, fitted to `width` columns of terminal when given.
pub fn table(columns: &[Column], rows: &[Vec<Option<String>>], width: Option<usize>) -> String {
    let cells = |row: &Vec<Option<String>>| -> Vec<String> {
        row.iter().map(|c| c.clone().unwrap_or_else(|| NULL.to_string())).collect()
    };
    let mut widths: Vec<usize> = columns.iter().map(|c| c.name.width().max(type_of(c).width())).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(cells(row)) {
            *w = (*w).max(cell.lines().map(UnicodeWidthStr::width).max().unwrap_or(0));
        }
    }
    if let Some(width) = width {
        fit(&mut widths, width);
    }
    let mut out = String::new();
    let has_types = columns.iter().any(|c| c.ty.is_some());
    line(&mut out, &widths, columns.iter().map(|c| c.name.clone()));
    if has_types {
        line(&mut out, &widths, columns.iter().map(type_of));
    }
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    out.push_str(&rule.join("+"));
    out.push('\n');
    for row in rows {
        line(&mut out, &widths, cells(row).into_iter());
    }
    let _ = writeln!(out, "({} row{})", rows.len(), if rows.len() == 1 { "" } else { "s" });
    out
}

/// Prints the rows of a push query one by one as they arrive, each numbered.
pub struct LiveTable {
    widths: Vec<usize>,
    /// Cells are cut to their column only when the terminal width is known.
    cut: bool,
}

impl LiveTable {
    /// The header of a live table (a `#` row counter, then the columns).
    pub fn start(columns: &[Column], width: Option<usize>) -> (Self, String) {
        let mut widths: Vec<usize> =
            std::iter::once(4).chain(columns.iter().map(|c| c.name.width().max(type_of(c).width()).max(12))).collect();
        if let Some(width) = width {
            fit(&mut widths, width);
        }
        let mut out = String::new();
        line(&mut out, &widths, std::iter::once("#".to_string()).chain(columns.iter().map(|c| c.name.clone())));
        if columns.iter().any(|c| c.ty.is_some()) {
            line(&mut out, &widths, std::iter::once(String::new()).chain(columns.iter().map(type_of)));
        }
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
        out.push_str(&rule.join("+"));
        out.push('\n');
        (Self { widths, cut: width.is_some() }, out)
    }

    /// One row, with its number.
    pub fn row(&self, number: u64, row: &[Option<String>]) -> String {
        let mut out = String::new();
        let cells = std::iter::once(number.to_string())
            .chain(row.iter().map(|c| c.clone().unwrap_or_else(|| NULL.to_string())));
        // Without a known terminal width, a wider cell pushes the line out rather than lose text.
        write_line(&mut out, &self.widths, cells, self.cut);
        out
    }
}

/// One row as a JSON object (numbers and booleans typed when the column type says so).
pub fn json_row(columns: &[Column], row: &[Option<String>]) -> String {
    let mut object = serde_json::Map::new();
    for (c, v) in columns.iter().zip(row) {
        let value = match v {
            None => serde_json::Value::Null,
            Some(text) => typed_json(c.ty.as_deref(), text),
        };
        object.insert(c.name.clone(), value);
    }
    serde_json::Value::Object(object).to_string()
}

/// The CSV header line.
pub fn csv_header(columns: &[Column]) -> String {
    columns.iter().map(|c| csv_field(&c.name)).collect::<Vec<_>>().join(",")
}

/// One row as a CSV line; NULL is an empty field, the empty string a quoted one.
pub fn csv_row(row: &[Option<String>]) -> String {
    row.iter()
        .map(|v| match v {
            None => String::new(),
            Some(s) if s.is_empty() => "\"\"".to_string(),
            Some(s) => csv_field(s),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn typed_json(ty: Option<&str>, text: &str) -> serde_json::Value {
    match ty {
        Some("INTEGER" | "BIGINT" | "DOUBLE" | "DECIMAL") => serde_json::from_str::<serde_json::Number>(text)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|_| text.into()),
        Some("BOOLEAN") => match text {
            "t" | "true" => true.into(),
            "f" | "false" => false.into(),
            _ => text.into(),
        },
        Some("JSON") => serde_json::from_str(text).unwrap_or_else(|_| text.into()),
        _ => text.into(),
    }
}

fn type_of(c: &Column) -> String {
    c.ty.clone().unwrap_or_default()
}

/// Shrinks the widest columns until the table (with its separators) fits `total` characters.
fn fit(widths: &mut [usize], total: usize) {
    let overhead = 3 * widths.len();
    while widths.iter().sum::<usize>() + overhead > total {
        let Some((i, w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w).map(|(i, w)| (i, *w)) else { return };
        if w <= 4 {
            return;
        }
        widths[i] = w - 1;
    }
}

/// One table line: cells padded (or cut with `…`) to their column width.
fn line(out: &mut String, widths: &[usize], cells: impl Iterator<Item = String>) {
    write_line(out, widths, cells, true)
}

fn write_line(out: &mut String, widths: &[usize], cells: impl Iterator<Item = String>, cut_cells: bool) {
    let parts: Vec<String> = widths
        .iter()
        .zip(cells)
        .map(|(w, cell)| {
            let cell = cell.replace('\n', " ");
            let cell = if cut_cells { cut(&cell, *w) } else { cell };
            format!(" {} ", pad(&cell, *w))
        })
        .collect();
    out.push_str(parts.join("|").trim_end());
    out.push('\n');
}

fn cut(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

fn pad(s: &str, width: usize) -> String {
    let w = s.width();
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<Column> {
        vec![
            Column { name: "ID".into(), ty: Some("INTEGER".into()) },
            Column { name: "URL".into(), ty: Some("STRING".into()) },
        ]
    }

    #[test]
    fn tables_align_show_types_and_nulls() {
        let rows = vec![vec![Some("1".into()), Some("a.com".into())], vec![Some("22".into()), None]];
        assert_eq!(
            table(&cols(), &rows, None),
            " ID      | URL\n INTEGER | STRING\n---------+--------\n 1       | a.com\n 22      | <null>\n(2 rows)\n"
        );
    }

    #[test]
    fn wide_tables_are_cut_to_the_terminal() {
        let rows = vec![vec![Some("1".into()), Some("x".repeat(100))]];
        let text = table(&cols(), &rows, Some(40));
        assert!(text.lines().all(|l| l.width() <= 40), "{text}");
        assert!(text.contains('…'));
    }

    #[test]
    fn json_and_csv_rows() {
        let row = vec![Some("7".into()), None];
        assert_eq!(json_row(&cols(), &row), r#"{"ID":7,"URL":null}"#);
        assert_eq!(csv_header(&cols()), "ID,URL");
        assert_eq!(csv_row(&[Some("a,b".into()), None, Some(String::new())]), "\"a,b\",,\"\"");
    }
}
