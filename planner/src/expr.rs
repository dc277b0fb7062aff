//! Typing ksqlDB expressions and turning them into DataFusion physical expressions.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion_common::config::ConfigOptions;
use datafusion_common::ScalarValue;
use datafusion_expr::{Operator, ScalarUDF};
use datafusion_physical_expr::expressions::{
    BinaryExpr, CaseExpr, CastExpr, Column, InListExpr, IsNotNullExpr, IsNullExpr, LikeExpr, Literal, NegativeExpr,
    NotExpr,
};
use datafusion_physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use eddy_catalog::{arrow_type, SqlType};
use eddy_parser::fold_ident;
use eddy_runtime::function::{resolve_function, RowUdf};
use eddy_runtime::{array_value, Value};
use sqlparser::ast::{self as sql, BinaryOperator, Spanned, UnaryOperator};

use crate::error::{PlanError, PlanErrorKind, Result};
use crate::scope::Scope;
use crate::types::{as_decimal, common_type, decimal_arithmetic, wider_numeric};

/// A planned expression and its SQL type.
#[derive(Debug, Clone)]
pub struct Typed {
    pub expr: Arc<dyn PhysicalExpr>,
    pub ty: SqlType,
    /// An untyped NULL literal, typed by its context.
    pub null_literal: bool,
}

/// Stack left below which planning an expression continues on a new heap segment, and that
/// segment's size (bytes): a debug build's frame of `plan_expr` is tens of KiB.
const STACK_RED_ZONE: usize = 256 << 10;
const STACK_GROWTH: usize = 16 << 20;

/// Plans expressions over a scope.
pub struct ExprPlanner<'a> {
    scope: &'a Scope,
}

fn err<T>(e: &sql::Expr, message: impl Into<String>) -> Result<T> {
    Err(PlanError::at(message, e.span().start))
}

impl ExprPlanner<'_> {
    /// The columns expressions are planned over.
    pub(crate) fn scope(&self) -> &Scope {
        self.scope
    }
}

fn literal(value: ScalarValue, ty: SqlType) -> Typed {
    Typed { expr: Arc::new(Literal::new(value)), ty, null_literal: false }
}

fn config() -> Arc<ConfigOptions> {
    Arc::new(ConfigOptions::default())
}

/// Calls a UDF with a declared result type.
pub(crate) fn call(name: &str, udf: Arc<ScalarUDF>, args: Vec<Typed>, ret: SqlType) -> Typed {
    let field = Arc::new(Field::new(name, arrow_type(&ret), true));
    let args = args.into_iter().map(|a| a.expr).collect();
    Typed { expr: Arc::new(ScalarFunctionExpr::new(name, udf, args, field, config())), ty: ret, null_literal: false }
}

/// Converts a value to `ty` (a typed NULL for untyped NULL literals).
pub fn cast_to(t: Typed, ty: &SqlType) -> Result<Typed> {
    if t.null_literal {
        let null = ScalarValue::try_from(&arrow_type(ty)).map_err(|e| PlanError::new(e.to_string()))?;
        return Ok(literal(null, ty.clone()));
    }
    if &t.ty == ty {
        return Ok(t);
    }
    Ok(Typed { expr: Arc::new(CastExpr::new(t.expr, arrow_type(ty), None)), ty: ty.clone(), null_literal: false })
}

/// Maps a sqlparser type (as in CAST) to a ksqlDB type.
fn sql_type(dt: &sql::DataType) -> Option<SqlType> {
    use sql::DataType as D;
    Some(match dt {
        D::Int(_) | D::Integer(_) | D::Int4(_) => SqlType::Int,
        D::BigInt(_) | D::Int8(_) | D::Int64 => SqlType::Bigint,
        D::Double(_) | D::DoublePrecision | D::Float(_) | D::Float8 | D::Real | D::Float64 => SqlType::Double,
        D::String(_) | D::Varchar(_) | D::Text | D::CharVarying(_) => SqlType::String,
        D::Boolean | D::Bool => SqlType::Boolean,
        D::Bytes(_) | D::Bytea | D::Binary(_) | D::Varbinary(_) => SqlType::Bytes,
        D::Date => SqlType::Date,
        D::Time(..) => SqlType::Time,
        D::Timestamp(..) => SqlType::Timestamp,
        D::Decimal(info) | D::Numeric(info) | D::Dec(info) => match info {
            sql::ExactNumberInfo::PrecisionAndScale(p, s) => SqlType::Decimal { precision: *p as u8, scale: *s as u8 },
            sql::ExactNumberInfo::Precision(p) => SqlType::Decimal { precision: *p as u8, scale: 0 },
            sql::ExactNumberInfo::None => return None,
        },
        other => return eddy_parser::parse_type(&other.to_string()).ok(),
    })
}

impl<'a> ExprPlanner<'a> {
    /// A planner over a scope.
    pub fn new(scope: &'a Scope) -> Self {
        Self { scope }
    }

