//! The server's limits on what one statement may ask for, each refused with a clear error to the
//! client that sent it (SQLSTATE class 54, PostgreSQL's "program limit exceeded"), checked on the
//! statement's tokens before it is parsed, so that no input builds a tree deeper than the stack
//! holds or a list sized by a number the client chose.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::engine::{error_sqlstate as sqlstate, EngineError};

/// Stack of each runtime thread, in bytes: enough for statements at [`MAX_OPERATORS`] even in a
/// debug build, whose frames of the SQL AST's derived visitors are tens of KiB (address space
/// only; a thread commits the pages it touches).
pub const THREAD_STACK_BYTES: usize = 1 << 30;

/// Operators (`+`, `=`, `AND`, `->`, `[`, `(`, ...) in one statement: bounds the depth of its
/// expressions, which are walked recursively (a 10,000-term `OR` chain of equalities has 20,000).
pub static MAX_OPERATORS: AtomicUsize = AtomicUsize::new(30_000);

/// Nesting of `ARRAY<`, `MAP<` and `STRUCT<` in one type.
pub static MAX_TYPE_NESTING: AtomicUsize = AtomicUsize::new(64);

/// Parameters of one statement: a Bind message counts its values in 16 bits, as PostgreSQL's
/// limit of 65,535 says (fixed: the protocol's).
pub const MAX_PARAMETERS: usize = u16::MAX as usize;

/// Values in one list: an `IN (...)` list or an array literal `ARRAY[...]` (PostgreSQL has no such
/// limit; BI tools send lists of thousands of filter values, and the SQL engine plans each, in time
/// that grows faster than the list).
pub static MAX_LIST_VALUES: AtomicUsize = AtomicUsize::new(20_000);

/// Statements in one Query message (PostgreSQL has no such limit; 100,000 `SELECT 1;` take a
/// debug build seconds, and each keeps its answer until the message ends).
pub static MAX_STATEMENTS: AtomicUsize = AtomicUsize::new(20_000);

/// Expression depth the SQL engine (DataFusion) plans after `AND`/`OR` chains are balanced: its
/// planning time grows with the square of the depth.
pub static SQL_ENGINE_MAX_DEPTH: AtomicUsize = AtomicUsize::new(1_000);

/// Memory one SQL-engine query may hold in its operators (hash tables, sorts, aggregate states such
/// as `string_agg`'s): DataFusion's memory pool of each session, refused with SQLSTATE 53200.
pub static MAX_QUERY_MEMORY_BYTES: AtomicUsize = AtomicUsize::new(1 << 30);

/// Bytes (Arrow memory) of one SQL-engine result, which is held whole before it is sent: a larger
/// one is refused with SQLSTATE 54000 rather than growing the server.
pub static MAX_RESULT_BYTES: AtomicUsize = AtomicUsize::new(1 << 30);

/// Rows of one pull query's result (a SELECT without EMIT CHANGES in ksqlDB's dialect): a larger
/// one is refused with SQLSTATE 54000; LIMIT or a key in the WHERE clause narrows it.
pub static MAX_PULL_ROWS: AtomicUsize = AtomicUsize::new(1_000_000);

/// Bytes (about: see `Value::approx_bytes`) of one pull query's result.
pub static MAX_PULL_BYTES: AtomicUsize = AtomicUsize::new(1 << 30);

/// Sessions connected at once (`--max-connections`, 0: no limit), as `SHOW PROPERTIES` lists it;
/// the wire's `ConnectionSlots` enforce it.
pub static MAX_CONNECTIONS: AtomicUsize = AtomicUsize::new(100);

/// A limit's value now.
pub fn get(limit: &AtomicUsize) -> usize {
    limit.load(Ordering::Relaxed)
}

/// One configurable limit: its name (as `SHOW PROPERTIES` lists it and the configuration sets it),
/// whether its value is a size in bytes (written `1GB`, `512kB`, ... too), the largest value it may
/// be set to, and where it lives.
pub struct Setting {
    pub name: &'static str,
    pub bytes: bool,
    /// The largest value allowed: the default where the limit keeps recursion within the threads'
    /// stacks (they are sized for it), else a bound past which one statement could hold the server.
    pub most: usize,
    cell: &'static AtomicUsize,
}

const fn setting(name: &'static str, bytes: bool, most: usize, cell: &'static AtomicUsize) -> Setting {
    Setting { name, bytes, most, cell }
}

