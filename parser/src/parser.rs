//! Statement-level parsing: splits text at `;` and parses each statement of the ksqlDB dialect.
//!
//! sqlparser tokenizes the text and parses expressions and types inside statements; the
//! statement grammar itself (CREATE STREAM, EMIT CHANGES, PRINT, ...) is ours.

use sqlparser::ast::{Expr, Ident};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::ast::*;
use crate::dialect::KsqlDialect;
use crate::error::{ParseError, Result};
use crate::ident::fold_ident;
use crate::type_parser::parse_sql_type;
use crate::types::SqlType;

/// One statement with the exact text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedStatement {
    pub statement: Statement,
    /// The statement's text, without the trailing `;`.
    pub text: String,
    /// 1-based character offset of the statement's start in the submitted text.
    pub offset: usize,
}

/// Parses every `;`-separated statement of `sql`. Empty statements are skipped.
pub fn parse_statements(sql: &str) -> Result<Vec<ParsedStatement>> {
    parse_each(sql)?
        .into_iter()
        .map(|p| p.result.map(|statement| ParsedStatement { statement, text: p.text, offset: p.offset }))
        .collect()
}

/// One `;`-separated statement of a text: where it is and how it parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementParse {
    /// The statement's text, without the trailing `;`.
    pub text: String,
    /// 1-based character offset of the statement's start in the submitted text.
    pub offset: usize,
    /// The statement, or why it is not one of Eddy's dialect (positions in the submitted text).
    pub result: Result<Statement>,
}

/// Splits `sql` into statements and parses each on its own, so a caller can try another grammar
/// on the ones that fail. Fails only when the text cannot be tokenized.
pub fn parse_each(sql: &str) -> Result<Vec<StatementParse>> {
    let dialect = KsqlDialect;
    let positions = Positions::new(sql);
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| ParseError::at(e.message.clone(), positions.of(e.location)))?;
    let mut out = Vec::new();
    let mut current: Vec<TokenWithSpan> = Vec::new();
    let mut depth = 0i32;
    for token in tokens.into_iter().chain(std::iter::once(eof())) {
        if token.token == Token::ShiftRight {
            // ksqlDB has no shift operators; `>>` only ever closes two nested types.
            current.push(TokenWithSpan::new(Token::Gt, token.span));
            current.push(TokenWithSpan::new(Token::Gt, token.span));
            continue;
        }
        match token.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        let ends = matches!(token.token, Token::EOF) || (token.token == Token::SemiColon && depth <= 0);
        if !ends {
            current.push(token);
            continue;
        }
        let stmt_tokens = std::mem::take(&mut current);
        let significant: Vec<&TokenWithSpan> =
            stmt_tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_))).collect();
        let (Some(first), Some(last)) = (significant.first(), significant.last()) else {
            continue;
        };
        let start = positions.byte_of(first.span.start);
        let end = positions.byte_of(last.span.end);
        let text = sql.get(start..end).unwrap_or_default().to_string();
        let offset = positions.of(first.span.start).unwrap_or(1);
        let mut parser =
            StatementParser { p: Parser::new(&dialect).with_tokens_with_locations(stmt_tokens), positions: &positions };
        let terminated = token.token == Token::SemiColon;
        let result = parser.statement().map_err(|e| ksql_syntax_error(e, sql, &text, terminated));
        out.push(StatementParse { text, offset, result });
    }
    Ok(out)
}

/// Parses a type written in ksqlDB syntax, e.g. `ARRAY<STRUCT<A INT>>`.
pub fn parse_type(text: &str) -> Result<SqlType> {
    let dialect = KsqlDialect;
    let positions = Positions::new(text);
    let tokens = Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .map_err(|e| ParseError::at(e.message.clone(), positions.of(e.location)))?;
    let tokens = tokens
        .into_iter()
        .flat_map(|t| match t.token {
            Token::ShiftRight => vec![TokenWithSpan::new(Token::Gt, t.span), TokenWithSpan::new(Token::Gt, t.span)],
            _ => vec![t],
        })
        .collect();
    let mut parser =
        StatementParser { p: Parser::new(&dialect).with_tokens_with_locations(tokens), positions: &positions };
    let ty = parser.data_type()?;
    if !parser.at_end() {
        return parser.error(format!("Unexpected text after type: {text}"));
    }
    Ok(ty)
}

