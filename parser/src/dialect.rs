//! The sqlparser dialect for ksqlDB expressions: generic SQL, with `->` (struct field access)
//! binding tighter than any operator, as in ksqlDB (`s->f = 1` is `(s->f) = 1`).

use sqlparser::dialect::{Dialect, GenericDialect, Precedence};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

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

    fn supports_filter_during_aggregation(&self) -> bool {
        GenericDialect {}.supports_filter_during_aggregation()
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        match parser.peek_token_ref().token {
            Token::Arrow => Some(Ok(self.prec_value(Precedence::DoubleColon))),
            _ => None,
        }
    }
}