/// Limits `SHOW PROPERTIES` lists that are set otherwise, with how.
const SET_OTHERWISE: &[(&str, &str)] = &[
    ("eddy.limit.message.bytes", "--max-message-size"),
    ("eddy.limit.statement.parameters", "nothing: the protocol counts parameters in 16 bits"),
    ("eddy.limit.connections", "--max-connections"),
    ("eddy.limit.push.queries", "--max-push-queries"),
    ("eddy.limit.session.push.queries", "--max-session-push-queries"),
];

/// Every configurable limit (`[limits]` in the configuration file, `--limit NAME=VALUE`).
pub static SETTINGS: &[Setting] = &[
    setting("eddy.limit.statement.operators", false, 30_000, &MAX_OPERATORS),
    setting("eddy.limit.statement.type.nesting", false, 64, &MAX_TYPE_NESTING),
    setting("eddy.limit.statement.list.values", false, 1_000_000, &MAX_LIST_VALUES),
    setting("eddy.limit.message.statements", false, 1_000_000, &MAX_STATEMENTS),
    setting("eddy.limit.sql.expression.depth", false, 10_000, &SQL_ENGINE_MAX_DEPTH),
    setting("eddy.limit.topic.partitions", false, 100_000, &eddy_catalog::MAX_PARTITIONS),
    setting("eddy.limit.window.hopping.windows.per.record", false, 1_000_000, &eddy_planner::MAX_WINDOWS_PER_RECORD),
    setting("eddy.limit.function.string.chars", false, 1 << 30, &eddy_runtime::function::MAX_BUILT_STRING_CHARS),
    setting("eddy.limit.function.collection.elements", false, 1 << 30, &eddy_runtime::function::MAX_BUILT_ELEMENTS),
    setting("eddy.limit.query.memory.bytes", true, usize::MAX, &MAX_QUERY_MEMORY_BYTES),
    setting("eddy.limit.query.result.bytes", true, usize::MAX, &MAX_RESULT_BYTES),
    setting("eddy.limit.pull.result.rows", false, usize::MAX, &MAX_PULL_ROWS),
    setting("eddy.limit.pull.result.bytes", true, usize::MAX, &MAX_PULL_BYTES),
    setting("eddy.limit.pull.scan.bytes", true, usize::MAX, &eddy_runtime::kafka::MAX_SCAN_BYTES),
];

/// Parses a limit's value: a positive count, or for a byte limit a size such as `1GB`.
pub fn parse(name: &str, value: &str) -> Result<(&'static Setting, usize), String> {
    let Some(setting) = SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(name.trim())) else {
        if let Some((_, how)) = SET_OTHERWISE.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.trim())) {
            return Err(format!("limit '{name}' is not set by --limit or [limits]: it is set by {how}"));
        }
        let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        return Err(format!("unknown limit '{name}'; the limits are {}", names.join(", ")));
    };
    let parsed = if setting.bytes { crate::config::byte_size(value) } else { value.trim().parse::<usize>().ok() };
    match parsed {
        Some(n) if n > setting.most => Err(format!(
            "invalid value '{value}' for {}: at most {} (the default is {})",
            setting.name,
            setting.most,
            get(setting.cell)
        )),
        Some(n) if n > 0 => Ok((setting, n)),
        _ => Err(format!(
            "invalid value '{value}' for {}: expected a positive {}",
            setting.name,
            if setting.bytes { "size such as 512MB or 1GB" } else { "whole number" }
        )),
    }
}

/// Sets the limits the configuration gives (name, value), for the whole process; all or none.
pub fn configure(values: &[(String, String)]) -> Result<(), String> {
    let parsed = values.iter().map(|(name, value)| parse(name, value)).collect::<Result<Vec<_>, _>>()?;
    for (setting, n) in parsed {
        setting.cell.store(n, Ordering::Relaxed);
    }
    Ok(())
}

/// A text over this many bytes, or with a statement of more than [`HEAVY_OPERATORS`] operators, is
/// parsed, planned and run off the async workers' turn (`block_in_place`), so that the other
/// sessions of the worker move to another thread and keep being answered meanwhile.
pub const LARGE_STATEMENT_BYTES: usize = 64 << 10;

