//! INSERT INTO ... VALUES: evaluates the values, encodes key and value, and produces one record.

use eddy_catalog::{ColumnKind, Source, SqlType};
use eddy_planner::evaluate_constant;
use eddy_runtime::format::{codec_for, Role};
use eddy_runtime::{OutputRecord, Value};
use sqlparser::ast::Expr;

use super::error::{sqlstate, EngineError};
use super::{Engine, Output};

impl Engine {
    pub(super) async fn insert_values(
        &self,
        target: &str,
        columns: Option<&[String]>,
        values: &[Expr],
    ) -> Result<Output, EngineError> {
        let source = self.writable_source(target).await?;
        let headers: Vec<&str> = source
            .columns
            .iter()
            .filter(|c| matches!(c.kind, ColumnKind::Headers | ColumnKind::Header(_)))
            .map(|c| c.name.as_str())
            .collect();
        if columns.is_none() && !headers.is_empty() {
            return Err(EngineError::new(
                sqlstate::INVALID_PARAMETER,
                format!("Cannot insert into HEADER columns: {}", headers.join(", ")),
            ));
        }
        let names: Vec<String> = match columns {
            Some(c) => c.to_vec(),
            None => source
                .columns
                .iter()
                .filter(|c| matches!(c.kind, ColumnKind::Key | ColumnKind::Value))
                .map(|c| c.name.clone())
                .collect(),
        };
        if names.len() != values.len() {
            return Err(EngineError::new(
                sqlstate::INVALID_PARAMETER,
                format!("Expected a value for each column. Expected Columns: {:?}. Got {} values", names, values.len()),
            ));
        }
        let mut timestamp = None;
        let mut assigned: Vec<(String, Value)> = Vec::new();
        for (name, expr) in names.iter().zip(values) {
            if name == "ROWTIME" {
                match evaluate_constant(expr, Some(&SqlType::Bigint))? {
                    Value::Bigint(t) => timestamp = Some(t),
                    _ => return Err(EngineError::new(sqlstate::INVALID_PARAMETER, "ROWTIME must be a BIGINT")),
                }
                continue;
            }
            let Some(column) = source.column(name) else {
                return Err(EngineError::new(
                    sqlstate::UNDEFINED_OBJECT,
                    format!("Column name {name} does not exist."),
                ));
            };
            if matches!(column.kind, ColumnKind::Headers | ColumnKind::Header(_)) {
                return Err(EngineError::new(
                    sqlstate::INVALID_PARAMETER,
                    format!("Cannot insert into HEADER columns: {name}"),
                ));
            }
            let value = evaluate_constant(expr, Some(&column.ty)).map_err(|e| {
                EngineError::new(
                    sqlstate::DATATYPE_MISMATCH,
                    format!("Expected type {} for field {name} but got {expr}: {e}", column.ty),
                )
            })?;
            assigned.push((name.clone(), value));
        }
        let record = encode_record(&source, &assigned, timestamp)?;
        Ok(match self.broker.produce_for_client(&source.topic, vec![record]).await? {
            Some(warning) => Output::done_with("INSERT 0 1", warning),
            None => Output::done("INSERT 0 1"),
        })
    }

    /// A stream or table that INSERT and COPY may write to.
    pub(super) async fn writable_source(&self, target: &str) -> Result<Source, EngineError> {
        let source = {
            let state = self.state.lock().await;
            match state.catalog.source(target) {
                Ok(source) => source.clone(),
                Err(_) => {
                    let hint = state
                        .catalog
                        .sources()
                        .find(|s| s.name.eq_ignore_ascii_case(target))
                        .map(|s| did_you_mean(target, &s.name))
                        .unwrap_or_default();
                    return Err(EngineError::new(
                        sqlstate::UNDEFINED_TABLE,
                        format!("Cannot insert values into an unknown stream/table: `{target}`{hint}"),
                    ));
                }
            }
        };
        if source.is_source {
            return Err(EngineError::new(
                sqlstate::INVALID_PARAMETER,
                format!("Cannot insert values into read-only {}: {target}", source.kind.to_string().to_lowercase()),
            ));
        }
        Ok(source)
    }
}

/// The record of a row: named values (missing columns NULL) encoded as the source's key and value.
pub(super) fn encode_record(
    source: &Source,
    assigned: &[(String, Value)],
    timestamp: Option<i64>,
) -> Result<OutputRecord, EngineError> {
    let pick = |kind: &ColumnKind| -> (Vec<(String, SqlType)>, Vec<Value>) {
        let cols: Vec<_> = source.columns.iter().filter(|c| &c.kind == kind).collect();
        let values = cols
            .iter()
            .map(|c| assigned.iter().find(|(n, _)| *n == c.name).map(|(_, v)| v.clone()).unwrap_or(Value::Null))
            .collect();
        (cols.iter().map(|c| (c.name.clone(), c.ty.clone())).collect(), values)
    };
    let (key_cols, key_values) = pick(&ColumnKind::Key);
    let (value_cols, value_values) = pick(&ColumnKind::Value);
    let key = codec_for(&source.key_format, key_cols, Role::Key)?.encode(&key_values)?;
    let value = codec_for(&source.value_format, value_cols, Role::Value)?.encode(&value_values)?;
    let timestamp = timestamp.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    Ok(OutputRecord { timestamp, key, value, headers: Vec::new() })
}

/// ksqlDB's hint when a source exists under another case: an unquoted name was upper-cased, a quoted one
/// was not.
fn did_you_mean(target: &str, existing: &str) -> String {
    if target == target.to_uppercase() {
        format!("\nDid you mean \"{existing}\"? Hint: wrap the source name in double quotes to make it case-sensitive.")
    } else {
        format!("\nDid you mean {existing}? Hint: try removing double quotes from the source name.")
    }
}
