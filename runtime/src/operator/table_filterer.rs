//! A table's WHERE: rows that do not match become tombstones instead of disappearing.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::compute::{filter_record_batch, is_not_null, not, or_kleene};
use arrow::record_batch::RecordBatch;
use datafusion_physical_expr::PhysicalExpr;

use super::Operator;
use crate::aggregate::GroupKey;
use crate::columnar::array_value;
use crate::error::{Result, RuntimeError};
use crate::eval::evaluate_mask;

/// The table filter; expects the hidden value-null column last.
pub struct TableFilterer {
    predicate: Arc<dyn PhysicalExpr>,
    /// Key columns (after ROWTIME) when the filter tracks which keys downstream holds.
    keys: Option<usize>,
    present: HashSet<GroupKey>,
    errors: Vec<String>,
}

impl TableFilterer {
    pub fn new(predicate: Arc<dyn PhysicalExpr>, keys: Option<usize>) -> Self {
        Self { predicate, keys, present: HashSet::new(), errors: Vec::new() }
    }
}

impl Operator for TableFilterer {
    fn process(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let mask = evaluate_mask(&self.predicate, &batch, &mut self.errors)?;
        // NULL counts as not matching.
        let matched = arrow::compute::and(&mask, &is_not_null(&mask)?)?;
        let last = batch.num_columns() - 1;
        let value_null = batch
            .column(last)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| RuntimeError::Internal("the last column is not the value-null flag".into()))?;
        let tombstone = or_kleene(value_null, &not(&matched)?)?;
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns[last] = Arc::new(tombstone.clone());
        let batch = RecordBatch::try_new(batch.schema(), columns)?;
        let Some(keys) = self.keys else { return Ok(Some(batch)) };
        // Keep tombstones only for keys that were let through before.
        let mut keep = Vec::with_capacity(batch.num_rows());
        let key_columns: Vec<&dyn Array> = (1..=keys).map(|c| batch.column(c).as_ref()).collect();
        for row in 0..batch.num_rows() {
            let key = GroupKey::from_columns(&key_columns, row)
                .unwrap_or_else(|| GroupKey::from_values(key_columns.iter().map(|c| array_value(*c, row)).collect()));
            if tombstone.value(row) {
                keep.push(self.present.remove(&key));
            } else {
                self.present.insert(key);
                keep.push(true);
            }
        }
        let keep = BooleanArray::from(keep);
        if keep.true_count() == 0 {
            return Ok(None);
        }
        Ok(Some(filter_record_batch(&batch, &keep)?))
    }

    fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}
