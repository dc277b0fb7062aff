//! Counting a topic's records: from its high watermarks (cheap), or by reading every record, for
//! brokers whose watermarks lag behind what they hold (tansu 0.6 answered ListOffsets with 4 for a
//! partition holding 5,000 acknowledged records).

use std::time::Duration;

use eddy_runtime::kafka::ClientSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka::err;

/// How the harness counts records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    Watermarks,
    Consuming,
}

/// A running count of one topic's records.
pub struct TopicCount {
    topic: String,
    partitions: i32,
    /// Set when counting by consuming: reads the topic from its beginning.
    reader: Option<BaseConsumer>,
    watcher: BaseConsumer,
    seen: u64,
}

impl TopicCount {
    pub fn new(settings: &ClientSettings, counting: Counting, topic: &str, partitions: i32) -> Result<Self, String> {
        let watcher: BaseConsumer = settings.consumer("_eddy_bench_watch", false).create().map_err(err)?;
        let reader = match counting {
            Counting::Watermarks => None,
            Counting::Consuming => {
                let consumer: BaseConsumer = settings.consumer("_eddy_bench_count", true).create().map_err(err)?;
                let mut tpl = TopicPartitionList::new();
                for p in 0..partitions {
                    tpl.add_partition_offset(topic, p, Offset::Beginning).map_err(err)?;
                }
                consumer.assign(&tpl).map_err(err)?;
                Some(consumer)
            }
        };
        Ok(Self { topic: topic.to_string(), partitions, reader, watcher, seen: 0 })
    }

    /// Records the topic holds (watermarks), or has delivered so far (consuming; reads what is there).
    pub fn total(&mut self) -> Result<u64, String> {
        match &self.reader {
            None => Ok(self.watermarks()?.1 as u64),
            Some(reader) => {
                while let Some(msg) = reader.poll(Duration::from_millis(5)) {
                    msg.map_err(err)?;
                    self.seen += 1;
                }
                Ok(self.seen)
            }
        }
    }

    /// The lowest low watermark (0 unless the broker dropped records) and the sum of high watermarks.
    pub fn watermarks(&self) -> Result<(i64, i64), String> {
        let mut low_min = i64::MAX;
        let mut total = 0;
        for p in 0..self.partitions {
            let (low, high) = self.watcher.fetch_watermarks(&self.topic, p, Duration::from_secs(10)).map_err(err)?;
            low_min = low_min.min(low);
            total += high;
        }
        Ok((low_min, total))
    }

    /// Whether records were dropped from the front of a partition (watermarks; consuming sees no gap).
    pub fn dropped(&self) -> Result<bool, String> {
        match self.reader {
            None => Ok(self.watermarks()?.0 != 0),
            Some(_) => Ok(false),
        }
    }
}
