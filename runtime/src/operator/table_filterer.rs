//! A table's WHERE: rows that do not match become tombstones instead of disappearing.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::compute::{is_not_null, not, or_kleene};
use arrow::record_batch::RecordBatch;
use datafusion_physical_expr::PhysicalExpr;

use super::Operator;
use crate::error::{Result, RuntimeError};
use crate::eval::evaluate_rowwise;

/// The table filter; expects the hidden value-null column last.
pub struct TableFilterer {
    predicate: Arc<dyn PhysicalExpr>,
    errors: Vec<String>,
}

impl TableFilterer {
    pub fn new(predicate: Arc<dyn PhysicalExpr>) -> Self {
        Self { predicate, errors: Vec::new() }
    }
}

impl Operator for TableFilterer {
    fn process(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let mask = evaluate_rowwise(&self.predicate, &batch, &mut self.errors)?;
        let mask = mask
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| RuntimeError::Internal("filter predicate is not boolean".into()))?;
        // NULL counts as not matching.
        let matched = arrow::compute::and(mask, &is_not_null(mask)?)?;
        let last = batch.num_columns() - 1;
        let value_null = batch
            .column(last)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| RuntimeError::Internal("the last column is not the value-null flag".into()))?;
        let tombstone = or_kleene(value_null, &not(&matched)?)?;
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns[last] = Arc::new(tombstone);
        Ok(Some(RecordBatch::try_new(batch.schema(), columns)?))
    }

    fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}
