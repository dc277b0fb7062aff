//! A table view fed by tailing its topic: a consumer assigned every partition from the beginning
//! applies records to the view as they arrive; a sync waits for the offsets that must be visible.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::sync::watch;

use super::client::ClientSettings;
use crate::error::{Result, RuntimeError};
use crate::view::{SharedView, ViewFeed};

/// How long a sync waits for the view to reach the offsets it must hold.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Offsets this process has produced to, per topic and partition (the next offset after each
/// write), so that a view shows what a session just inserted.
pub(crate) type Produced = Arc<Mutex<HashMap<String, HashMap<i32, i64>>>>;

pub(crate) struct KafkaViewFeed {
    topic: String,
    view: SharedView,
    /// The topic's end offsets when the feed opened: the first sync waits for them.
    opened_at: HashMap<i32, i64>,
    produced: Produced,
    progress: watch::Receiver<Option<String>>,
    tail: tokio::task::JoinHandle<()>,
}

impl Drop for KafkaViewFeed {
    fn drop(&mut self) {
        self.tail.abort();
    }
}

/// Opens a feed: reads the topic's end offsets, then tails it from the beginning into `view`.
pub(crate) async fn open(
    settings: &ClientSettings,
    topic: &str,
    view: SharedView,
    produced: Produced,
) -> Result<KafkaViewFeed> {
    let opened_at = end_offsets(settings, topic).await?;
    let mut records = super::print::start(topic, settings, true).await?;
    let (tx, progress) = watch::channel(None);
    let tail_view = view.clone();
    let tail = tokio::spawn(async move {
        while let Some(first) = records.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = records.try_recv() {
                batch.push(more);
                if batch.len() >= 4096 {
                    break;
                }
            }
            let mut failed = None;
            {
                let mut view = tail_view.write().unwrap_or_else(|p| p.into_inner());
                for r in batch {
                    match r {
                        Ok(record) => view.apply(record),
                        Err(e) => failed = Some(e.to_string()),
                    }
                }
            }
            // Wakes syncs; an error is kept for them to report.
            tx.send_replace(failed.clone());
            if failed.is_some() {
                return;
            }
        }
    });
    Ok(KafkaViewFeed { topic: topic.to_string(), view, opened_at, produced, progress, tail })
}

/// The end offset of each partition of a topic.
async fn end_offsets(settings: &ClientSettings, topic: &str) -> Result<HashMap<i32, i64>> {
    let config = settings.consumer(&format!("_eddy_reader_{}", std::process::id()), true);
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create()?;
        let mut ends = HashMap::new();
        for p in super::push::partition_ids(&consumer, &topic)? {
            let (_, high) = consumer.fetch_watermarks(&topic, p, Duration::from_secs(10))?;
            ends.insert(p, high);
        }
        Ok(ends)
    })
    .await
    .map_err(|e| RuntimeError::Internal(e.to_string()))?
}

#[async_trait]
impl ViewFeed for KafkaViewFeed {
    async fn sync(&self) -> Result<()> {
        let mut target = self.opened_at.clone();
        if let Some(written) = self.produced.lock().unwrap_or_else(|p| p.into_inner()).get(&self.topic) {
            for (p, end) in written {
                let e = target.entry(*p).or_insert(0);
                *e = (*e).max(*end);
            }
        }
        let mut progress = self.progress.clone();
        let deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
        loop {
            if let Some(e) = progress.borrow_and_update().clone() {
                return Err(RuntimeError::Kafka(format!("cannot read table topic {}: {e}", self.topic)));
            }
            if self.view.read().unwrap_or_else(|p| p.into_inner()).covers(&target) {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, progress.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    return Err(RuntimeError::Kafka(format!("stopped reading table topic {}", self.topic)));
                }
                Err(_) => {
                    return Err(RuntimeError::Kafka(format!(
                        "timed out after {SYNC_TIMEOUT:?} bringing the view of {} up to date",
                        self.topic
                    )));
                }
            }
        }
    }
}
