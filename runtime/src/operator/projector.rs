//! Computes the output columns of a SELECT list.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion_physical_expr::PhysicalExpr;

use super::Operator;
use crate::error::Result;
use crate::eval::evaluate_rowwise;

/// The projection operator.
pub struct Projector {
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
    errors: Vec<String>,
}

impl Projector {
    pub fn new(exprs: Vec<Arc<dyn PhysicalExpr>>, schema: SchemaRef) -> Self {
        Self { exprs, schema, errors: Vec::new() }
    }
}

impl Operator for Projector {
    fn process(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let columns =
            self.exprs.iter().map(|e| evaluate_rowwise(e, &batch, &mut self.errors)).collect::<Result<Vec<_>>>()?;
        let columns = columns
            .into_iter()
            .zip(self.schema.fields())
            .map(|(c, f)| crate::eval::conform(c, f.data_type()))
            .collect::<Result<Vec<_>>>()?;
        let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(Some(RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?))
    }

    fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}
