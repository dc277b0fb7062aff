//! PRINT: streams a topic's raw records to the session.

use tokio::sync::mpsc;

use super::client::ClientSettings;
use super::push::{assigned_consumer, next_records};
use crate::broker::RecordStream;
use crate::error::Result;
use crate::query_options::{QueryOptions, TaskIdle};

/// Starts reading a topic for PRINT.
pub async fn start(topic: &str, settings: &ClientSettings, from_beginning: bool) -> Result<RecordStream> {
    let options = QueryOptions { earliest: from_beginning, task_idle: TaskIdle::Never };
    let (consumer, _, _) = assigned_consumer(settings, &[topic.to_string()], options).await?;
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let records = tokio::select! {
                _ = tx.closed() => break,
                r = next_records(&consumer) => r,
            };
            match records {
                Ok(runs) => {
                    for r in runs.into_iter().flat_map(|(_, records)| records) {
                        if tx.send(Ok(r)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    Ok(rx)
}
