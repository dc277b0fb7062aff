//! The SELECT grammar of ksqlDB: FROM with joins, WINDOW, WHERE, GROUP BY, PARTITION BY, HAVING, EMIT, LIMIT.

use sqlparser::ast::{self as sql};
use sqlparser::dialect::{Dialect, Precedence};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::ast::*;
use crate::dialect::KsqlDialect;
use crate::error::Result;
use crate::ident::fold_ident;
use crate::parser::StatementParser;

/// Words that end a FROM item, so they are never taken as an alias.
const CLAUSE_WORDS: &[&str] = &[
    "WINDOW",
    "WHERE",
    "GROUP",
    "PARTITION",
    "HAVING",
    "EMIT",
    "LIMIT",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "OUTER",
    "WITHIN",
    "ON",
    "GRACE",
];

impl StatementParser<'_> {
    /// `SELECT ...` up to the end of the statement's query part.
    pub(crate) fn select(&mut self) -> Result<Select> {
        let position = self.position();
        let projection = self.projection()?;
        self.select_from(projection, position)
    }

    /// A SELECT statement: a query over a source, or constant expressions without FROM.
    pub(crate) fn select_statement(&mut self) -> Result<Statement> {
        let position = self.position();
        let projection = self.projection()?;
        if !self.peek_word("FROM") && matches!(self.p.peek_token_ref().token, Token::EOF) {
            return Ok(Statement::SelectValues(projection));
        }
        Ok(Statement::Select(Box::new(self.select_from(projection, position)?)))
    }

    fn projection(&mut self) -> Result<Vec<SelectItem>> {
        self.expect_word("SELECT")?;
        self.p
            .parse_comma_separated(Parser::parse_select_item)
            .map_err(|e| self.convert(e))?
            .into_iter()
            .map(select_item)
            .collect::<Result<Vec<_>>>()
    }

    fn select_from(&mut self, projection: Vec<SelectItem>, position: Option<usize>) -> Result<Select> {
        self.expect_word("FROM")?;
        let source = self.source_ref()?;
        let mut joins = Vec::new();
        while let Some(kind) = self.join_kind() {
            let source = self.source_ref()?;
            let within = self.join_window()?;
            self.expect_word("ON")?;
            let on = self.expr()?;
            joins.push(Join { kind, source, within, on });
        }
        let window = if self.parse_word("WINDOW") { Some(self.window()?) } else { None };
        let selection = if self.parse_word("WHERE") { Some(self.expr()?) } else { None };
        let group_by = if self.parse_words(&["GROUP", "BY"]) { self.exprs()? } else { Vec::new() };
        let partition_by = if self.parse_words(&["PARTITION", "BY"]) { self.partition_exprs()? } else { Vec::new() };
        let having = if self.parse_word("HAVING") { Some(self.expr()?) } else { None };
        let emit = if self.parse_word("EMIT") {
            if self.parse_word("CHANGES") {
                Some(EmitMode::Changes)
            } else if self.parse_word("FINAL") {
                Some(EmitMode::Final)
            } else {
                return self.error("Syntax error: expected CHANGES or FINAL after EMIT");
            }
        } else {
            None
        };
        let limit = if self.parse_word("LIMIT") { Some(self.uint()?) } else { None };
        Ok(Select {
            projection,
            from: FromClause { source, joins },
            window,
            selection,
            group_by,
            partition_by,
            having,
            emit,
            limit,
            position,
        })
    }

    fn exprs(&mut self) -> Result<Vec<sql::Expr>> {
        self.p.parse_comma_separated(Parser::parse_expr).map_err(|e| self.convert(e))
    }

    /// PARTITION BY takes value expressions: a predicate (`A AND B`, `A = B`) is a syntax error there.
    fn partition_exprs(&mut self) -> Result<Vec<sql::Expr>> {
        if self.p.peek_token_ref().token == Token::LParen && self.p.peek_nth_token_ref(1).token == Token::RParen {
            return self.error("PARTITION BY requires at least one expression");
        }
        let above_predicates = KsqlDialect.prec_value(Precedence::Between) + 1;
        self.p.parse_comma_separated(|p| p.parse_subexpr(above_predicates)).map_err(|e| self.convert(e))
    }

    fn source_ref(&mut self) -> Result<SourceRef> {
        let position = self.position();
        let name = self.name()?;
        let bare_alias = matches!(&self.p.peek_token_ref().token, Token::Word(w)
            if w.quote_style.is_some() || !CLAUSE_WORDS.iter().any(|c| w.value.eq_ignore_ascii_case(c)));
        let alias = if self.parse_word("AS") || bare_alias { Some(self.name()?) } else { None };
        Ok(SourceRef { name, alias, position })
    }

    fn join_kind(&mut self) -> Option<JoinKind> {
        let kind = if self.parse_word("JOIN") || self.parse_words(&["INNER", "JOIN"]) {
            return Some(JoinKind::Inner);
        } else if self.parse_word("LEFT") {
            JoinKind::Left
        } else if self.parse_word("RIGHT") {
            JoinKind::Right
        } else if self.parse_word("FULL") {
            JoinKind::Full
        } else {
            return None;
        };
        let _ = self.parse_word("OUTER");
        let _ = self.parse_word("JOIN");
        Some(kind)
    }

    fn join_window(&mut self) -> Result<Option<JoinWindow>> {
        if !self.parse_word("WITHIN") {
            return Ok(None);
        }
        let (before_ms, after_ms) = if self.p.consume_token(&Token::LParen) {
            let before = self.duration()?;
            self.expect_token(Token::Comma)?;
            let after = self.duration()?;
            self.expect_token(Token::RParen)?;
            (before, after)
        } else {
            let d = self.duration()?;
            (d, d)
        };
        let grace_ms = if self.parse_words(&["GRACE", "PERIOD"]) { Some(self.duration()?) } else { None };
        Ok(Some(JoinWindow { before_ms, after_ms, grace_ms }))
    }

    fn window(&mut self) -> Result<WindowSpec> {
        let kind = if self.parse_word("TUMBLING") {
            "TUMBLING"
        } else if self.parse_word("HOPPING") {
            "HOPPING"
        } else if self.parse_word("SESSION") {
            "SESSION"
        } else {
            return self.error("Syntax error: expected TUMBLING, HOPPING or SESSION after WINDOW");
        };
        self.expect_token(Token::LParen)?;
        let (mut size, mut advance, mut retention, mut grace) = (None, None, None, None);
        if kind == "SESSION" {
            size = Some(self.duration()?);
        }
        loop {
            if kind == "SESSION" && size.is_some() && !self.p.consume_token(&Token::Comma) {
                break;
            }
            if self.parse_word("SIZE") {
                size = Some(self.duration()?);
            } else if self.parse_words(&["ADVANCE", "BY"]) {
                advance = Some(self.duration()?);
            } else if self.parse_word("RETENTION") {
                retention = Some(self.duration()?);
            } else if self.parse_words(&["GRACE", "PERIOD"]) {
                grace = Some(self.duration()?);
            } else {
                return self.error("Syntax error: expected SIZE, ADVANCE BY, RETENTION or GRACE PERIOD");
            }
            if kind != "SESSION" && !self.p.consume_token(&Token::Comma) {
                break;
            }
        }
        self.expect_token(Token::RParen)?;
        let Some(size_ms) = size else {
            return self.error(format!("{kind} windows require a SIZE"));
        };
        Ok(match kind {
            "TUMBLING" => WindowSpec::Tumbling { size_ms, retention_ms: retention, grace_ms: grace },
            "HOPPING" => {
                let Some(advance_ms) = advance else {
                    return self.error("HOPPING windows require ADVANCE BY");
                };
                WindowSpec::Hopping { size_ms, advance_ms, retention_ms: retention, grace_ms: grace }
            }
            _ => WindowSpec::Session { gap_ms: size_ms, retention_ms: retention, grace_ms: grace },
        })
    }

    /// `n UNIT`, in milliseconds.
    pub(crate) fn duration(&mut self) -> Result<u64> {
        let n = self.uint()?;
        let token = self.p.next_token();
        let Token::Word(word) = token.token else {
            return self.error("Syntax error: expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)");
        };
        let unit: u64 = match word.value.to_ascii_uppercase().trim_end_matches('S') {
            "MILLISECOND" => 1,
            "SECOND" => 1_000,
            "MINUTE" => 60_000,
            "HOUR" => 3_600_000,
            "DAY" => 86_400_000,
            other => return self.error(format!("Unknown time unit: {other}")),
        };
        Ok(n.saturating_mul(unit))
    }
}

fn select_item(item: sql::SelectItem) -> Result<SelectItem> {
    Ok(match item {
        sql::SelectItem::Wildcard(_) => SelectItem::Wildcard { qualifier: None },
        sql::SelectItem::QualifiedWildcard(kind, _) => {
            let qualifier = match kind {
                sql::SelectItemQualifiedWildcardKind::ObjectName(name) => crate::object_name(&name),
                sql::SelectItemQualifiedWildcardKind::Expr(e) => e.to_string().to_uppercase(),
            };
            SelectItem::Wildcard { qualifier: Some(qualifier) }
        }
        sql::SelectItem::UnnamedExpr(expr) => SelectItem::Expr { expr: Box::new(expr), alias: None },
        sql::SelectItem::ExprWithAlias { expr, alias } => {
            SelectItem::Expr { expr: Box::new(expr), alias: Some(fold_ident(&alias)) }
        }
        sql::SelectItem::ExprWithAliases { expr, aliases } => {
            SelectItem::Expr { expr: Box::new(expr), alias: aliases.first().map(fold_ident) }
        }
    })
}
