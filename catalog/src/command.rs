//! A command-log record: one successful DDL or persistent-query statement, replayed on start.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the command topic holds for each statement that changed the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The statement text as the user wrote it.
    pub statement: String,
    /// Session properties in force when it ran (they shape planning).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// The id given to the persistent query it started, if any.
    #[serde(default)]
    pub query_id: Option<String>,
}

impl Command {
    /// Serializes the command for the command topic.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a command from the command topic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