/// See [`LARGE_STATEMENT_BYTES`].
pub const HEAVY_OPERATORS: usize = 256;

/// A statement with more list items (commas) than this is heavy too: the SQL engine plans long
/// lists in time that grows faster than the list.
pub const HEAVY_ITEMS: usize = 1_000;

/// How much work a submitted text may be, from its size and its largest statement's operators.
#[derive(Debug, Clone, Copy, Default)]
pub struct Weight {
    pub bytes: usize,
    pub operators: usize,
    /// Commas of the statement with the most.
    pub items: usize,
}

impl Weight {
    /// Whether the text is worth running off the async workers' turn.
    pub fn is_heavy(&self) -> bool {
        self.bytes > LARGE_STATEMENT_BYTES || self.operators > HEAVY_OPERATORS || self.items > HEAVY_ITEMS
    }
}

/// The limits as `SHOW PROPERTIES` lists them (scope SERVER): name and value.
pub fn listed() -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("eddy.limit.message.bytes", pgwire::messages::max_frontend_message_length().to_string()),
        ("eddy.limit.statement.parameters", MAX_PARAMETERS.to_string()),
        ("eddy.limit.connections", get(&MAX_CONNECTIONS).to_string()),
    ];
    out.extend(SETTINGS.iter().map(|s| (s.name, get(s.cell).to_string())));
    out
}

fn too_complex(message: String, text: &str, at: sqlparser::tokenizer::Location) -> EngineError {
    EngineError::new(sqlstate::STATEMENT_TOO_COMPLEX, message).at(eddy_parser::location_to_position(text, at))
}

/// Checks a submitted text (one or many statements) against the limits above: operators per
/// statement, type nesting, statements per message and parameter numbers. A text that cannot be
/// tokenized passes (the parser reports it).
pub fn check_text(text: &str) -> Result<Weight, EngineError> {
    // Tokenizing a text of a few thousand items takes milliseconds in a debug build: off the turn too.
    if text.len() > SCAN_INLINE_BYTES && multi_thread() {
        tokio::task::block_in_place(|| scan(text))
    } else {
        scan(text)
    }
}

/// A text over this many bytes is tokenized for [`check_text`] off the async worker's turn.
const SCAN_INLINE_BYTES: usize = 16 << 10;

