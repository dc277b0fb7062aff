//! The records a query has read but not yet processed, one queue per input partition, released in
//! timestamp order as Kafka Streams' `PartitionGroup` releases them (KIP-353, KIP-695).
//!
//! A query task reads all its input partitions; which of them the broker answers first is chance.
//! To make results independent of it, the task always processes the buffered record with the
//! lowest timestamp among the heads of its partitions' queues (each partition stays in offset
//! order). A partition known to hold records the task has not read yet (its backlog when the task
//! started: the log's end then, above where the task starts) blocks the release while its queue
//! is empty, so that a stream-table join over topics that already hold data joins each stream
//! record with the table as of the record's time, not with an empty table because the stream's
//! backlog happened to be fetched first. Once a partition is read to where its backlog ended, the
//! task no longer waits for it: live records are processed as they come. A backlog that does not
//! arrive within [`BACKLOG_WAIT`] stops being waited for, with a log line: a query never holds
//! records indefinitely.
//!
//! That is Kafka Streams' `max.task.idle.ms = 0`, the default ([`TaskIdle::Backlog`]). With `-1`
//! ([`TaskIdle::Never`]) nothing is waited for; with `n > 0` ([`TaskIdle::For`]) any partition
//! with nothing buffered holds the release too, up to `n` ms from when the task first found it
//! empty while other partitions had records (as Kafka Streams' per-partition idle deadlines: a
//! partition that stays quiet is waited for once, until it has records again).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::push::TopicRecords;
use crate::query_options::TaskIdle;
use crate::record::Record;

/// Longest the task holds records for a partition whose backlog has not arrived.
pub(crate) const BACKLOG_WAIT: Duration = Duration::from_secs(10);

/// One input partition's buffered records.
#[derive(Debug)]
struct Queue {
    topic: String,
    partition: i32,
    records: VecDeque<Record>,
    /// The end of the partition's backlog (the offset past it) while it has not been read.
    backlog_end: Option<i64>,
    /// Since when the task has found it empty while other partitions had records
    /// ([`TaskIdle::For`]); cleared when it has records again.
    empty_since: Option<Instant>,
}

impl Queue {
    fn waits(&self) -> bool {
        self.backlog_end.is_some() && self.records.is_empty()
    }
}

/// The buffered input of a query task.
#[derive(Debug, Default)]
pub(crate) struct PartitionGroup {
    /// In (topic, partition) order, so that ties between heads resolve the same way every time.
    queues: Vec<Queue>,
    idle: TaskIdle,
    /// Since when a partition's unread backlog has held the release.
    waiting_since: Option<Instant>,
    /// When the earliest empty partition that holds the release stops being waited for
    /// ([`TaskIdle::For`]).
    idle_deadline: Option<Instant>,
}

impl PartitionGroup {
    /// A group over a task's input partitions, each with the end offset (exclusive) of its
    /// backlog when it has one; `idle` says what the release waits for. Partitions not listed
    /// are added as records arrive, with nothing to wait for.
    pub fn new(partitions: impl IntoIterator<Item = (String, i32, Option<i64>)>, idle: TaskIdle) -> Self {
        let mut group = Self { idle, ..Self::default() };
        for (topic, partition, end) in partitions {
            let at = group.queue(&topic, partition);
            if let Some(queue) = group.queues.get_mut(at) {
                queue.backlog_end = end.filter(|_| idle != TaskIdle::Never);
            }
        }
        group
    }

    /// The index of a partition's queue, added if new.
    fn queue(&mut self, topic: &str, partition: i32) -> usize {
        let found = self.queues.binary_search_by(|q| (q.topic.as_str(), q.partition).cmp(&(topic, partition)));
        match found {
            Ok(at) => at,
            Err(at) => {
                let queue = Queue {
                    topic: topic.to_string(),
                    partition,
                    records: VecDeque::new(),
                    backlog_end: None,
                    empty_since: None,
                };
                self.queues.insert(at, queue);
                at
            }
        }
    }

    /// Buffers records as a consumer read them.
    pub fn add(&mut self, runs: Vec<TopicRecords>) {
        for (topic, records) in runs {
            for record in records {
                let at = self.queue(&topic, record.partition);
                if let Some(queue) = self.queues.get_mut(at) {
                    queue.records.push_back(record);
                    queue.empty_since = None;
                }
            }
        }
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.queues.iter().all(|q| q.records.is_empty())
    }

    /// A partition was read to the end of its backlog without a record at its last offset (a
    /// transaction marker or a compacted record was there): no longer waited for.
    pub fn reached(&mut self, topic: &str, partition: i32) {
        if let Some(queue) = self.queues.iter_mut().find(|q| q.topic == topic && q.partition == partition) {
            queue.backlog_end = None;
        }
    }

