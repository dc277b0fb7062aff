//! Topic administration behind one interface: the Kafka admin API, or the mock cluster's own calls.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use super::client::ClientSettings;
use super::embedded::EmbeddedKafka;
use crate::broker::TopicInfo;
use crate::error::{Result, RuntimeError};

/// Creates, deletes and lists topics.
#[async_trait]
pub trait TopicAdmin: Send + Sync {
    async fn create_topic(&self, name: &str, partitions: i32, replicas: i16) -> Result<()>;
    async fn delete_topic(&self, name: &str) -> Result<()>;
    async fn topics(&self) -> Result<Vec<TopicInfo>>;
}

/// How long an admin request waits for the broker (its answer, then the operation).
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

fn admin_options() -> AdminOptions {
    AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT)).operation_timeout(Some(ADMIN_TIMEOUT))
}

/// Lists topics from cluster metadata (no auto-creation: all topics are asked for).
async fn list_topics(settings: &ClientSettings) -> Result<Vec<TopicInfo>> {
    let config = settings.config();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create()?;
        let metadata = consumer.fetch_metadata(None, Duration::from_secs(10))?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| TopicInfo { name: t.name().to_string(), partitions: t.partitions().len() as i32 })
            .collect())
    })
    .await
    .map_err(|e| RuntimeError::Internal(e.to_string()))?
}

/// The Kafka admin API of a real broker.
pub struct KafkaAdmin {
    settings: ClientSettings,
    client: AdminClient<DefaultClientContext>,
}

impl KafkaAdmin {
    pub fn new(settings: ClientSettings) -> Result<Self> {
        let client = settings.config().create()?;
        Ok(Self { settings, client })
    }
}

#[async_trait]
impl TopicAdmin for KafkaAdmin {
    async fn create_topic(&self, name: &str, partitions: i32, replicas: i16) -> Result<()> {
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replicas as i32));
        tracing::info!(topic = name, partitions, replicas, "asking the broker to create a topic");
        // A broker that does not answer (or refuses CreateTopics) fails the whole request: name the topic.
        let results = self.client.create_topics([&topic], &admin_options()).await.map_err(|e| {
            RuntimeError::Kafka(format!(
                "cannot create topic {name}: {e} (a broker that does not create topics for clients needs it created beforehand)"
            ))
        })?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => return Err(RuntimeError::Kafka(format!("cannot create topic {topic}: {code}"))),
            }
        }
        Ok(())
    }

    async fn delete_topic(&self, name: &str) -> Result<()> {
        tracing::info!(topic = name, "asking the broker to delete a topic");
        for result in self.client.delete_topics(&[name], &admin_options()).await? {
            if let Err((topic, code)) = result {
                if code != RDKafkaErrorCode::UnknownTopicOrPartition {
                    return Err(RuntimeError::Kafka(format!("cannot delete topic {topic}: {code}")));
                }
            }
        }
        Ok(())
    }

    async fn topics(&self) -> Result<Vec<TopicInfo>> {
        list_topics(&self.settings).await
    }
}

/// Topic admin for the embedded mock cluster, which has no CreateTopics/DeleteTopics.
pub struct MockAdmin {
    settings: ClientSettings,
    cluster: Arc<EmbeddedKafka>,
}

impl MockAdmin {
    pub fn new(cluster: Arc<EmbeddedKafka>) -> Self {
        Self { settings: ClientSettings::new(cluster.bootstrap_servers()), cluster }
    }
}

#[async_trait]
impl TopicAdmin for MockAdmin {
    async fn create_topic(&self, name: &str, partitions: i32, _replicas: i16) -> Result<()> {
        self.cluster.create_topic(name, partitions).await
    }

    async fn delete_topic(&self, name: &str) -> Result<()> {
        Err(RuntimeError::Unsupported(format!(
            "the embedded broker cannot delete topics; topic '{name}' stays until the server stops"
        )))
    }

    async fn topics(&self) -> Result<Vec<TopicInfo>> {
        list_topics(&self.settings).await
    }
}
