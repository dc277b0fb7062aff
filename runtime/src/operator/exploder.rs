//! Table functions (EXPLODE, CUBE_EXPLODE): each input row becomes as many rows as its longest
//! function result, the other functions' results padded with NULL, as ksqlDB's flat map does.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ListArray, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion_physical_expr::PhysicalExpr;
use eddy_catalog::SqlType;

use super::Operator;
use crate::columnar::{array_value, values_to_array};
use crate::error::{Result, RuntimeError};
use crate::eval::evaluate_rowwise;
use crate::value::Value;

/// Names of the table functions Eddy implements.
pub const TABLE_FUNCTION_NAMES: &[&str] = &["CUBE_EXPLODE", "EXPLODE"];

/// The table functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFunction {
    /// One row per element of an array (none for NULL or an empty array).
    Explode,
    /// One row per combination of an array's elements, each present or NULL, in binary counting
    /// order (first element most significant); combinations that repeat because an element is
    /// NULL are left out.
    CubeExplode,
}

impl TableFunction {
    /// The function of a name (upper case), if it is a table function.
    pub fn of(name: &str) -> Option<Self> {
        match name {
            "EXPLODE" => Some(Self::Explode),
            "CUBE_EXPLODE" => Some(Self::CubeExplode),
            _ => None,
        }
    }

    /// The name ksqlDB prints in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Explode => "explode",
            Self::CubeExplode => "cube_explode",
        }
    }
}

/// Arrays longer than this are not cubed (2^20 rows from one record); the record is reported.
const MAX_CUBE_ELEMENTS: usize = 20;

/// One table function call: its argument (an array) and the SQL type of its result.
#[derive(Debug, Clone)]
pub struct TableFunctionCall {
    pub function: TableFunction,
    pub arg: Arc<dyn PhysicalExpr>,
    pub result: SqlType,
}

/// The flat-map operator. Output: the input's columns but the two hidden ones, one column per call,
/// then the two hidden columns.
pub struct Exploder {
    calls: Vec<TableFunctionCall>,
    schema: SchemaRef,
    errors: Vec<String>,
}

impl Exploder {
    pub fn new(calls: Vec<TableFunctionCall>, schema: SchemaRef) -> Self {
        Self { calls, schema, errors: Vec::new() }
    }
}

/// A call's results for the rows of a batch.
enum Results<'a> {
    /// EXPLODE: the argument lists; element `j` of row `r`.
    Lists(&'a ListArray),
    /// CUBE_EXPLODE: the combinations of each row.
    Combinations(Vec<Vec<Value>>),
}

impl Results<'_> {
    fn len(&self, row: usize) -> usize {
        match self {
            Results::Lists(l) if l.is_null(row) => 0,
            Results::Lists(l) => l.value_length(row) as usize,
            Results::Combinations(rows) => rows[row].len(),
        }
    }
}

impl Operator for Exploder {
    fn process(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let rows = batch.num_rows();
        let args: Vec<ArrayRef> =
            self.calls.iter().map(|c| evaluate_rowwise(&c.arg, &batch, &mut self.errors)).collect::<Result<_>>()?;
        let mut results = Vec::with_capacity(args.len());
        for (call, arg) in self.calls.iter().zip(&args) {
            let list = arg.as_any().downcast_ref::<ListArray>().ok_or_else(|| {
                RuntimeError::Internal(format!("{} of a {} column", call.function.name(), arg.data_type()))
            })?;
            results.push(match call.function {
                TableFunction::Explode => Results::Lists(list),
                TableFunction::CubeExplode => {
                    Results::Combinations((0..rows).map(|r| cube(list, r, &mut self.errors)).collect())
                }
            });
        }
        // Which input row each output row comes from, and each call's element for it.
        let mut from = Vec::new();
        let mut at = Vec::new();
        for r in 0..rows {
            let n = results.iter().map(|x| x.len(r)).max().unwrap_or(0);
            for j in 0..n {
                from.push(r as u32);
                at.push(j);
            }
        }
        let from = UInt32Array::from(from);
        let hidden = batch.num_columns().saturating_sub(2);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for c in &batch.columns()[..hidden] {
            columns.push(take(c.as_ref(), &from, None)?);
        }
        for ((call, result), field) in self.calls.iter().zip(&results).zip(&self.schema.fields()[hidden..]) {
            let column = match result {
                Results::Lists(list) => {
                    // Element j of row r sits at offset(r) + j of the values; past the end: NULL.
                    let offsets = list.value_offsets();
                    let indices: UInt32Array = from
                        .values()
                        .iter()
                        .zip(&at)
                        .map(|(&r, &j)| {
                            let r = r as usize;
                            (j < result.len(r)).then(|| (offsets[r] as usize + j) as u32)
                        })
                        .collect();
                    take(list.values().as_ref(), &indices, None)?
                }
                Results::Combinations(per_row) => {
                    let values: Vec<Value> = from
                        .values()
                        .iter()
                        .zip(&at)
                        .map(|(&r, &j)| per_row[r as usize].get(j).cloned().unwrap_or(Value::Null))
                        .collect();
                    values_to_array(&values, &call.result)?
                }
            };
            columns.push(crate::eval::conform(column, field.data_type())?);
        }
        for c in &batch.columns()[hidden..] {
            columns.push(take(c.as_ref(), &from, None)?);
        }
        let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(from.len()));
        Ok(Some(RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?))
    }

    fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}

