//! `DECLARE`, `FETCH`, `MOVE` and `CLOSE` of cursors over pull and push queries
//! (<https://www.postgresql.org/docs/15/sql-declare.html>).

use std::collections::VecDeque;

use eddy_parser::parse_each;
use sqlparser::ast::{CloseCursor, FetchDirection, Statement as PgStatement, Value as SqlValue};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::error::{sqlstate, EngineError};
use super::{Engine, Output, Parameter, Prepared, Session};
use crate::session::cursor::{Count, Cursor, CursorRows};
use crate::session::Transaction;

/// `FETCH [direction] name` with the optional `FROM` (and default `NEXT`) written out (`FETCH c`,
/// `FETCH 5 c`), which sqlparser requires and Postgres does not.
fn with_from(text: &str) -> String {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, text).tokenize() else { return text.to_string() };
    let words: Vec<&Token> = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon)).collect();
    let is_from = |t: &Token| matches!(t, Token::Word(w) if w.quote_style.is_none() && (w.value.eq_ignore_ascii_case("FROM") || w.value.eq_ignore_ascii_case("IN")));
    match words.as_slice() {
        [.., before, Token::Word(_)] if words.len() >= 2 && !is_from(before) => {
            let (head, name) = words.split_at(words.len() - 1);
            let mut head: Vec<String> = head.iter().map(|t| t.to_string()).collect();
            if head.len() == 1 {
                // No direction: Postgres' default, NEXT.
                head.push("NEXT".into());
            }
            format!("{} FROM {}", head.join(" "), name[0])
        }
        _ => text.to_string(),
    }
}

/// The query of a `DECLARE` statement, with its 1-based offset in it.
pub(super) fn declared_query(text: &str) -> Result<(String, usize), EngineError> {
    parse_declare(text).map(|d| (d.query, d.query_offset))
}

/// Keeps a declared query's output as the cursor's rows.
async fn open_cursor(session: &mut Session, declare: &Declare, output: Output) -> Result<Output, EngineError> {
    let rows = match output {
        Output::Rows { columns, rows } => CursorRows::Values { columns, rows: VecDeque::from(rows) },
        Output::Batches { schema, batches } => CursorRows::Batches { schema, batches: VecDeque::from(batches) },
        Output::Stream(channel) => CursorRows::Stream { channel, sent: 0 },
        _ => {
            return Err(EngineError::new(
                sqlstate::SYNTAX_ERROR,
                "DECLARE CURSOR needs a query (SELECT, VALUES, or a push query)",
            ))
        }
    };
    session.cursors.open(&declare.name, Cursor { rows, hold: declare.hold }).await;
    Ok(Output::CursorDeclared(declare.name.clone()))
}

/// `DECLARE name [BINARY] [ASENSITIVE|INSENSITIVE] [[NO] SCROLL] CURSOR [WITH[OUT] HOLD] FOR query`.
struct Declare {
    name: String,
    hold: bool,
    /// The query's text and its 1-based offset in the statement.
    query: String,
    query_offset: usize,
}

