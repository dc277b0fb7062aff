//! Eddy's runtime: record formats, Arrow batches, expression evaluation, operators, and the
//! drivers that run dataflows against Kafka or against in-memory topics.

pub mod aggregate;
mod broker;
mod builder;
mod cell;
mod columnar;
mod dataflow;
mod decoder;
mod encoder;
mod error;
mod eval;
pub mod format;
pub mod function;
pub mod generator;
pub mod kafka;
mod memory;
mod metrics;
pub mod operator;
mod pipeline;
mod processing_log;
mod query_options;
mod record;
mod repartition;
mod snapshot;
mod timestamp;
mod value;
mod view;

pub use broker::{Broker, RecordStream, RowStream, RunningQuery, TopicInfo};
pub use cell::Cell;
pub use columnar::{array_value, values_to_array};
pub use dataflow::{
    headers_type, Dataflow, Input, JoinBranch, JoinKind, JoinShape, JoinSpec, SinkSpec, SourceSpec, Step, WindowPlan,
    Windowing, HEADERS_COLUMN, VALUE_NULL_COLUMN,
};
pub use decoder::{DecodeError, RecordDecoder};
pub use error::{Result, RuntimeError};
pub use memory::MemoryBroker;
pub use metrics::{MetricsSnapshot, QueryMetrics};
pub use pipeline::Pipeline;
pub use processing_log::{ErrorClass, ProcessingError, ProcessingLog, PROCESSING_LOG_COLUMNS};
pub use query_options::{QueryOptions, TaskIdle, MAX_TASK_IDLE, MAX_TASK_IDLE_MS};
pub use record::{partition_for_key, OutputRecord, Record};
pub use repartition::{repartition_topic, Repartition};
pub use snapshot::evaluate as evaluate_snapshot;
pub use timestamp::parse_timestamp;
pub use value::{decimal_to_string, parse_decimal, Value};
pub use view::{KeyCanon, RereadFeed, SharedView, TableView, ViewFeed};