/// The combinations of row `r`'s array (none for NULL).
fn cube(list: &ListArray, r: usize, errors: &mut Vec<String>) -> Vec<Value> {
    if list.is_null(r) {
        return Vec::new();
    }
    let Value::Array(elements) = array_value(list, r) else { return Vec::new() };
    if elements.len() > MAX_CUBE_ELEMENTS {
        errors.push(format!(
            "cube_explode of an array of {} elements (at most {MAX_CUBE_ELEMENTS}): the record is skipped",
            elements.len()
        ));
        return Vec::new();
    }
    let n = elements.len();
    (0u32..1 << n)
        .filter(|mask| (0..n).all(|i| mask & (1 << (n - 1 - i)) == 0 || !elements[i].is_null()))
        .map(|mask| {
            Value::Array(
                (0..n)
                    .map(|i| if mask & (1 << (n - 1 - i)) != 0 { elements[i].clone() } else { Value::Null })
                    .collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion_physical_expr::expressions::Column;

    use super::*;

    fn list(rows: &[Option<Vec<Option<i64>>>]) -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<arrow::datatypes::Int64Type, _, _>(rows.iter().cloned()))
    }

    #[test]
    fn rows_multiply_by_the_longest_result_and_shorter_ones_pad_with_null() {
        let item = Arc::new(Field::new("item", DataType::Int64, true));
        let input = Arc::new(Schema::new(vec![
            Field::new("ID", DataType::Int32, true),
            Field::new("A", DataType::List(item.clone()), true),
            Field::new("B", DataType::List(item), true),
            Field::new("$headers", DataType::Int32, true),
            Field::new("$value_null", DataType::Int32, true),
        ]));
        let batch = RecordBatch::try_new(
            input,
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3, 4])),
                list(&[Some(vec![Some(1), Some(2)]), None, Some(vec![]), Some(vec![Some(7)])]),
                list(&[Some(vec![Some(10), Some(11), Some(12)]), Some(vec![Some(20)]), None, Some(vec![])]),
                Arc::new(Int32Array::from(vec![0, 0, 0, 0])),
                Arc::new(Int32Array::from(vec![5, 6, 7, 8])),
            ],
        )
        .unwrap();
        let output = Arc::new(Schema::new(vec![
            Field::new("ID", DataType::Int32, true),
            Field::new("A", batch.schema().field(1).data_type().clone(), true),
            Field::new("B", batch.schema().field(2).data_type().clone(), true),
            Field::new("X", DataType::Int64, true),
            Field::new("Y", DataType::Int64, true),
            Field::new("$headers", DataType::Int32, true),
            Field::new("$value_null", DataType::Int32, true),
        ]));
        let call = |i: usize| TableFunctionCall {
            function: TableFunction::Explode,
            arg: Arc::new(Column::new(if i == 1 { "A" } else { "B" }, i)),
            result: SqlType::Bigint,
        };
        let mut op = Exploder::new(vec![call(1), call(2)], output);
        let out = op.process(batch).unwrap().unwrap();
        let ids = out.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(ids.values().to_vec(), vec![1, 1, 1, 2, 4]);
        let x = out.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        let y = out.column(4).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(x.iter().collect::<Vec<_>>(), vec![Some(1), Some(2), None, None, Some(7)]);
        assert_eq!(y.iter().collect::<Vec<_>>(), vec![Some(10), Some(11), Some(12), Some(20), None]);
        let hidden = out.column(6).as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(hidden.values().to_vec(), vec![5, 5, 5, 6, 8]);
    }

    #[test]
    fn every_listed_name_is_a_table_function() {
        assert!(TABLE_FUNCTION_NAMES.iter().all(|n| TableFunction::of(n).is_some()));
    }

    #[test]
    fn cubes_count_in_binary_and_skip_repeats_from_nulls() {
        let l = list(&[Some(vec![Some(1), None]), Some(vec![Some(1), Some(2)])]);
        let l = l.as_any().downcast_ref::<ListArray>().unwrap();
        let mut errors = Vec::new();
        let show = |v: Vec<Value>| format!("{v:?}");
        assert_eq!(
            show(cube(l, 0, &mut errors)),
            show(vec![Value::Array(vec![Value::Null, Value::Null]), Value::Array(vec![Value::Bigint(1), Value::Null])])
        );
        assert_eq!(cube(l, 1, &mut errors).len(), 4);
        assert_eq!(
            show(cube(l, 1, &mut errors)[1..2].to_vec()),
            show(vec![Value::Array(vec![Value::Null, Value::Bigint(2)])])
        );
        let long = list(&[Some(vec![Some(1); 21])]);
        assert!(cube(long.as_any().downcast_ref::<ListArray>().unwrap(), 0, &mut errors).is_empty());
        assert_eq!(errors.len(), 1);
    }
}