/// Words a syntax error as ksqlDB does: `line L:C: Syntax Error`, the detail, then the statement.
fn ksql_syntax_error(e: ParseError, sql: &str, text: &str, terminated: bool) -> ParseError {
    let Some(detail) = e.message.strip_prefix("Syntax error: ") else { return e };
    let (line, column) = match e.position {
        Some(pos) => {
            let before: String = sql.chars().take(pos.saturating_sub(1)).collect();
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
            (line, column)
        }
        None => (1, 1),
    };
    let semicolon = if terminated { ";" } else { "" };
    ParseError::at(format!("line {line}:{column}: Syntax Error\n{detail}\nStatement: {text}{semicolon}"), e.position)
}

fn eof() -> TokenWithSpan {
    TokenWithSpan::wrap(Token::EOF)
}

/// 1-based character offset in `text` of a sqlparser location (line and column from 1).
pub fn location_to_position(text: &str, loc: Location) -> Option<usize> {
    Positions::new(text).of(loc)
}

/// Maps sqlparser's line/column locations to 1-based character offsets and byte offsets.
pub(crate) struct Positions {
    /// (char offset, byte offset) of each line start.
    line_starts: Vec<(usize, usize)>,
    text: String,
}

impl Positions {
    fn new(text: &str) -> Self {
        let mut line_starts = vec![(0, 0)];
        for (chars, (bytes, ch)) in text.char_indices().enumerate() {
            if ch == '\n' {
                line_starts.push((chars + 1, bytes + 1));
            }
        }
        Self { line_starts, text: text.to_string() }
    }

    /// 1-based character offset of a location.
    pub(crate) fn of(&self, loc: Location) -> Option<usize> {
        if loc.line == 0 {
            return None;
        }
        let (chars, _) = *self.line_starts.get(loc.line as usize - 1)?;
        Some(chars + loc.column as usize)
    }

    fn byte_of(&self, loc: Location) -> usize {
        let Some(&(_, bytes)) = self.line_starts.get((loc.line as usize).saturating_sub(1)) else {
            return self.text.len();
        };
        let line = &self.text[bytes..];
        let col = (loc.column as usize).saturating_sub(1);
        bytes + line.char_indices().nth(col).map(|(b, _)| b).unwrap_or(line.len())
    }
}

/// Recursive-descent parser for one statement.
pub(crate) struct StatementParser<'a> {
    pub(crate) p: Parser<'a>,
    pub(crate) positions: &'a Positions,
}

