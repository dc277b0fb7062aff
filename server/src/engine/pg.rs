//! Postgres' session statements: `SET`/`SHOW`/`RESET` of settings (and ksqlDB's `SET 'property'`),
//! `DISCARD`, `LISTEN`, and the dispatch of transaction, cursor and COPY statements.

use sqlparser::ast::{Expr, Reset, Set, Statement as PgStatement, Value as SqlValue};

use super::error::{sqlstate, EngineError};
use super::router::first_word;
use super::{Engine, Output, ResultColumn, Session};
use crate::session::settings::{self, canonical_name, SettingError};
use crate::session::Transaction;

impl Engine {
    /// Whether a Postgres statement is one the session answers.
    pub(super) fn is_session_statement(statement: &PgStatement) -> bool {
        matches!(
            statement,
            PgStatement::Set(_)
                | PgStatement::ShowVariable { .. }
                | PgStatement::ShowVariables { .. }
                | PgStatement::Reset(_)
                | PgStatement::StartTransaction { .. }
                | PgStatement::Commit { .. }
                | PgStatement::Rollback { .. }
                | PgStatement::Savepoint { .. }
                | PgStatement::ReleaseSavepoint { .. }
                | PgStatement::Discard { .. }
                | PgStatement::Deallocate { .. }
                | PgStatement::LISTEN { .. }
                | PgStatement::UNLISTEN { .. }
        )
    }

    /// Runs a Postgres session statement (`text` starts at 1-based `offset` of what was submitted).
    pub(super) async fn session_statement(
        &self,
        session: &mut Session,
        text: &str,
        offset: usize,
    ) -> Result<Output, EngineError> {
        match first_word(text).as_str() {
            "DECLARE" => return self.declare(session, text, offset).await,
            "FETCH" => return self.fetch(session, text, false).await,
            "MOVE" => return self.fetch(session, text, true).await,
            "CLOSE" => return self.close(session, text).await,
            "COPY" => return self.copy(session, text, offset).await,
            _ => {}
        }
        let mut parsed = crate::sql::parse(text).map_err(|e| e.shifted(offset))?;
        let (Some(statement), true) = (parsed.pop(), parsed.is_empty()) else {
            return Err(EngineError::new(sqlstate::SYNTAX_ERROR, "expected one statement"));
        };
        match statement {
            PgStatement::StartTransaction { .. } => Ok(self.begin(session, &statement)),
            PgStatement::Commit { .. } => Ok(self.commit(session).await),
            PgStatement::Rollback { savepoint, .. } => Ok(self.rollback(session, savepoint.is_some()).await),
            PgStatement::Savepoint { .. } => self.savepoint(session, "SAVEPOINT"),
            PgStatement::ReleaseSavepoint { .. } => self.savepoint(session, "RELEASE"),
            PgStatement::Discard { object_type } => {
                let tag = format!("DISCARD {}", object_type.to_string().to_uppercase());
                if object_type.to_string().eq_ignore_ascii_case("ALL") {
                    if session.transaction != Transaction::Idle {
                        return Err(EngineError::new(
                            sqlstate::ACTIVE_SQL_TRANSACTION,
                            "DISCARD ALL cannot run inside a transaction block",
                        ));
                    }
                    session.cursors.close_all().await;
                    session.properties.clear();
                    let status = session.settings.write().map(|mut s| s.reset_all()).unwrap_or_default();
                    return Ok(Output::done_reporting(tag, status));
                }
                Ok(Output::done(tag))
            }
            PgStatement::Deallocate { .. } => Ok(Output::done("DEALLOCATE")),
            PgStatement::LISTEN { .. } => Ok(Output::done("LISTEN")),
            PgStatement::UNLISTEN { .. } => Ok(Output::done("UNLISTEN")),
            PgStatement::Reset(reset) => match reset.reset {
                Reset::ALL => {
                    session.properties.clear();
                    let status = session.settings.write().map(|mut s| s.reset_all()).unwrap_or_default();
                    Ok(Output::done_reporting("RESET", status))
                }
                Reset::ConfigurationParameter(name) => {
                    let name = name.to_string();
                    if session.properties.remove(&name).is_some() {
                        if let Ok(mut settings) = session.settings.write() {
                            let _ = settings.set(&name, None);
                        }
                        return Ok(Output::done("RESET"));
                    }
                    change_setting(session, &name, None, "RESET")
                }
            },
            PgStatement::ShowVariable { variable } => {
                // `SHOW TRANSACTION ISOLATION LEVEL` is words; `SHOW myapp.user_id` a dotted name.
                let words: Vec<&str> = variable.iter().map(|i| i.value.as_str()).collect();
                let spaced = words.join(" ");
                let name = if settings::lookup(&canonical_name(&spaced)).is_some() { spaced } else { words.join(".") };
                show_variable(session, &name)
            }
            PgStatement::ShowVariables { .. } => show_variable(session, "all"),
            PgStatement::Set(set) => self.pg_set(session, set),
            other => Err(EngineError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                format!("{} is not supported", first_word(&other.to_string())),
            )),
        }
    }

    /// `SET` in Postgres' forms that Eddy's own grammar does not read.
    fn pg_set(&self, session: &mut Session, set: Set) -> Result<Output, EngineError> {
        match set {
            Set::SingleAssignment { variable, values, .. } => {
                let value = set_value(&values);
                change_setting(session, &variable.to_string(), value.as_deref(), "SET")
            }
            Set::SetTimeZone { value, .. } => {
                let value = set_value(std::slice::from_ref(&value));
                change_setting(session, "TimeZone", value.as_deref(), "SET")
            }
            Set::SetNames { charset_name, .. } => {
                change_setting(session, "client_encoding", Some(&charset_name.value), "SET")
            }
            // Every transaction reads a consistent snapshot and writes nothing that can be rolled
            // back: any isolation level and access mode is honoured as asked.
            Set::SetTransaction { .. } => Ok(Output::done("SET")),
            Set::SetSessionAuthorization(_) | Set::SetRole { .. } => Ok(Output::done("SET")),
            other => Err(EngineError::new(sqlstate::FEATURE_NOT_SUPPORTED, format!("{other} is not supported"))),
        }
    }
}

