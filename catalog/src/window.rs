//! Windowed keys: the window kind of a windowed source, and how window bounds ride on a Kafka key.

use std::fmt;

/// How a windowed source's windows are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WindowKind {
    /// Fixed-size windows (tumbling and hopping): the key carries the start; the end is start + size.
    Tumbling {
        size_ms: i64,
    },
    Hopping {
        size_ms: i64,
    },
    /// Sessions: the key carries both bounds.
    Session,
}

impl WindowKind {
    /// The window size of fixed-size windows.
    pub fn size_ms(&self) -> Option<i64> {
        match self {
            WindowKind::Tumbling { size_ms } | WindowKind::Hopping { size_ms } => Some(*size_ms),
            WindowKind::Session => None,
        }
    }

    /// `TUMBLING`, `HOPPING` or `SESSION`.
    pub fn name(&self) -> &'static str {
        match self {
            WindowKind::Tumbling { .. } => "TUMBLING",
            WindowKind::Hopping { .. } => "HOPPING",
            WindowKind::Session => "SESSION",
        }
    }

    /// Appends the window to serialized key bytes, as Kafka Streams' windowed serializers do: the
    /// start (8 bytes, big-endian) for fixed-size windows; end then start for sessions.
    pub fn append(&self, key: &mut Vec<u8>, start: i64, end: i64) {
        match self {
            WindowKind::Session => {
                key.extend_from_slice(&end.to_be_bytes());
                key.extend_from_slice(&start.to_be_bytes());
            }
            _ => key.extend_from_slice(&start.to_be_bytes()),
        }
    }

    /// Splits windowed key bytes into the inner key and the window bounds; None if too short.
    pub fn split<'a>(&self, key: &'a [u8]) -> Option<(&'a [u8], i64, i64)> {
        let be = |b: &[u8]| b.try_into().ok().map(i64::from_be_bytes);
        match self {
            WindowKind::Session => {
                let at = key.len().checked_sub(16)?;
                let (end, start) = (be(&key[at..at + 8])?, be(&key[at + 8..])?);
                Some((&key[..at], start, end))
            }
            _ => {
                let at = key.len().checked_sub(8)?;
                let start = be(&key[at..])?;
                Some((&key[..at], start, start.saturating_add(self.size_ms().unwrap_or(0))))
            }
        }
    }
}

impl fmt::Display for WindowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.size_ms() {
            Some(ms) => write!(f, "{} (SIZE {ms} MILLISECONDS)", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_keys_round_trip() {
        for kind in [WindowKind::Tumbling { size_ms: 30_000 }, WindowKind::Hopping { size_ms: 10 }, WindowKind::Session]
        {
            let mut key = b"k1".to_vec();
            let end = if kind == WindowKind::Session { 900 } else { 60_000 + kind.size_ms().unwrap_or(0) };
            kind.append(&mut key, 60_000, end);
            assert_eq!(kind.split(&key), Some((&b"k1"[..], 60_000, end)));
        }
        assert_eq!(WindowKind::Session.split(&[0; 15]), None);
    }

    #[test]
    fn session_keys_carry_end_before_start() {
        let mut key = Vec::new();
        WindowKind::Session.append(&mut key, 1, 2);
        assert_eq!(key, [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
    }
}