fn parse_declare(text: &str) -> Result<Declare, EngineError> {
    let syntax = |m: &str| EngineError::new(sqlstate::SYNTAX_ERROR, format!("syntax error in DECLARE: {m}"));
    let tokens =
        Tokenizer::new(&PostgreSqlDialect {}, text).tokenize_with_location().map_err(|e| syntax(&e.to_string()))?;
    let mut words = tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_)));
    let mut next = || words.next();
    let is = |t: Option<&sqlparser::tokenizer::TokenWithSpan>, w: &str| matches!(t.map(|t| &t.token), Some(Token::Word(x)) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    if !is(next(), "DECLARE") {
        return Err(syntax("expected DECLARE"));
    }
    let name = match next().map(|t| &t.token) {
        Some(Token::Word(w)) if w.quote_style.is_some() => w.value.clone(),
        Some(Token::Word(w)) => w.value.to_lowercase(),
        _ => return Err(syntax("expected a cursor name")),
    };
    // SCROLL is read and not kept: cursors move forward only (backward FETCH is 0A000).
    let mut hold = false;
    loop {
        let t = next();
        if is(t, "CURSOR") {
            break;
        } else if is(t, "BINARY") || is(t, "ASENSITIVE") || is(t, "INSENSITIVE") {
            continue;
        } else if is(t, "NO") {
            if !is(next(), "SCROLL") {
                return Err(syntax("expected SCROLL after NO"));
            }
        } else if is(t, "SCROLL") {
            continue;
        } else {
            return Err(syntax("expected CURSOR"));
        }
    }
    loop {
        let t = next();
        if is(t, "FOR") {
            let Some(t) = t else { return Err(syntax("expected FOR")) };
            let query_offset =
                eddy_parser::location_to_position(text, t.span.end).ok_or_else(|| syntax("expected a query"))?;
            let rest: String = text.chars().skip(query_offset - 1).collect();
            let query = rest.trim_start().to_string();
            let query_offset = query_offset + rest.chars().count() - query.chars().count();
            return Ok(Declare { name, hold, query, query_offset });
        } else if is(t, "WITH") && is(next(), "HOLD") {
            hold = true;
        } else if is(t, "WITHOUT") && is(next(), "HOLD") {
            hold = false;
        } else {
            return Err(syntax("expected FOR"));
        }
    }
}

impl Engine {
    /// `DECLARE ... CURSOR FOR query`: runs the query and keeps its rows for FETCH.
    pub(super) async fn declare(
        &self,
        session: &mut Session,
        text: &str,
        offset: usize,
    ) -> Result<Output, EngineError> {
        let declare = self.declarable(session, text).await?;
        let statements = parse_each(&declare.query).map_err(EngineError::syntax)?;
        let [query] = statements.as_slice() else {
            return Err(EngineError::new(sqlstate::SYNTAX_ERROR, "DECLARE CURSOR takes one query"));
        };
        let shift = offset + declare.query_offset - 1;
        let output = Box::pin(self.execute_statement(session, query)).await.map_err(|e| e.shifted(shift))?;
        open_cursor(session, &declare, output).await
    }

    /// A prepared `DECLARE` whose query takes parameters: the query runs with them.
    pub(super) async fn declare_prepared(
        &self,
        session: &mut Session,
        text: &str,
        query: &Prepared,
        parameters: &[Parameter],
    ) -> Result<Output, EngineError> {
        let declare = self.declarable(session, text).await?;
        let shift = declare.query_offset - 1;
        let output = Box::pin(self.execute_prepared(session, query, parameters)).await.map_err(|e| e.shifted(shift))?;
        open_cursor(session, &declare, output).await
    }

    /// A `DECLARE`'s parts, when the session may open that cursor now.
    async fn declarable(&self, session: &Session, text: &str) -> Result<Declare, EngineError> {
        let declare = parse_declare(text)?;
        if !declare.hold && session.transaction == Transaction::Idle {
            return Err(EngineError::new(
                sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                "DECLARE CURSOR can only be used in transaction blocks",
            ));
        }
        if session.cursors.get(&declare.name).await.is_some() {
            return Err(EngineError::new(
                sqlstate::DUPLICATE_CURSOR,
                format!("cursor \"{}\" already exists", declare.name),
            ));
        }
        Ok(declare)
    }

