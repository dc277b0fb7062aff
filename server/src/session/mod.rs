//! A client's session: who it is, its ksqlDB properties and Postgres settings, its transaction
//! block and open cursors, and its SQL engine context.

pub mod cursor;
pub mod settings;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};

use datafusion::prelude::SessionContext;

pub use cursor::{Cursor, Cursors};
pub use settings::{Settings, SERVER_VERSION};

/// The text `version()` returns.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} (Eddy {} streaming SQL, ksqlDB dialect) on x86_64-pc-linux-gnu, 64-bit",
        env!("CARGO_PKG_VERSION")
    )
}

/// Where the session stands with respect to a transaction block (`BEGIN ... COMMIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transaction {
    /// Not in a block: every statement takes effect at once.
    #[default]
    Idle,
    /// Inside `BEGIN ... COMMIT`.
    Block,
    /// Inside a block where a statement failed: only `ROLLBACK`/`COMMIT` (which rolls back) run.
    Failed,
}

/// Per-connection state.
#[derive(Clone)]
pub struct Session {
    /// ksqlDB properties set with `SET 'name' = 'value'` (`auto.offset.reset`, ...).
    pub properties: BTreeMap<String, String>,
    /// Postgres settings, shared with the session's SQL functions (`current_setting`, `set_config`).
    pub settings: Arc<RwLock<Settings>>,
    /// The role the client authenticated as.
    pub user: String,
    /// The database the client connected to (Eddy has one namespace; any name reaches it).
    pub database: String,
    pub transaction: Transaction,
    /// Open cursors (`DECLARE`), by name.
    pub cursors: Cursors,
    /// The SQL engine's context, made when the session first needs it.
    pub(crate) sql: Option<SessionContext>,
    /// Push queries of this session running now (shared with their guards, which count them
    /// down when they end): checked against the per-session limit.
    pub push_queries: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user)
            .field("database", &self.database)
            .field("properties", &self.properties)
            .field("transaction", &self.transaction)
            .finish()
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new("eddy", "eddy")
    }
}

impl Session {
    /// A session of `user` connected to `database`.
    pub fn new(user: &str, database: &str) -> Self {
        Self {
            properties: BTreeMap::new(),
            settings: Arc::new(RwLock::new(Settings::for_user(user))),
            user: user.to_string(),
            database: database.to_string(),
            transaction: Transaction::Idle,
            cursors: Cursors::default(),
            sql: None,
            push_queries: Arc::default(),
        }
    }

    /// A session with only ksqlDB properties (replaying the command log).
    pub fn with_properties(properties: BTreeMap<String, String>) -> Self {
        Self { properties, ..Self::default() }
    }

    /// The value of a Postgres setting.
    pub fn setting(&self, name: &str) -> Option<String> {
        self.settings.read().ok()?.get(name).ok()
    }

    /// `statement_timeout` in milliseconds, when set.
    pub fn statement_timeout_ms(&self) -> Option<u64> {
        self.setting("statement_timeout").and_then(|v| settings::duration_ms(&v)).filter(|ms| *ms > 0)
    }
}
