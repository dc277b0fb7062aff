//! The fast path of the JSON object reader: a flat object (no escapes, no nested values in columns of
//! primitive types) is validated as UTF-8 once and scanned byte by byte, each field's value converted
//! by the same visitor as the general reader. Anything else (escapes, nested values, syntax and
//! conversion errors, integers beyond i64) is left to the general reader, so both give the same
//! cells and the same errors.

use eddy_catalog::SqlType;
use serde::de::Visitor;

use super::json_read::ScalarVisitor;
use crate::cell::Cell;

/// Where a column's cell came from: the field named exactly as the column (the last one wins),
/// else the first field whose name matches ignoring case (its last value when it repeats).
#[derive(Clone, Copy)]
enum From<'a> {
    Nothing,
    Exact,
    Folded(&'a str),
}

/// The bytes that end the plain part of a JSON string: the closing quote, an escape, a control
/// character (invalid in JSON text).
fn is_stop(b: u8) -> bool {
    matches!(b, 0..=0x1f | b'"' | b'\\')
}

/// The index of the first stop byte ([`is_stop`]): sixteen bytes at a time with SSE2 (every x86-64 has it), then
/// eight at a time.
fn find_stop(bytes: &[u8]) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: the function only needs SSE2, which this build's target enables (the cfg above).
        match unsafe { find_stop_sse2(bytes) } {
            Ok(found) => found,
            Err(at) => find_stop_words(bytes, at),
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    find_stop_words(bytes, 0)
}

/// `find_stop` over whole sixteen-byte blocks: Ok(the answer) when a block has a stop byte, else
/// Err(where the blocks end).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
fn find_stop_sse2(bytes: &[u8]) -> Result<Option<usize>, usize> {
    use std::arch::x86_64::*;
    let (quote, backslash, control) = (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\\' as i8), _mm_set1_epi8(0x1f));
    let mut at = 0;
    while let (Some(low), Some(high)) = (word(bytes, at), word(bytes, at + 8)) {
        let x = _mm_set_epi64x(high as i64, low as i64);
        // A byte at most 0x1f is its own unsigned minimum with 0x1f.
        let hits = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
            _mm_cmpeq_epi8(_mm_min_epu8(x, control), x),
        );
        let mask = _mm_movemask_epi8(hits);
        if mask != 0 {
            return Ok(Some(at + mask.trailing_zeros() as usize));
        }
        at += 16;
    }
    Err(at)
}

/// `find_stop` from `at`, eight bytes at a time: a byte is flagged when it is zero after XOR with `"`
/// or `\\`, or below 0x20; the lowest flagged byte is always a real match.
fn find_stop_words(bytes: &[u8], mut at: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(w) = word(bytes, at) {
        let x = u64::from_le_bytes(w.to_ne_bytes());
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        let flags = zero(x ^ (ONES * b'"' as u64))
            | zero(x ^ (ONES * b'\\' as u64))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if flags != 0 {
            return Some(at + (flags.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes.get(at..)?.iter().position(|&b| is_stop(b)).map(|i| at + i)
}

/// A cursor over the record's text.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

/// A scalar JSON token.
enum Token<'a> {
    Str(&'a str),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes().get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.at += 1)
    }

    /// A string without escapes or control characters (the opening quote is next).
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = self.bytes().get(start..)?;
        let len = find_stop(rest)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.at = start + len + 1;
        self.text.get(start..start + len)
    }

    /// A number: an integer that fits i64 (accumulated while scanned), or a float parsed as
    /// serde_json parses it.
    fn number(&mut self) -> Option<Token<'a>> {
        let start = self.at;
        let bytes = self.bytes();
        let negative = bytes.get(start) == Some(&b'-');
        let first = start + usize::from(negative);
        let mut end = first;
        let mut magnitude: u64 = 0;
        while let Some(&b) = bytes.get(end) {
            if !b.is_ascii_digit() {
                break;
            }
            magnitude = magnitude.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            end += 1;
        }
        let digits = end - first;
        if digits == 0 || (digits > 1 && bytes.get(first) == Some(&b'0')) {
            return None;
        }
        if !matches!(bytes.get(end), Some(b'.' | b'e' | b'E')) {
            self.at = end;
            // Up to 18 digits cannot overflow; longer ones are parsed (and may not fit).
            if digits <= 18 {
                let v = magnitude as i64;
                return Some(Token::Integer(if negative { -v } else { v }));
            }
            return self.text.get(start..end)?.parse::<i64>().ok().map(Token::Integer);
        }
        end += bytes
            .get(end..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
            .count();
        let token = self.text.get(start..end)?;
        self.at = end;
        serde_json::from_str::<f64>(token).ok().map(Token::Float)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.text[self.at..].starts_with(word).then(|| self.at += word.len())
    }

    /// A scalar value; None for nested values and anything the general reader should see.
    fn scalar(&mut self) -> Option<Token<'a>> {
        Some(match self.peek()? {
            b'"' => Token::Str(self.string()?),
            b't' => self.literal("true").map(|_| Token::Bool(true))?,
            b'f' => self.literal("false").map(|_| Token::Bool(false))?,
            b'n' => self.literal("null").map(|_| Token::Null)?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        })
    }
}

/// Converts a token as the general reader's visitor does.
fn convert<'a>(token: Token<'a>, ty: &SqlType) -> Option<crate::error::Result<Cell<'a>>> {
    // The usual pairs first, without the visitor's dispatch.
    match (&token, ty) {
        (Token::Integer(v), SqlType::Bigint) => return Some(Ok(Cell::Value(crate::value::Value::Bigint(*v)))),
        (Token::Str(s), SqlType::String) => return Some(Ok(Cell::Str(s))),
        _ => {}
    }
    let visitor = ScalarVisitor(ty);
    let converted: std::result::Result<_, serde_json::Error> = match token {
        Token::Str(s) => visitor.visit_borrowed_str(s),
        Token::Integer(v) => visitor.visit_i64(v),
        Token::Float(v) => visitor.visit_f64(v),
        Token::Bool(b) => visitor.visit_bool(b),
        Token::Null => visitor.visit_unit(),
    };
    converted.ok()
}

