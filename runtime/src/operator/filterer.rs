//! Keeps the rows of a batch whose predicate is true (NULL counts as false).

use std::sync::Arc;

use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;
use datafusion_physical_expr::PhysicalExpr;

use super::Operator;
use crate::error::Result;
use crate::eval::evaluate_mask;

/// The WHERE operator.
pub struct Filterer {
    predicate: Arc<dyn PhysicalExpr>,
    errors: Vec<String>,
}

impl Filterer {
    pub fn new(predicate: Arc<dyn PhysicalExpr>) -> Self {
        Self { predicate, errors: Vec::new() }
    }
}

impl Operator for Filterer {
    fn process(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let mask = evaluate_mask(&self.predicate, &batch, &mut self.errors)?;
        if mask.true_count() == 0 {
            return Ok(None);
        }
        Ok(Some(filter_record_batch(&batch, &mask)?))
    }

    fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}
