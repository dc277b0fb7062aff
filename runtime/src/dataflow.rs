//! The physical dataflow a query runs: a source, a chain of steps, and a sink. Built by the planner.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::PhysicalExpr;
use eddy_catalog::{ColumnKind, FormatSpec, SourceKind, SqlType, WindowKind};

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
    pub input: Input,
    pub steps: Vec<Step>,
    pub sink: SinkSpec,
}

/// Where a dataflow's rows come from: one topic, or a join of two inputs.
#[derive(Debug, Clone)]
pub enum Input {
    Source(SourceSpec),
    Join(Box<JoinSpec>),
}

impl Input {
    /// The topics the input reads, left to right.
    pub fn topics(&self) -> Vec<String> {
        match self {
            Input::Source(s) => vec![s.topic.clone()],
            Input::Join(j) => {
                let mut topics = j.left.input.topics();
                topics.extend(j.right.input.topics());
                topics
            }
        }
    }

    /// The left-most source (the one that drives naming and formats of a single-source query).
    pub fn first_source(&self) -> &SourceSpec {
        match self {
            Input::Source(s) => s,
            Input::Join(j) => j.left.input.first_source(),
        }
    }
}

/// The kinds of join ksqlDB has; RIGHT is LEFT with the sides swapped in how rows are preserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Outer,
}

impl JoinKind {
    /// Whether rows of the left (`true`) or right side survive without a match.
    pub fn preserves(self, left: bool) -> bool {
        match self {
            JoinKind::Inner => false,
            JoinKind::Left => left,
            JoinKind::Right => !left,
            JoinKind::Outer => true,
        }
    }
}

impl fmt::Display for JoinKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JoinKind::Inner => "INNER",
            JoinKind::Left => "LEFT",
            JoinKind::Right => "RIGHT",
            JoinKind::Outer => "FULL OUTER",
        })
    }
}

/// How the two sides are held: streams in join windows, a stream against a table's latest rows, or two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinShape {
    /// `WITHIN (before, after)`; with a GRACE PERIOD, unmatched rows wait until their window closes
    /// (Kafka Streams' spurious-result fix); without one, they are emitted at once and kept for 24 hours.
    StreamStream {
        before_ms: i64,
        after_ms: i64,
        grace_ms: Option<i64>,
    },
    StreamTable,
    TableTable,
    /// A table-table join of a left expression (the foreign key) on the right table's primary key;
    /// the output is keyed by the left table's primary key, column `left_primary` of the left side.
    ForeignKey {
        left_primary: usize,
    },
}

/// One side of a join: its input, the steps applied to it, and the expression it is joined on.
#[derive(Debug, Clone)]
pub struct JoinBranch {
    pub input: Input,
    pub steps: Vec<Step>,
    /// Evaluated over the branch's output rows; its value (cast to the join key type) is the join key.
    pub key: Arc<dyn PhysicalExpr>,
    pub key_text: String,
}

/// A join of two inputs. Output rows: ROWTIME, ROWPARTITION, ROWOFFSET, the join key, every column of the
/// left branch's output but its two hidden columns, the same for the right, then the two hidden columns.
#[derive(Debug, Clone)]
pub struct JoinSpec {
    pub kind: JoinKind,
    pub shape: JoinShape,
    pub left: JoinBranch,
    pub right: JoinBranch,
    pub schema: SchemaRef,
    /// The SQL type of each output column, hidden ones included.
    pub types: Vec<SqlType>,
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
    /// A windowed source: its keys carry windows, read into WINDOWSTART and WINDOWEND.
    pub window: Option<WindowKind>,
    /// ROWTIME, ROWPARTITION, ROWOFFSET, keys, (WINDOWSTART, WINDOWEND when windowed,) values/headers,
    /// then the two hidden columns.
    pub schema: SchemaRef,
}

/// The windows of a windowed aggregation, with ksqlDB's defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Windowing {
    /// Tumbling (advance = size) and hopping windows `[start, start + size)`.
    Time { size_ms: i64, advance_ms: i64, grace_ms: i64, retention_ms: i64 },
    /// Sessions `[first, last]` of records at most `gap_ms` apart.
    Session { gap_ms: i64, grace_ms: i64 },
}

impl fmt::Display for Windowing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Windowing::Time { size_ms, advance_ms, grace_ms, .. } if size_ms == advance_ms => {
                write!(f, "TUMBLING size={size_ms}ms grace={grace_ms}ms")
            }
            Windowing::Time { size_ms, advance_ms, grace_ms, .. } => {
                write!(f, "HOPPING size={size_ms}ms advance={advance_ms}ms grace={grace_ms}ms")
            }
            Windowing::Session { gap_ms, grace_ms } => write!(f, "SESSION gap={gap_ms}ms grace={grace_ms}ms"),
        }
    }
}