/// Whether `scan_object` can read objects for these columns: names `distinct` ignoring case, every
/// type primitive (not BYTES).
pub(super) fn scannable(columns: &[(String, SqlType)], distinct: bool) -> bool {
    distinct && columns.iter().all(|(_, ty)| ty.is_primitive() && !matches!(ty, SqlType::Bytes))
}

/// Each column's field as it usually starts, `"NAME":` and `"name":`: when the next field in a record
/// is the expected column's spelled one of these ways, it is taken without scanning and matching its
/// name (no pattern for names that JSON would escape).
pub(super) struct KeyPatterns {
    exact: Vec<Option<Pattern>>,
    lower: Vec<Option<Pattern>>,
}

impl KeyPatterns {
    pub fn new(columns: &[(String, SqlType)]) -> Self {
        let pattern = |name: &str| -> Option<Pattern> {
            if name.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
                return None;
            }
            Some(Pattern::new([b"\"", name.as_bytes(), b"\":"].concat()))
        };
        Self {
            exact: columns.iter().map(|(n, _)| pattern(n)).collect(),
            lower: columns.iter().map(|(n, _)| pattern(&n.to_ascii_lowercase())).collect(),
        }
    }

    /// Whether `rest` starts with column `i`'s field: Some(true) spelled exactly, Some(false) in lower case.
    fn at(&self, i: usize, rest: &[u8]) -> Option<bool> {
        let matches = |p: &Option<Pattern>| p.as_ref().is_some_and(|p| p.starts(rest));
        if matches(self.exact.get(i)?) {
            Some(true)
        } else if matches(self.lower.get(i)?) {
            Some(false)
        } else {
            None
        }
    }
}

/// The bytes a field starts with; the first sixteen also as two words and masks, so that a pattern
/// of up to sixteen bytes is compared with two loads where sixteen bytes of the record remain.
struct Pattern {
    bytes: Vec<u8>,
    words: [u64; 2],
    masks: [u64; 2],
}

impl Pattern {
    fn new(bytes: Vec<u8>) -> Self {
        let mut head = [0u8; 16];
        let mut mask = [0u8; 16];
        for ((h, m), &b) in head.iter_mut().zip(mask.iter_mut()).zip(&bytes) {
            *h = b;
            *m = 0xff;
        }
        let words = |a: &[u8; 16]| [word(a, 0).unwrap_or(0), word(a, 8).unwrap_or(0)];
        Self { words: words(&head), masks: words(&mask), bytes }
    }

    fn starts(&self, rest: &[u8]) -> bool {
        match (word(rest, 0), word(rest, 8)) {
            (Some(low), Some(high)) if self.bytes.len() <= 16 => {
                ((low ^ self.words[0]) & self.masks[0]) | ((high ^ self.words[1]) & self.masks[1]) == 0
            }
            _ => rest.starts_with(&self.bytes),
        }
    }
}

/// The eight bytes at `at` as a word; None when fewer remain.
fn word(bytes: &[u8], at: usize) -> Option<u64> {
    bytes.get(at..)?.first_chunk::<8>().map(|w| u64::from_ne_bytes(*w))
}

