//! The physical dataflow a query runs: a source, a chain of steps, and a sink. Built by the planner.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::PhysicalExpr;
use eddy_catalog::{ColumnKind, FormatSpec, SourceKind, SqlType};

/// Every batch ends with two hidden columns that ride along with each row: the record's headers
/// (`ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`), written back on output as ksqlDB does ...
pub const HEADERS_COLUMN: &str = "$headers";
/// ... and whether the record's value was null, in which case the output value is null too.
pub const VALUE_NULL_COLUMN: &str = "$value_null";

/// The SQL type of the hidden headers column.
pub fn headers_type() -> SqlType {
    SqlType::Array(Box::new(SqlType::Struct(vec![("KEY".into(), SqlType::String), ("VALUE".into(), SqlType::Bytes)])))
}

/// A complete query dataflow.
#[derive(Debug, Clone)]
pub struct Dataflow {
    pub source: SourceSpec,
    pub steps: Vec<Step>,
    pub sink: SinkSpec,
}

/// How to read and decode the input topic.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: String,
    pub kind: SourceKind,
    pub topic: String,
    pub key_format: FormatSpec,
    pub value_format: FormatSpec,
    pub key_columns: Vec<(String, SqlType)>,
    /// Value and header columns in schema order.
    pub value_columns: Vec<(String, SqlType, ColumnKind)>,
    /// `TIMESTAMP='col'`: the column (by name) whose value becomes ROWTIME, and its format.
    pub timestamp: Option<(String, Option<String>)>,
    /// ROWTIME, ROWPARTITION, ROWOFFSET, keys, values/headers, then the two hidden columns.
    pub schema: SchemaRef,
}

/// One operator of the chain.
#[derive(Debug, Clone)]
pub enum Step {
    /// Keeps rows where the predicate is true.
    Filter { predicate: Arc<dyn PhysicalExpr>, text: String },
    /// A table's filter: rows where the predicate is not true become tombstones (their value is null),
    /// as a KTable filter forwards them.
    /// With `keys`, the filter remembers which keys it let through and sends a tombstone only for
    /// those (a filter over an aggregate's changelog); without, every non-matching row is one.
    TableFilter { predicate: Arc<dyn PhysicalExpr>, text: String, keys: Option<usize> },
    /// GROUP BY: input ROWTIME, keys, aggregate arguments, hidden; output ROWTIME, keys, results, hidden.
    Aggregate { keys: usize, calls: Vec<crate::operator::AggregateCall>, schema: SchemaRef, texts: Vec<String> },
    /// Computes a new set of columns.
    Project { exprs: Vec<Arc<dyn PhysicalExpr>>, schema: SchemaRef, texts: Vec<String> },
}

/// Where the output goes. The last step's output is ROWTIME, the key columns, the value columns, then
/// the two hidden columns.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    pub name: String,
    pub topic: Option<String>,
    pub kind: SourceKind,
    pub key_format: FormatSpec,
    pub value_format: FormatSpec,
    pub key_columns: Vec<(String, SqlType)>,
    pub value_columns: Vec<(String, SqlType)>,
    pub partitions: i32,
    /// The output is re-keyed (PARTITION BY).
    pub partition_by: Option<String>,
}

impl Dataflow {
    /// Lines of the dataflow as a tree, sink first.
    pub fn explain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let sink = &self.sink;
        let keys: Vec<String> = sink.key_columns.iter().map(|(n, t)| format!("{n} {t}")).collect();
        match &sink.topic {
            Some(topic) => lines.push(format!(
                "Sink {} {} topic={} key=[{}] key_format={} value_format={}",
                sink.kind,
                sink.name,
                topic,
                keys.join(", "),
                sink.key_format.format,
                sink.value_format.format
            )),
            None => lines.push(format!(
                "Client sink: {}",
                sink.value_columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
        // With PARTITION BY, the first projection is the one that re-keys the input.
        let rekey = sink
            .partition_by
            .as_ref()
            .and_then(|by| self.steps.iter().position(|s| matches!(s, Step::Project { .. })).map(|i| (i, by)));
        let mut depth = 1;
        for (i, step) in self.steps.iter().enumerate().rev() {
            let indent = "  ".repeat(depth);
            match step {
                Step::Project { .. } if rekey.is_some_and(|(at, _)| at == i) => {
                    let by = rekey.map(|(_, by)| by.as_str()).unwrap_or_default();
                    lines.push(format!("{indent}PartitionBy [{by}]"));
                }
                Step::Filter { text, .. } => lines.push(format!("{indent}Filter {text}")),
                Step::TableFilter { text, .. } => lines.push(format!("{indent}TableFilter {text}")),
                Step::Aggregate { texts, .. } => lines.push(format!("{indent}Aggregate [{}]", texts.join(", "))),
                Step::Project { texts, .. } => lines.push(format!("{indent}Project [{}]", texts.join(", "))),
            }
            depth += 1;
        }
        let src = &self.source;
        let keys: Vec<String> = src.key_columns.iter().map(|(n, t)| format!("{n} {t}")).collect();
        lines.push(format!(
            "{}Source {} {} topic={} key=[{}] key_format={} value_format={}",
            "  ".repeat(depth),
            src.kind,
            src.name,
            src.topic,
            keys.join(", "),
            src.key_format.format,
            src.value_format.format
        ));
        lines
    }
}

impl fmt::Display for Dataflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.explain() {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}
