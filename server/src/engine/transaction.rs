//! Transaction blocks as clients drive them (`BEGIN`, `COMMIT`, `ROLLBACK`, savepoints). Reads in a
//! block behave as Postgres' do; what changes Eddy (DDL, INSERT) takes effect at once and so is
//! refused inside a block (see `router`); a failed statement fails the block until it ends.

use super::error::{sqlstate, EngineError};
use super::{Engine, Output, Session};
use crate::session::Transaction;

impl Engine {
    /// `BEGIN` / `START TRANSACTION [modes]`.
    pub(super) fn begin(&self, session: &mut Session, statement: &sqlparser::ast::Statement) -> Output {
        let tag = match statement {
            sqlparser::ast::Statement::StartTransaction { begin: false, .. } => "START TRANSACTION",
            _ => "BEGIN",
        };
        if session.transaction != Transaction::Idle {
            return Output::done_with(tag, "there is already a transaction in progress");
        }
        session.transaction = Transaction::Block;
        Output::done(tag)
    }

    /// `COMMIT` / `END`: a failed block rolls back, as Postgres reports it.
    pub(super) async fn commit(&self, session: &mut Session) -> Output {
        let before = std::mem::take(&mut session.transaction);
        session.cursors.end_transaction().await;
        match before {
            Transaction::Idle => Output::done_with("COMMIT", "there is no transaction in progress"),
            Transaction::Block => Output::done("COMMIT"),
            Transaction::Failed => Output::done("ROLLBACK"),
        }
    }

    /// `ROLLBACK`, or `ROLLBACK TO SAVEPOINT` (which leaves the block open and usable again).
    pub(super) async fn rollback(&self, session: &mut Session, to_savepoint: bool) -> Output {
        if to_savepoint && session.transaction != Transaction::Idle {
            session.transaction = Transaction::Block;
            return Output::done("ROLLBACK");
        }
        let before = std::mem::take(&mut session.transaction);
        session.cursors.end_transaction().await;
        match before {
            Transaction::Idle => Output::done_with("ROLLBACK", "there is no transaction in progress"),
            _ => Output::done("ROLLBACK"),
        }
    }

    /// `SAVEPOINT name` / `RELEASE name`: only inside a block.
    pub(super) fn savepoint(&self, session: &Session, tag: &str) -> Result<Output, EngineError> {
        if session.transaction == Transaction::Idle {
            return Err(EngineError::new(
                sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                format!("{tag} can only be used in transaction blocks"),
            ));
        }
        Ok(Output::done(tag))
    }
}
