//! Postgres' rule for untyped literals in comparisons: a quoted literal compared with a boolean is
//! read as a boolean (`indisprimary = 'f'`, `flag IN ('t', 'yes')`), as Postgres resolves an
//! `unknown` literal to the other operand's type (Postgres docs, "Type Conversion: Operators").
//! DataFusion's coercion already does this for numbers and times, not for booleans. The same rule
//! applies twice: while SQL is planned (an expression planner, so that a projection's schema can be
//! computed) and as an analyzer rule before DataFusion's type coercion (for `IN` lists, and plans
//! not made from SQL). Such a literal is cast, so a bad one is the cast's error, not "cannot infer
//! a common type".

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{cast, BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

/// Casts quoted literals compared with booleans to boolean.
#[derive(Debug, Default)]
pub struct UnknownLiterals;

impl ExprPlanner for UnknownLiterals {
    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        use datafusion::sql::sqlparser::ast::BinaryOperator as Op;
        let RawBinaryExpr { op, left, right } = expr;
        if !matches!(op, Op::Eq | Op::NotEq | Op::Lt | Op::LtEq | Op::Gt | Op::GtEq) {
            return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }));
        }
        let (left, right) = if is_string_literal(&left) && is_boolean(&right, schema) {
            (cast(left, DataType::Boolean), right)
        } else if is_string_literal(&right) && is_boolean(&left, schema) {
            (left, cast(right, DataType::Boolean))
        } else {
            (left, right)
        };
        Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }))
    }
}

impl AnalyzerRule for UnknownLiterals {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let mut schema = merge_schema(&plan.inputs());
            if let LogicalPlan::TableScan(scan) = &plan {
                schema.merge(&DFSchema::try_from_qualified_schema(scan.table_name.clone(), &scan.source.schema())?);
            }
            plan.map_expressions(|e| e.transform_up(|e| Ok(rewrite(e, &schema))))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "eddy_unknown_literals"
    }
}

fn is_comparison(op: Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

fn is_string_literal(e: &Expr) -> bool {
    matches!(e, Expr::Literal(ScalarValue::Utf8(_) | ScalarValue::LargeUtf8(_) | ScalarValue::Utf8View(_), _))
}

fn is_boolean(e: &Expr, schema: &DFSchema) -> bool {
    !is_string_literal(e) && matches!(e.get_type(schema), Ok(DataType::Boolean))
}

fn rewrite(e: Expr, schema: &DFSchema) -> Transformed<Expr> {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
            if is_string_literal(&left) && is_boolean(&right, schema) {
                Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(Box::new(cast(*left, DataType::Boolean)), op, right)))
            } else if is_string_literal(&right) && is_boolean(&left, schema) {
                Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(left, op, Box::new(cast(*right, DataType::Boolean)))))
            } else {
                Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right }))
            }
        }
        Expr::InList(InList { expr, list, negated })
            if is_boolean(&expr, schema) && list.iter().any(is_string_literal) =>
        {
            let list =
                list.into_iter().map(|e| if is_string_literal(&e) { cast(e, DataType::Boolean) } else { e }).collect();
            Transformed::yes(Expr::InList(InList { expr, list, negated }))
        }
        other => Transformed::no(other),
    }
}