    /// Plans an expression. Deep expressions (a 10,000-term `OR` chain) recurse once per level: the
    /// stack grows onto the heap when little of it is left.
    pub fn plan(&self, e: &sql::Expr) -> Result<Typed> {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.plan_expr(e))
    }

    fn plan_expr(&self, e: &sql::Expr) -> Result<Typed> {
        use sql::Expr as E;
        match e {
            E::Identifier(ident) => self.column(e, None, &fold_ident(ident)),
            E::CompoundIdentifier(parts) => match parts.as_slice() {
                [q, n] => self.column(e, Some(&fold_ident(q)), &fold_ident(n)),
                _ => err(e, format!("Unsupported column reference: {e}")),
            },
            E::Value(v) => self.value(e, &v.value),
            E::Nested(inner) => self.plan(inner),
            E::UnaryOp { op, expr } => {
                if *op == UnaryOperator::Minus {
                    if let Some(t) = negative_number(e, expr) {
                        return t;
                    }
                }
                let inner = self.plan(expr)?;
                match op {
                    UnaryOperator::Not => {
                        let inner = self.boolean(expr, inner)?;
                        Ok(Typed {
                            expr: Arc::new(NotExpr::new(inner.expr)),
                            ty: SqlType::Boolean,
                            null_literal: false,
                        })
                    }
                    UnaryOperator::Minus => {
                        if !inner.ty.is_numeric() {
                            return err(e, format!("Unsupported arithmetic: -{}", inner.ty));
                        }
                        Ok(Typed { expr: Arc::new(NegativeExpr::new(inner.expr)), ty: inner.ty, null_literal: false })
                    }
                    UnaryOperator::Plus => Ok(inner),
                    _ => err(e, format!("Unsupported operator: {op}")),
                }
            }
            E::BinaryOp { left, op, right } => self.binary(e, left, op, right),
            E::IsNull(inner) => {
                let t = self.plan(inner)?;
                Ok(Typed { expr: Arc::new(IsNullExpr::new(t.expr)), ty: SqlType::Boolean, null_literal: false })
            }
            E::IsNotNull(inner) => {
                let t = self.plan(inner)?;
                Ok(Typed { expr: Arc::new(IsNotNullExpr::new(t.expr)), ty: SqlType::Boolean, null_literal: false })
            }
            E::IsDistinctFrom(l, r) => {
                self.compare_exprs(e, Some(l), self.plan(l)?, Operator::IsDistinctFrom, Some(r), self.plan(r)?)
            }
            E::IsNotDistinctFrom(l, r) => {
                self.compare_exprs(e, Some(l), self.plan(l)?, Operator::IsNotDistinctFrom, Some(r), self.plan(r)?)
            }
            E::Between { expr, negated, low, high } => {
                let value = self.plan(expr)?;
                let low_t = self.plan(low)?;
                let high_t = self.plan(high)?;
                let ge = self.compare(e, value.clone(), Operator::GtEq, low_t)?;
                let le = self.compare(e, value, Operator::LtEq, high_t)?;
                let both: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(ge.expr, Operator::And, le.expr));
                let expr: Arc<dyn PhysicalExpr> = if *negated { Arc::new(NotExpr::new(both)) } else { both };
                Ok(Typed { expr, ty: SqlType::Boolean, null_literal: false })
            }
            E::InList { expr, list, negated } => {
                let value = self.plan(expr)?;
                let items = list
                    .iter()
                    .map(|i| {
                        let t = self.plan(i)?;
                        self.coerce_literal(Some(i), t, &value.ty)
                            .map_err(|x| PlanError { message: format!("Invalid Predicate: {}", x.message), ..x })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let mut ty = value.ty.clone();
                for (item, ast) in items.iter().zip(list) {
                    if item.null_literal {
                        continue;
                    }
                    ty = common_type(&ty, &item.ty).ok_or_else(|| {
                        PlanError::at(
                            format!(
                                "Invalid Predicate: operator does not exist: {} = {} ({ast})\nHint: You might need to add explicit type casts.",
                                value.ty, item.ty
                            ),
                            ast.span().start,
                        )
                    })?;
                }
                let value = cast_to(value, &ty)?;
                let items = items.into_iter().map(|i| cast_to(i, &ty).map(|t| t.expr)).collect::<Result<Vec<_>>>()?;
                let expr = InListExpr::try_new(value.expr, items, *negated, &self.scope.schema)
                    .map_err(|x| PlanError::at(x.to_string(), e.span().start))?;
                Ok(Typed { expr: Arc::new(expr), ty: SqlType::Boolean, null_literal: false })
            }
            E::Like { negated, expr, pattern, escape_char, any, .. }
            | E::ILike { negated, expr, pattern, escape_char, any, .. } => {
                if *any {
                    return err(e, "LIKE ANY is not supported");
                }
                if escape_char.as_ref().is_some_and(|c| c.to_string().trim_matches('\'') != "\\") {
                    return err(e, "LIKE ... ESCAPE supports only the backslash escape for now");
                }
                let value = self.string(expr, self.plan(expr)?)?;
                let pattern_t = self.string(pattern, self.plan(pattern)?)?;
                let insensitive = matches!(e, E::ILike { .. });
                Ok(Typed {
                    expr: Arc::new(LikeExpr::new(*negated, insensitive, value.expr, pattern_t.expr)),
                    ty: SqlType::Boolean,
                    null_literal: false,
                })
            }
            E::Case { operand, conditions, else_result, .. } => {
                self.case(e, operand.as_deref(), conditions, else_result.as_deref())
            }
            E::Cast { expr, data_type, .. } => {
                let inner = self.plan(expr)?;
                let Some(ty) = sql_type(data_type) else {
                    return err(e, format!("Unknown type: {data_type}"));
                };
                if inner.null_literal {
                    return cast_to(inner, &ty);
                }
                self.cast(e, inner, &ty)
            }
            E::Function(f) if eddy_parser::object_name(&f.name).eq_ignore_ascii_case("MAP") => {
                self.map_constructor(e, f)
            }
            E::Function(f) => self.function(e, f),
            // sqlparser reads SUBSTRING specially; ksqlDB's is an ordinary function.
            // sqlparser reads CEIL and FLOOR specially too.
            E::Ceil { expr, field } | E::Floor { expr, field } => {
                let name = if matches!(e, E::Ceil { .. }) { "CEIL" } else { "FLOOR" };
                let mut args = vec![self.plan(expr)?];
                match field {
                    sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime) => {}
                    sql::CeilFloorKind::Scale(v) => args.push(self.plan(&E::Value(v.clone()))?),
                    other => return err(e, format!("Unsupported argument in {name}: {other:?}")),
                }
                self.call_function(e, name, args)
            }
            E::Substring { expr, substring_from, substring_for, .. } => {
                let args = std::iter::once(expr)
                    .chain(substring_from)
                    .chain(substring_for)
                    .map(|a| self.plan(a))
                    .collect::<Result<Vec<_>>>()?;
                self.call_function(e, "SUBSTRING", args)
            }
            E::Array(array) => {
                if array.elem.is_empty() {
                    return err(e, "Array constructor cannot be empty. Please supply at least one element (see https://github.com/confluentinc/ksql/issues/4239).");
                }
                let items = array.elem.iter().map(|x| self.plan(x)).collect::<Result<Vec<_>>>()?;
                if items.iter().all(|i| i.null_literal) {
                    return err(e, "Cannot construct an array with all NULL elements (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL value to the desired type.");
                }
                let ty = self.common(e, &items, "ARRAY")?;
                let items = items.into_iter().map(|i| cast_to(i, &ty)).collect::<Result<Vec<_>>>()?;
                Ok(row_call("ARRAY", items, SqlType::Array(Box::new(ty)), build_array))
            }
            E::Struct { values, .. } => {
                let mut args = Vec::new();
                let mut fields = Vec::new();
                for v in values {
                    let sql::Expr::BinaryOp { left, op: BinaryOperator::Assignment, right } = v else {
                        return err(v, "Expected `name := value` in STRUCT");
                    };
                    let name = match left.as_ref() {
                        sql::Expr::Identifier(i) => fold_ident(i),
                        other => return err(other, "Expected a field name in STRUCT"),
                    };
                    if fields.iter().any(|(n, _)| *n == name) {
                        return err(v, format!("Duplicate field names found in STRUCT: '{name}'"));
                    }
                    let t = self.plan(right)?;
                    let t = if t.null_literal { cast_to(t, &SqlType::String)? } else { t };
                    fields.push((name.clone(), t.ty.clone()));
                    args.push(literal(ScalarValue::Utf8(Some(name)), SqlType::String));
                    args.push(t);
                }
                Ok(row_call("STRUCT", args, SqlType::Struct(fields), build_struct))
            }
            E::CompoundFieldAccess { root, access_chain } => {
                let mut base = self.plan(root)?;
                for access in access_chain {
                    let sql::AccessExpr::Subscript(sql::Subscript::Index { index }) = access else {
                        return err(e, format!("Unsupported access: {access}"));
                    };
                    let idx = self.plan(index)?;
                    base = match base.ty.clone() {
                        SqlType::Array(item) => {
                            let idx = cast_to(idx, &SqlType::Int)
                                .map_err(|_| PlanError::at("Array index must be an INTEGER", index.span().start))?;
                            row_call("ARRAY_INDEX", vec![base, idx], *item, array_index)
                        }
                        SqlType::Map(k, v) => {
                            let idx = cast_to(idx, &k)?;
                            row_call("MAP_INDEX", vec![base, idx], *v, map_index)
                        }
                        other => return err(e, format!("Cannot subscript a value of type {other}")),
                    };
                }
                Ok(base)
            }
            other => err(e, format!("Unsupported expression: {other}")),
        }
    }

    fn column(&self, e: &sql::Expr, qualifier: Option<&str>, name: &str) -> Result<Typed> {
        match self.scope.resolve(qualifier, name) {
            Ok(Some(i)) => {
                let c = &self.scope.columns[i];
                Ok(Typed { expr: Arc::new(Column::new(&c.name, i)), ty: c.ty.clone(), null_literal: false })
            }
            Ok(None) => {
                let shown = match qualifier {
                    Some(q) => format!("{q}.{name}"),
                    None => name.to_string(),
                };
                err(e, format!("Column '{shown}' cannot be resolved."))
                    .map_err(|x| x.of_kind(PlanErrorKind::UnknownColumn))
            }
            Err(message) => err(e, message),
        }
    }

    fn value(&self, e: &sql::Expr, v: &sql::Value) -> Result<Typed> {
        Ok(match v {
            sql::Value::Number(text, _) => {
                if text.contains(['e', 'E']) && text.parse::<f64>().is_ok_and(f64::is_infinite) {
                    // ksqlDB finds this while building the AST and words it as its parser does, with
                    // the column counted from 1 twice over (so one past the literal's first character).
                    let at = e.span().start;
                    let message = format!("Number overflows DOUBLE: {text}");
                    return err(
                        e,
                        format!("Failed to prepare statement: line {}:{}: {message}", at.line, at.column + 1),
                    );
                }
                number_literal(text).ok_or_else(|| PlanError::at(format!("Invalid number: {text}"), e.span().start))?
            }
            sql::Value::SingleQuotedString(s) => literal(ScalarValue::Utf8(Some(s.clone())), SqlType::String),
            sql::Value::Boolean(b) => literal(ScalarValue::Boolean(Some(*b)), SqlType::Boolean),
            sql::Value::Null => {
                Typed { expr: Arc::new(Literal::new(ScalarValue::Utf8(None))), ty: SqlType::String, null_literal: true }
            }
            other => return err(e, format!("Unsupported literal: {other}")),
        })
    }

    fn boolean(&self, e: &sql::Expr, t: Typed) -> Result<Typed> {
        if t.null_literal {
            return cast_to(t, &SqlType::Boolean);
        }
        if t.ty != SqlType::Boolean {
            return err(e, format!("Type mismatch: expected BOOLEAN, got {}", t.ty));
        }
        Ok(t)
    }

    fn string(&self, e: &sql::Expr, t: Typed) -> Result<Typed> {
        if t.null_literal {
            return cast_to(t, &SqlType::String);
        }
        if t.ty != SqlType::String {
            return err(e, format!("Type mismatch: expected STRING, got {}", t.ty));
        }
        Ok(t)
    }

    /// CAST with ksqlDB's allowed conversions.
    fn cast(&self, e: &sql::Expr, t: Typed, ty: &SqlType) -> Result<Typed> {
        let allowed = t.ty == *ty
            || (t.ty.is_numeric() && ty.is_numeric())
            || matches!(ty, SqlType::String)
            || matches!(t.ty, SqlType::String) && (ty.is_primitive() || matches!(ty, SqlType::Decimal { .. }))
            || matches!(
                (&t.ty, ty),
                (SqlType::Timestamp, SqlType::Date | SqlType::Time) | (SqlType::Date, SqlType::Timestamp)
            )
            || matches!(
                (&t.ty, ty),
                (SqlType::Array(_), SqlType::Array(_))
                    | (SqlType::Map(..), SqlType::Map(..))
                    | (SqlType::Struct(_), SqlType::Struct(_))
            );
        if !allowed {
            return err(e, format!("Cast of {} to {ty} is not supported", t.ty));
        }
        cast_to(t, ty)
    }

    fn compare(&self, e: &sql::Expr, l: Typed, op: Operator, r: Typed) -> Result<Typed> {
        self.compare_exprs(e, None, l, op, None, r)
    }

    /// A string literal compared with a number or boolean is read as that type, as ksqlDB does.
    fn coerce_literal(&self, ast: Option<&sql::Expr>, t: Typed, target: &SqlType) -> Result<Typed> {
        let Some(sql::Expr::Value(v)) = ast else { return Ok(t) };
        let sql::Value::SingleQuotedString(text) = &v.value else { return Ok(t) };
        if t.ty != SqlType::String || !(target.is_numeric() || *target == SqlType::Boolean) {
            return Ok(t);
        }
        let bad = || PlanError::at(format!("invalid input syntax for type {target}: \"{text}\"."), v.span.start);
        let value = match target {
            SqlType::Int | SqlType::Bigint => {
                // Integral text, or a decimal with a zero fraction ("4.000"); wide values become BIGINT.
                let t = text.trim();
                let n: i64 = match t.parse::<i64>() {
                    Ok(n) => n,
                    Err(_) => match t.parse::<f64>() {
                        Ok(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => f as i64,
                        _ => return Err(bad()),
                    },
                };
                match i32::try_from(n) {
                    Ok(i) if *target == SqlType::Int => return Ok(literal(ScalarValue::Int32(Some(i)), SqlType::Int)),
                    _ => return Ok(literal(ScalarValue::Int64(Some(n)), SqlType::Bigint)),
                }
            }
            SqlType::Double => ScalarValue::Float64(Some(text.trim().parse().map_err(|_| bad())?)),
            SqlType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
                "true" => ScalarValue::Boolean(Some(true)),
                "false" => ScalarValue::Boolean(Some(false)),
                _ => return Err(bad()),
            },
            SqlType::Decimal { precision, scale } => {
                let d = eddy_runtime::parse_decimal(text, *precision, *scale).ok_or_else(bad)?;
                ScalarValue::Decimal128(Some(d), *precision, *scale as i8)
            }
            _ => return Ok(t),
        };
        Ok(literal(value, target.clone()))
    }

    fn compare_exprs(
        &self,
        e: &sql::Expr,
        l_ast: Option<&sql::Expr>,
        l: Typed,
        op: Operator,
        r_ast: Option<&sql::Expr>,
        r: Typed,
    ) -> Result<Typed> {
        // An unparsable literal is a type mismatch here (IN lists report the parse error instead).
        let l = self.coerce_literal(l_ast, l.clone(), &r.ty.clone()).unwrap_or(l);
        let r = self.coerce_literal(r_ast, r.clone(), &l.ty.clone()).unwrap_or(r);
        let ty = match (l.null_literal, r.null_literal) {
            (true, true) => {
                return err(e, format!("Comparison with NULL not supported: NULL {} NULL", op_symbol(op)));
            }
            (true, false) => r.ty.clone(),
            (false, true) => l.ty.clone(),
            _ => common_type(&l.ty, &r.ty).ok_or_else(|| {
                let show = |ast: Option<&sql::Expr>, t: &SqlType| match ast {
                    Some(sql::Expr::Identifier(i)) => format!("{} ({t})", fold_ident(i)),
                    Some(sql::Expr::CompoundIdentifier(p)) if p.len() == 2 => {
                        format!("{}_{} ({t})", fold_ident(&p[0]), fold_ident(&p[1]))
                    }
                    Some(other) => format!("{other} ({t})"),
                    None => t.to_string(),
                };
                PlanError::at(
                    format!("Cannot compare {} to {} with {}.", show(l_ast, &l.ty), show(r_ast, &r.ty), op_name(op)),
                    e.span().start,
                )
            })?,
        };
        let equality =
            matches!(op, Operator::Eq | Operator::NotEq | Operator::IsDistinctFrom | Operator::IsNotDistinctFrom);
        if matches!(ty, SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)) && !equality {
            let show = |ast: Option<&sql::Expr>| match ast {
                Some(sql::Expr::Identifier(i)) => format!("{} ({ty})", fold_ident(i)),
                Some(other) => format!("{other} ({ty})"),
                None => ty.to_string(),
            };
            return err(e, format!("Cannot compare {} to {} with {}.", show(l_ast), show(r_ast), op_name(op)));
        }
        let l = cast_to(l, &ty)?;
        let r = cast_to(r, &ty)?;
        Ok(Typed { expr: Arc::new(BinaryExpr::new(l.expr, op, r.expr)), ty: SqlType::Boolean, null_literal: false })
    }

    fn binary(&self, e: &sql::Expr, left: &sql::Expr, op: &BinaryOperator, right: &sql::Expr) -> Result<Typed> {
        if *op == BinaryOperator::Arrow {
            return self.field_access(e, left, right);
        }
        let l = self.plan(left)?;
        let r = self.plan(right)?;
        let df_op = match op {
            BinaryOperator::Eq => Operator::Eq,
            BinaryOperator::NotEq => Operator::NotEq,
            BinaryOperator::Lt => Operator::Lt,
            BinaryOperator::LtEq => Operator::LtEq,
            BinaryOperator::Gt => Operator::Gt,
            BinaryOperator::GtEq => Operator::GtEq,
            BinaryOperator::And | BinaryOperator::Or => {
                let l = self.boolean(left, l)?;
                let r = self.boolean(right, r)?;
                let op = if *op == BinaryOperator::And { Operator::And } else { Operator::Or };
                return Ok(Typed {
                    expr: Arc::new(BinaryExpr::new(l.expr, op, r.expr)),
                    ty: SqlType::Boolean,
                    null_literal: false,
                });
            }
            BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo => {
                return self.arithmetic(e, l, op, r);
            }
            BinaryOperator::StringConcat => return self.concat(e, l, r),
            other => return err(e, format!("Unsupported operator: {other}")),
        };
        self.compare_exprs(e, Some(left), l, df_op, Some(right), r)
    }

    fn concat(&self, e: &sql::Expr, l: Typed, r: Typed) -> Result<Typed> {
        let l = self.string(e, l)?;
        let r = self.string(e, r)?;
        let f = resolve_function("CONCAT", &[SqlType::String, SqlType::String])
            .and_then(|r| r.ok())
            .ok_or_else(|| PlanError::new("CONCAT is missing"))?;
        Ok(call("CONCAT", f.udf, vec![l, r], SqlType::String))
    }

    fn arithmetic(&self, e: &sql::Expr, l: Typed, op: &BinaryOperator, r: Typed) -> Result<Typed> {
        let symbol = match op {
            BinaryOperator::Plus => '+',
            BinaryOperator::Minus => '-',
            BinaryOperator::Multiply => '*',
            BinaryOperator::Divide => '/',
            _ => '%',
        };
        // ksqlDB refuses arithmetic with a bare NULL: its type is unknown.
        if l.null_literal || r.null_literal {
            let show = |t: &Typed| if t.null_literal { "null".to_string() } else { t.ty.to_string() };
            return err(
                e,
                format!(
                    "Error processing expression: {}. Arithmetic on types {} and {} are not supported.",
                    crate::pull_keys::format_expr(e),
                    show(&l),
                    show(&r)
                ),
            );
        }
        if symbol == '+'
            && (l.ty == SqlType::String || r.ty == SqlType::String)
            && !(l.ty.is_numeric() || r.ty.is_numeric())
        {
            return self.concat(e, l, r);
        }
        let (lt, rt) = (
            if l.null_literal { r.ty.clone() } else { l.ty.clone() },
            if r.null_literal { l.ty.clone() } else { r.ty.clone() },
        );
        let Some(wide) = wider_numeric(&lt, &rt) else {
            let base = |t: &SqlType| t.to_string().split('(').next().unwrap_or_default().to_string();
            return err(
                e,
                format!(
                    "Error processing expression: {}. Unsupported arithmetic types. {} {}",
                    ksql_format(e),
                    base(&lt),
                    base(&rt)
                ),
            );
        };
        let df_op = match symbol {
            '+' => Operator::Plus,
            '-' => Operator::Minus,
            '*' => Operator::Multiply,
            '/' => Operator::Divide,
            _ => Operator::Modulo,
        };
        if let SqlType::Decimal { .. } = wide {
            let (a, b) = (as_decimal(&lt).unwrap_or((38, 0)), as_decimal(&rt).unwrap_or((38, 0)));
            let result = decimal_arithmetic(symbol, a, b);
            // Compute at the result's scale with the widest precision, then fit the declared result.
            let SqlType::Decimal { scale, .. } = result else { unreachable!("decimal_arithmetic returns DECIMAL") };
            let work = match symbol {
                '*' => SqlType::Decimal { precision: 38, scale: a.1.max(b.1) },
                _ => SqlType::Decimal { precision: 38, scale: scale.max(a.1).max(b.1) },
            };
            let (l, r) = (cast_to(l, &work)?, cast_to(r, &work)?);
            let raw: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(l.expr, df_op, r.expr));
            let out = Arc::new(CastExpr::new(raw, arrow_type(&result), None));
            return Ok(Typed { expr: out, ty: result, null_literal: false });
        }
        let l = cast_to(l, &wide)?;
        let r = cast_to(r, &wide)?;
        Ok(Typed { expr: Arc::new(BinaryExpr::new(l.expr, df_op, r.expr)), ty: wide, null_literal: false })
    }

    /// The common type of items (NULL literals take it), for ARRAY and MAP constructors.
    fn common(&self, e: &sql::Expr, items: &[Typed], what: &str) -> Result<SqlType> {
        let mut ty: Option<SqlType> = None;
        for i in items.iter().filter(|i| !i.null_literal) {
            ty = Some(match ty {
                None => i.ty.clone(),
                Some(t) => common_type(&t, &i.ty).ok_or_else(|| {
                    PlanError::at(format!("invalid input syntax for type {t}: {what} elements must all be of the same type, got {} and {t}", i.ty), e.span().start)
                })?,
            });
        }
        Ok(ty.unwrap_or(SqlType::String))
    }

    /// `MAP(k := v, ...)`: quoted names are string keys, bare names are columns.
    fn map_constructor(&self, e: &sql::Expr, f: &sql::Function) -> Result<Typed> {
        let sql::FunctionArguments::List(list) = &f.args else { return err(e, "Expected MAP(key := value, ...)") };
        let mut keys = Vec::new();
        let mut values = Vec::new();
        for a in &list.args {
            let sql::FunctionArg::Named { name, arg: sql::FunctionArgExpr::Expr(v), .. } = a else {
                return err(e, format!("Expected `key := value` in MAP, got {a}"));
            };
            let key = if name.quote_style == Some('\'') {
                literal(ScalarValue::Utf8(Some(name.value.clone())), SqlType::String)
            } else if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("NULL") {
                self.plan(&sql::Expr::Value(sql::Value::Null.into()))?
            } else {
                self.plan(&sql::Expr::Identifier(name.clone()))?
            };
            keys.push(key);
            values.push(self.plan(v)?);
        }
        if keys.is_empty() {
            return err(e, "Map constructor cannot be empty. Please supply at least one key value pair (see https://github.com/confluentinc/ksql/issues/4239).");
        }
        if keys.iter().all(|k| k.null_literal) {
            return err(e, "Cannot construct a map with all NULL keys (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL value to the desired type.");
        }
        if values.iter().all(|v| v.null_literal) {
            return err(e, "Cannot construct a map with all NULL values (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL value to the desired type.");
        }
        let kt = self.common(e, &keys, "MAP")?;
        let vt = self.common(e, &values, "MAP")?;
        let mut args = Vec::new();
        for (k, v) in keys.into_iter().zip(values) {
            args.push(cast_to(k, &kt)?);
            args.push(cast_to(v, &vt)?);
        }
        Ok(row_call("MAP", args, SqlType::Map(Box::new(kt), Box::new(vt)), build_map))
    }

    fn field_access(&self, e: &sql::Expr, left: &sql::Expr, right: &sql::Expr) -> Result<Typed> {
        let base = self.plan(left)?;
        let name = match right {
            sql::Expr::Identifier(i) => fold_ident(i),
            _ => return err(right, "Expected a field name after '->'"),
        };
        let SqlType::Struct(fields) = &base.ty else {
            return err(e, format!("Expected STRUCT type for '->' but got {}", base.ty));
        };
        let Some(ty) = fields.iter().find(|(n, _)| *n == name).map(|(_, t)| t.clone()) else {
            return err(right, format!("Could not find field '{name}' in '{left}'."));
        };
        let udf = RowUdf::new("FIELD", vec![base.ty.clone(), SqlType::String], ty.clone(), struct_field);
        let name_lit = literal(ScalarValue::Utf8(Some(name)), SqlType::String);
        Ok(call("FIELD", Arc::new(ScalarUDF::new_from_impl(udf)), vec![base, name_lit], ty))
    }

    fn case(
        &self,
        e: &sql::Expr,
        operand: Option<&sql::Expr>,
        conditions: &[sql::CaseWhen],
        else_result: Option<&sql::Expr>,
    ) -> Result<Typed> {
        let operand = operand.map(|o| self.plan(o)).transpose()?;
        let mut whens = Vec::new();
        let mut results = Vec::new();
        for cw in conditions {
            let cond = self.plan(&cw.condition)?;
            let cond = match &operand {
                Some(op) => self.compare(&cw.condition, op.clone(), Operator::Eq, cond)?,
                None => self.boolean(&cw.condition, cond)?,
            };
            whens.push(cond);
            results.push(self.plan(&cw.result)?);
        }
        let else_t = else_result.map(|x| self.plan(x)).transpose()?;
        let mut ty: Option<SqlType> = None;
        for r in results.iter().chain(else_t.iter()) {
            if r.null_literal {
                continue;
            }
            ty = Some(match ty {
                None => r.ty.clone(),
                Some(t) => common_type(&t, &r.ty)
                    .ok_or_else(|| PlanError::at(format!("Invalid Case expression. Type for all 'THEN' clauses should be the same. THEN expression has type: {}, but previous had {t}.", r.ty), e.span().start))?,
            });
        }
        let Some(ty) = ty else {
            return err(e, "Invalid Case expression. All case branches have NULL type");
        };
        let when_then = whens
            .into_iter()
            .zip(results)
            .map(|(w, r)| Ok((w.expr, cast_to(r, &ty)?.expr)))
            .collect::<Result<Vec<_>>>()?;
        let else_expr = else_t.map(|x| cast_to(x, &ty)).transpose()?.map(|t| t.expr);
        let expr =
            CaseExpr::try_new(None, when_then, else_expr).map_err(|x| PlanError::at(x.to_string(), e.span().start))?;
        Ok(Typed { expr: Arc::new(expr), ty, null_literal: false })
    }

    fn function(&self, e: &sql::Expr, f: &sql::Function) -> Result<Typed> {
        let name = eddy_parser::object_name(&f.name).to_uppercase();
        if let Some(kind) = crate::lambda::lambda_kind(&name) {
            return crate::lambda::plan_lambda_call(self, e, &name, kind, f);
        }
        if eddy_runtime::operator::TableFunction::of(&name).is_some() {
            // The SELECT list's table functions are planned as a flat map before expressions see them.
            return err(e, format!("Table function {name} can only be used in the SELECT list of a stream query"));
        }
        if !is_aggregate(&name) && !eddy_runtime::function::function_names().contains(&name.as_str()) {
            return err(e, format!("Can't find any functions with the name '{name}'"));
        }
        let args = match &f.args {
            sql::FunctionArguments::None => Vec::new(),
            // `F(*)` of a scalar function passes no arguments (the signature check then says so).
            sql::FunctionArguments::List(list)
                if !is_aggregate(&name)
                    && matches!(list.args.as_slice(), [sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Wildcard)]) =>
            {
                Vec::new()
            }
            sql::FunctionArguments::List(list) => list
                .args
                .iter()
                .enumerate()
                .map(|(i, a)| match a {
                    // DATEADD(DAYS, ...) and its kind: the first argument is a time unit, read as its name.
                    sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(sql::Expr::Identifier(unit)))
                        if i == 0
                            && eddy_runtime::function::takes_time_unit(&name)
                            && eddy_runtime::function::time_unit_millis(&fold_ident(unit)).is_some() =>
                    {
                        Ok(literal(ScalarValue::Utf8(Some(fold_ident(unit))), SqlType::String))
                    }
                    sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(x)) => self.plan(x),
                    _ => err(e, format!("Unsupported argument in {name}: {a}")),
                })
                .collect::<Result<Vec<_>>>()?,
            sql::FunctionArguments::Subquery(_) => return err(e, "Subqueries are not supported"),
        };
        if is_aggregate(&name) {
            return err(
                e,
                format!(
                    "Aggregate function {name} is not supported here: aggregates belong in the projection or HAVING of a GROUP BY query"
                ),
            );
        }
        self.call_function(e, &name, args)
    }

    /// Resolves and calls a scalar function on planned arguments, widening integers where needed.
    fn call_function(&self, e: &sql::Expr, name: &str, args: Vec<Typed>) -> Result<Typed> {
        let name = name.to_string();
        // Untyped NULL arguments take the type of the first typed argument.
        let args = match args.iter().find(|a| !a.null_literal).map(|a| a.ty.clone()) {
            Some(ty) => args
                .into_iter()
                .map(|a| if a.null_literal { cast_to(a, &ty) } else { Ok(a) })
                .collect::<Result<Vec<_>>>()?,
            None => args,
        };
        let args = if matches!(name.as_str(), "GREATEST" | "LEAST") { comparable_arguments(args)? } else { args };
        let types: Vec<SqlType> = args.iter().map(|a| a.ty.clone()).collect();
        match resolve_function(&name, &types) {
            None => err(e, format!("Can't find any functions with the name '{name}'")),
            Some(Ok(found)) => Ok(call(&name, found.udf, args, found.return_type)),
            Some(Err(message)) => {
                // Try widening integer (and, to DOUBLE, decimal) arguments, as ksqlDB's implicit casts do.
                for widen in [SqlType::Bigint, SqlType::Double] {
                    let widened: Vec<SqlType> = types
                        .iter()
                        .map(|t| {
                            let decimal_to_double = widen == SqlType::Double && matches!(t, SqlType::Decimal { .. });
                            if decimal_to_double
                                || matches!(t, SqlType::Int | SqlType::Bigint)
                                    && wider_numeric(t, &widen) == Some(widen.clone())
                            {
                                widen.clone()
                            } else {
                                t.clone()
                            }
                        })
                        .collect();
                    if let Some(Ok(found)) = resolve_function(&name, &widened) {
                        let args =
                            args.into_iter().zip(&widened).map(|(a, t)| cast_to(a, t)).collect::<Result<Vec<_>>>()?;
                        return Ok(call(&name, found.udf, args, found.return_type));
                    }
                }
                err(e, message)
            }
        }
    }
}

