//! The server's limits on what one statement may ask for, each refused with a clear error to the
//! client that sent it (SQLSTATE class 54, PostgreSQL's "program limit exceeded"), checked on the
//! statement's tokens before it is parsed, so that no input builds a tree deeper than the stack
//! holds or a list sized by a number the client chose.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::engine::{error_sqlstate as sqlstate, EngineError};

/// Stack of each runtime thread, in bytes: enough for statements at [`MAX_OPERATORS`] even in a
/// debug build, whose frames of the SQL AST's derived visitors are tens of KiB (address space
/// only; a thread commits the pages it touches).
pub const THREAD_STACK_BYTES: usize = 1 << 30;

/// Operators (`+`, `=`, `AND`, `->`, `[`, `(`, ...) in one statement: bounds the depth of its
/// expressions, which are walked recursively (a 10,000-term `OR` chain of equalities has 20,000).
pub const MAX_OPERATORS: usize = 30_000;

/// Nesting of `ARRAY<`, `MAP<` and `STRUCT<` in one type.
pub const MAX_TYPE_NESTING: usize = 64;

/// Parameters of one statement: a Bind message counts its values in 16 bits, as PostgreSQL's
/// limit of 65,535 says.
pub const MAX_PARAMETERS: usize = u16::MAX as usize;

/// Statements in one Query message (PostgreSQL has no such limit; 100,000 `SELECT 1;` take a
/// debug build seconds, and each keeps its answer until the message ends).
pub const MAX_STATEMENTS: usize = 20_000;

/// Expression depth the SQL engine (DataFusion) plans after `AND`/`OR` chains are balanced: its
/// planning time grows with the square of the depth.
pub const SQL_ENGINE_MAX_DEPTH: usize = 1_000;

/// Memory one SQL-engine query may hold in its operators (hash tables, sorts, aggregate states such
/// as `string_agg`'s): DataFusion's memory pool of each session, refused with SQLSTATE 53200.
pub const MAX_QUERY_MEMORY_BYTES: usize = 1 << 30;

/// Bytes (Arrow memory) of one SQL-engine result, which is held whole before it is sent: a larger
/// one is refused with SQLSTATE 54000 rather than growing the server.
pub const MAX_RESULT_BYTES: usize = 1 << 30;

/// A text over this many bytes, or with a statement of more than [`HEAVY_OPERATORS`] operators, is
/// parsed, planned and run off the async workers' turn (`block_in_place`), so that the other
/// sessions of the worker move to another thread and keep being answered meanwhile.
pub const LARGE_STATEMENT_BYTES: usize = 64 << 10;

/// See [`LARGE_STATEMENT_BYTES`].
pub const HEAVY_OPERATORS: usize = 256;

/// How much work a submitted text may be, from its size and its largest statement's operators.
#[derive(Debug, Clone, Copy, Default)]
pub struct Weight {
    pub bytes: usize,
    pub operators: usize,
}

impl Weight {
    /// Whether the text is worth running off the async workers' turn.
    pub fn is_heavy(&self) -> bool {
        self.bytes > LARGE_STATEMENT_BYTES || self.operators > HEAVY_OPERATORS
    }
}

/// The limits as `SHOW PROPERTIES` lists them (scope SERVER): name and value.
pub fn listed() -> Vec<(&'static str, String)> {
    vec![
        ("eddy.limit.message.bytes", pgwire::messages::max_frontend_message_length().to_string()),
        ("eddy.limit.statement.operators", MAX_OPERATORS.to_string()),
        ("eddy.limit.statement.type.nesting", MAX_TYPE_NESTING.to_string()),
        ("eddy.limit.statement.parameters", MAX_PARAMETERS.to_string()),
        ("eddy.limit.message.statements", MAX_STATEMENTS.to_string()),
        ("eddy.limit.sql.expression.depth", SQL_ENGINE_MAX_DEPTH.to_string()),
        ("eddy.limit.topic.partitions", eddy_catalog::MAX_PARTITIONS.to_string()),
        ("eddy.limit.window.hopping.windows.per.record", eddy_planner::MAX_WINDOWS_PER_RECORD.to_string()),
        ("eddy.limit.function.string.chars", eddy_runtime::function::MAX_BUILT_STRING_CHARS.to_string()),
        ("eddy.limit.function.collection.elements", eddy_runtime::function::MAX_BUILT_ELEMENTS.to_string()),
        ("eddy.limit.query.memory.bytes", MAX_QUERY_MEMORY_BYTES.to_string()),
        ("eddy.limit.query.result.bytes", MAX_RESULT_BYTES.to_string()),
    ]
}

fn too_complex(message: String, text: &str, at: sqlparser::tokenizer::Location) -> EngineError {
    EngineError::new(sqlstate::STATEMENT_TOO_COMPLEX, message).at(eddy_parser::location_to_position(text, at))
}

/// Checks a submitted text (one or many statements) against the limits above: operators per
/// statement, type nesting, statements per message and parameter numbers. A text that cannot be
/// tokenized passes (the parser reports it).
pub fn check_text(text: &str) -> Result<Weight, EngineError> {
    // Tokenizing a large text takes a while too.
    heavy(Weight { bytes: text.len(), operators: 0 }, || scan(text))
}

