//! `COPY (query) TO STDOUT` and `COPY stream [(columns)] FROM STDIN` in Postgres' text, CSV and
//! (out) binary formats (<https://www.postgresql.org/docs/15/sql-copy.html>). Rows copied in are
//! all read and checked first, then produced to the stream's topic: a bad row (reported with its
//! line) leaves nothing half-written.
#![deny(clippy::indexing_slicing)] // Bytes from clients and records are read with checked access.

use eddy_catalog::ColumnKind;
use eddy_parser::parse_each;
use sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopyTarget, Statement as PgStatement};

use super::error::{sqlstate, EngineError};
use super::insert::encode_record;
use super::{Engine, Output, Session};
use crate::pg_values::parse_text;
use crate::session::Transaction;

/// One row of COPY data: its 1-based line number and its fields (None for NULL).
pub type CopyRow = (usize, Vec<Option<String>>);
/// A COPY data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CopyFormat {
    #[default]
    Text,
    Csv,
    Binary,
}

/// How COPY data is written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub header: bool,
    pub delimiter: char,
    /// The text of a NULL field.
    pub null: String,
    pub quote: char,
    pub escape: char,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self::for_format(CopyFormat::Text)
    }
}

impl CopyOptions {
    fn for_format(format: CopyFormat) -> Self {
        match format {
            CopyFormat::Csv => {
                Self { format, header: false, delimiter: ',', null: String::new(), quote: '"', escape: '"' }
            }
            _ => Self { format, header: false, delimiter: '\t', null: "\\N".into(), quote: '"', escape: '"' },
        }
    }

    /// One row as a line of COPY data; `fields` are the values' text forms (None: NULL).
    pub fn line(&self, fields: &[Option<String>]) -> String {
        let mut out = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            match (f, self.format) {
                (None, _) => out.push_str(&self.null),
                (Some(v), CopyFormat::Csv) => {
                    let needs = v.is_empty() && !self.null.is_empty() && *v == self.null
                        || v.contains(self.delimiter)
                        || v.contains(self.quote)
                        || v.contains('\n')
                        || v.contains('\r')
                        || (v.is_empty() && self.null.is_empty());
                    if needs {
                        out.push(self.quote);
                        for c in v.chars() {
                            if c == self.quote || c == self.escape {
                                out.push(self.escape);
                            }
                            out.push(c);
                        }
                        out.push(self.quote);
                    } else {
                        out.push_str(v);
                    }
                }
                (Some(v), _) => {
                    for c in v.chars() {
                        match c {
                            '\\' => out.push_str("\\\\"),
                            '\n' => out.push_str("\\n"),
                            '\r' => out.push_str("\\r"),
                            '\t' => out.push_str("\\t"),
                            c if c == self.delimiter => {
                                out.push('\\');
                                out.push(c);
                            }
                            c => out.push(c),
                        }
                    }
                }
            }
        }
        out.push('\n');
        out
    }

    /// The rows of COPY data (text or CSV) as fields, each with its 1-based line number.
    pub fn rows(&self, data: &str) -> Result<Vec<CopyRow>, String> {
        match self.format {
            CopyFormat::Csv => self.csv_rows(data),
            CopyFormat::Text => Ok(data
                .split('\n')
                .enumerate()
                .filter(|(_, l)| !l.is_empty() && *l != "\\.")
                .map(|(i, l)| {
                    (
                        i + 1,
                        l.strip_suffix('\r').unwrap_or(l).split(self.delimiter).map(|f| self.text_field(f)).collect(),
                    )
                })
                .collect()),
            CopyFormat::Binary => Err("COPY FROM STDIN in binary format is not supported; use text or csv".into()),
        }
    }

    fn text_field(&self, field: &str) -> Option<String> {
        if field == self.null {
            return None;
        }
        let mut out = String::with_capacity(field.len());
        let mut chars = field.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('v') => out.push('\u{b}'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        }
        Some(out)
    }

    fn csv_rows(&self, data: &str) -> Result<Vec<CopyRow>, String> {
        let mut rows = Vec::new();
        let mut line = 1;
        let mut chars = data.chars().peekable();
        while chars.peek().is_some() {
            let start_line = line;
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut quoted_field = false;
            loop {
                match chars.next() {
                    None => {
                        fields.push(self.csv_field(field, quoted_field));
                        break;
                    }
                    Some(c) if c == self.quote && field.is_empty() && !quoted_field => {
                        quoted_field = true;
                        loop {
                            match chars.next() {
                                None => return Err(format!("unterminated CSV quoted field (line {start_line})")),
                                // An escaped quote (with the default escape, a doubled quote).
                                Some(c) if c == self.escape && chars.peek() == Some(&self.quote) => {
                                    chars.next();
                                    field.push(self.quote);
                                }
                                Some(c) if c == self.quote => break,
                                Some(c) => {
                                    if c == '\n' {
                                        line += 1;
                                    }
                                    field.push(c);
                                }
                            }
                        }
                    }
                    Some(c) if c == self.delimiter => {
                        fields.push(self.csv_field(std::mem::take(&mut field), quoted_field));
                        quoted_field = false;
                    }
                    Some('\r') if chars.peek() == Some(&'\n') => {}
                    Some('\n') => {
                        line += 1;
                        fields.push(self.csv_field(std::mem::take(&mut field), quoted_field));
                        break;
                    }
                    Some(c) => field.push(c),
                }
            }
            let only = match fields.as_slice() {
                [only] => Some(only.as_deref()),
                _ => None,
            };
            let end_marker = only == Some(Some("\\."));
            let empty = only == Some(None) && self.null.is_empty();
            if !end_marker && !empty {
                rows.push((start_line, fields));
            }
        }
        Ok(rows)
    }

    fn csv_field(&self, field: String, quoted: bool) -> Option<String> {
        (quoted || field != self.null).then_some(field)
    }
}

