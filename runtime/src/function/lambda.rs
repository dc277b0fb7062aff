//! TRANSFORM, FILTER and REDUCE: functions that apply lambdas to the elements of an array or the
//! entries of a map. A lambda's body is a planned expression over the query's columns followed by
//! the lambda's parameters; each row's elements are evaluated as a small batch in which the row's
//! columns repeat (REDUCE folds one element at a time).

use std::sync::Arc;

use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion_common::{DataFusionError, Result};
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use datafusion_physical_expr::PhysicalExpr;
use eddy_catalog::{arrow_type, SqlType};

use crate::columnar::{array_value, values_to_array};
use crate::value::Value;

pub const NAMES: &[&str] = &["FILTER", "REDUCE", "TRANSFORM"];

/// What the function does with its lambda(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LambdaKind {
    /// Each element (or each entry's key and value, with two lambdas) mapped.
    Transform,
    /// The elements (entries) for which the lambda is true.
    Filter,
    /// The elements folded into a state, starting from an initial value.
    Reduce,
}

/// A lambda function bound to its bodies. Arguments when called: the collection, for REDUCE the
/// initial state, then the query's columns (those the bodies' first `outer` columns refer to).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LambdaUdf {
    name: String,
    kind: LambdaKind,
    /// TRANSFORM of a map: key body then value body; otherwise one body.
    bodies: Vec<Arc<dyn PhysicalExpr>>,
    /// The bodies' input: the query's columns, then the lambda's parameters.
    schema: SchemaRef,
    /// The parameters' types (REDUCE's state first).
    params: Vec<SqlType>,
    /// How many of the schema's columns are the query's.
    outer: usize,
    result: SqlType,
    signature: Signature,
}

impl LambdaUdf {
    /// `schema` ends with one column per parameter of `params`.
    pub fn new(
        name: &str,
        kind: LambdaKind,
        bodies: Vec<Arc<dyn PhysicalExpr>>,
        schema: SchemaRef,
        params: Vec<SqlType>,
        result: SqlType,
    ) -> Self {
        let outer = schema.fields().len().saturating_sub(params.len());
        let signature = Signature::variadic_any(Volatility::Immutable);
        Self { name: name.to_string(), kind, bodies, schema, params, outer, result, signature }
    }

    /// Lambda body `i` (the planner gives each call the bodies it needs).
    fn body(&self, i: usize) -> Result<&Arc<dyn PhysicalExpr>> {
        self.bodies.get(i).ok_or_else(|| DataFusionError::Internal(format!("{} has no lambda {i}", self.name)))
    }

    /// Evaluates `body` over `params` (one array per lambda parameter, all of `n` rows) with row
    /// `row` of the query's columns repeated alongside.
    fn eval(
        &self,
        body: &Arc<dyn PhysicalExpr>,
        outer: &[ArrayRef],
        row: usize,
        params: Vec<ArrayRef>,
    ) -> Result<Vec<Value>> {
        let n = params.first().map(|p| p.len()).unwrap_or(0);
        let repeat = UInt32Array::from(vec![row as u32; n]);
        let mut columns = Vec::with_capacity(self.outer + params.len());
        for c in outer {
            columns.push(take(c.as_ref(), &repeat, None)?);
        }
        columns.extend(params);
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?;
        let out = body.evaluate(&batch)?.into_array(n)?;
        Ok((0..n).map(|i| array_value(out.as_ref(), i)).collect())
    }

    fn one_row(&self, collection: Value, init: Option<Value>, outer: &[ArrayRef], row: usize) -> Result<Value> {
        let array = |values: &[Value], ty: &SqlType| values_to_array(values, ty).map_err(execution);
        let sql = |i: usize| self.params.get(i).cloned().unwrap_or(SqlType::String);
        match (self.kind, collection) {
            // Nothing to fold: the initial state.
            (LambdaKind::Reduce, Value::Null) => Ok(init.unwrap_or(Value::Null)),
            (_, Value::Null) => Ok(Value::Null),
            (LambdaKind::Transform, Value::Array(items)) => {
                Ok(Value::Array(self.eval(self.body(0)?, outer, row, vec![array(&items, &sql(0))?])?))
            }
            (LambdaKind::Filter, Value::Array(items)) => {
                let keep = self.eval(self.body(0)?, outer, row, vec![array(&items, &sql(0))?])?;
                Ok(Value::Array(
                    items.into_iter().zip(keep).filter(|(_, k)| *k == Value::Boolean(true)).map(|(v, _)| v).collect(),
                ))
            }
            (LambdaKind::Transform, Value::Map(entries)) => {
                let (keys, values): (Vec<Value>, Vec<Value>) = entries.into_iter().unzip();
                let params = || -> Result<Vec<ArrayRef>> { Ok(vec![array(&keys, &sql(0))?, array(&values, &sql(1))?]) };
                let new_keys = self.eval(self.body(0)?, outer, row, params()?)?;
                let new_values = self.eval(self.body(1)?, outer, row, params()?)?;
                // A key produced twice keeps its last value.
                let mut out: Vec<(Value, Value)> = Vec::new();
                for (k, v) in new_keys.into_iter().zip(new_values) {
                    match out.iter_mut().find(|(key, _)| *key == k) {
                        Some(entry) => entry.1 = v,
                        None => out.push((k, v)),
                    }
                }
                Ok(Value::Map(out))
            }
            (LambdaKind::Filter, Value::Map(entries)) => {
                let (keys, values): (Vec<Value>, Vec<Value>) = entries.iter().cloned().unzip();
                let keep =
                    self.eval(self.body(0)?, outer, row, vec![array(&keys, &sql(0))?, array(&values, &sql(1))?])?;
                Ok(Value::Map(
                    entries.into_iter().zip(keep).filter(|(_, k)| *k == Value::Boolean(true)).map(|(e, _)| e).collect(),
                ))
            }
            (LambdaKind::Reduce, collection) => {
                let mut state = init.unwrap_or(Value::Null);
                let steps: Vec<Vec<Value>> = match collection {
                    Value::Array(items) => items.into_iter().map(|v| vec![v]).collect(),
                    Value::Map(entries) => entries.into_iter().map(|(k, v)| vec![k, v]).collect(),
                    _ => return Ok(Value::Null),
                };
                for step in steps {
                    let mut params = vec![array(std::slice::from_ref(&state), &sql(0))?];
                    for (i, v) in step.iter().enumerate() {
                        params.push(array(std::slice::from_ref(v), &sql(i + 1))?);
                    }
                    state = self.eval(self.body(0)?, outer, row, params)?.pop().unwrap_or(Value::Null);
                }
                Ok(state)
            }
            _ => Ok(Value::Null),
        }
    }
}