fn scan(text: &str) -> Result<Weight, EngineError> {
    let mut weight = Weight { bytes: text.len(), operators: 0 };
    let Ok(tokens) = Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, text).tokenize_with_location() else {
        return Ok(weight);
    };
    // Statements are counted as they start: empty ones (`;;`, a trailing `;`) do not count.
    let (mut operators, mut statements, mut nesting) = (0usize, 0usize, 0usize);
    let mut in_statement = false;
    let mut previous_word: Option<Keyword> = None;
    for token in &tokens {
        let at = token.span.start;
        if !in_statement && !matches!(token.token, Token::SemiColon | Token::Whitespace(_)) {
            in_statement = true;
            statements += 1;
            if statements > MAX_STATEMENTS {
                return Err(EngineError::new(
                    sqlstate::PROGRAM_LIMIT_EXCEEDED,
                    format!("more than {MAX_STATEMENTS} statements in one message"),
                )
                .with_hint("Send them in several messages."));
            }
        }
        match &token.token {
            Token::SemiColon => {
                operators = 0;
                nesting = 0;
                in_statement = false;
            }
            Token::Lt if matches!(previous_word, Some(Keyword::ARRAY | Keyword::MAP | Keyword::STRUCT)) => {
                nesting += 1;
                if nesting > MAX_TYPE_NESTING {
                    return Err(too_complex(format!("type nested more than {MAX_TYPE_NESTING} deep"), text, at));
                }
            }
            Token::Gt | Token::ShiftRight if nesting > 0 => {
                nesting = nesting.saturating_sub(if token.token == Token::ShiftRight { 2 } else { 1 });
            }
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::DoubleEq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::Arrow
            | Token::LongArrow
            | Token::LBracket
            | Token::LParen
            | Token::DoubleColon
            | Token::Period => operators += 1,
            Token::Word(w) if matches!(w.keyword, Keyword::AND | Keyword::OR | Keyword::NOT) => operators += 1,
            Token::Placeholder(p) => {
                let digits = p.strip_prefix('$').filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
                if digits.is_some_and(|d| d.parse::<usize>().map_or(true, |n| n == 0 || n > MAX_PARAMETERS)) {
                    return Err(EngineError::new(sqlstate::UNDEFINED_PARAMETER, format!("there is no parameter {p}"))
                        .with_hint(format!(
                            "A statement has at most {MAX_PARAMETERS} parameters ($1 to ${MAX_PARAMETERS})."
                        ))
                        .at(eddy_parser::location_to_position(text, at)));
                }
            }
            _ => {}
        }
        weight.operators = weight.operators.max(operators);
        if operators > MAX_OPERATORS {
            return Err(too_complex(
                format!("statement too complex: more than {MAX_OPERATORS} operators in one statement"),
                text,
                at,
            ));
        }
        match &token.token {
            Token::Whitespace(_) => {}
            Token::Word(w) => previous_word = Some(w.keyword),
            _ => previous_word = None,
        }
    }
    Ok(weight)
}

fn multi_thread() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Runs CPU-bound work on a heavy text so that the async worker's other sessions move to another
/// thread meanwhile; light texts run as they are.
pub fn heavy<T>(weight: Weight, work: impl FnOnce() -> T) -> T {
    if weight.is_heavy() && multi_thread() {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// [`heavy`] for a statement's async work (planning and running it).
pub async fn heavy_async<F: std::future::Future>(weight: Weight, work: F) -> F::Output {
    if weight.is_heavy() && multi_thread() {
        let handle = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| handle.block_on(work))
    } else {
        work.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_on_tokens() {
        assert!(check_text(&format!("SELECT {}", vec!["1"; 10_000].join(" + "))).is_ok());
        let e = check_text(&format!("SELECT {}", vec!["1"; 60_000].join(" + "))).expect_err("too many operators");
        assert_eq!(e.sqlstate, sqlstate::STATEMENT_TOO_COMPLEX);
        // Operators are counted per statement.
        assert!(check_text(&format!("SELECT {0}; SELECT {0}", vec!["1"; 15_000].join("+"))).is_ok());
        let deep =
            format!("CREATE STREAM s (a {}INT{}) WITH (KAFKA_TOPIC='s');", "ARRAY<".repeat(100), ">".repeat(100));
        assert_eq!(check_text(&deep).expect_err("deep type").sqlstate, sqlstate::STATEMENT_TOO_COMPLEX);
        let fine = format!("CREATE STREAM s (a {}INT{}) WITH (KAFKA_TOPIC='s');", "ARRAY<".repeat(10), ">".repeat(10));
        assert!(check_text(&fine).is_ok());
        assert!(check_text("SELECT * FROM t WHERE a < 1 AND b > 2 AND c < 3 AND d < 4").is_ok());
        let e = check_text("SELECT $99999999999").expect_err("parameter number");
        assert_eq!((e.sqlstate, e.position), (sqlstate::UNDEFINED_PARAMETER, Some(8)));
        assert!(check_text("SELECT $65535").is_ok());
        assert_eq!(check_text("SELECT $0").expect_err("parameter zero").sqlstate, sqlstate::UNDEFINED_PARAMETER);
        assert_eq!(
            check_text(&"SELECT 1;".repeat(30_000)).expect_err("statements").sqlstate,
            sqlstate::PROGRAM_LIMIT_EXCEEDED
        );
        // Empty statements do not count; the limit itself is allowed, with or without a last `;`.
        assert!(check_text(&"SELECT 1;".repeat(MAX_STATEMENTS)).is_ok());
        assert!(check_text(&format!("{}SELECT 1", "SELECT 1;".repeat(MAX_STATEMENTS - 1))).is_ok());
        assert!(check_text(&format!("{}SELECT 1", "SELECT 1;".repeat(MAX_STATEMENTS))).is_err());
        assert!(check_text(&";".repeat(100_000)).is_ok());
    }
}