/// GREATEST / LEAST arguments brought to one type as ksqlDB does: strings next to dates, times or
/// timestamps read as those; decimals of different precision widen to one that holds them all.
fn comparable_arguments(args: Vec<Typed>) -> Result<Vec<Typed>> {
    let temporal = args.iter().map(|a| &a.ty).find(|t| matches!(t, SqlType::Date | SqlType::Time | SqlType::Timestamp));
    if let Some(ty) = temporal.cloned() {
        return args.into_iter().map(|a| if a.ty == SqlType::String { cast_to(a, &ty) } else { Ok(a) }).collect();
    }
    if args.len() > 1 && args.iter().all(|a| matches!(a.ty, SqlType::Decimal { .. })) {
        let first = args[0].ty.clone();
        let common = args.iter().skip(1).try_fold(first, |acc, a| wider_numeric(&acc, &a.ty));
        if let Some(ty) = common {
            return args.into_iter().map(|a| cast_to(a, &ty)).collect();
        }
    }
    Ok(args)
}

/// A row-wise UDF call with a declared result type.
fn row_call(name: &str, args: Vec<Typed>, ret: SqlType, f: eddy_runtime::function::RowFn) -> Typed {
    let types = args.iter().map(|a| a.ty.clone()).collect();
    let udf = RowUdf::new(name, types, ret.clone(), f);
    call(name, Arc::new(ScalarUDF::new_from_impl(udf)), args, ret)
}

