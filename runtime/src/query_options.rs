//! How a query reads its inputs: where it starts, and how long a task holds what it has buffered
//! while one of its input partitions has nothing buffered (Kafka Streams' `max.task.idle.ms`).

use std::time::Duration;

/// The property that sets [`TaskIdle`], as Kafka Streams names it (ksqlDB also reads it with its
/// `ksql.streams.` prefix).
pub const MAX_TASK_IDLE_MS: &str = "max.task.idle.ms";

/// Largest `max.task.idle.ms` accepted: one day (a larger wait is a mistake, not a plan).
pub const MAX_TASK_IDLE: Duration = Duration::from_secs(86_400);

/// How a query reads its inputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Read each input from its log's start (`auto.offset.reset = earliest`), not from its end.
    pub earliest: bool,
    /// How long a task holds buffered records for an input partition with nothing buffered.
    pub task_idle: TaskIdle,
}

/// How long a task holds its buffered records while an input partition has none, so that it can
/// process records in timestamp order across its partitions (Kafka Streams' `max.task.idle.ms`,
/// KIP-353 and KIP-695).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TaskIdle {
    /// `-1`: never; buffered records are processed as they come.
    Never,
    /// `0`, the default: only for a partition known to hold records the task has not read yet
    /// (its backlog when the task started), and at most for a bounded time (the runtime's
    /// `BACKLOG_WAIT`, 10 s) so that records are never held indefinitely.
    #[default]
    Backlog,
    /// `n > 0` milliseconds: as `Backlog`, and also for any empty partition, up to `n` ms from when
    /// the task first found it empty with records of other partitions waiting.
    For(Duration),
}

impl TaskIdle {
    /// Reads a `max.task.idle.ms` value: `-1`, `0` or milliseconds up to [`MAX_TASK_IDLE`].
    ///
    /// # Errors
    /// Kafka's `ConfigException` wording for the value: not a number of type LONG, below -1, or
    /// above the largest accepted.
    pub fn parse(value: &str) -> Result<Self, String> {
        let invalid = |why: String| format!("Invalid value {value} for configuration {MAX_TASK_IDLE_MS}: {why}");
        let millis: i64 = value.trim().parse().map_err(|_| invalid("Not a number of type LONG".into()))?;
        let max = i64::try_from(MAX_TASK_IDLE.as_millis()).unwrap_or(i64::MAX);
        match millis {
            -1 => Ok(Self::Never),
            0 => Ok(Self::Backlog),
            n if n < -1 => Err(invalid("Value must be at least -1".into())),
            n if n > max => Err(invalid(format!("Value must be no more than {max}"))),
            n => Ok(Self::For(Duration::from_millis(n.unsigned_abs()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_task_idle_ms_reads_as_kafka_streams_defines_it() {
        assert_eq!(TaskIdle::parse("-1"), Ok(TaskIdle::Never));
        assert_eq!(TaskIdle::parse("0"), Ok(TaskIdle::Backlog));
        assert_eq!(TaskIdle::parse(" 250 "), Ok(TaskIdle::For(Duration::from_millis(250))));
        assert_eq!(
            TaskIdle::parse("soon"),
            Err("Invalid value soon for configuration max.task.idle.ms: Not a number of type LONG".into())
        );
        assert_eq!(
            TaskIdle::parse("-2"),
            Err("Invalid value -2 for configuration max.task.idle.ms: Value must be at least -1".into())
        );
        assert!(TaskIdle::parse("9223372036854775807").is_err_and(|e| e.ends_with("no more than 86400000")));
    }
}