fn execution(e: crate::error::RuntimeError) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

impl ScalarUDFImpl for LambdaUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(arrow_type(&self.result))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args.args.into_iter().map(|a| a.into_array(rows)).collect::<Result<Vec<_>>>()?;
        let with_init = usize::from(self.kind == LambdaKind::Reduce);
        let (head, outer) = arrays.split_at((1 + with_init).min(arrays.len()));
        if head.len() < 1 + with_init || outer.len() != self.outer {
            return Err(DataFusionError::Internal(format!("{} called with {} arguments", self.name, arrays.len())));
        }
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let collection = array_value(head[0].as_ref(), row);
            let init = head.get(1).map(|a| array_value(a.as_ref(), row));
            out.push(self.one_row(collection, init, outer, row)?);
        }
        Ok(ColumnarValue::Array(values_to_array(&out, &self.result).map_err(execution)?))
    }
}

#[cfg(test)]
mod tests {
    use datafusion_common::ScalarValue;
    use datafusion_expr::Operator;
    use datafusion_physical_expr::expressions::{BinaryExpr, Column, Literal};

    use super::*;

    #[test]
    fn transform_and_reduce_see_the_rows_columns_and_their_parameters() {
        // Columns: OFFSET (outer), then the parameters.
        let fields = |names: &[&str]| {
            Arc::new(arrow::datatypes::Schema::new(
                names.iter().map(|n| arrow::datatypes::Field::new(*n, DataType::Int32, true)).collect::<Vec<_>>(),
            ))
        };
        let add = |a: usize, b: usize, names: &[&str]| -> Arc<dyn PhysicalExpr> {
            Arc::new(BinaryExpr::new(
                Arc::new(Column::new(names[a], a)),
                Operator::Plus,
                Arc::new(Column::new(names[b], b)),
            ))
        };
        let ints = SqlType::Array(Box::new(SqlType::Int));
        let transform = LambdaUdf::new(
            "TRANSFORM",
            LambdaKind::Transform,
            vec![add(0, 1, &["OFFSET", "X"])],
            fields(&["OFFSET", "X"]),
            vec![SqlType::Int],
            ints.clone(),
        );
        let offsets: ArrayRef = Arc::new(arrow::array::Int32Array::from(vec![10, 20]));
        let list = |v: &[i32]| Value::Array(v.iter().map(|i| Value::Int(*i)).collect());
        assert_eq!(transform.one_row(list(&[1, 2]), None, std::slice::from_ref(&offsets), 1).unwrap(), list(&[21, 22]));
        assert_eq!(transform.one_row(Value::Null, None, std::slice::from_ref(&offsets), 0).unwrap(), Value::Null);
        let reduce = LambdaUdf::new(
            "REDUCE",
            LambdaKind::Reduce,
            vec![add(1, 2, &["OFFSET", "S", "X"])],
            fields(&["OFFSET", "S", "X"]),
            vec![SqlType::Int, SqlType::Int],
            SqlType::Int,
        );
        assert_eq!(
            reduce.one_row(list(&[1, 2, 3]), Some(Value::Int(100)), std::slice::from_ref(&offsets), 0).unwrap(),
            Value::Int(106)
        );
        assert_eq!(
            reduce.one_row(Value::Null, Some(Value::Int(100)), std::slice::from_ref(&offsets), 0).unwrap(),
            Value::Int(100)
        );
        let filter = LambdaUdf::new(
            "FILTER",
            LambdaKind::Filter,
            vec![Arc::new(BinaryExpr::new(
                Arc::new(Column::new("X", 1)),
                Operator::Gt,
                Arc::new(Literal::new(ScalarValue::Int32(Some(1)))),
            ))],
            fields(&["OFFSET", "X"]),
            vec![SqlType::Int],
            ints,
        );
        assert_eq!(filter.one_row(list(&[1, 2, 3]), None, std::slice::from_ref(&offsets), 0).unwrap(), list(&[2, 3]));
    }
}