fn build_array(args: &[Value]) -> std::result::Result<Value, String> {
    Ok(Value::Array(args.to_vec()))
}

fn build_map(args: &[Value]) -> std::result::Result<Value, String> {
    Ok(Value::Map(args.chunks(2).filter(|kv| kv.len() == 2).map(|kv| (kv[0].clone(), kv[1].clone())).collect()))
}

fn build_struct(args: &[Value]) -> std::result::Result<Value, String> {
    Ok(Value::Struct(
        args.chunks(2)
            .filter_map(|nv| match nv {
                [Value::String(n), v] => Some((n.clone(), v.clone())),
                _ => None,
            })
            .collect(),
    ))
}

/// `array[i]`: 1-based, negative from the end, NULL when out of range.
fn array_index(args: &[Value]) -> std::result::Result<Value, String> {
    let (Value::Array(items), Value::Int(i)) = (&args[0], &args[1]) else { return Ok(Value::Null) };
    let n = items.len() as i64;
    let i = *i as i64;
    let idx = if i > 0 { i - 1 } else { n + i };
    Ok(if (0..n).contains(&idx) { items[idx as usize].clone() } else { Value::Null })
}

fn map_index(args: &[Value]) -> std::result::Result<Value, String> {
    let Value::Map(entries) = &args[0] else { return Ok(Value::Null) };
    Ok(entries.iter().find(|(k, _)| *k == args[1]).map(|(_, v)| v.clone()).unwrap_or(Value::Null))
}

