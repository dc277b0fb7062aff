//! Runtime errors: serialization, evaluation, Kafka and internal faults.

/// An error from the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A record could not be read or written in its format.
    #[error("{0}")]
    Serde(String),
    /// An expression failed to evaluate.
    #[error("evaluation error: {0}")]
    Eval(String),
    /// A Kafka operation failed.
    #[error("Kafka error: {0}")]
    Kafka(String),
    /// The broker refused a record as larger than the largest message it accepts
    /// (`message.max.bytes`; Kafka's `MESSAGE_TOO_LARGE`).
    #[error(
        "a record of {bytes} bytes for topic '{topic}' is larger than the broker accepts (message.max.bytes = {limit})"
    )]
    RecordTooLarge { topic: String, bytes: usize, limit: usize },
    /// A bounded read of a topic (a pull query's scan of a stream, a table's reread) found more than
    /// it may hold in memory ([`crate::kafka::MAX_SCAN_BYTES`]).
    #[error(
        "topic '{topic}' holds more than {limit} bytes to scan; a pull query reads at most that much \
         (eddy.limit.pull.scan.bytes)"
    )]
    ScanTooLarge { topic: String, limit: usize },
    /// A topic does not exist.
    #[error("Topic '{0}' does not exist")]
    TopicNotFound(String),
    /// The operation is not possible here.
    #[error("{0}")]
    Unsupported(String),
    /// A broken invariant: a bug, reported rather than panicking.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<rdkafka::error::KafkaError> for RuntimeError {
    fn from(e: rdkafka::error::KafkaError) -> Self {
        Self::Kafka(e.to_string())
    }
}

impl From<arrow::error::ArrowError> for RuntimeError {
    fn from(e: arrow::error::ArrowError) -> Self {
        Self::Eval(e.to_string())
    }
}

impl From<datafusion_common::DataFusionError> for RuntimeError {
    fn from(e: datafusion_common::DataFusionError) -> Self {
        Self::Eval(e.to_string())
    }
}

/// Result alias of the runtime crate.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
