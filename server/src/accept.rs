//! What a listener does when `accept` fails (the process is out of file descriptors, the kernel
//! is out of memory): pause before the next try, so that the loop neither spins nor floods the
//! log, and say so at most every few seconds.

use std::time::{Duration, Instant};

/// How long a listener waits after a failed accept (the failure usually lasts until clients
/// leave; tokio's and hyper's examples wait a second).
const PAUSE: Duration = Duration::from_millis(100);

/// Failures are logged at most this often, with how many were not.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The accept failures of one listener.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    logged: Option<Instant>,
    unlogged: u64,
}

impl AcceptBackoff {
    /// Records a failure of `listener` (`Postgres`, `HTTP`), logs it if it is time to, and
    /// pauses.
    pub async fn failed(&mut self, listener: &str, error: &std::io::Error) {
        self.say(listener, &format!("accept failed: {error}"));
        tokio::time::sleep(PAUSE).await;
    }

    /// Says `what` happened on `listener`, at most every [`LOG_EVERY`].
    pub fn say(&mut self, listener: &str, what: &str) {
        let now = Instant::now();
        if self.logged.is_some_and(|at| now.duration_since(at) < LOG_EVERY) {
            self.unlogged += 1;
            return;
        }
        tracing::warn!(listener, similar_since_last = self.unlogged, "{what}");
        (self.logged, self.unlogged) = (Some(now), 0);
    }
}
