//! ksqlDB properties that shape how a query runs (`SET 'name'='value'`, recorded with each
//! persistent query in the command log): their validation and the query options they give.

use std::collections::BTreeMap;

use eddy_runtime::{QueryOptions, TaskIdle, MAX_TASK_IDLE_MS};

use super::error::{sqlstate, EngineError};

/// `ksql.fail.on.production.error`: whether a record the broker refuses fails the query.
pub const FAIL_ON_PRODUCTION_ERROR: &str = "ksql.fail.on.production.error";

/// `auto.offset.reset`: where a new query starts reading its inputs.
pub const AUTO_OFFSET_RESET: &str = "auto.offset.reset";

/// ksqlDB's prefix for Kafka Streams properties (`ksql.streams.max.task.idle.ms`).
const STREAMS_PREFIX: &str = "ksql.streams.";

/// The Kafka Streams name of a property, with or without ksqlDB's `ksql.streams.` prefix.
fn streams_name(name: &str) -> &str {
    name.strip_prefix(STREAMS_PREFIX).unwrap_or(name)
}

/// Checks a property's value as `SET` receives it.
///
/// # Errors
/// 22023 (invalid parameter value) with what the property accepts.
pub fn validate(name: &str, value: &str) -> Result<(), EngineError> {
    let invalid = |message: String| Err(EngineError::new(sqlstate::INVALID_PARAMETER, message));
    match name {
        AUTO_OFFSET_RESET if !["earliest", "latest"].contains(&value.to_lowercase().as_str()) => {
            invalid(format!("Invalid value for auto.offset.reset: '{value}'. Expected earliest or latest."))
        }
        FAIL_ON_PRODUCTION_ERROR if !["true", "false"].contains(&value.to_lowercase().as_str()) => {
            invalid(format!("Invalid value for {name}: '{value}'. Expected true or false."))
        }
        _ if streams_name(name) == MAX_TASK_IDLE_MS => TaskIdle::parse(value).map(|_| ()).or_else(invalid),
        _ => Ok(()),
    }
}

/// The value `SET` stores: as given, except numbers stored as read (`' 100'` and `'+100'` are
/// `100`), so that SHOW PROPERTIES shows what a query will use.
pub fn normalize(name: &str, value: &str) -> String {
    match TaskIdle::parse(value) {
        Ok(_) if streams_name(name) == MAX_TASK_IDLE_MS => {
            value.trim().parse::<i64>().map_or(value.to_string(), |n| n.to_string())
        }
        _ => value.to_string(),
    }
}

/// The options a query runs with under these properties: `auto.offset.reset` and
/// `max.task.idle.ms` (either name; the prefixed one wins, as ksqlDB applies it last).
///
/// # Errors
/// 22023 for a value `SET` would have refused (properties recorded by an older version).
pub fn query_options(properties: &BTreeMap<String, String>) -> Result<QueryOptions, EngineError> {
    let earliest = properties.get(AUTO_OFFSET_RESET).is_some_and(|v| v.eq_ignore_ascii_case("earliest"));
    let idle = properties.get(&format!("{STREAMS_PREFIX}{MAX_TASK_IDLE_MS}")).or(properties.get(MAX_TASK_IDLE_MS));
    let task_idle = match idle {
        Some(value) => TaskIdle::parse(value).map_err(|e| EngineError::new(sqlstate::INVALID_PARAMETER, e))?,
        None => TaskIdle::default(),
    };
    Ok(QueryOptions { earliest, task_idle })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn max_task_idle_ms_is_read_under_either_name_and_checked() {
        let props = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let options = query_options(&props(&[("auto.offset.reset", "EARLIEST"), ("max.task.idle.ms", "250")]));
        assert_eq!(options, Ok(QueryOptions { earliest: true, task_idle: TaskIdle::For(Duration::from_millis(250)) }));
        let options = query_options(&props(&[("max.task.idle.ms", "250"), ("ksql.streams.max.task.idle.ms", "-1")]));
        assert_eq!(options.map(|o| o.task_idle), Ok(TaskIdle::Never));
        assert_eq!(query_options(&BTreeMap::new()), Ok(QueryOptions::default()));

        let refused = validate("ksql.streams.max.task.idle.ms", "-7").expect_err("refused");
        assert_eq!(refused.sqlstate, sqlstate::INVALID_PARAMETER);
        assert_eq!(refused.message, "Invalid value -7 for configuration max.task.idle.ms: Value must be at least -1");
        assert!(validate("max.task.idle.ms", "0").is_ok());
    }
}