/// `COPY stream [(columns)] FROM STDIN`, waiting for the client's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyIn {
    pub target: String,
    /// The columns the data's fields are, in order.
    pub columns: Vec<String>,
    pub options: CopyOptions,
}

/// The parts of a COPY statement.
struct CopyStatement {
    /// `(query)` (with its 1-based offset in the statement), or a relation with columns.
    source: CopySource,
    to: bool,
    options: CopyOptions,
}

enum CopySource {
    Query(String, usize),
    Relation(String, Vec<String>),
}

/// Reads COPY: the query in parentheses is kept as text (it may be a push query, which Postgres'
/// grammar does not read); the rest is read by sqlparser.
fn parse_copy(text: &str) -> Result<CopyStatement, EngineError> {
    let syntax = |m: &str| EngineError::new(sqlstate::SYNTAX_ERROR, format!("syntax error in COPY: {m}"));
    let after_copy = text.trim_start().get(4..).ok_or_else(|| syntax("expected COPY"))?;
    let body = after_copy.trim_start();
    let (source, rest) = if body.starts_with('(') {
        let close = matching_paren(body).ok_or_else(|| syntax("unbalanced parentheses"))?;
        let query = &body[1..close];
        let offset = text.chars().count() - body.chars().count() + 2;
        (Some((query.to_string(), offset)), format!("COPY eddy_query {}", &body[close + 1..]))
    } else {
        (None, text.to_string())
    };
    let mut parsed = crate::sql::parse(&rest)?;
    let Some(PgStatement::Copy { source: relation, to, target, options, legacy_options, .. }) = parsed.pop() else {
        return Err(syntax("expected COPY ... TO STDOUT or COPY ... FROM STDIN"));
    };
    match (&target, to) {
        (CopyTarget::Stdout, true) | (CopyTarget::Stdin, false) => {}
        _ => {
            return Err(EngineError::new(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                "COPY to or from a file or program is not allowed: use COPY ... TO STDOUT / FROM STDIN (psql: \\copy)",
            ))
        }
    }
    let source = match (source, relation) {
        (Some((q, offset)), _) => CopySource::Query(q, offset),
        (None, sqlparser::ast::CopySource::Table { table_name, columns }) => CopySource::Relation(
            fold(&table_name.0.last().map(|p| p.to_string()).unwrap_or_default()),
            columns.iter().map(|c| fold(&c.to_string())).collect(),
        ),
        (None, sqlparser::ast::CopySource::Query(q)) => CopySource::Query(q.to_string(), 0),
    };
    Ok(CopyStatement { source, to, options: copy_options(&options, &legacy_options)? })
}

/// A name as ksqlDB folds it: quoted as written, else upper case.
fn fold(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_uppercase(),
    }
}