/// A windowed aggregation: its windows, and whether only each window's final result is emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPlan {
    pub windowing: Windowing,
    pub emit_final: bool,
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
    /// GROUP BY: input ROWTIME, keys, aggregate arguments, (over a table: the table's `table_keys` key
    /// columns,) hidden; output ROWTIME, keys, (WINDOWSTART, WINDOWEND when windowed,) results, hidden.
    Aggregate {
        keys: usize,
        calls: Vec<crate::operator::AggregateCall>,
        schema: SchemaRef,
        texts: Vec<String>,
        window: Option<WindowPlan>,
        table_keys: usize,
    },
    /// Computes a new set of columns.
    Project { exprs: Vec<Arc<dyn PhysicalExpr>>, schema: SchemaRef, texts: Vec<String> },
    /// Table functions: each row becomes one row per element of its longest result; output the
    /// input's columns but the hidden ones, one column per call, then the two hidden columns.
    Explode { calls: Vec<crate::operator::TableFunctionCall>, schema: SchemaRef, texts: Vec<String> },
}

/// Where the output goes. The last step's output is ROWTIME, the key columns, (WINDOWSTART and
/// WINDOWEND for a windowed sink,) the value columns, then the two hidden columns.
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
    /// The key is the source's own key (no PARTITION BY, GROUP BY or join): key columns that are all
    /// null came from a record without a key, which is written without one.
    pub source_key: bool,
    /// A windowed sink: each key carries its row's window.
    pub window: Option<WindowKind>,
    /// What a record the broker refuses (larger than its message size, say) does to the query:
    /// `false` (Eddy's default) skips it and counts an error, `true` fails the query, as ksqlDB's
    /// `ksql.fail.on.production.error`.
    pub fail_on_production_error: bool,
}

impl Dataflow {
    /// Whether the query keeps state between records (a join, an aggregation, a filter over an
    /// aggregate's changelog), which a restarted task must rebuild before it goes on.
    pub fn holds_state(&self) -> bool {
        fn stateful(step: &Step) -> bool {
            matches!(step, Step::Aggregate { .. } | Step::TableFilter { keys: Some(_), .. })
        }
        matches!(self.input, Input::Join(_)) || self.steps.iter().any(stateful)
    }

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
                Step::Aggregate { .. } => lines.push(format!("{indent}{}", aggregate_line(step))),
                Step::Project { texts, .. } => lines.push(format!("{indent}Project [{}]", texts.join(", "))),
                Step::Explode { texts, .. } => lines.push(format!("{indent}FlatMap [{}]", texts.join(", "))),
            }
            depth += 1;
        }
        explain_input(&self.input, depth, &mut lines);
        lines
    }
}

fn explain_steps(steps: &[Step], mut depth: usize, lines: &mut Vec<String>) -> usize {
    for step in steps.iter().rev() {
        let indent = "  ".repeat(depth);
        match step {
            Step::Filter { text, .. } => lines.push(format!("{indent}Filter {text}")),
            Step::TableFilter { text, .. } => lines.push(format!("{indent}TableFilter {text}")),
            Step::Aggregate { .. } => lines.push(format!("{indent}{}", aggregate_line(step))),
            Step::Project { texts, .. } => lines.push(format!("{indent}Project [{}]", texts.join(", "))),
            Step::Explode { texts, .. } => lines.push(format!("{indent}FlatMap [{}]", texts.join(", "))),
        }
        depth += 1;
    }
    depth
}

/// `Aggregate [calls]`, with the windows of a windowed aggregation.
fn aggregate_line(step: &Step) -> String {
    let Step::Aggregate { texts, window, .. } = step else { return String::new() };
    match window {
        None => format!("Aggregate [{}]", texts.join(", ")),
        Some(w) => {
            let emit = if w.emit_final { " EMIT FINAL" } else { "" };
            format!("Aggregate [{}] WINDOW {}{emit}", texts.join(", "), w.windowing)
        }
    }
}

fn explain_input(input: &Input, depth: usize, lines: &mut Vec<String>) {
    let indent = "  ".repeat(depth);
    match input {
        Input::Source(src) => {
            let keys: Vec<String> = src.key_columns.iter().map(|(n, t)| format!("{n} {t}")).collect();
            lines.push(format!(
                "{indent}Source {} {} topic={} key=[{}] key_format={} value_format={}",
                src.kind,
                src.name,
                src.topic,
                keys.join(", "),
                src.key_format.format,
                src.value_format.format
            ));
        }
        Input::Join(j) => {
            let window = match j.shape {
                JoinShape::StreamStream { before_ms, after_ms, grace_ms } => {
                    let grace = grace_ms.map(|g| format!(" grace={g}ms")).unwrap_or_default();
                    format!(" within=({before_ms}ms, {after_ms}ms){grace}")
                }
                JoinShape::StreamTable => " stream-table".to_string(),
                JoinShape::TableTable => " table-table".to_string(),
                JoinShape::ForeignKey { .. } => " table-table foreign-key".to_string(),
            };
            lines.push(format!("{indent}{} JOIN{window} ON {} = {}", j.kind, j.left.key_text, j.right.key_text));
            for branch in [&j.left, &j.right] {
                let d = explain_steps(&branch.steps, depth + 1, lines);
                explain_input(&branch.input, d, lines);
            }
        }
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
