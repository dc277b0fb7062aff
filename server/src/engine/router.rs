//! Which engine runs a statement. ksqlDB's statements and push queries run on Eddy's engine, as do
//! pull queries in ksqlDB's shape (one source, key lookups and scans: ksqlDB's results exactly);
//! every other query (joins, aggregates, ORDER BY, subqueries, catalog queries) runs on the SQL
//! engine; Postgres' session statements (transactions, settings, cursors, COPY) on the session.

use eddy_parser::{parse_each, ParsedStatement, Statement, StatementParse};

use super::error::{sqlstate, EngineError};
use super::{Engine, Output, Session};
use crate::session::Transaction;

/// First words of the Postgres statements the session answers.
pub(super) const SESSION_WORDS: &[&str] = &[
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "ABORT",
    "SAVEPOINT",
    "RELEASE",
    "DISCARD",
    "RESET",
    "DEALLOCATE",
    "DECLARE",
    "FETCH",
    "MOVE",
    "CLOSE",
    "COPY",
    "LISTEN",
    "UNLISTEN",
];

/// The first word of a statement, upper-cased.
pub(super) fn first_word(text: &str) -> String {
    text.trim_start().split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or_default().to_uppercase()
}

impl Engine {
    /// Runs every statement in `sql`, stopping at the first error.
    pub async fn execute(&self, session: &mut Session, sql: &str) -> Vec<Result<Output, EngineError>> {
        let weight = match crate::limits::check_text(sql) {
            Ok(w) => w,
            Err(e) => return vec![Err(e)],
        };
        let statements = match crate::limits::heavy(weight, || parse_each(sql)) {
            Ok(p) => p,
            Err(e) => return vec![Err(EngineError::syntax(e))],
        };
        let mut out = Vec::with_capacity(statements.len());
        for (i, statement) in statements.iter().enumerate() {
            // A message of many statements lets the worker's other sessions run between them.
            if i > 0 {
                tokio::task::yield_now().await;
            }
            let result = crate::limits::heavy_async(weight, self.execute_statement(session, statement))
                .await
                .map_err(|e| e.locate(sql));
            let failed = result.is_err();
            out.push(result);
            if failed {
                break;
            }
        }
        out
    }

    /// Runs one statement of a submitted text; a failure inside a transaction block fails the block.
    pub async fn execute_statement(
        &self,
        session: &mut Session,
        statement: &StatementParse,
    ) -> Result<Output, EngineError> {
        let result = self.route(session, statement).await;
        self.statements.add(&first_word(&statement.text), result.is_ok());
        if result.is_err() && session.transaction == Transaction::Block {
            session.transaction = Transaction::Failed;
        }
        result
    }

    async fn route(&self, session: &mut Session, statement: &StatementParse) -> Result<Output, EngineError> {
        let word = first_word(&statement.text);
        if session.transaction == Transaction::Failed
            && !matches!(word.as_str(), "ROLLBACK" | "ABORT" | "COMMIT" | "END")
        {
            return Err(EngineError::new(
                sqlstate::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        if SESSION_WORDS.contains(&word.as_str()) {
            return self.session_statement(session, &statement.text, statement.offset).await;
        }
        match &statement.result {
            Ok(parsed) => {
                if session.transaction != Transaction::Idle && changes_anything(parsed) {
                    return Err(EngineError::new(
                        sqlstate::ACTIVE_SQL_TRANSACTION,
                        format!("{word} cannot run inside a transaction block"),
                    )
                    .with_hint("Eddy's statements take effect at once and cannot be rolled back: run it outside BEGIN ... COMMIT (in autocommit mode)."));
                }
                let parsed = ParsedStatement { statement: parsed.clone(), text: statement.text.clone(), offset: statement.offset };
                self.execute_parsed(session, &parsed, None).await
            }
            // Not Eddy's dialect: Postgres' SQL, if it parses as that.
            Err(not_ksql) => match crate::sql::parse(&statement.text) {
                Ok(parsed) if parsed.len() == 1 && is_query(&parsed[0]) => {
                    self.sql_text(session, &statement.text).await.map_err(|e| e.shifted(statement.offset))
                }
                Ok(parsed) if parsed.len() == 1 && Self::is_session_statement(&parsed[0]) => {
                    self.session_statement(session, &statement.text, statement.offset).await
                }
                Ok(parsed) if parsed.len() == 1 && is_change(&parsed[0]) => Err(EngineError::new(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    format!(
                        "{word} is not supported: Eddy's streams and tables change through their Kafka topics (INSERT INTO ... VALUES, or a persistent query)"
                    ),
                )),
                _ => Err(EngineError::syntax(not_ksql.clone())),
            },
        }
    }
}

/// Statements that change the catalog, a topic or a running query: they cannot be rolled back.
fn changes_anything(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::CreateSource(_)
            | Statement::CreateAsSelect(_)
            | Statement::InsertSelect { .. }
            | Statement::InsertValues { .. }
            | Statement::Drop { .. }
            | Statement::Terminate(_)
    )
}

/// A query (SELECT, WITH, VALUES, TABLE, EXPLAIN of a query).
fn is_query(statement: &sqlparser::ast::Statement) -> bool {
    use sqlparser::ast::Statement as S;
    match statement {
        S::Query(_) => true,
        S::Explain { statement, .. } => is_query(statement),
        _ => false,
    }
}

/// Postgres statements that change data or schema in ways Eddy does not offer.
fn is_change(statement: &sqlparser::ast::Statement) -> bool {
    use sqlparser::ast::Statement as S;
    matches!(
        statement,
        S::Insert(_)
            | S::Update(_)
            | S::Delete(_)
            | S::Merge { .. }
            | S::CreateTable(_)
            | S::CreateView(_)
            | S::AlterTable(_)
            | S::Truncate(_)
    )
}