/// The value of `SET name TO value`: None for `DEFAULT`; lists joined as Postgres does.
fn set_value(values: &[Expr]) -> Option<String> {
    let parts: Vec<String> = values
        .iter()
        .map(|v| match v {
            Expr::Value(v) => match &v.value {
                SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => s.clone(),
                other => other.to_string(),
            },
            Expr::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        })
        .collect();
    if parts.len() == 1 && parts[0].eq_ignore_ascii_case("DEFAULT") {
        return None;
    }
    Some(parts.join(", "))
}

/// Changes a Postgres setting; reports it when Postgres reports it.
fn change_setting(session: &mut Session, name: &str, value: Option<&str>, tag: &str) -> Result<Output, EngineError> {
    let mut settings = session.settings.write().map_err(|_| EngineError::new(sqlstate::INTERNAL, "settings lock"))?;
    match settings.set(name, value) {
        Ok(report) => Ok(Output::done_reporting(tag, report.into_iter().collect())),
        Err(e) => Err(setting_error(e)),
    }
}

/// A setting error with Postgres' SQLSTATE.
pub(super) fn setting_error(e: SettingError) -> EngineError {
    match &e {
        SettingError::Unknown(_) => EngineError::new(sqlstate::UNDEFINED_OBJECT, e.to_string()),
        SettingError::ReadOnly(_) => EngineError::new(sqlstate::CANT_CHANGE_RUNTIME_PARAM, e.to_string()),
        SettingError::InvalidValue { hint, .. } => {
            let error = EngineError::new(sqlstate::INVALID_PARAMETER, e.to_string());
            match hint {
                Some(h) => error.with_hint(h.clone()),
                None => error,
            }
        }
    }
}

/// `SET name = value` in Eddy's grammar: a Postgres setting when `name` is one (or has no dot), else
/// a ksqlDB property (`SET 'auto.offset.reset' = 'earliest'`).
pub(super) fn set(session: &mut Session, name: &str, value: Option<&str>) -> Result<Output, EngineError> {
    let is_setting = settings::lookup(&canonical_name(name)).is_some() || !name.contains('.');
    if is_setting {
        let value = value.filter(|v| !v.eq_ignore_ascii_case("DEFAULT"));
        return change_setting(session, name, value, "SET");
    }
    let value = value.unwrap_or_default();
    super::properties::validate(name, value)?;
    let value = super::properties::normalize(name, value);
    let value = value.as_str();
    session.properties.insert(name.to_string(), value.to_string());
    // A dotted name is also a Postgres custom setting (`SET myapp.user_id = '7'` then
    // `current_setting('myapp.user_id')`), which Postgres accepts for any two-part name.
    if let Ok(mut settings) = session.settings.write() {
        let _ = settings.set(name, Some(value));
    }
    Ok(Output::done("SET"))
}

/// `SHOW name` (or `SHOW ALL`) of a Postgres setting or ksqlDB property.
pub(super) fn show_variable(session: &Session, name: &str) -> Result<Output, EngineError> {
    let settings = session.settings.read().map_err(|_| EngineError::new(sqlstate::INTERNAL, "settings lock"))?;
    if name.eq_ignore_ascii_case("all") {
        let rows =
            settings.all().into_iter().map(|(g, v)| vec![g.name.to_string(), v, g.description.to_string()]).collect();
        return Ok(Output::text_table(&["name", "setting", "description"], rows));
    }
    let key = canonical_name(name);
    let column = settings::lookup(&key).map(|g| g.name.to_string()).unwrap_or_else(|| key.clone());
    let value = match settings.get(&key) {
        Ok(v) => v,
        Err(e) => match session.properties.get(name) {
            Some(v) => v.clone(),
            None => return Err(setting_error(e)),
        },
    };
    Ok(Output::Rows { columns: vec![ResultColumn::text(column)], rows: vec![vec![eddy_runtime::Value::String(value)]] })
}
