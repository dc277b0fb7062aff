//! Functions of the SQL engine beyond DataFusion's and datafusion-pg-catalog's: ksqlDB's, and the
//! Postgres ones clients call.

mod bounded;
mod ksql;
mod pg;

pub use bounded::OutputTooLarge;

use std::sync::Arc;

use datafusion::prelude::SessionContext;

use super::context::SessionIdentity;
use super::pg_catalog::KeyOids;

/// Registers the functions every session shares.
pub fn register_shared(ctx: &SessionContext) {
    ksql::register(ctx);
    pg::register_shared(ctx);
    bounded::register(ctx);
}

/// Registers the functions that answer for one session (its user, database, settings, keys).
pub fn register_session(ctx: &SessionContext, identity: &SessionIdentity, keys: Arc<KeyOids>) {
    pg::register_session(ctx, identity, keys);
}