    /// `FETCH [direction] [FROM|IN] name` (or `MOVE`, which skips the rows).
    pub(super) async fn fetch(&self, session: &mut Session, text: &str, is_move: bool) -> Result<Output, EngineError> {
        // sqlparser reads FETCH; MOVE has the same grammar.
        let as_fetch = if is_move { format!("FETCH{}", &text.trim_start()[4..]) } else { text.to_string() };
        let mut parsed = crate::sql::parse(&with_from(&as_fetch))?;
        let Some(PgStatement::Fetch { name, direction, .. }) = parsed.pop() else {
            return Err(EngineError::new(sqlstate::SYNTAX_ERROR, "syntax error in FETCH"));
        };
        let name = if name.quote_style.is_some() { name.value } else { name.value.to_lowercase() };
        let count = match direction {
            FetchDirection::Next => Count::Rows(1),
            FetchDirection::All | FetchDirection::ForwardAll => Count::All,
            FetchDirection::Count { limit } | FetchDirection::Forward { limit: Some(limit) } => {
                Count::Rows(row_count(&limit)?)
            }
            FetchDirection::Forward { limit: None } => Count::Rows(1),
            _ => {
                return Err(EngineError::new(sqlstate::FEATURE_NOT_SUPPORTED, "cursor can only scan forward")
                    .with_hint("Eddy's cursors read their rows once, in order."))
            }
        };
        let Some(cursor) = session.cursors.get(&name).await else {
            return Err(EngineError::new(sqlstate::UNDEFINED_CURSOR, format!("cursor \"{name}\" does not exist")));
        };
        let (rows, n) = cursor.lock().await.take(count, !is_move).await?;
        if is_move {
            return Ok(Output::done(format!("MOVE {n}")));
        }
        Ok(Output::Tagged { tag: format!("FETCH {n}"), output: Box::new(rows) })
    }

    /// `CLOSE name` / `CLOSE ALL`.
    pub(super) async fn close(&self, session: &mut Session, text: &str) -> Result<Output, EngineError> {
        let mut parsed = crate::sql::parse(text)?;
        let Some(PgStatement::Close { cursor }) = parsed.pop() else {
            return Err(EngineError::new(sqlstate::SYNTAX_ERROR, "syntax error in CLOSE"));
        };
        match cursor {
            CloseCursor::All => session.cursors.close_all().await,
            CloseCursor::Specific { name } => {
                let name = if name.quote_style.is_some() { name.value } else { name.value.to_lowercase() };
                if !session.cursors.close(&name).await {
                    return Err(EngineError::new(
                        sqlstate::UNDEFINED_CURSOR,
                        format!("cursor \"{name}\" does not exist"),
                    ));
                }
            }
        }
        Ok(Output::done("CLOSE CURSOR"))
    }
}

/// A FETCH count: a non-negative integer.
fn row_count(value: &sqlparser::ast::ValueWithSpan) -> Result<u64, EngineError> {
    match &value.value {
        SqlValue::Number(n, _) => n.parse::<u64>().map_err(|_| {
            EngineError::new(sqlstate::FEATURE_NOT_SUPPORTED, "cursor can only scan forward")
                .with_hint("Eddy's cursors read their rows once, in order.")
        }),
        other => Err(EngineError::new(sqlstate::SYNTAX_ERROR, format!("invalid row count {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_declare() {
        let d =
            parse_declare("DECLARE c NO SCROLL CURSOR WITH HOLD FOR SELECT * FROM t EMIT CHANGES").expect("declare");
        assert_eq!(d.name, "c");
        assert!(d.hold);
        assert_eq!(d.query, "SELECT * FROM t EMIT CHANGES");
        assert_eq!(d.query_offset, 42);
        let d = parse_declare("declare \"Big\" cursor for\n  select 1").expect("declare");
        assert_eq!(d.name, "Big");
        assert_eq!(d.query.trim(), "select 1");
        assert!(parse_declare("DECLARE c FOR SELECT 1").is_err());
    }

    #[test]
    fn fetch_without_from() {
        assert_eq!(with_from("FETCH c"), "FETCH NEXT FROM c");
        assert_eq!(with_from("FETCH 5 \"My c\";"), "FETCH 5 FROM \"My c\"");
        assert_eq!(with_from("FETCH ALL IN c"), "FETCH ALL IN c");
        assert_eq!(with_from("FETCH FORWARD 2 FROM c"), "FETCH FORWARD 2 FROM c");
    }
}
