//! Operators: I/O-free transformations of record batches, built from dataflow steps.

mod aggregator;
mod exploder;
mod filterer;
mod joiner;
mod projector;
mod table_filterer;

use arrow::record_batch::RecordBatch;

pub use aggregator::{AggregateCall, Aggregator};
pub use exploder::{Exploder, TableFunction, TableFunctionCall, TABLE_FUNCTION_NAMES};
pub use filterer::Filterer;
pub use joiner::Joiner;
pub use projector::Projector;
pub use table_filterer::TableFilterer;

use crate::dataflow::Step;
use crate::error::Result;

/// Transforms batches; owns no clock and does no I/O.
pub trait Operator: Send {
    /// Processes one batch, returning the rows it emits (possibly none).
    fn process(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>>;
    /// Rows whose evaluation failed, for the processing log and metrics.
    fn take_errors(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// Instantiates the operator for a step.
pub fn operator_for(step: &Step) -> Box<dyn Operator> {
    match step {
        Step::Filter { predicate, .. } => Box::new(Filterer::new(predicate.clone())),
        Step::TableFilter { predicate, keys, .. } => Box::new(TableFilterer::new(predicate.clone(), *keys)),
        Step::Aggregate { keys, calls, schema, window, table_keys, .. } => {
            Box::new(Aggregator::new(*keys, calls.clone(), schema.clone(), *window, *table_keys))
        }
        Step::Project { exprs, schema, .. } => Box::new(Projector::new(exprs.clone(), schema.clone())),
        Step::Explode { calls, schema, .. } => Box::new(Exploder::new(calls.clone(), schema.clone())),
    }
}