/// The index of the parenthesis closing the one `text` starts with (quotes respected).
fn matching_paren(text: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn copy_options(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<CopyOptions, EngineError> {
    let invalid = |m: String| EngineError::new(sqlstate::INVALID_PARAMETER, m);
    let format = options
        .iter()
        .find_map(|o| match o {
            CopyOption::Format(f) => Some(f.value.to_lowercase()),
            _ => None,
        })
        .or_else(|| {
            legacy.iter().find_map(|o| match o {
                CopyLegacyOption::Csv(_) => Some("csv".into()),
                CopyLegacyOption::Binary => Some("binary".into()),
                _ => None,
            })
        });
    let format = match format.as_deref() {
        None | Some("text") => CopyFormat::Text,
        Some("csv") => CopyFormat::Csv,
        Some("binary") => CopyFormat::Binary,
        Some(other) => return Err(invalid(format!("COPY format \"{other}\" not recognized"))),
    };
    let mut out = CopyOptions::for_format(format);
    for o in options {
        match o {
            CopyOption::Header(h) => out.header = *h,
            CopyOption::Delimiter(c) => out.delimiter = *c,
            CopyOption::Null(s) => out.null = s.clone(),
            CopyOption::Quote(c) => out.quote = *c,
            CopyOption::Escape(c) => out.escape = *c,
            CopyOption::Encoding(e) if !e.to_lowercase().replace(['-', '_'], "").starts_with("utf8") => {
                return Err(invalid(format!("COPY encoding {e} is not supported: Eddy speaks UTF8")))
            }
            _ => {}
        }
    }
    for o in legacy {
        match o {
            CopyLegacyOption::Delimiter(c) => out.delimiter = *c,
            CopyLegacyOption::Null(s) => out.null = s.clone(),
            CopyLegacyOption::Csv(csv) => {
                for c in csv {
                    match c {
                        CopyLegacyCsvOption::Header => out.header = true,
                        CopyLegacyCsvOption::Quote(q) => out.quote = *q,
                        CopyLegacyCsvOption::Escape(e) => out.escape = *e,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

impl Engine {
    /// `COPY ... TO STDOUT` (runs the query) or `COPY ... FROM STDIN` (waits for the data).
    pub(super) async fn copy(&self, session: &mut Session, text: &str, offset: usize) -> Result<Output, EngineError> {
        let copy = parse_copy(text).map_err(|e| e.shifted(offset))?;
        if !copy.to {
            if session.transaction != Transaction::Idle {
                // Produced records cannot be rolled back, as INSERTs cannot (see the router).
                return Err(EngineError::new(
                    sqlstate::ACTIVE_SQL_TRANSACTION,
                    "COPY FROM cannot run inside a transaction block",
                )
                .with_hint("Rows copied into a stream take effect at once and cannot be rolled back: run COPY outside BEGIN ... COMMIT (in autocommit mode)."));
            }
            let CopySource::Relation(target, columns) = copy.source else {
                return Err(EngineError::new(sqlstate::SYNTAX_ERROR, "COPY FROM copies into a stream or table"));
            };
            let source = self.writable_source(&target).await?;
            let writable: Vec<String> = source
                .columns
                .iter()
                .filter(|c| matches!(c.kind, ColumnKind::Key | ColumnKind::Value))
                .map(|c| c.name.clone())
                .collect();
            let columns = if columns.is_empty() { writable.clone() } else { columns };
            if let Some(unknown) = columns.iter().find(|c| !writable.contains(c) && c.as_str() != "ROWTIME") {
                return Err(EngineError::new(
                    sqlstate::UNDEFINED_COLUMN,
                    format!("column \"{unknown}\" of relation \"{target}\" does not exist"),
                ));
            }
            if copy.options.format == CopyFormat::Binary {
                return Err(EngineError::new(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "COPY FROM STDIN in binary format is not supported; use FORMAT text or csv",
                ));
            }
            return Ok(Output::CopyIn(CopyIn { target, columns, options: copy.options }));
        }
        let (query, shift) = match copy.source {
            CopySource::Query(q, at) => (q, offset + at.saturating_sub(1)),
            CopySource::Relation(name, columns) => {
                let list = if columns.is_empty() {
                    "*".to_string()
                } else {
                    columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                };
                (format!("SELECT {list} FROM `{name}`"), offset)
            }
        };
        let statements = parse_each(&query).map_err(EngineError::syntax)?;
        let [statement] = statements.as_slice() else {
            return Err(EngineError::new(sqlstate::SYNTAX_ERROR, "COPY takes one query"));
        };
        let output = Box::pin(self.execute_statement(session, statement)).await.map_err(|e| e.shifted(shift))?;
        match output {
            Output::Rows { .. } | Output::Batches { .. } | Output::Stream(_) => {
                Ok(Output::CopyOut { options: copy.options, output: Box::new(output) })
            }
            _ => Err(EngineError::new(sqlstate::SYNTAX_ERROR, "COPY (query) TO STDOUT needs a query")),
        }
    }

    /// The data of a `COPY ... FROM STDIN`: every row read and checked, then all produced.
    pub async fn copy_from(&self, copy: &CopyIn, data: &[u8]) -> Result<Output, EngineError> {
        let source = self.writable_source(&copy.target).await?;
        let text = std::str::from_utf8(data)
            .map_err(|_| EngineError::new(sqlstate::BAD_COPY_FILE_FORMAT, "COPY data is not valid UTF-8"))?;
        let rows = copy.options.rows(text).map_err(|m| EngineError::new(sqlstate::BAD_COPY_FILE_FORMAT, m))?;
        let skip = usize::from(copy.options.header);
        let mut records = Vec::with_capacity(rows.len());
        for (line, fields) in rows.into_iter().skip(skip) {
            let context =
                |column: &str, value: &str| format!("COPY {}, line {line}, column {column}: \"{value}\"", copy.target);
            if fields.len() != copy.columns.len() {
                let what = if fields.len() < copy.columns.len() {
                    "missing data for column"
                } else {
                    "extra data after last expected column"
                };
                let column = copy.columns.get(fields.len()).cloned().unwrap_or_default();
                let where_ = if fields.len() < copy.columns.len() {
                    format!("COPY {}, line {line}, column {column}", copy.target)
                } else {
                    format!("COPY {}, line {line}", copy.target)
                };
                return Err(EngineError::new(sqlstate::BAD_COPY_FILE_FORMAT, what).with_context(where_));
            }
            let mut assigned = Vec::with_capacity(fields.len());
            let mut timestamp = None;
            for (name, field) in copy.columns.iter().zip(fields) {
                let ty = if name == "ROWTIME" {
                    eddy_catalog::SqlType::Bigint
                } else {
                    source.column(name).map(|c| c.ty.clone()).unwrap_or(eddy_catalog::SqlType::String)
                };
                let value = match field {
                    None => eddy_runtime::Value::Null,
                    Some(f) => parse_text(&f, &ty)
                        .map_err(|e| EngineError::new(e.sqlstate(), e.to_string()).with_context(context(name, &f)))?,
                };
                if name == "ROWTIME" {
                    if let eddy_runtime::Value::Bigint(t) = value {
                        timestamp = Some(t);
                    }
                    continue;
                }
                assigned.push((name.clone(), value));
            }
            records.push(
                encode_record(&source, &assigned, timestamp)
                    .map_err(|e| e.with_context(format!("COPY {}, line {line}", copy.target)))?,
            );
        }
        let n = records.len();
        let warning = match n {
            0 => None,
            _ => self.broker.produce_for_client(&source.topic, records).await?,
        };
        Ok(match warning {
            Some(warning) => Output::done_with(format!("COPY {n}"), warning),
            None => Output::done(format!("COPY {n}")),
        })
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index what they just built.
mod tests {
    use super::*;

    #[test]
    fn text_lines_round_trip() {
        let o = CopyOptions::default();
        let line = o.line(&[Some("a\tb".into()), None, Some("c\\d\ne".into())]);
        assert_eq!(line, "a\\tb\t\\N\tc\\\\d\\ne\n");
        assert_eq!(o.rows(&line), Ok(vec![(1, vec![Some("a\tb".into()), None, Some("c\\d\ne".into())])]));
    }

    #[test]
    fn csv_lines_round_trip() {
        let o = CopyOptions::for_format(CopyFormat::Csv);
        let line = o.line(&[Some("a,b".into()), None, Some("say \"hi\"".into()), Some(String::new())]);
        assert_eq!(line, "\"a,b\",,\"say \"\"hi\"\"\",\"\"\n");
        let rows = o.rows(&format!("{line}x,\"multi\nline\",3,4\n")).expect("csv");
        assert_eq!(rows[0], (1, vec![Some("a,b".into()), None, Some("say \"hi\"".into()), Some(String::new())]));
        assert_eq!(
            rows[1],
            (2, vec![Some("x".into()), Some("multi\nline".into()), Some("3".into()), Some("4".into())])
        );
    }

    #[test]
    fn reads_copy_statements() {
        let c = parse_copy("COPY (SELECT * FROM s EMIT CHANGES LIMIT 2) TO STDOUT WITH (FORMAT csv, HEADER)")
            .expect("copy");
        assert!(c.to);
        assert!(matches!(c.source, CopySource::Query(ref q, 7) if q == "SELECT * FROM s EMIT CHANGES LIMIT 2"));
        assert_eq!(c.options.format, CopyFormat::Csv);
        assert!(c.options.header);
        let c = parse_copy("COPY orders (id, \"Name\") FROM STDIN CSV HEADER").expect("copy");
        assert!(!c.to);
        assert!(
            matches!(c.source, CopySource::Relation(ref t, ref cols) if t == "ORDERS" && cols == &vec!["ID".to_string(), "Name".to_string()])
        );
        assert!(c.options.header);
        assert!(parse_copy("COPY orders FROM '/etc/passwd'").is_err());
    }
}
