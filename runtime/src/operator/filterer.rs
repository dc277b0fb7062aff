//! Keeps the rows of a batch whose predicate is true (NULL counts as false); records without a value
//! never pass, whatever the predicate says of their key (as ksqlDB's stream filter).

use std::sync::Arc;

use arrow::array::BooleanArray;
use arrow::compute::{and, filter_record_batch, not};
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
        let mut mask = evaluate_mask(&self.predicate, &batch, &mut self.errors)?;
        let value_null = batch.columns().last().and_then(|c| c.as_any().downcast_ref::<BooleanArray>());
        if let Some(value_null) = value_null.filter(|v| v.true_count() > 0) {
            mask = and(&mask, &not(value_null)?)?;
        }
        if mask.true_count() == 0 {
            return Ok(None);
        }
        Ok(Some(filter_record_batch(&batch, &mask)?))
    }

    fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}
