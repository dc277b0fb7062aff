//! The embedded broker: librdkafka's in-process mock cluster, owned by a dedicated thread
//! (the mock handle is not `Send`), serving topic creation over a channel.

use std::sync::mpsc;
use std::sync::Mutex;
use std::thread;

use rdkafka::mocking::MockCluster;
use tokio::sync::oneshot;

use crate::error::{Result, RuntimeError};

enum Request {
    CreateTopic { name: String, partitions: i32, reply: oneshot::Sender<Result<()>> },
}

/// A running mock cluster; dropping it stops the cluster.
pub struct EmbeddedKafka {
    bootstrap: String,
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl EmbeddedKafka {
    /// Starts a one-broker mock cluster on a loopback port.
    pub fn start() -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Request>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String>>();
        let handle = thread::Builder::new()
            .name("eddy-embedded-kafka".into())
            .spawn(move || {
                let cluster = match MockCluster::new(1) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(RuntimeError::Kafka(format!("cannot start the mock cluster: {e}"))));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                while let Ok(request) = rx.recv() {
                    match request {
                        Request::CreateTopic { name, partitions, reply } => {
                            let result = cluster.create_topic(&name, partitions, 1).map_err(RuntimeError::from);
                            let _ = reply.send(result);
                        }
                    }
                }
            })
            .map_err(|e| RuntimeError::Kafka(format!("cannot start the embedded broker thread: {e}")))?;
        let bootstrap =
            ready_rx.recv().map_err(|_| RuntimeError::Kafka("the embedded broker thread died".into()))??;
        Ok(Self { bootstrap, requests: Mutex::new(Some(tx)), thread: Mutex::new(Some(handle)) })
    }

    /// The `host:port` clients connect to.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Creates a topic through the mock cluster's own API (it has no CreateTopics).
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        {
            let guard = self.requests.lock().map_err(|_| RuntimeError::Internal("embedded broker lock".into()))?;
            let sender = guard.as_ref().ok_or_else(|| RuntimeError::Kafka("the embedded broker is stopped".into()))?;
            sender
                .send(Request::CreateTopic { name: name.to_string(), partitions, reply })
                .map_err(|_| RuntimeError::Kafka("the embedded broker is stopped".into()))?;
        }
        rx.await.map_err(|_| RuntimeError::Kafka("the embedded broker is stopped".into()))?
    }
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        if let Ok(mut requests) = self.requests.lock() {
            requests.take();
        }
        if let Ok(mut thread) = self.thread.lock() {
            if let Some(handle) = thread.take() {
                let _ = handle.join();
            }
        }
    }
}
