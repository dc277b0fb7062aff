//! The SQL engine's own worker threads. A DataFusion plan yields to its scheduler only between
//! batches, and a batch can take a while (`string_agg` over megabytes), so plans run here and not
//! on the workers that serve connections: a heavy query never keeps another session's `SELECT 1`,
//! push query or pull query from being read and answered (issue 14, "statements from one client
//! never block the others"). DataFusion's own docs recommend this split of CPU and I/O work.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

use crate::engine::{error_sqlstate as sqlstate, EngineError};

/// Threads of the SQL engine's runtime: one more than the machine has cores, at least 4, so that
/// a query DataFusion spreads over every core still leaves a thread for the next small one.
fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get() + 1).unwrap_or(4).max(4)
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads())
            .thread_name("eddy-sql")
            .thread_stack_size(crate::limits::THREAD_STACK_BYTES)
            .enable_all()
            .build()
            .expect("the SQL engine's runtime starts")
    })
}

/// Aborts the task when the caller stops waiting (a cancel request, a statement timeout, a client
/// that went away).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `work` on the SQL engine's threads and waits for it.
pub async fn run<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> Result<T, EngineError> {
    let task = runtime().spawn(work);
    let _abort = AbortOnDrop(task.abort_handle());
    task.await.map_err(|e| EngineError::new(sqlstate::INTERNAL, format!("the SQL engine's task failed: {e}")))
}
