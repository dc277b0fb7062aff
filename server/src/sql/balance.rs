//! Long `AND`/`OR` chains (a BI tool's filter of thousands of values) arrive as left-deep trees as
//! deep as they are long; DataFusion's planning time grows with the square of an expression's
//! depth. They are rebuilt balanced (`AND` and `OR` are associative, and the operands keep their
//! order), and what is still deeper than `limits::SQL_ENGINE_MAX_DEPTH` is refused (54001).

use std::ops::ControlFlow;

use sqlparser::ast::{BinaryOperator, Expr, Statement, Visit, VisitMut, Visitor, VisitorMut};

use crate::engine::{error_sqlstate as sqlstate, EngineError};
use crate::limits::SQL_ENGINE_MAX_DEPTH;

/// Chains of at most this many operands keep their shape.
const SHORT_CHAIN: usize = 16;

/// Balances the statement's `AND`/`OR` chains and checks its expression depth.
pub fn balance(mut statement: Statement) -> Result<Statement, EngineError> {
    let _ = VisitMut::visit(&mut statement, &mut Balance);
    let mut depth = Depth { depth: 0, deepest: 0 };
    let _ = statement.visit(&mut depth);
    let most = crate::limits::get(&SQL_ENGINE_MAX_DEPTH);
    if depth.deepest > most {
        return Err(EngineError::new(
            sqlstate::STATEMENT_TOO_COMPLEX,
            format!(
                "statement too complex: expressions nested {} deep (the SQL engine plans at most {most})",
                depth.deepest
            ),
        ));
    }
    Ok(statement)
}

struct Balance;

impl VisitorMut for Balance {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::BinaryOp { op: op @ (BinaryOperator::And | BinaryOperator::Or), .. } = e {
            let op = op.clone();
            balance_chain(e, op);
        }
        ControlFlow::Continue(())
    }
}

/// Rebuilds the chain of `op` rooted at `e` as a balanced tree of the same operands in order.
fn balance_chain(e: &mut Expr, op: BinaryOperator) {
    // The operands, found without recursion (the chain is as deep as it is long).
    let mut operands = Vec::new();
    let mut pending = vec![std::mem::replace(e, Expr::value(sqlparser::ast::Value::Null))];
    while let Some(x) = pending.pop() {
        match x {
            Expr::BinaryOp { left, op: o, right } if o == op => {
                pending.push(*right);
                pending.push(*left);
            }
            other => operands.push(other),
        }
    }
    *e = if operands.len() <= SHORT_CHAIN { left_deep(operands, &op) } else { balanced(operands, &op) };
}

fn left_deep(operands: Vec<Expr>, op: &BinaryOperator) -> Expr {
    let mut operands = operands.into_iter();
    let first = operands.next().unwrap_or_else(|| Expr::value(sqlparser::ast::Value::Null));
    operands.fold(first, |left, right| Expr::BinaryOp { left: Box::new(left), op: op.clone(), right: Box::new(right) })
}

fn balanced(mut operands: Vec<Expr>, op: &BinaryOperator) -> Expr {
    if operands.len() <= 1 {
        return operands.pop().unwrap_or_else(|| Expr::value(sqlparser::ast::Value::Null));
    }
    let right = operands.split_off(operands.len() / 2);
    Expr::BinaryOp { left: Box::new(balanced(operands, op)), op: op.clone(), right: Box::new(balanced(right, op)) }
}

struct Depth {
    depth: usize,
    deepest: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.depth += 1;
        self.deepest = self.deepest.max(self.depth);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    use super::*;

    fn statement(sql: &str) -> Statement {
        Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parse").remove(0)
    }

    #[test]
    fn long_chains_are_balanced_with_their_operands_in_order() {
        let terms: Vec<String> = (0..1000).map(|i| format!("a = {i}")).collect();
        let sql = format!("SELECT 1 WHERE {}", terms.join(" OR "));
        let balanced = balance(statement(&sql)).expect("balanced");
        assert_eq!(balanced.to_string(), sql, "the same text: operands in order");
        let mut depth = Depth { depth: 0, deepest: 0 };
        let _ = balanced.visit(&mut depth);
        assert!(depth.deepest < 30, "depth {}", depth.deepest);
        let short = "SELECT 1 WHERE a OR b AND c OR d";
        assert_eq!(balance(statement(short)).expect("short").to_string(), short);
    }

    #[test]
    fn other_deep_expressions_are_refused() {
        let sql = format!("SELECT {}", vec!["1"; 2000].join(" + "));
        let e = balance(statement(&sql)).expect_err("too deep");
        assert_eq!(e.sqlstate, sqlstate::STATEMENT_TOO_COMPLEX);
    }
}