    /// When the release stops waiting for a partition, if it is waiting for one.
    pub fn deadline(&self) -> Option<Instant> {
        let backlog = self.waiting_since.map(|since| since + BACKLOG_WAIT);
        match (backlog, self.idle_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Releases what can be processed now, lowest head timestamp first, as runs of one topic.
    pub fn release(&mut self, now: Instant) -> Vec<TopicRecords> {
        let mut out: Vec<TopicRecords> = Vec::new();
        while !self.blocked(now) {
            let Some(at) = self.lowest_head() else { break };
            let Some(queue) = self.queues.get_mut(at) else { break };
            let Some(record) = queue.records.pop_front() else { break };
            if queue.backlog_end.is_some_and(|end| record.offset + 1 >= end) {
                queue.backlog_end = None;
            }
            match out.last_mut() {
                Some((topic, records)) if *topic == queue.topic => records.push(record),
                _ => out.push((queue.topic.clone(), vec![record])),
            }
        }
        out
    }

    /// Whether a partition the release waits for has nothing buffered, so that nothing may be
    /// released now.
    fn blocked(&mut self, now: Instant) -> bool {
        // Both are evaluated, so that each one's deadline is current (a stale one in the past
        // would wake the task in a loop).
        let backlog = self.backlog_blocks(now);
        let idle = self.idle_blocks(now);
        backlog || idle
    }

    /// [`TaskIdle::For`]: whether a partition with nothing buffered is still waited for while
    /// others have records; sets when the earliest such wait ends.
    fn idle_blocks(&mut self, now: Instant) -> bool {
        self.idle_deadline = None;
        let TaskIdle::For(wait) = self.idle else { return false };
        if self.is_empty() {
            return false;
        }
        let mut blocked = false;
        for queue in self.queues.iter_mut().filter(|q| q.records.is_empty()) {
            let since = *queue.empty_since.get_or_insert(now);
            // A deadline past what an Instant holds (beyond MAX_TASK_IDLE) waits for records.
            let Some(until) = since.checked_add(wait) else {
                blocked = true;
                continue;
            };
            if now < until {
                blocked = true;
                self.idle_deadline = Some(self.idle_deadline.map_or(until, |d| d.min(until)));
            }
        }
        blocked
    }

    /// Whether a partition with an unread backlog has nothing buffered; past [`BACKLOG_WAIT`]
    /// such partitions are no longer waited for.
    fn backlog_blocks(&mut self, now: Instant) -> bool {
        if !self.queues.iter().any(Queue::waits) {
            self.waiting_since = None;
            return false;
        }
        let since = *self.waiting_since.get_or_insert(now);
        if now.duration_since(since) < BACKLOG_WAIT {
            return true;
        }
        for queue in self.queues.iter_mut().filter(|q| q.waits()) {
            tracing::warn!(topic = %queue.topic, partition = queue.partition, waited_s = BACKLOG_WAIT.as_secs(),
                "records of this partition's backlog did not arrive; processing the other inputs without them");
            queue.backlog_end = None;
        }
        self.waiting_since = None;
        false
    }

    /// The queue whose next record has the lowest timestamp (the first such queue on ties).
    fn lowest_head(&self) -> Option<usize> {
        let heads = self.queues.iter().enumerate().filter_map(|(i, q)| q.records.front().map(|r| (r.timestamp, i)));
        heads.min_by_key(|(timestamp, _)| *timestamp).map(|(_, i)| i)
    }
}

/// Completes at `deadline`, never without one (a `select!` branch for [`PartitionGroup::deadline`]).
pub(crate) async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(partition: i32, offset: i64, timestamp: i64) -> Record {
        Record { partition, offset, timestamp, key: None, value: None, headers: Vec::new() }
    }

    fn released(group: &mut PartitionGroup, now: Instant) -> Vec<(String, i64)> {
        group
            .release(now)
            .into_iter()
            .flat_map(|(topic, records)| records.into_iter().map(move |r| (topic.clone(), r.timestamp)))
            .collect()
    }

    #[test]
    fn a_backlog_is_merged_in_timestamp_order_whichever_topic_arrives_first() {
        // The case: table rows at 1000 and 3000, orders at 2000 and 4000, both in the
        // topics before the query starts; the orders are fetched first.
        let now = Instant::now();
        let mut group = PartitionGroup::new(
            [("orders".to_string(), 0, Some(2)), ("prices".to_string(), 0, Some(2))],
            TaskIdle::Backlog,
        );
        group.add(vec![("orders".into(), vec![record(0, 0, 2000), record(0, 1, 4000)])]);
        assert_eq!(released(&mut group, now), vec![], "the table's backlog is waited for");
        group.add(vec![("prices".into(), vec![record(0, 0, 1000), record(0, 1, 3000)])]);
        assert_eq!(
            released(&mut group, now),
            vec![("prices".into(), 1000), ("orders".into(), 2000), ("prices".into(), 3000), ("orders".into(), 4000)]
        );
        assert!(group.is_empty());
        // Caught up: live records go through as they come.
        group.add(vec![("orders".into(), vec![record(0, 2, 5000)])]);
        assert_eq!(released(&mut group, now), vec![("orders".into(), 5000)]);
    }

    #[test]
    fn a_partition_keeps_its_offset_order_and_ties_are_deterministic() {
        let now = Instant::now();
        let mut group = PartitionGroup::new([], TaskIdle::Backlog);
        group.add(vec![("a".into(), vec![record(0, 0, 50), record(0, 1, 10), record(1, 0, 20)])]);
        group.add(vec![("b".into(), vec![record(0, 0, 20)])]);
        assert_eq!(
            released(&mut group, now),
            vec![("a".into(), 20), ("b".into(), 20), ("a".into(), 50), ("a".into(), 10)],
        );
    }

    #[test]
    fn a_backlog_that_never_arrives_is_waited_for_a_bounded_time() {
        let start = Instant::now();
        let mut group = PartitionGroup::new([("t".to_string(), 0, Some(5))], TaskIdle::Backlog);
        group.add(vec![("s".into(), vec![record(0, 0, 1)])]);
        assert_eq!(released(&mut group, start), vec![]);
        assert_eq!(group.deadline(), Some(start + BACKLOG_WAIT));
        assert_eq!(released(&mut group, start + BACKLOG_WAIT - Duration::from_millis(1)), vec![]);
        assert_eq!(released(&mut group, start + BACKLOG_WAIT), vec![("s".into(), 1)]);
        assert_eq!(group.deadline(), None);
    }

    #[test]
    fn with_max_task_idle_ms_an_empty_partition_is_waited_for_up_to_it_once_per_emptying() {
        let (start, wait) = (Instant::now(), Duration::from_millis(100));
        let partitions = [("a".to_string(), 0, None), ("b".to_string(), 0, None)];
        let mut group = PartitionGroup::new(partitions, TaskIdle::For(wait));
        group.add(vec![("a".into(), vec![record(0, 0, 20)])]);
        assert_eq!(released(&mut group, start), vec![], "b is empty: a waits");
        assert_eq!(group.deadline(), Some(start + wait));
        // b's records arrive within the wait: processed in timestamp order until a drains,
        // then b's last record waits for a in turn.
        group.add(vec![("b".into(), vec![record(0, 0, 10), record(0, 1, 25)])]);
        let drained = start + wait / 2;
        assert_eq!(released(&mut group, drained), vec![("b".into(), 10), ("a".into(), 20)]);
        assert_eq!(group.deadline(), Some(drained + wait));
        assert_eq!(released(&mut group, drained + wait - Duration::from_millis(1)), vec![]);
        assert_eq!(released(&mut group, drained + wait), vec![("b".into(), 25)]);
        assert_eq!(group.deadline(), None, "nothing buffered, nothing to wake for");
        // a stays quiet: it was waited for once, b's next records go at once.
        group.add(vec![("b".into(), vec![record(0, 2, 40)])]);
        assert_eq!(released(&mut group, drained + wait * 2), vec![("b".into(), 40)]);
    }

    #[test]
    fn with_max_task_idle_ms_minus_one_nothing_is_waited_for_not_even_a_backlog() {
        let mut group = PartitionGroup::new([("t".to_string(), 0, Some(5))], TaskIdle::Never);
        group.add(vec![("s".into(), vec![record(0, 0, 1)])]);
        assert_eq!(released(&mut group, Instant::now()), vec![("s".into(), 1)]);
        assert_eq!(group.deadline(), None);
    }

    #[test]
    fn waiting_for_a_backlog_and_an_empty_partition_at_once_wakes_only_at_a_future_deadline() {
        let (start, wait) = (Instant::now(), Duration::from_millis(100));
        let partitions = [("a".to_string(), 0, None), ("b".to_string(), 0, None), ("t".to_string(), 0, Some(5))];
        let mut group = PartitionGroup::new(partitions, TaskIdle::For(wait));
        group.add(vec![("a".into(), vec![record(0, 0, 1)])]);
        assert_eq!(released(&mut group, start), vec![]);
        assert_eq!(group.deadline(), Some(start + wait), "b's wait ends first");
        // Past b's wait, t's backlog still holds the release: the next wake-up is its deadline.
        assert_eq!(released(&mut group, start + wait), vec![]);
        assert_eq!(group.deadline(), Some(start + BACKLOG_WAIT));
    }
}