impl StatementParser<'_> {
    /// Position of the next significant token.
    pub(crate) fn position(&self) -> Option<usize> {
        self.positions.of(self.p.peek_token_ref().span.start)
    }

    /// An error located at the next token.
    pub(crate) fn error<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(ParseError::at(message, self.position()))
    }

    /// Converts a sqlparser error, keeping its location as a position.
    pub(crate) fn convert(&self, err: ParserError) -> ParseError {
        let text = match err {
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
            ParserError::RecursionLimitExceeded => {
                return ParseError::too_complex(
                    "statement too complex: expressions are nested too deeply",
                    self.position(),
                )
            }
        };
        if let Some(idx) = text.rfind(" at Line: ") {
            let (msg, loc) = text.split_at(idx);
            let nums: Vec<u64> = loc
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse().ok())
                .collect();
            if let [line, column] = nums[..] {
                return ParseError::at(format!("Syntax error: {msg}"), self.positions.of(Location { line, column }));
            }
        }
        ParseError::at(format!("Syntax error: {text}"), self.position())
    }

    /// True if the next token is the (unquoted) word `word`.
    pub(crate) fn peek_word(&self, word: &str) -> bool {
        self.peek_word_at(0, word)
    }

    pub(crate) fn peek_word_at(&self, n: usize, word: &str) -> bool {
        matches!(&self.p.peek_nth_token_ref(n).token,
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
    }

    /// Consumes the word if it is next.
    pub(crate) fn parse_word(&mut self, word: &str) -> bool {
        if self.peek_word(word) {
            self.p.next_token();
            true
        } else {
            false
        }
    }

    /// Consumes a sequence of words if all are next.
    pub(crate) fn parse_words(&mut self, words: &[&str]) -> bool {
        if words.iter().enumerate().all(|(i, w)| self.peek_word_at(i, w)) {
            for _ in words {
                self.p.next_token();
            }
            true
        } else {
            false
        }
    }

    pub(crate) fn expect_word(&mut self, word: &str) -> Result<()> {
        if self.parse_word(word) {
            Ok(())
        } else {
            let found = self.p.peek_token_ref().token.to_string();
            self.error(format!("Syntax error: expected {word}, found '{found}'"))
        }
    }

    pub(crate) fn expect_token(&mut self, token: Token) -> Result<()> {
        self.p.expect_token(&token).map(|_| ()).map_err(|e| self.convert(e))
    }

    pub(crate) fn expr(&mut self) -> Result<Expr> {
        self.p.parse_expr().map_err(|e| self.convert(e))
    }

    pub(crate) fn ident(&mut self) -> Result<Ident> {
        self.p.parse_identifier().map_err(|e| self.convert(e))
    }

    /// An identifier folded by ksqlDB's rules.
    pub(crate) fn name(&mut self) -> Result<String> {
        Ok(fold_ident(&self.ident()?))
    }

    pub(crate) fn uint(&mut self) -> Result<u64> {
        self.p.parse_literal_uint().map_err(|e| self.convert(e))
    }

    pub(crate) fn string(&mut self) -> Result<String> {
        self.p.parse_literal_string().map_err(|e| self.convert(e))
    }

    fn at_end(&self) -> bool {
        matches!(self.p.peek_token_ref().token, Token::EOF)
    }

    /// Parses the whole statement and checks nothing follows it.
    fn statement(&mut self) -> Result<Statement> {
        let stmt = self.statement_body()?;
        if !self.at_end() {
            let found = self.p.peek_token_ref().token.to_string();
            return self.error(format!("Syntax error: unexpected '{found}' at the end of the statement"));
        }
        Ok(stmt)
    }

    fn statement_body(&mut self) -> Result<Statement> {
        if self.peek_word("CREATE") {
            return self.create();
        }
        if self.peek_word("SELECT") {
            return self.select_statement();
        }
        if self.parse_words(&["INSERT", "INTO"]) {
            return self.insert();
        }
        if self.parse_word("SHOW") || self.parse_word("LIST") {
            return self.show();
        }
        if self.parse_word("DESCRIBE") {
            return self.describe();
        }
        if self.parse_word("DROP") {
            return self.drop();
        }
        if self.parse_word("TERMINATE") {
            if self.parse_word("ALL") {
                return Ok(Statement::Terminate(None));
            }
            return Ok(Statement::Terminate(Some(self.name()?)));
        }
        if self.parse_word("PRINT") {
            return self.print();
        }
        if self.parse_word("SET") {
            return self.set();
        }
        if self.parse_word("UNSET") {
            let name = self.string()?;
            return Ok(Statement::Unset { name });
        }
        if self.parse_word("EXPLAIN") {
            let is_query_id = matches!(&self.p.peek_token_ref().token, Token::Word(_))
                && matches!(self.p.peek_nth_token_ref(1).token, Token::EOF)
                && !self.peek_word("SELECT");
            if is_query_id {
                return Ok(Statement::ExplainQuery(self.name()?));
            }
            return Ok(Statement::Explain(Box::new(self.statement_body()?)));
        }
        let found = self.p.peek_token_ref().token.to_string();
        self.error(format!("Syntax error: unknown statement starting with '{found}'"))
    }

    fn create(&mut self) -> Result<Statement> {
        self.expect_word("CREATE")?;
        let or_replace = self.parse_words(&["OR", "REPLACE"]);
        let is_source = self.parse_word("SOURCE");
        let kind = if self.parse_word("STREAM") {
            SourceKind::Stream
        } else if self.parse_word("TABLE") {
            SourceKind::Table
        } else {
            let found = self.p.peek_token_ref().token.to_string();
            return self.error(format!("Syntax error: expected STREAM or TABLE after CREATE, found '{found}'"));
        };
        let if_not_exists = self.parse_words(&["IF", "NOT", "EXISTS"]);
        let name = self.name()?;
        let columns = if self.p.peek_token_ref().token == Token::LParen { self.column_defs()? } else { Vec::new() };
        let properties = self.properties()?;
        if self.parse_word("AS") {
            if !columns.is_empty() {
                return self.error("Syntax error: a CREATE ... AS SELECT statement cannot declare columns");
            }
            let query = Box::new(self.select()?);
            return Ok(Statement::CreateAsSelect(CreateAsSelect {
                kind,
                name,
                or_replace,
                if_not_exists,
                properties,
                query,
            }));
        }
        Ok(Statement::CreateSource(CreateSource {
            kind,
            name,
            or_replace,
            if_not_exists,
            is_source,
            columns,
            properties,
        }))
    }

    fn column_defs(&mut self) -> Result<Vec<ColumnDef>> {
        self.expect_token(Token::LParen)?;
        let mut columns = Vec::new();
        loop {
            let at = self.p.peek_token_ref().span.start;
            let name = self.name()?;
            let ty = self.data_type()?;
            let constraint = if self.parse_words(&["PRIMARY", "KEY"]) {
                ColumnConstraint::PrimaryKey
            } else if self.parse_word("KEY") {
                ColumnConstraint::Key
            } else if self.parse_word("HEADERS") {
                ColumnConstraint::Headers
            } else if self.parse_word("HEADER") {
                self.expect_token(Token::LParen)?;
                let key = self.string()?;
                self.expect_token(Token::RParen)?;
                ColumnConstraint::Header(key)
            } else {
                ColumnConstraint::None
            };
            columns.push(ColumnDef { name, ty, constraint, at });
            if self.p.consume_token(&Token::RParen) {
                return Ok(columns);
            }
            if !self.p.consume_token(&Token::Comma) {
                return self.error("Syntax error: Expecting {',', ')'}");
            }
        }
    }

    /// A ksqlDB type; `>>` closing two nested types is split in two.
    pub(crate) fn data_type(&mut self) -> Result<SqlType> {
        parse_sql_type(&mut self.p).map_err(|e| {
            let position = self.positions.of(e.location);
            if e.syntax {
                ParseError::at(format!("Syntax error: {}", e.message), position)
            } else {
                ParseError::at(e.message, position)
            }
        })
    }

    /// `WITH (name = value, ...)`, or nothing.
    pub(crate) fn properties(&mut self) -> Result<Properties> {
        let mut props = Properties::default();
        if !self.parse_word("WITH") {
            return Ok(props);
        }
        self.expect_token(Token::LParen)?;
        loop {
            let name = self.ident()?.value.to_uppercase();
            self.expect_token(Token::Eq)?;
            let token = self.p.next_token();
            let value = match token.token {
                Token::SingleQuotedString(s) => PropertyValue::String(s),
                Token::Number(n, _) => PropertyValue::Number(n),
                Token::Minus => match self.p.next_token().token {
                    Token::Number(n, _) => PropertyValue::Number(format!("-{n}")),
                    other => return self.error(format!("Syntax error: expected a number, found '{other}'")),
                },
                Token::Word(w) if w.value.eq_ignore_ascii_case("true") => PropertyValue::Boolean(true),
                Token::Word(w) if w.value.eq_ignore_ascii_case("false") => PropertyValue::Boolean(false),
                other => {
                    self.p.prev_token();
                    return self.error(format!("Syntax error: expected a property value, found '{other}'"));
                }
            };
            if props.0.insert(name.clone(), value).is_some() {
                return self.error(format!("Duplicate property: {name}"));
            }
            if !self.p.consume_token(&Token::Comma) {
                break;
            }
        }
        self.expect_token(Token::RParen)?;
        Ok(props)
    }

    fn insert(&mut self) -> Result<Statement> {
        let target_at = self.p.peek_token_ref().span.start;
        let target = self.name()?;
        let columns = if self.p.peek_token_ref().token == Token::LParen {
            self.p.next_token();
            let mut cols = Vec::new();
            loop {
                cols.push(self.name()?);
                if !self.p.consume_token(&Token::Comma) {
                    break;
                }
            }
            self.expect_token(Token::RParen)?;
            Some(cols)
        } else {
            None
        };
        if self.parse_word("VALUES") {
            self.expect_token(Token::LParen)?;
            let values = self.p.parse_comma_separated(Parser::parse_expr).map_err(|e| self.convert(e))?;
            self.expect_token(Token::RParen)?;
            return Ok(Statement::InsertValues { target, columns, values });
        }
        if columns.is_some() {
            return self.error("Syntax error: expected VALUES after the column list");
        }
        let properties = self.properties()?;
        let query = Box::new(self.select()?);
        Ok(Statement::InsertSelect { target, target_at, properties, query })
    }

    fn show(&mut self) -> Result<Statement> {
        let kind = if self.parse_word("STREAMS") {
            ShowKind::Streams { extended: self.parse_word("EXTENDED") }
        } else if self.parse_word("TABLES") {
            ShowKind::Tables { extended: self.parse_word("EXTENDED") }
        } else if self.parse_word("TOPICS") || self.parse_words(&["ALL", "TOPICS"]) {
            ShowKind::Topics { extended: self.parse_word("EXTENDED") }
        } else if self.parse_word("QUERIES") {
            ShowKind::Queries { extended: self.parse_word("EXTENDED") }
        } else if self.parse_word("PROPERTIES") {
            ShowKind::Properties
        } else if self.parse_word("FUNCTIONS") {
            ShowKind::Functions
        } else if self.parse_word("CONNECTORS") {
            ShowKind::Connectors
        } else {
            let token = self.p.next_token();
            match token.token {
                Token::Word(w) => ShowKind::Variable(w.value.to_lowercase()),
                other => return self.error(format!("Syntax error: SHOW what? found '{other}'")),
            }
        };
        Ok(Statement::Show(kind))
    }

    fn describe(&mut self) -> Result<Statement> {
        if self.parse_word("STREAMS") {
            return Ok(Statement::Show(ShowKind::Streams { extended: self.parse_word("EXTENDED") }));
        }
        if self.parse_word("TABLES") {
            return Ok(Statement::Show(ShowKind::Tables { extended: self.parse_word("EXTENDED") }));
        }
        let name = self.name()?;
        let extended = self.parse_word("EXTENDED");
        Ok(Statement::Describe { name, extended })
    }

    fn drop(&mut self) -> Result<Statement> {
        let kind = if self.parse_word("STREAM") {
            SourceKind::Stream
        } else if self.parse_word("TABLE") {
            SourceKind::Table
        } else {
            return self.error("Syntax error: expected STREAM or TABLE after DROP");
        };
        let if_exists = self.parse_words(&["IF", "EXISTS"]);
        let name = self.name()?;
        let delete_topic = self.parse_words(&["DELETE", "TOPIC"]);
        Ok(Statement::Drop { kind, name, if_exists, delete_topic })
    }

    fn print(&mut self) -> Result<Statement> {
        let token = self.p.next_token();
        let topic = match token.token {
            Token::SingleQuotedString(s) => s,
            Token::Word(w) => w.value,
            other => return self.error(format!("Syntax error: expected a topic name, found '{other}'")),
        };
        let mut from_beginning = false;
        let mut interval = None;
        let mut limit = None;
        loop {
            if self.parse_words(&["FROM", "BEGINNING"]) {
                from_beginning = true;
            } else if self.parse_word("INTERVAL") || self.parse_word("SAMPLE") {
                interval = Some(self.uint()?);
            } else if self.parse_word("LIMIT") {
                limit = Some(self.uint()?);
            } else {
                break;
            }
        }
        Ok(Statement::Print { topic, from_beginning, interval, limit })
    }

    fn set(&mut self) -> Result<Statement> {
        // ksqlDB: SET 'name' = 'value'. Postgres: SET [SESSION|LOCAL] name {TO|=} value.
        let _ = self.parse_word("SESSION") || self.parse_word("LOCAL");
        let token = self.p.next_token();
        let name = match token.token {
            Token::SingleQuotedString(s) => s,
            Token::Word(w) => {
                let mut name = w.value;
                while self.p.consume_token(&Token::Period) {
                    name.push('.');
                    name.push_str(&self.ident()?.value);
                }
                name
            }
            other => return self.error(format!("Syntax error: expected a property name, found '{other}'")),
        };
        if !self.p.consume_token(&Token::Eq) && !self.parse_word("TO") {
            return self.error("Syntax error: expected '=' or TO");
        }
        let mut parts = Vec::new();
        while !self.at_end() {
            let token = self.p.next_token();
            parts.push(match token.token {
                Token::SingleQuotedString(s) => s,
                Token::Comma => ",".into(),
                other => other.to_string(),
            });
        }
        if parts.is_empty() {
            return self.error("Syntax error: expected a value");
        }
        Ok(Statement::Set { name, value: parts.join("") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseErrorKind;

    #[test]
    fn nesting_past_the_parser_is_too_complex_not_a_syntax_error() {
        let deep = format!("SELECT {}1{} FROM s EMIT CHANGES;", "(".repeat(500), ")".repeat(500));
        let e = parse_statements(&deep).expect_err("too deep");
        assert_eq!(e.kind, ParseErrorKind::TooComplex, "{e:?}");
        assert!(!e.message.contains("SELECT"), "the statement is not echoed: {}", e.message);
        let e = parse_statements("SELEKT 1;").expect_err("syntax");
        assert_eq!(e.kind, ParseErrorKind::Syntax);
    }
}