fn struct_field(args: &[Value]) -> std::result::Result<Value, String> {
    match (&args[0], &args[1]) {
        (Value::Struct(fields), Value::String(name)) => {
            Ok(fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or(Value::Null))
        }
        _ => Ok(Value::Null),
    }
}

/// An expression as ksqlDB prints it: binary operations in parentheses.
/// An expression as ksqlDB prints it in messages: names in upper case, binary operations in
/// parentheses (`(F1 + SUM(F2))`).
pub(crate) fn ksql_display(e: &sql::Expr) -> String {
    let mut e = e.clone();
    let _ = sql::visit_expressions_mut(&mut e, |x: &mut sql::Expr| {
        match x {
            sql::Expr::Identifier(i) => *i = sql::Ident::new(fold_ident(i)),
            sql::Expr::CompoundIdentifier(parts) => parts.iter_mut().for_each(|p| *p = sql::Ident::new(fold_ident(p))),
            sql::Expr::Function(f) => {
                f.name = sql::ObjectName::from(vec![sql::Ident::new(eddy_parser::object_name(&f.name).to_uppercase())])
            }
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    ksql_format(&e)
}

pub(crate) fn ksql_format(e: &sql::Expr) -> String {
    match e {
        sql::Expr::BinaryOp { left, op, right } => format!("({} {op} {})", ksql_format(left), ksql_format(right)),
        sql::Expr::Nested(inner) => ksql_format(inner),
        other => other.to_string(),
    }
}

/// ksqlDB's spelling of a comparison operator.
fn op_symbol(op: Operator) -> &'static str {
    match op {
        Operator::Eq => "=",
        Operator::NotEq => "<>",
        Operator::Lt => "<",
        Operator::LtEq => "<=",
        Operator::Gt => ">",
        Operator::GtEq => ">=",
        Operator::IsDistinctFrom => "IS DISTINCT FROM",
        Operator::IsNotDistinctFrom => "IS NOT DISTINCT FROM",
        _ => "?",
    }
}

fn op_name(op: Operator) -> &'static str {
    match op {
        Operator::Eq => "EQUAL",
        Operator::NotEq => "NOT_EQUAL",
        Operator::Lt => "LESS_THAN",
        Operator::LtEq => "LESS_THAN_OR_EQUAL",
        Operator::Gt => "GREATER_THAN",
        Operator::GtEq => "GREATER_THAN_OR_EQUAL",
        Operator::IsDistinctFrom => "IS_DISTINCT_FROM",
        Operator::IsNotDistinctFrom => "IS_NOT_DISTINCT_FROM",
        _ => "COMPARISON",
    }
}

/// Whether a call is of an aggregate function: one the runtime implements, or STDDEV_POP (known to
/// ksqlDB's grammar of aggregates, refused when resolved).
pub(crate) fn is_aggregate(name: &str) -> bool {
    eddy_runtime::aggregate::AGGREGATE_NAMES.contains(&name) || name == "STDDEV_POP"
}

/// A numeric literal as ksqlDB types it: INT, BIGINT, DECIMAL (with a point) or DOUBLE (with an exponent).
/// `-<number>` as one literal, so that overflow is judged on the negative value as ksqlDB does.
/// None for decimals (negated exactly by the general path) and for anything but a number.
fn negative_number(e: &sql::Expr, operand: &sql::Expr) -> Option<Result<Typed>> {
    let sql::Expr::Value(v) = operand else { return None };
    let sql::Value::Number(text, _) = &v.value else { return None };
    let negative = format!("-{text}");
    if text.contains(['e', 'E']) {
        return Some(match negative.parse::<f64>() {
            Ok(x) if x.is_infinite() => err(e, format!("Number overflows DOUBLE: {negative}")),
            Ok(x) => Ok(literal(ScalarValue::Float64(Some(x)), SqlType::Double)),
            Err(_) => err(e, format!("Invalid number: {negative}")),
        });
    }
    if text.contains('.') {
        return None;
    }
    Some(match (negative.parse::<i32>(), negative.parse::<i64>()) {
        (Ok(v), _) => Ok(literal(ScalarValue::Int32(Some(v)), SqlType::Int)),
        (_, Ok(v)) => Ok(literal(ScalarValue::Int64(Some(v)), SqlType::Bigint)),
        _ => err(e, format!("Invalid numeric literal: {negative}")),
    })
}

fn number_literal(text: &str) -> Option<Typed> {
    if text.contains(['e', 'E']) {
        return Some(literal(ScalarValue::Float64(Some(text.parse().ok()?)), SqlType::Double));
    }
    if let Some((int, frac)) = text.split_once('.') {
        let int_digits = int.trim_start_matches('0').len();
        let scale = frac.len() as u8;
        let precision = ((int_digits + frac.len()).max(1) as u8).max(scale).min(38);
        let unscaled = eddy_runtime::parse_decimal(text, precision, scale)?;
        return Some(literal(
            ScalarValue::Decimal128(Some(unscaled), precision, scale as i8),
            SqlType::Decimal { precision, scale },
        ));
    }
    if let Ok(v) = text.parse::<i32>() {
        return Some(literal(ScalarValue::Int32(Some(v)), SqlType::Int));
    }
    if let Ok(v) = text.parse::<i64>() {
        return Some(literal(ScalarValue::Int64(Some(v)), SqlType::Bigint));
    }
    let scale = 0u8;
    let unscaled = eddy_runtime::parse_decimal(text, 38, scale)?;
    Some(literal(ScalarValue::Decimal128(Some(unscaled), 38, 0), SqlType::Decimal { precision: 38, scale: 0 }))
}

/// Evaluates an expression that names no columns (INSERT VALUES), converted to `ty` if given.
pub fn evaluate_constant(e: &sql::Expr, ty: Option<&SqlType>) -> Result<Value> {
    let scope = Scope::empty();
    let planner = ExprPlanner::new(&scope);
    let mut t = planner.plan(e)?;
    if let Some(ty) = ty {
        if !t.null_literal && t.ty != *ty {
            t = planner.cast(e, t, ty)?;
        } else {
            t = cast_to(t, ty)?;
        }
    }
    let batch = RecordBatch::try_new_with_options(
        scope.schema.clone(),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )
    .map_err(|x| PlanError::new(x.to_string()))?;
    let array = t
        .expr
        .evaluate(&batch)
        .and_then(|v| v.into_array(1))
        .map_err(|x| PlanError::at(format!("Failed to evaluate {e}: {x}"), e.span().start))?;
    if array.data_type() == &DataType::Null {
        return Ok(Value::Null);
    }
    Ok(array_value(array.as_ref(), 0))
}
