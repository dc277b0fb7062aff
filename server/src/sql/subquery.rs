//! Correlated subqueries DataFusion's optimizer cannot turn into joins (a comparison other than
//! equality with the enclosing row, the enclosing row in the subquery's result, a subquery under a
//! CASE), evaluated the way Postgres does: once per row of the enclosing query, with that row's
//! values in place of its columns. Catalog queries of clients are full of them; their inputs are
//! small.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DataFusionError, Result, ScalarValue};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Subquery, TypeSignature,
    Volatility,
};
use datafusion::physical_plan::collect;

/// The plan with every subquery the optimizer left in an expression replaced by a per-row
/// evaluation of it.
pub fn evaluate_remaining(plan: LogicalPlan, state: &SessionState) -> Result<LogicalPlan> {
    plan.transform_up(|node| {
        node.map_expressions(|e| {
            e.transform_up(|x| match x {
                Expr::ScalarSubquery(subquery) => Ok(Transformed::yes(per_row(subquery, Kind::Scalar, state)?)),
                Expr::Exists(exists) => {
                    Ok(Transformed::yes(per_row(exists.subquery, Kind::Exists { negated: exists.negated }, state)?))
                }
                other => Ok(Transformed::no(other)),
            })
        })
    })
    .map(|t| t.data)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// The subquery's one value (NULL without rows; more than one row is an error).
    Scalar,
    /// Whether the subquery has a row.
    Exists { negated: bool },
}

/// A call evaluating `subquery` for each row, given the row's values of the columns it reads.
fn per_row(subquery: Subquery, kind: Kind, state: &SessionState) -> Result<Expr> {
    let outer: Vec<Column> = subquery
        .outer_ref_columns
        .iter()
        .filter_map(|e| match e {
            Expr::OuterReferenceColumn(_, c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    let output = match kind {
        Kind::Scalar => subquery.subquery.schema().field(0).data_type().clone(),
        Kind::Exists { .. } => DataType::Boolean,
    };
    let udf = CorrelatedSubquery {
        plan: subquery.subquery.clone(),
        outer: outer.clone(),
        kind,
        output,
        state: state.clone(),
        signature: Signature::one_of(vec![TypeSignature::Nullary, TypeSignature::VariadicAny], Volatility::Volatile),
    };
    Ok(ScalarUDF::new_from_impl(udf).call(outer.into_iter().map(Expr::Column).collect()))
}

struct CorrelatedSubquery {
    plan: Arc<LogicalPlan>,
    /// The enclosing query's columns the subquery reads, in argument order.
    outer: Vec<Column>,
    kind: Kind,
    output: DataType,
    state: SessionState,
    signature: Signature,
}

impl std::fmt::Debug for CorrelatedSubquery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorrelatedSubquery").field("outer", &self.outer).finish()
    }
}

impl PartialEq for CorrelatedSubquery {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.plan, &other.plan) && self.kind == other.kind
    }
}

impl Eq for CorrelatedSubquery {}

impl std::hash::Hash for CorrelatedSubquery {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        Arc::as_ptr(&self.plan).hash(h);
        self.kind.hash(h);
    }
}

impl CorrelatedSubquery {
    /// The subquery's rows for one enclosing row.
    fn rows_for(&self, values: &[ScalarValue]) -> Result<Vec<arrow::record_batch::RecordBatch>> {
        let bound = self
            .plan
            .as_ref()
            .clone()
            .transform_up(|node| {
                node.map_expressions(|e| {
                    e.transform_up(|x| match &x {
                        Expr::OuterReferenceColumn(_, c) => match self.outer.iter().position(|o| o == c) {
                            Some(i) => Ok(Transformed::yes(Expr::Literal(values[i].clone(), None))),
                            None => Ok(Transformed::no(x)),
                        },
                        _ => Ok(Transformed::no(x)),
                    })
                })
            })?
            .data;
        let state = &self.state;
        // Expressions are evaluated synchronously: the subquery runs to completion on a thread of
        // its own (whatever runtime, if any, this one is part of).
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    runtime.block_on(async {
                        let physical = state.create_physical_plan(&bound).await?;
                        collect(physical, state.task_ctx()).await
                    })
                })
                .join()
                .map_err(|_| DataFusionError::Internal("a correlated subquery panicked".into()))?
        })
    }
}

impl ScalarUDFImpl for CorrelatedSubquery {
    fn name(&self) -> &str {
        "correlated_subquery"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.output.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args.args.into_iter().map(|a| a.into_array(rows)).collect::<Result<Vec<ArrayRef>>>()?;
        let mut values = Vec::with_capacity(rows);
        // Rows with the same values of the columns the subquery reads have the same answer.
        let mut answers: HashMap<Vec<ScalarValue>, ScalarValue> = HashMap::new();
        for row in 0..rows {
            let outer = arrays.iter().map(|a| ScalarValue::try_from_array(a, row)).collect::<Result<Vec<_>>>()?;
            if let Some(answer) = answers.get(&outer) {
                values.push(answer.clone());
                continue;
            }
            let batches = self.rows_for(&outer)?;
            let count: usize = batches.iter().map(|b| b.num_rows()).sum();
            let answer = match self.kind {
                Kind::Exists { negated } => ScalarValue::Boolean(Some((count > 0) != negated)),
                Kind::Scalar => match count {
                    0 => ScalarValue::try_from(&self.output)?,
                    1 => {
                        let batch = batches
                            .iter()
                            .find(|b| b.num_rows() > 0)
                            .ok_or_else(|| DataFusionError::Internal("subquery row vanished".into()))?;
                        ScalarValue::try_from_array(batch.column(0), 0)?
                    }
                    _ => {
                        return Err(DataFusionError::Execution(
                            "more than one row returned by a subquery used as an expression".into(),
                        ))
                    }
                },
            };
            answers.insert(outer, answer.clone());
            values.push(answer);
        }
        if values.is_empty() {
            return Ok(ColumnarValue::Array(match self.kind {
                Kind::Exists { .. } => Arc::new(BooleanArray::from(Vec::<bool>::new())),
                Kind::Scalar => new_null_array(&self.output, 0),
            }));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(values)?))
    }
}
