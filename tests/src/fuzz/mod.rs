//! Fuzz targets' bodies, shared by the libFuzzer binaries in `fuzz/` and by the regression tests
//! that replay their committed corpus and every crash they found (`tests/tests/fuzz_corpus.rs`).
//! Each takes arbitrary bytes and must neither panic nor hang; what it returns is of no interest.

mod records;
mod sql;
mod wire;

pub use records::record_decoders;
pub use sql::sql_statements;
pub use wire::pg_messages;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Panics so far in any thread of the process, counted from the first call (libFuzzer aborts on a
/// panic; a test replaying inputs asks this instead, since a server task's panic does not reach the
/// test's thread).
pub fn panics() -> usize {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
    PANICS.load(Ordering::SeqCst)
}
