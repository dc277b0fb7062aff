//! Splits typed or scripted text into statements: SQL ends at a `;` outside quotes and comments, a
//! local command (`help`, `SPOOL f`, `DEFINE x = 'v'`, ...) ends at its line's end or a `;`.

/// One statement and the line (from 1) where it starts in the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub line: usize,
}

/// Words that start a command the shell runs itself.
const LOCAL: &[&str] =
    &["HELP", "EXIT", "QUIT", "CLEAR", "HISTORY", "SPOOL", "OUTPUT", "\\OUTPUT", "RUN", "DEFINE", "UNDEFINE"];

/// Whether a statement's first words make it a local command.
pub fn is_local(text: &str) -> bool {
    let mut words = text.split_whitespace().map(str::to_ascii_uppercase);
    match words.next().as_deref() {
        Some("RUN") => words.next().as_deref() == Some("SCRIPT"),
        Some("SHOW" | "LIST") => words.next().as_deref().map(|w| w.trim_end_matches(';')) == Some("VARIABLES"),
        Some(w) => LOCAL.contains(&w.trim_end_matches(';')),
        None => false,
    }
}

/// The complete statements of `input`, and the unfinished rest (empty when the input ends cleanly).
pub fn split(input: &str) -> (Vec<Piece>, String) {
    let chars: Vec<char> = input.chars().collect();
    let mut pieces = Vec::new();
    let mut line = 1;
    let mut i = 0;
    loop {
        // Skip blanks and comments between statements.
        loop {
            match (chars.get(i), chars.get(i + 1)) {
                (Some('\n'), _) => {
                    line += 1;
                    i += 1;
                }
                (Some(c), _) if c.is_whitespace() => i += 1,
                (Some(';'), _) => i += 1,
                (Some('-'), Some('-')) => {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                }
                (Some('/'), Some('*')) => match find_block_end(&chars, i + 2) {
                    Some(end) => {
                        line += chars[i..end].iter().filter(|c| **c == '\n').count();
                        i = end;
                    }
                    None => return (pieces, chars[i..].iter().collect()),
                },
                _ => break,
            }
        }
        if i >= chars.len() {
            return (pieces, String::new());
        }
        let start = i;
        let start_line = line;
        let line_end = chars[i..].iter().position(|c| *c == '\n').map(|p| i + p).unwrap_or(chars.len());
        let first_line: String = chars[i..line_end].iter().collect();
        if is_local(&first_line) {
            // A local command ends at a `;` on its line, or at the line's end.
            let end = statement_end(&chars[..line_end], i).unwrap_or(line_end);
            let text: String = chars[i..end].iter().collect();
            pieces.push(Piece { text: text.trim().to_string(), line: start_line });
            i = end;
            continue;
        }
        match statement_end(&chars, i) {
            Some(end) => {
                let text: String = chars[start..end].iter().collect();
                line += text.matches('\n').count();
                pieces.push(Piece { text: text.trim().to_string(), line: start_line });
                i = end + 1;
            }
            None => return (pieces, chars[start..].iter().collect()),
        }
    }
}

/// Whether the input holds only finished statements (what the line editor asks before submitting).
pub fn is_complete(input: &str) -> bool {
    split(input).1.trim().is_empty()
}

/// Index of the `;` that ends the statement starting at `i`, if the text has one.
fn statement_end(chars: &[char], mut i: usize) -> Option<usize> {
    while i < chars.len() {
        match chars[i] {
            ';' => return Some(i),
            quote @ ('\'' | '"' | '`') => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return None,
                        // A doubled quote is an escaped one.
                        Some(c) if *c == quote && chars.get(i + 1) == Some(&quote) => i += 2,
                        Some(c) if *c == quote => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => i = find_block_end(chars, i + 2)?,
            _ => i += 1,
        }
    }
    None
}

/// The index after the `*/` closing a block comment whose body starts at `i`.
fn find_block_end(chars: &[char], mut i: usize) -> Option<usize> {
    while i + 1 < chars.len() {
        if chars[i] == '*' && chars[i + 1] == '/' {
            return Some(i + 2);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> (Vec<(String, usize)>, String) {
        let (pieces, rest) = split(input);
        (pieces.into_iter().map(|p| (p.text, p.line)).collect(), rest)
    }

    #[test]
    fn statements_end_at_semicolons_outside_quotes_and_comments() {
        let (pieces, rest) = texts(
            "CREATE STREAM s (a STRING)\n  WITH (KAFKA_TOPIC='a;b');\n-- a ; comment\nSELECT 'it''s;' /* ; */ FROM s EMIT CHANGES;\nSELECT `x;y`",
        );
        assert_eq!(
            pieces,
            vec![
                ("CREATE STREAM s (a STRING)\n  WITH (KAFKA_TOPIC='a;b')".to_string(), 1),
                ("SELECT 'it''s;' /* ; */ FROM s EMIT CHANGES".to_string(), 4),
            ]
        );
        assert_eq!(rest, "SELECT `x;y`");
        assert!(!is_complete("SELECT 'a;"));
        assert!(is_complete("SELECT 'a;';  -- done"));
        assert!(is_complete("  \n"));
        assert!(!is_complete("/* open"));
    }

    #[test]
    fn local_commands_end_at_the_line_end() {
        let (pieces, rest) = texts(
            "help\nDEFINE x = 'a;b';\nrun script 'f.sql'\nSHOW VARIABLES;\nSHOW STREAMS;\nOUTPUT csv; SHOW TABLES;",
        );
        let names: Vec<&str> = pieces.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "help",
                "DEFINE x = 'a;b'",
                "run script 'f.sql'",
                "SHOW VARIABLES",
                "SHOW STREAMS",
                "OUTPUT csv",
                "SHOW TABLES"
            ]
        );
        assert_eq!(pieces.iter().map(|p| p.1).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 6]);
        assert!(rest.is_empty());
        assert!(is_complete("exit"));
        assert!(!is_local("SELECT help FROM s;"));
    }
}