/// Decodes a flat JSON object into one cell per column (`scannable` columns), appended to `out`;
/// false (with `out` untouched) when the general reader must decode it.
pub(super) fn scan_object<'a>(
    columns: &[(String, SqlType)],
    patterns: &KeyPatterns,
    bytes: &'a [u8],
    out: &mut Vec<Cell<'a>>,
) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else { return false };
    let mut s = Scanner { text, at: 0 };
    let first = out.len();
    out.extend(columns.iter().map(|_| Cell::Value(crate::value::Value::Null)));
    // Where each column's cell came from; on the stack for the usual number of columns.
    let mut stack = [From::Nothing; 16];
    let mut heap = Vec::new();
    let from: &mut [From<'a>] = match stack.get_mut(..columns.len()) {
        Some(on_stack) => on_stack,
        None => {
            heap.resize(columns.len(), From::Nothing);
            &mut heap
        }
    };
    let scanned = out.get_mut(first..).and_then(|cells| scan_fields(&mut s, columns, patterns, cells, from));
    if scanned.is_none() {
        out.truncate(first);
        return false;
    }
    true
}

/// The fields of the object, each converted into its column's cell.
fn scan_fields<'a>(
    s: &mut Scanner<'a>,
    columns: &[(String, SqlType)],
    patterns: &KeyPatterns,
    cells: &mut [Cell<'a>],
    from: &mut [From<'a>],
) -> Option<()> {
    s.eat(b'{')?;
    let mut hint = 0;
    if s.peek()? == b'}' {
        s.at += 1;
    } else {
        loop {
            // Fields usually come in column order, spelled as the column or in lower case.
            s.peek()?;
            let (name, found) = match patterns.at(hint, s.bytes().get(s.at..)?) {
                Some(exact) => {
                    let len = columns.get(hint)?.0.len();
                    let name = s.text.get(s.at + 1..s.at + 1 + len)?;
                    s.at += len + 3;
                    (name, Some((hint, exact)))
                }
                None => {
                    let name = s.string()?;
                    s.eat(b':')?;
                    let matches = |i: &usize| columns.get(*i).is_some_and(|(c, _)| c.eq_ignore_ascii_case(name));
                    let found = (hint..columns.len()).find(matches).or_else(|| (0..hint).find(matches));
                    (name, found.and_then(|i| Some((i, columns.get(i)?.0 == name))))
                }
            };
            let value = s.scalar()?;
            if let Some((i, exact)) = found {
                hint = i + 1;
                let (slot, cell, ty) = (from.get_mut(i)?, cells.get_mut(i)?, &columns.get(i)?.1);
                let take = match *slot {
                    _ if exact => Some(From::Exact),
                    From::Nothing => Some(From::Folded(name)),
                    From::Folded(k) if k == name => Some(From::Folded(name)),
                    _ => None,
                };
                if let Some(f) = take {
                    *slot = f;
                    // A value that does not convert: the general reader reports it.
                    let old = std::mem::replace(cell, convert(value, ty)?.ok()?);
                    if let Cell::Value(crate::value::Value::Null) = old {
                        std::mem::forget(old); // nothing to free: skip the drop glue
                    }
                }
            }
            match s.peek()? {
                b',' => s.at += 1,
                b'}' => {
                    s.at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    if s.peek().is_some() {
        return None;
    }
    Some(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index what they just built.
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_starts_with_does() {
        let text: &[u8] = b"\"auction_identifier\":1000,\"bidder\":2001,\"x\":1}";
        for len in 0..text.len() {
            for from in 0..4 {
                let pattern = Pattern::new(text[from..from + len.min(text.len() - from)].to_vec());
                let others: [&[u8]; 2] = [b"\"auctioN\":1", b"\"auction_identifieR\":1"];
                for rest in [text, &text[1..], &text[..len / 2], &text[from..], others[0], others[1]] {
                    assert_eq!(pattern.starts(rest), rest.starts_with(&pattern.bytes), "{rest:?} {:?}", pattern.bytes);
                }
            }
        }
    }

    #[test]
    fn find_stop_finds_the_first_quote_escape_or_control_character() {
        let naive = |b: &[u8]| b.iter().position(|&c| is_stop(c));
        let mut cases: Vec<Vec<u8>> =
            vec![b"".to_vec(), b"plain".to_vec(), "h\u{e9}llo w\u{f6}rld, no stop here".as_bytes().to_vec()];
        for stop in [b'"', b'\\', b'\n', 0x00, 0x1f] {
            for at in 0..20 {
                let mut v = vec![b'a'; 24];
                v[at] = stop;
                v[at + 3] = b'"';
                cases.push(v);
            }
        }
        // Bytes just around the limits must not be flagged.
        cases.push(vec![0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xff, 0xa2, 0xdc, b'"']);
        // Long enough for both the sixteen- and the eight-byte steps, and every start.
        for stop in [b'"', b'\\', 0x1f, 0x00] {
            for at in 0..40 {
                let mut v = "\u{e9}".repeat(21).into_bytes();
                v[at] = stop;
                cases.push(v);
            }
        }
        for case in cases {
            assert_eq!(find_stop(&case), naive(&case), "{case:?}");
            for from in 0..case.len().min(9) {
                assert_eq!(find_stop_words(&case, from), naive(&case[from..]).map(|i| i + from), "{case:?} {from}");
            }
        }
    }
}
