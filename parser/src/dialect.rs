//! The sqlparser dialect for ksqlDB expressions: generic SQL, with `->` (struct field access)
//! binding tighter than any operator, as in ksqlDB (`s->f = 1` is `(s->f) = 1`).

use sqlparser::ast::{
    CastKind, DataType, Expr, Ident, LambdaFunction, LambdaFunctionParameter, LambdaSyntax, ObjectName,
    OneOrManyWithParens,
};
use sqlparser::dialect::{Dialect, GenericDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use crate::type_parser::parse_sql_type;

/// ksqlDB's expression dialect.
#[derive(Debug, Default)]
pub struct KsqlDialect;

/// Delegates a dialect feature to the generic dialect.
macro_rules! generic {
    ($($name:ident),* $(,)?) => {
        $(fn $name(&self) -> bool {
            GenericDialect {}.$name()
        })*
    };
}

impl Dialect for KsqlDialect {
    // The parser special-cases the generic dialect in places; be it, apart from `->`.
    fn dialect(&self) -> std::any::TypeId {
        std::any::TypeId::of::<GenericDialect>()
    }

    generic!(
        supports_named_fn_args_with_assignment_operator,
        supports_struct_literal,
        supports_dictionary_syntax,
        supports_array_typedef_with_brackets,
        supports_string_escape_constant,
        supports_unicode_string_literal,
        supports_nested_comments,
        supports_group_by_expr,
        supports_window_function_null_treatment_arg,
        supports_select_wildcard_except,
        supports_empty_projections,
        supports_try_convert,
        supports_interval_options,
    );

    fn is_identifier_start(&self, ch: char) -> bool {
        GenericDialect {}.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        GenericDialect {}.is_identifier_part(ch)
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        GenericDialect {}.is_delimited_identifier_start(ch)
    }

    /// ksqlDB identifiers may start with digits (`AS 1R`).
    fn supports_numeric_prefix(&self) -> bool {
        true
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        GenericDialect {}.supports_filter_during_aggregation()
    }

    /// `CAST(expr AS type)` takes ksqlDB's types (`MAP<K, V>`, `STRUCT<..>`, `VARCHAR(STRING)`), which
    /// sqlparser's type grammar does not know. The type travels as a custom type named by its ksqlDB text.
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let is_cast = matches!(&parser.peek_token_ref().token,
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("CAST"))
            && parser.peek_nth_token_ref(1).token == Token::LParen;
        if !is_cast {
            return None;
        }
        parser.next_token();
        parser.next_token();
        Some(cast_rest(parser))
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        match parser.peek_token_ref().token {
            Token::Arrow => Some(Ok(self.prec_value(Precedence::DoubleColon))),
            // A lambda's `=>` binds loosest: its body is the whole expression after it.
            Token::RArrow => Some(Ok(1)),
            _ => None,
        }
    }

    /// `x => body` and `(a, b) => body`: ksqlDB's lambdas (TRANSFORM, FILTER, REDUCE).
    fn parse_infix(&self, parser: &mut Parser, expr: &Expr, _precedence: u8) -> Option<Result<Expr, ParserError>> {
        if parser.peek_token_ref().token != Token::RArrow {
            return None;
        }
        let param = |e: &Expr| match e {
            Expr::Identifier(name) => Ok(LambdaFunctionParameter { name: name.clone(), data_type: None }),
            other => Err(ParserError::ParserError(format!("Expected a lambda parameter name, found: {other}"))),
        };
        let params = match expr {
            Expr::Identifier(_) => param(expr).map(OneOrManyWithParens::One),
            Expr::Nested(inner) => param(inner).map(|p| OneOrManyWithParens::Many(vec![p])),
            Expr::Tuple(items) => items.iter().map(param).collect::<Result<Vec<_>, _>>().map(OneOrManyWithParens::Many),
            other => Err(ParserError::ParserError(format!("Expected lambda parameters before =>, found: {other}"))),
        };
        Some(params.and_then(|params| {
            parser.next_token();
            let body = parser.parse_expr()?;
            Ok(Expr::Lambda(LambdaFunction { params, body: Box::new(body), syntax: LambdaSyntax::Arrow }))
        }))
    }

    /// `=>` is a lambda here, never a named argument.
    fn supports_named_fn_args_with_rarrow_operator(&self) -> bool {
        false
    }
}

/// The rest of `CAST(`: `expr AS type )`.
fn cast_rest(parser: &mut Parser) -> Result<Expr, ParserError> {
    let expr = parser.parse_expr()?;
    parser.expect_keyword(Keyword::AS)?;
    let ty = parse_sql_type(parser)?;
    parser.expect_token(&Token::RParen)?;
    Ok(Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type: DataType::Custom(ObjectName::from(vec![Ident::new(ty.to_string())]), vec![]),
        array: false,
        format: None,
    })
}
