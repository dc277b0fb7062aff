//! Connection limits: at most `max_connections` clients at once (Postgres' `max_connections`), and
//! sessions idle longer than `idle_session_timeout` (or, in a transaction block,
//! `idle_in_transaction_session_timeout`) are closed with Postgres' FATAL errors.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Postgres' error response as bytes, for connections refused or closed outside the protocol
/// handlers (`E`, length, severity, code, message).
pub fn fatal_response(code: &str, message: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', code), (b'M', message)] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = vec![b'E'];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Clients connected to this process now, over every listener (the metrics' session gauge).
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// How many clients are connected now.
pub fn open_sessions() -> usize {
    OPEN.load(Ordering::Relaxed)
}

/// The number of connected clients, bounded.
#[derive(Debug)]
pub struct ConnectionSlots {
    max: usize,
    used: Arc<AtomicUsize>,
}

/// A connected client's slot, given back when dropped.
#[derive(Debug)]
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ConnectionSlots {
    /// At most `max` clients (0: no limit).
    pub fn new(max: usize) -> Self {
        Self { max, used: Arc::default() }
    }

    /// A slot, or None when `max` clients are connected.
    pub fn take(&self) -> Option<Slot> {
        let taken = self.used.fetch_add(1, Ordering::SeqCst);
        if self.max > 0 && taken >= self.max {
            self.used.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        OPEN.fetch_add(1, Ordering::Relaxed);
        Some(Slot(self.used.clone()))
    }
}

/// What a connection is doing, for its idle watchdog.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    /// Milliseconds since `started` of the last message handled.
    last: AtomicU64,
    busy: AtomicBool,
    in_transaction: AtomicBool,
    /// The session's timeouts in ms (0: none): idle, and idle in a transaction block.
    idle_ms: AtomicU64,
    idle_in_transaction_ms: AtomicU64,
}

/// Marks a connection busy while a message is handled (or a result streams).
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.store(false, Ordering::SeqCst);
    }
}

impl Activity {
    /// A connection that has just started, with the server's default idle timeout.
    pub fn new(idle: Option<Duration>) -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            last: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            in_transaction: AtomicBool::new(false),
            idle_ms: AtomicU64::new(idle.map_or(0, |d| d.as_millis() as u64)),
            idle_in_transaction_ms: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn touch(&self) {
        self.last.store(self.now_ms(), Ordering::SeqCst);
    }

    /// Marks the connection busy until the guard drops.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.busy.store(true, Ordering::SeqCst);
        self.touch();
        Busy(self.clone())
    }

    /// Records the session's state after a statement: whether a transaction block is open, and
    /// the session's timeouts (ms; 0: none). A session starts with the server's default as its
    /// `idle_session_timeout` setting, so SHOW reports it and `SET idle_session_timeout = 0` ends it.
    pub fn after_statement(&self, in_transaction: bool, idle_ms: u64, idle_in_transaction_ms: u64) {
        self.in_transaction.store(in_transaction, Ordering::SeqCst);
        self.idle_ms.store(idle_ms, Ordering::SeqCst);
        self.idle_in_transaction_ms.store(idle_in_transaction_ms, Ordering::SeqCst);
    }

    /// How long until the connection has been idle too long (None: no timeout applies now), or
    /// Some(ZERO) with the FATAL message once it has.
    fn check(&self) -> (Option<Duration>, Option<(&'static str, &'static str)>) {
        if self.busy.load(Ordering::SeqCst) {
            return (Some(Duration::from_millis(self.idle_ms.load(Ordering::SeqCst).max(100))), None);
        }
        let (limit, message) = if self.in_transaction.load(Ordering::SeqCst) {
            (
                self.idle_in_transaction_ms.load(Ordering::SeqCst),
                ("25P03", "terminating connection due to idle-in-transaction timeout"),
            )
        } else {
            (self.idle_ms.load(Ordering::SeqCst), ("57P05", "terminating connection due to idle-session timeout"))
        };
        if limit == 0 {
            // No timeout now; the session may set one: look again later.
            return (Some(Duration::from_secs(1)), None);
        }
        let idle = self.now_ms().saturating_sub(self.last.load(Ordering::SeqCst));
        if idle >= limit {
            (None, Some(message))
        } else {
            (Some(Duration::from_millis(limit - idle)), None)
        }
    }
}

/// Closes the connection once it has been idle too long: sends Postgres' FATAL error (plain TCP
/// only: over TLS the bytes would not be a TLS record) and shuts the socket down. Ends when the
/// connection does (`done`).
pub async fn watch_idle(
    activity: Arc<Activity>,
    socket: std::net::TcpStream,
    tls: bool,
    mut done: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let (wait, expired) = activity.check();
        if let Some((code, message)) = expired {
            tracing::info!(code, "closing an idle connection");
            if !tls {
                use std::io::Write as _;
                let _ = (&socket).write_all(&fatal_response(code, message));
            }
            let _ = socket.shutdown(std::net::Shutdown::Both);
            return;
        }
        tokio::select! {
            _ = &mut done => return,
            _ = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(1))) => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index what they just built.
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_given_back() {
        let slots = ConnectionSlots::new(2);
        let a = slots.take();
        let b = slots.take();
        assert!(a.is_some() && b.is_some());
        assert!(slots.take().is_none());
        drop(a);
        assert!(slots.take().is_some());
    }

    #[test]
    fn error_response_framing() {
        let bytes = fatal_response("53300", "sorry, too many clients already");
        assert_eq!(bytes[0], b'E');
        let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        assert_eq!(len + 1, bytes.len());
        assert_eq!(*bytes.last().unwrap(), 0);
    }

    #[test]
    fn idle_is_measured_from_the_last_message() {
        let activity = Activity::new(Some(Duration::from_secs(60)));
        let (wait, expired) = activity.check();
        assert!(expired.is_none() && wait.unwrap() <= Duration::from_secs(60));
        activity.after_statement(true, 0, 0);
        assert!(activity.check().1.is_none(), "no timeout in a transaction block unless set");
    }
}
