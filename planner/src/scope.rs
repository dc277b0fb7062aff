//! The columns an expression can name: pseudo-columns, keys and values of the input, with qualifiers.

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use eddy_catalog::{arrow_field, SqlType};

/// One column visible to expressions, at its index in the input batch.
#[derive(Debug, Clone)]
pub struct ScopeColumn {
    pub qualifier: Option<String>,
    pub name: String,
    pub ty: SqlType,
}

/// The input columns of an operator.
#[derive(Debug, Clone)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
    pub schema: SchemaRef,
}

impl Scope {
    /// A scope over columns (qualifier, name, type), in batch order.
    pub fn new(columns: Vec<ScopeColumn>) -> Self {
        let schema = Arc::new(Schema::new(columns.iter().map(|c| arrow_field(&c.name, &c.ty)).collect::<Vec<_>>()));
        Self { columns, schema }
    }

    /// An empty scope, for constant expressions.
    pub fn empty() -> Self {
        Self::new(Vec::new())
    }

    /// The index of the column a plain reference (`name` or `qualifier.name`) resolves to.
    pub fn index_of(&self, e: &sqlparser::ast::Expr) -> Option<usize> {
        use eddy_parser::fold_ident;
        use sqlparser::ast::Expr;
        let (q, n) = match e {
            Expr::Identifier(i) => (None, fold_ident(i)),
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => (Some(fold_ident(&parts[0])), fold_ident(&parts[1])),
            _ => return None,
        };
        self.resolve(q.as_deref(), &n).ok().flatten()
    }

    /// Finds a column by name, optionally qualified. Returns its index; ambiguity is an error message.
    pub fn resolve(&self, qualifier: Option<&str>, name: &str) -> Result<Option<usize>, String> {
        let matches: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name == name && (qualifier.is_none() || c.qualifier.as_deref() == qualifier))
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [] => Ok(None),
            [i] => Ok(Some(*i)),
            // A join's own ROWTIME (unqualified) wins over its sources' qualified ones.
            many => match many.iter().filter(|i| self.columns[**i].qualifier.is_none()).collect::<Vec<_>>()[..] {
                [i] if qualifier.is_none() => Ok(Some(*i)),
                _ => Err(format!("Column '{name}' is ambiguous.")),
            },
        }
    }
}
