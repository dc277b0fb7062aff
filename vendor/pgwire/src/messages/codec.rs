use std::str;

use bytes::{Buf, BufMut, BytesMut};

use crate::error::{PgWireError, PgWireResult};

/// Get null-terminated string, returns None when empty or
/// non null-terminated cstring read.
///
/// Note that this implementation will also advance cursor by 1 after reading
/// empty cstring. This behaviour works for how postgres wire protocol handling
/// key-value pairs, which is ended by a single `\0`
pub(crate) fn get_cstring(buf: &mut BytesMut) -> PgWireResult<Option<String>> {
    let mut i = 0;

    // with bound check to prevent invalid format
    while i < buf.remaining() && buf[i] != b'\0' {
        i += 1;
    }

    if i == buf.remaining() {
        return Ok(None);
    }

    // i+1: include the '\0'
    // move cursor to the end of cstring
    let string_buf = buf.split_to(i + 1);

    if i == 0 {
        Ok(None)
    } else {
        // Eddy: a string that is not UTF-8 is an error, as PostgreSQL's server encoding check
        // (it was replaced with U+FFFD and stored silently).
        match std::str::from_utf8(&string_buf[..i]) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(e) => {
                let at = e.valid_up_to();
                let bad: Vec<String> = string_buf[at..i].iter().take(e.error_len().unwrap_or(1)).map(|b| format!("0x{b:02x}")).collect();
                Err(PgWireError::InvalidUtf8(bad.join(" ")))
            }
        }
    }
}

/// Put null-termianted string
///
/// You can put empty string by giving `""` as input.
pub(crate) fn put_cstring(buf: &mut BytesMut, input: &str) {
    buf.put_slice(input.as_bytes());
    buf.put_u8(b'\0');
}

pub(crate) fn put_option_cstring(buf: &mut BytesMut, input: &Option<String>) {
    if let Some(input) = input {
        put_cstring(buf, input);
    } else {
        buf.put_u8(b'\0');
    }
}

/// Try to read message length from buf, without actually move the cursor
pub(crate) fn get_length(buf: &BytesMut, offset: usize) -> Option<usize> {
    if buf.remaining() >= 4 + offset {
        Some((&buf[offset..4 + offset]).get_i32() as usize)
    } else {
        None
    }
}

/// Validate an on-wire element count before it is used to pre-allocate a
/// collection. Counts are unsigned; `count` elements of `elem_size` bytes each
/// must fit in the remaining buffer, or the message cannot be real.
pub(crate) fn ensure_count(count: usize, elem_size: usize, buf: &BytesMut) -> PgWireResult<()> {
    let remaining = buf.remaining();
    let needed = count.saturating_mul(elem_size);
    if needed > remaining {
        Err(PgWireError::InvalidElementCount(count, needed, remaining))
    } else {
        Ok(())
    }
}

/// The most bytes a frontend message may have (its length field included), whatever its type
/// allows; see [`set_max_frontend_message_length`].
static MAX_FRONTEND_MESSAGE_LENGTH: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(super::LARGE_PACKET_SIZE_LIMIT);

/// Sets the most bytes any message may have (its length field included); a longer message is
/// refused from its length header, before its body is read (Eddy).
pub fn set_max_frontend_message_length(max: usize) {
    MAX_FRONTEND_MESSAGE_LENGTH.store(max, std::sync::atomic::Ordering::Relaxed);
}

/// The limit [`set_max_frontend_message_length`] set.
pub fn max_frontend_message_length() -> usize {
    MAX_FRONTEND_MESSAGE_LENGTH.load(std::sync::atomic::Ordering::Relaxed)
}

/// Check if message_length matches and move the cursor to right position then
/// call the `decode_fn` for the body.
///
/// Eddy: the body is decoded from exactly the bytes its length names, and
/// must use them all: bytes after a string's NUL, or a length that disagrees
/// with the content, are an error ("invalid message format", as PostgreSQL's
/// `pq_getmsgend`), never the start of the next message. A length under 4
/// is an error too.
pub(crate) fn decode_packet<T, F>(
    buf: &mut BytesMut,
    offset: usize,
    max_size: usize,
    decode_fn: F,
) -> PgWireResult<Option<T>>
where
    F: Fn(&mut BytesMut, usize) -> PgWireResult<T>,
{
    if let Some(length) = get_length(buf, offset) {
        let msg_len = (length as i32) as i64;
        if !(4..=i32::MAX as i64).contains(&msg_len) {
            return Err(PgWireError::InvalidMessageFormat(format!(
                "invalid message length {msg_len}"
            )));
        }
        let msg_len = msg_len as usize;
        let max_size = max_size.min(max_frontend_message_length());
        if msg_len > max_size {
            return Err(PgWireError::MessageTooLarge(max_size, msg_len));
        }

        if buf.remaining() >= msg_len + offset {
            buf.advance(offset + 4);
            let mut body = buf.split_to(msg_len - 4);
            let message = decode_fn(&mut body, msg_len)?;
            if body.has_remaining() {
                return Err(PgWireError::InvalidMessageFormat(format!(
                    "{} unread bytes at the end of a message",
                    body.remaining()
                )));
            }
            return Ok(Some(message));
        }
    }

    Ok(None)
}

/// `n` bytes taken from the front of `buf`, or an error if it holds fewer.
pub(crate) fn take(buf: &mut BytesMut, n: usize) -> PgWireResult<BytesMut> {
    if n > buf.remaining() {
        return Err(short(n, buf));
    }
    Ok(buf.split_to(n))
}

fn short(n: usize, buf: &BytesMut) -> PgWireError {
    PgWireError::InvalidMessageFormat(format!(
        "message too short: {n} more bytes expected, {} left",
        buf.remaining()
    ))
}

macro_rules! checked_get {
    ($($name:ident: $ty:ty),*) => {$(
        /// A value read from `buf`, or an error if it holds too few bytes.
        pub(crate) fn $name(buf: &mut BytesMut) -> PgWireResult<$ty> {
            let n = std::mem::size_of::<$ty>();
            if buf.remaining() < n {
                return Err(short(n, buf));
            }
            Ok(buf.$name())
        }
    )*};
}

checked_get!(get_u8: u8, get_i8: i8, get_i16: i16, get_u16: u16, get_i32: i32, get_u32: u32);

// pub(crate) fn get_and_ensure_message_type(buf: &mut BytesMut, t: u8) -> PgWireResult<()> {
//     let msg_type = buf[0];
//     // ensure the type is corrent
//     if msg_type != t {
//         return Err(PgWireError::InvalidMessageType(t, msg_type));
//     }

//     Ok(())
// }

pub(crate) fn option_string_len(s: &Option<String>) -> usize {
    1 + s.as_ref().map(|s| s.len()).unwrap_or(0)
}

#[cfg(test)]
mod test {
    use super::get_cstring;
    use bytes::{BufMut, BytesMut};

    #[test]
    fn get_cstring_valid() {
        let mut buf = BytesMut::new();
        buf.put(&b"a cstring\0"[..]);
        buf.put(&b"\0"[..]);

        assert_eq!(Some("a cstring".into()), get_cstring(&mut buf).unwrap());
        assert_eq!(None, get_cstring(&mut buf).unwrap());
    }

    #[test]
    fn get_cstring_empty() {
        let mut buf = BytesMut::new();

        assert_eq!(None, get_cstring(&mut buf).unwrap());
    }

    #[test]
    fn get_cstring_without_null() {
        let mut buf = BytesMut::new();
        buf.put(&b"a cstring"[..]);
        assert_eq!(None, get_cstring(&mut buf).unwrap());
    }
}
