//! The command log: successful DDL and persistent-query statements, appended to a one-partition
//! topic and replayed on start so a restarted server recovers its streams, tables and queries.

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
        if self.broker.partitions(topic).await?.is_none() {
            self.broker.create_topic(topic, 1, 1).await?;
            return Ok(());
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
