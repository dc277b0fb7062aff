//! Vectorized expression evaluation that falls back to row-by-row when a batch fails,
//! so one bad row yields NULL (and a logged error) instead of failing its neighbours.

use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef};
use arrow::compute::{cast, concat};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use datafusion_physical_expr::PhysicalExpr;

use crate::error::Result;

/// Evaluates `expr` over the batch; rows whose evaluation fails become NULL and are reported in `errors`.
pub fn evaluate_rowwise(
    expr: &Arc<dyn PhysicalExpr>,
    batch: &RecordBatch,
    errors: &mut Vec<String>,
) -> Result<ArrayRef> {
    let rows = batch.num_rows();
    match expr.evaluate(batch).and_then(|v| v.into_array(rows)) {
        Ok(array) => Ok(array),
        Err(_) if rows > 1 => {
            let dt = expr.data_type(&batch.schema())?;
            let mut parts = Vec::with_capacity(rows);
            for i in 0..rows {
                let row = batch.slice(i, 1);
                match expr.evaluate(&row).and_then(|v| v.into_array(1)) {
                    Ok(a) => parts.push(a),
                    Err(e) => {
                        errors.push(e.to_string());
                        parts.push(new_null_array(&dt, 1));
                    }
                }
            }
            let refs: Vec<&dyn arrow::array::Array> = parts.iter().map(|a| a.as_ref()).collect();
            Ok(concat(&refs)?)
        }
        Err(e) => {
            errors.push(e.to_string());
            let dt = expr.data_type(&batch.schema())?;
            Ok(new_null_array(&dt, rows))
        }
    }
}

/// Casts an evaluated column to the declared output type when they differ (e.g. NULL literals).
pub fn conform(array: ArrayRef, dt: &DataType) -> Result<ArrayRef> {
    if array.data_type() == dt {
        return Ok(array);
    }
    Ok(cast(&array, dt)?)
}

/// Evaluates a predicate to a boolean mask (failed rows are NULL).
pub fn evaluate_mask(
    predicate: &Arc<dyn PhysicalExpr>,
    batch: &RecordBatch,
    errors: &mut Vec<String>,
) -> Result<arrow::array::BooleanArray> {
    let mask = evaluate_rowwise(predicate, batch, errors)?;
    mask.as_any()
        .downcast_ref::<arrow::array::BooleanArray>()
        .cloned()
        .ok_or_else(|| crate::error::RuntimeError::Internal("filter predicate is not boolean".into()))
}
