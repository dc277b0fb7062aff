//! The command log: successful DDL and persistent-query statements, appended to a one-partition
//! topic and replayed on start so a restarted server recovers its streams, tables and queries. A
//! command topic of more than one partition is refused: its order would be lost.

use eddy_catalog::Command;
use eddy_parser::parse_statements;
use eddy_runtime::OutputRecord;

use super::error::EngineError;
use super::{Engine, Session};

impl Engine {
    /// Records a statement; the statement only takes effect if this succeeds.
    pub(super) async fn append_command(&self, command: Command) -> Result<(), EngineError> {
        let Some(topic) = &self.command_topic else { return Ok(()) };
        let record = OutputRecord {
            timestamp: chrono::Utc::now().timestamp_millis(),
            key: None,
            value: Some(command.to_bytes()),
            headers: Vec::new(),
        };
        self.broker.produce(topic, vec![record]).await.map_err(EngineError::from)
    }

    /// Creates the command topic if missing and replays what it holds.
    pub(super) async fn recover(&self) -> Result<(), EngineError> {
        let Some(topic) = &self.command_topic else { return Ok(()) };
        match self.broker.partitions(topic).await? {
            None => {
                self.broker.create_topic(topic, 1, 1).await?;
                return Ok(());
            }
            // Commands replay in the order they ran only from one partition: a topic a broker
            // auto-created with its default count would replay them out of order and lose queries.
            Some(partitions) if partitions != 1 => {
                return Err(EngineError::command_topic_partitions(topic, partitions))
            }
            Some(_) => {}
        }
        let records = self.broker.read_all(topic).await?;
        let mut replayed = 0;
        for record in records {
            let Some(bytes) = record.value else { continue };
            let command = match Command::from_bytes(&bytes) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(offset = record.offset, error = %e, "skipping unreadable command");
                    continue;
                }
            };
            let mut session = Session::with_properties(command.properties.clone());
            let parsed = match parse_statements(&command.statement) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(statement = %command.statement, error = %e, "skipping unparsable command");
                    continue;
                }
            };
            for stmt in parsed {
                if let Err(e) = self.execute_parsed(&mut session, &stmt, Some(&command)).await {
                    tracing::warn!(statement = %command.statement, error = %e, "command failed on replay");
                }
            }
            replayed += 1;
        }
        tracing::info!(commands = replayed, topic = %topic, "catalog recovered from the command log");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use eddy_runtime::{Broker, MemoryBroker};

    use super::*;

    #[tokio::test]
    async fn a_command_topic_of_several_partitions_is_refused_with_its_name_and_count() {
        let broker = Arc::new(MemoryBroker::new());
        broker.create_topic("_eddy_commands", 3, 1).await.expect("topic");
        let refused = Engine::new(broker.clone(), Some("_eddy_commands".into())).await.err().expect("refused");
        let message = refused.to_string();
        assert!(message.contains("'_eddy_commands'") && message.contains("3 partitions"), "{message}");

        // A missing one is created with one partition, and a restart over it is accepted.
        Engine::new(broker.clone(), Some("_eddy_fresh".into())).await.expect("created");
        assert_eq!(broker.partitions("_eddy_fresh").await.expect("listed"), Some(1));
        Engine::new(broker, Some("_eddy_fresh".into())).await.expect("restarted");
    }
}
