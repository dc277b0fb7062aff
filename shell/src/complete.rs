//! The line editor's helper: tab completion of keywords and of the server's stream, table, column
//! and function names, and multi-line input until a statement ends.

use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use crate::statements::is_complete;

/// Names fetched from the server for completion.
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub sources: Vec<String>,
    pub columns: Vec<String>,
    pub functions: Vec<String>,
}

/// Shared between the shell (which refreshes it) and the editor (which reads it).
pub type SharedNames = Arc<Mutex<Names>>;

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "HAVING",
    "PARTITION",
    "EMIT",
    "CHANGES",
    "FINAL",
    "LIMIT",
    "CREATE",
    "STREAM",
    "TABLE",
    "STREAMS",
    "TABLES",
    "AS",
    "WITH",
    "INSERT",
    "INTO",
    "VALUES",
    "DROP",
    "DELETE",
    "TOPIC",
    "TERMINATE",
    "ALL",
    "SHOW",
    "LIST",
    "QUERIES",
    "TOPICS",
    "FUNCTIONS",
    "PROPERTIES",
    "VARIABLES",
    "DESCRIBE",
    "EXTENDED",
    "EXPLAIN",
    "PRINT",
    "BEGINNING",
    "SET",
    "UNSET",
    "JOIN",
    "LEFT",
    "RIGHT",
    "FULL",
    "OUTER",
    "INNER",
    "ON",
    "WITHIN",
    "GRACE",
    "PERIOD",
    "WINDOW",
    "TUMBLING",
    "HOPPING",
    "SESSION",
    "SIZE",
    "ADVANCE",
    "KEY",
    "PRIMARY",
    "HEADERS",
    "HEADER",
    "CAST",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "IS",
    "IN",
    "LIKE",
    "BETWEEN",
    "TRUE",
    "FALSE",
    "INTEGER",
    "INT",
    "BIGINT",
    "DOUBLE",
    "DECIMAL",
    "BOOLEAN",
    "STRING",
    "VARCHAR",
    "BYTES",
    "DATE",
    "TIME",
    "TIMESTAMP",
    "ARRAY",
    "MAP",
    "STRUCT",
    "IF",
    "EXISTS",
    "REPLACE",
    "SOURCE",
    "KAFKA_TOPIC",
    "VALUE_FORMAT",
    "KEY_FORMAT",
    "FORMAT",
    "PARTITIONS",
    "RUN",
    "SCRIPT",
    "SPOOL",
    "OFF",
    "OUTPUT",
    "DEFINE",
    "UNDEFINE",
    "HELP",
    "EXIT",
    "CLEAR",
    "HISTORY",
];

/// The editor helper.
pub struct ShellHelper {
    names: SharedNames,
}

impl ShellHelper {
    /// A helper completing from `names`.
    pub fn new(names: SharedNames) -> Self {
        Self { names }
    }

    /// Candidates for the word that ends at `pos`: keywords in the case the word was typed in, then
    /// names as the server spells them.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '`')
            .last()
            .map(|(i, _)| i)
            .unwrap_or(pos);
        let word = before[start..].trim_start_matches('`');
        if word.is_empty() {
            return (pos, Vec::new());
        }
        let upper = word.to_uppercase();
        let lower_case = word.chars().all(|c| !c.is_uppercase());
        let mut out: Vec<String> = Vec::new();
        let names = self.names.lock().map(|n| n.clone()).unwrap_or_default();
        for name in names.sources.iter().chain(&names.columns).chain(&names.functions) {
            if name.to_uppercase().starts_with(&upper) && !out.contains(name) {
                out.push(name.clone());
            }
        }
        for k in KEYWORDS {
            if k.starts_with(&upper) {
                let k = if lower_case { k.to_lowercase() } else { k.to_string() };
                if !out.iter().any(|o| o.eq_ignore_ascii_case(&k)) {
                    out.push(k);
                }
            }
        }
        (start, out)
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = self.candidates(line, pos);
        Ok((start, words.into_iter().map(|w| Pair { display: w.clone(), replacement: w }).collect()))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_complete(ctx.input()) { ValidationResult::Valid(None) } else { ValidationResult::Incomplete })
    }
}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_names_and_keywords() {
        let names = Names { sources: vec!["PAGEVIEWS".into()], columns: vec!["URL".into()], functions: vec![] };
        let helper = ShellHelper::new(Arc::new(Mutex::new(names)));
        assert_eq!(helper.candidates("select * from page", 18), (14, vec!["PAGEVIEWS".to_string()]));
        assert_eq!(helper.candidates("sel", 3), (0, vec!["select".to_string()]));
        assert_eq!(
            helper.candidates("SELECT U", 8).1,
            vec!["URL".to_string(), "UNSET".to_string(), "UNDEFINE".to_string()]
        );
        assert!(helper.candidates("SELECT ", 7).1.is_empty());
    }
}
