//! The processing log, as ksqlDB keeps it: one record per record a query skipped or expression it
//! could not evaluate, written to a topic that users read as a stream. The runtime collects what
//! happened ([`ProcessingError`], in the query's [`crate::QueryMetrics`]); the query's driver
//! writes it ([`ProcessingLog::records`]), so operators stay free of I/O.

use base64::Engine as _;
use serde_json::json;

use crate::record::OutputRecord;

/// The kinds of failure a query records, as ksqlDB's processing log classes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// An input record that does not decode with its source's formats (skipped).
    Deserialization,
    /// An expression that failed on a row (the value becomes NULL, or the row is not joined).
    Evaluation,
    /// An output row that does not encode with the sink's formats (skipped).
    Serialization,
    /// An output record the broker refused (skipped, unless `ksql.fail.on.production.error`).
    Production,
}

impl ErrorClass {
    /// Every class, in a fixed order (metrics report each).
    pub const ALL: [ErrorClass; 4] = [Self::Deserialization, Self::Evaluation, Self::Serialization, Self::Production];

    /// `deserialization`, `evaluation`, `serialization` or `production`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Deserialization => "deserialization",
            Self::Evaluation => "evaluation",
            Self::Serialization => "serialization",
            Self::Production => "production",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Self::Deserialization => 0,
            Self::Evaluation => 1,
            Self::Serialization => 2,
            Self::Production => 3,
        }
    }
}

/// One failure of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingError {
    pub class: ErrorClass,
    pub message: String,
    /// The input topic, partition and offset of the record, when the failure is tied to one.
    pub topic: Option<String>,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    /// The record's value bytes, when known (written only with `include_rows`).
    pub record: Option<Vec<u8>>,
    /// When it happened, in milliseconds since the epoch.
    pub time: i64,
}

impl ProcessingError {
    /// A failure now, not tied to a record.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            topic: None,
            partition: None,
            offset: None,
            record: None,
            time: chrono::Utc::now().timestamp_millis(),
        }
    }

    /// The same failure, tied to an input topic.
    pub fn in_topic(self, topic: &str) -> Self {
        Self { topic: Some(topic.to_string()), ..self }
    }
}

/// Where a server's queries log their failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingLog {
    pub topic: String,
    /// Write each failed record's bytes (`processing.log.include.rows`; off by default: the
    /// log may be readable by more people than the data).
    pub include_rows: bool,
}

/// The processing-log stream's columns, as `CREATE STREAM` declares them (values in JSON).
pub const PROCESSING_LOG_COLUMNS: &str = "QUERY_ID STRING, ERROR_CLASS STRING, MESSAGE STRING, \
     SOURCE_TOPIC STRING, SOURCE_PARTITION INT, SOURCE_OFFSET BIGINT, RECORD_B64 STRING";

impl ProcessingLog {
    /// The log records of a query's failures: JSON values with [`PROCESSING_LOG_COLUMNS`], no key,
    /// timestamped when the failure happened.
    pub fn records(&self, query_id: &str, errors: &[ProcessingError]) -> Vec<OutputRecord> {
        errors
            .iter()
            .map(|e| {
                let record = e
                    .record
                    .as_ref()
                    .filter(|_| self.include_rows)
                    .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes));
                let value = json!({
                    "QUERY_ID": query_id,
                    "ERROR_CLASS": e.class.name(),
                    "MESSAGE": e.message,
                    "SOURCE_TOPIC": e.topic,
                    "SOURCE_PARTITION": e.partition,
                    "SOURCE_OFFSET": e.offset,
                    "RECORD_B64": record,
                });
                OutputRecord {
                    timestamp: e.time,
                    key: None,
                    value: Some(value.to_string().into_bytes()),
                    headers: Vec::new(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_logged_as_json_and_its_bytes_only_when_asked() {
        let mut error = ProcessingError::new(ErrorClass::Deserialization, "not JSON").in_topic("clicks");
        (error.partition, error.offset, error.record, error.time) = (Some(2), Some(41), Some(b"{oops".to_vec()), 7);
        let log = ProcessingLog { topic: "default_processing_log".into(), include_rows: false };
        let records = log.records("CSAS_X_0", std::slice::from_ref(&error));
        let value = String::from_utf8(records[0].value.clone().unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            value,
            r#"{"QUERY_ID":"CSAS_X_0","ERROR_CLASS":"deserialization","MESSAGE":"not JSON","SOURCE_TOPIC":"clicks","SOURCE_PARTITION":2,"SOURCE_OFFSET":41,"RECORD_B64":null}"#
        );
        assert_eq!(records[0].timestamp, 7);
        let with_rows = ProcessingLog { include_rows: true, ..log };
        let value = String::from_utf8(with_rows.records("Q", &[error])[0].value.clone().unwrap_or_default());
        assert!(value.unwrap_or_default().contains(r#""RECORD_B64":"e29vcHM=""#));
    }
}
