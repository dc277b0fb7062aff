//! The push queries running right now, so SHOW QUERIES lists them and tests can see them end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A push query as SHOW QUERIES lists it.
#[derive(Debug, Clone)]
pub struct PushInfo {
    pub id: String,
    pub statement: String,
}

/// Active push queries; each is removed when its guard drops (query ended, cancelled, or client gone).
#[derive(Debug, Default)]
pub struct PushRegistry {
    next: AtomicU64,
    active: Mutex<BTreeMap<String, PushInfo>>,
}

/// Unregisters a push query when dropped.
pub struct PushGuard {
    registry: Arc<PushRegistry>,
    id: String,
}

impl PushRegistry {
    /// Registers a push query and returns its guard.
    pub fn register(self: &Arc<Self>, statement: &str) -> PushGuard {
        let id = format!("transient_{}", self.next.fetch_add(1, Ordering::Relaxed));
        if let Ok(mut active) = self.active.lock() {
            active.insert(id.clone(), PushInfo { id: id.clone(), statement: statement.to_string() });
        }
        PushGuard { registry: self.clone(), id }
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
        tracing::debug!(query = %self.id, "push query ended");
    }
}