fn scan(text: &str) -> Result<Weight, EngineError> {
    let mut weight = Weight { bytes: text.len(), operators: 0, items: 0 };
    let Ok(tokens) = Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, text).tokenize_with_location() else {
        return Ok(weight);
    };
    let (max_statements, max_list_values, max_nesting, max_operators) =
        (get(&MAX_STATEMENTS), get(&MAX_LIST_VALUES), get(&MAX_TYPE_NESTING), get(&MAX_OPERATORS));
    // Statements are counted as they start: empty ones (`;;`, a trailing `;`) do not count.
    let (mut operators, mut statements, mut nesting) = (0usize, 0usize, 0usize);
    // Each open parenthesis or bracket, with the values counted so far when it opens a list (`IN (`,
    // an array literal's `[`), and the commas of the statement (for its weight).
    let mut parens: Vec<Option<usize>> = Vec::new();
    let mut commas = 0usize;
    let mut in_statement = false;
    let mut previous_word: Option<Keyword> = None;
    for token in &tokens {
        let at = token.span.start;
        if !in_statement && !matches!(token.token, Token::SemiColon | Token::Whitespace(_)) {
            in_statement = true;
            statements += 1;
            if statements > max_statements {
                return Err(EngineError::new(
                    sqlstate::PROGRAM_LIMIT_EXCEEDED,
                    format!("more than {max_statements} statements in one message"),
                )
                .with_hint("Send them in several messages."));
            }
        }
        match &token.token {
            Token::SemiColon => {
                operators = 0;
                nesting = 0;
                commas = 0;
                parens.clear();
                in_statement = false;
            }
            Token::RParen | Token::RBracket => {
                parens.pop();
            }
            Token::Comma => {
                commas += 1;
                weight.items = weight.items.max(commas);
                if let Some(Some(values)) = parens.last_mut() {
                    *values += 1;
                    if *values >= max_list_values {
                        return Err(EngineError::new(
                            sqlstate::PROGRAM_LIMIT_EXCEEDED,
                            format!("more than {max_list_values} values in one list (IN or ARRAY[...])"),
                        )
                        .with_hint(
                            "Filter with a join against a table of the values instead \
                             (the limit is eddy.limit.statement.list.values).",
                        )
                        .at(eddy_parser::location_to_position(text, at)));
                    }
                }
            }
            Token::Lt if matches!(previous_word, Some(Keyword::ARRAY | Keyword::MAP | Keyword::STRUCT)) => {
                nesting += 1;
                if nesting > max_nesting {
                    return Err(too_complex(format!("type nested more than {max_nesting} deep"), text, at));
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
            | Token::DoubleColon
            | Token::Period => operators += 1,
            Token::LBracket => {
                operators += 1;
                parens.push(Some(0));
            }
            Token::LParen => {
                operators += 1;
                parens.push(matches!(previous_word, Some(Keyword::IN)).then_some(0));
            }
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
        if operators > max_operators {
            return Err(too_complex(
                format!("statement too complex: more than {max_operators} operators in one statement"),
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
    fn limit_values_are_parsed_by_kind() {
        assert_eq!(
            parse("eddy.limit.pull.result.rows", "5").map(|(s, n)| (s.name, n)),
            Ok(("eddy.limit.pull.result.rows", 5))
        );
        assert_eq!(parse("EDDY.LIMIT.QUERY.RESULT.BYTES", "2MB").map(|(_, n)| n), Ok(2 << 20));
        assert!(parse("eddy.limit.pull.result.rows", "2MB").is_err());
        assert!(parse("eddy.limit.pull.result.rows", "0").is_err());
        // Limits that keep recursion within the stacks can only be lowered.
        assert!(parse("eddy.limit.statement.operators", "30001").is_err());
        assert!(parse("eddy.limit.statement.operators", "1000").is_ok());
        let e = parse("eddy.limit.push.queries", "5").map(|_| ()).expect_err("set otherwise");
        assert!(e.contains("--max-push-queries"), "{e}");
        let e = parse("eddy.limit.nope", "1").map(|_| ()).expect_err("unknown");
        assert!(e.contains("eddy.limit.statement.operators"), "{e}");
        // Nothing is set when one value is wrong.
        assert!(configure(&[("eddy.limit.pull.result.rows".into(), "x".into())]).is_err());
        assert_eq!(get(&MAX_PULL_ROWS), 1_000_000);
    }

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
        assert!(check_text(&"SELECT 1;".repeat(get(&MAX_STATEMENTS))).is_ok());
        assert!(check_text(&format!("{}SELECT 1", "SELECT 1;".repeat(get(&MAX_STATEMENTS) - 1))).is_ok());
        assert!(check_text(&format!("{}SELECT 1", "SELECT 1;".repeat(get(&MAX_STATEMENTS)))).is_err());
        assert!(check_text(&";".repeat(100_000)).is_ok());
        // IN lists: values counted per list, nested parentheses and other lists apart.
        let list = |n: usize| (0..n).map(|i| format!("({i})")).collect::<Vec<_>>().join(",");
        assert!(
            check_text(&format!("SELECT * FROM t WHERE a IN ({}) AND f(1, 2)", list(get(&MAX_LIST_VALUES)))).is_ok()
        );
        let e = check_text(&format!("SELECT * FROM t WHERE a IN ({})", list(get(&MAX_LIST_VALUES) + 1)))
            .expect_err("long IN");
        assert_eq!(e.sqlstate, sqlstate::PROGRAM_LIMIT_EXCEEDED);
        let commas = vec!["1"; get(&MAX_LIST_VALUES) + 10].join(",");
        assert!(check_text(&format!("SELECT {commas}")).expect("a long select list").is_heavy());
        assert!(check_text(&format!("SELECT * FROM t WHERE a NOT IN ({commas})")).is_err());
        // Array literals are lists; an array inside an IN list is one of its values.
        assert!(check_text(&format!("SELECT cardinality(ARRAY[{commas}])")).is_err());
        assert!(check_text(&format!("SELECT a = ANY(ARRAY[{commas}])")).is_err());
        let arrays = (0..10).map(|_| format!("ARRAY[{}]", vec!["1"; 5_000].join(","))).collect::<Vec<_>>().join(",");
        assert!(check_text(&format!("SELECT ARRAY[1] IN ({arrays})")).is_ok());
        assert!(!check_text("SELECT a, b FROM t").expect("light").is_heavy());
    }
}
