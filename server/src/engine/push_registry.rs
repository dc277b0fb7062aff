//! The push queries running right now, so SHOW QUERIES lists them, tests can see them end, and no
//! server or session runs more than its limit (each holds a Kafka consumer and a task).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::error::{sqlstate, EngineError};

/// Push queries one server runs at once by default: ksqlDB's `ksql.max.push.queries` (100).
pub const DEFAULT_MAX_PUSH_QUERIES: usize = 100;

/// Push queries one session runs at once by default.
pub const DEFAULT_MAX_SESSION_PUSH_QUERIES: usize = 50;

/// A push query as SHOW QUERIES lists it.
#[derive(Debug, Clone)]
pub struct PushInfo {
    pub id: String,
    pub statement: String,
}

/// How many push queries may run at once (0: no limit).
#[derive(Debug, Clone, Copy)]
pub struct PushLimits {
    pub server: usize,
    pub session: usize,
}

impl Default for PushLimits {
    fn default() -> Self {
        Self { server: DEFAULT_MAX_PUSH_QUERIES, session: DEFAULT_MAX_SESSION_PUSH_QUERIES }
    }
}

/// Active push queries; each is removed when its guard drops (query ended, cancelled, or client gone).
#[derive(Debug, Default)]
pub struct PushRegistry {
    next: AtomicU64,
    active: Mutex<BTreeMap<String, PushInfo>>,
    limits: Mutex<PushLimits>,
}

/// Unregisters a push query when dropped.
pub struct PushGuard {
    registry: Arc<PushRegistry>,
    session: Arc<AtomicUsize>,
    id: String,
}

impl PushRegistry {
    /// Sets the limits checked by [`PushRegistry::register`].
    pub fn set_limits(&self, limits: PushLimits) {
        if let Ok(mut l) = self.limits.lock() {
            *l = limits;
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> PushLimits {
        self.limits.lock().map(|l| *l).unwrap_or_default()
    }

    /// Registers a push query of the session whose counter is `session` and returns its guard, or
    /// refuses it (SQLSTATE 53400, `configuration_limit_exceeded`; ksqlDB's wording) when the
    /// server or the session runs its limit already.
    pub fn register(self: &Arc<Self>, statement: &str, session: &Arc<AtomicUsize>) -> Result<PushGuard, EngineError> {
        let limits = self.limits();
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let refuse = |what: &str, limit: usize, setting: &str| {
            Err(EngineError::new(
                sqlstate::CONFIGURATION_LIMIT_EXCEEDED,
                format!(
                    "Not executing statement(s) as it would cause the number of active, push queries {what} to \
                     exceed the configured limit ({limit}). Terminate existing PUSH queries, or increase the \
                     '{setting}' setting."
                ),
            ))
        };
        if limits.server > 0 && active.len() >= limits.server {
            return refuse("on the server", limits.server, "max-push-queries");
        }
        if limits.session > 0 && session.load(Ordering::SeqCst) >= limits.session {
            return refuse("of this session", limits.session, "max-session-push-queries");
        }
        let id = format!("transient_{}", self.next.fetch_add(1, Ordering::Relaxed));
        active.insert(id.clone(), PushInfo { id: id.clone(), statement: statement.to_string() });
        session.fetch_add(1, Ordering::SeqCst);
        Ok(PushGuard { registry: self.clone(), session: session.clone(), id })
    }

    /// The push queries running now.
    pub fn list(&self) -> Vec<PushInfo> {
        self.active.lock().map(|a| a.values().cloned().collect()).unwrap_or_default()
    }
}

impl Drop for PushGuard {
    fn drop(&mut self) {
        if let Ok(mut active) = self.registry.active.lock() {
            active.remove(&self.id);
        }
        self.session.fetch_sub(1, Ordering::SeqCst);
        tracing::debug!(query = %self.id, "push query ended");
    }
}
