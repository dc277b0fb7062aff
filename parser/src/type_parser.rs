//! The grammar of ksqlDB types (`INT`, `DECIMAL(4,2)`, `ARRAY<STRING>`, `STRUCT<A INT>`, ...) over sqlparser's
//! token stream, shared by column definitions and `CAST(... AS type)` inside expressions.

use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token};

use crate::ident::fold_ident;
use crate::types::SqlType;

/// Why a type did not parse, and where.
#[derive(Debug)]
pub(crate) struct TypeError {
    pub message: String,
    /// A grammar error (reported as a syntax error) rather than an invalid type.
    pub syntax: bool,
    pub location: Location,
}

impl From<TypeError> for ParserError {
    fn from(e: TypeError) -> Self {
        ParserError::ParserError(format!("{} at Line: {}, Column: {}", e.message, e.location.line, e.location.column))
    }
}

type Result<T> = std::result::Result<T, TypeError>;

fn syntax<T>(p: &Parser, message: impl Into<String>) -> Result<T> {
    Err(TypeError { message: message.into(), syntax: true, location: p.peek_token_ref().span.start })
}

fn expect(p: &mut Parser, token: Token) -> Result<()> {
    if p.consume_token(&token) {
        return Ok(());
    }
    let found = p.peek_token_ref().token.to_string();
    syntax(p, format!("Expected: {token}, found: {found}"))
}

fn uint(p: &mut Parser) -> Result<u64> {
    match &p.peek_token_ref().token {
        Token::Number(n, _) => match n.parse() {
            Ok(v) => {
                p.next_token();
                Ok(v)
            }
            Err(_) => syntax(p, format!("Expected: an unsigned integer, found: {n}")),
        },
        other => {
            let found = other.to_string();
            syntax(p, format!("Expected: an unsigned integer, found: {found}"))
        }
    }
}

/// Parses one type; `>>` must already be split into two `>` tokens.
pub(crate) fn parse_sql_type(p: &mut Parser) -> Result<SqlType> {
    let token = p.peek_token_ref().clone();
    let word = match &token.token {
        Token::Word(w) if !w.value.eq_ignore_ascii_case("NULL") || w.quote_style.is_some() => w.clone(),
        other => {
            let found = other.to_string();
            return syntax(p, format!("expected a type, found '{found}'"));
        }
    };
    p.next_token();
    let upper = word.value.to_ascii_uppercase();
    if let Some(ty) = SqlType::from_simple_name(&upper) {
        type_parameters(p)?;
        return Ok(ty);
    }
    match upper.as_str() {
        "DECIMAL" | "NUMERIC" => {
            expect(p, Token::LParen)?;
            let at = p.peek_token_ref().span.start;
            let precision = uint(p)?;
            let scale = if p.consume_token(&Token::Comma) { uint(p)? } else { 0 };
            expect(p, Token::RParen)?;
            if !(1..=38).contains(&precision) || scale > precision {
                return Err(TypeError {
                    message: format!(
                        "DECIMAL precision must be in [1, 38] and scale in [0, precision]: got ({precision}, {scale})"
                    ),
                    syntax: false,
                    location: at,
                });
            }
            Ok(SqlType::Decimal { precision: precision as u8, scale: scale as u8 })
        }
        "ARRAY" => {
            expect(p, Token::Lt)?;
            let item = parse_sql_type(p)?;
            expect(p, Token::Gt)?;
            Ok(SqlType::Array(Box::new(item)))
        }
        "MAP" => {
            expect(p, Token::Lt)?;
            let key = parse_sql_type(p)?;
            expect(p, Token::Comma)?;
            let value = parse_sql_type(p)?;
            expect(p, Token::Gt)?;
            Ok(SqlType::Map(Box::new(key), Box::new(value)))
        }
        "STRUCT" => {
            expect(p, Token::Lt)?;
            let mut fields = Vec::new();
            if p.peek_token_ref().token != Token::Gt {
                loop {
                    let name = match p.parse_identifier() {
                        Ok(ident) => fold_ident(&ident),
                        Err(_) => {
                            let found = p.peek_token_ref().token.to_string();
                            return syntax(p, format!("Expected: a field name, found: {found}"));
                        }
                    };
                    fields.push((name, parse_sql_type(p)?));
                    if !p.consume_token(&Token::Comma) {
                        break;
                    }
                }
            }
            expect(p, Token::Gt)?;
            Ok(SqlType::Struct(fields))
        }
        _ => {
            p.prev_token();
            Err(TypeError {
                message: format!("Unknown type: {}", word.value),
                syntax: false,
                location: token.span.start,
            })
        }
    }
}

/// ksqlDB's grammar accepts (and ignores) parameters on simple types: `VARCHAR(10)`, `VARCHAR(STRING)`.
fn type_parameters(p: &mut Parser) -> Result<()> {
    if !p.consume_token(&Token::LParen) {
        return Ok(());
    }
    loop {
        match &p.peek_token_ref().token {
            Token::Number(..) => {}
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("STRING") => {}
            _ => return syntax(p, "Expecting {'STRING', INTEGER_VALUE}"),
        }
        p.next_token();
        if p.consume_token(&Token::RParen) {
            return Ok(());
        }
        if !p.consume_token(&Token::Comma) {
            return syntax(p, "Expecting {',', ')'}");
        }
    }
}
