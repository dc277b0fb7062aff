//! Who may connect: `trust`, `password` (cleartext, for use over TLS) or `scram-sha-256`, checked
//! against SCRAM-SHA-256 verifiers kept in the config file in Postgres' own format
//! (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, as `pg_authid.rolpassword`
//! holds them; RFC 5802 / 7677), so the server never stores a password.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pgwire::api::auth::sasl::scram::{gen_salted_password, ScramSecret};
use pgwire::api::auth::{AuthSource, LoginInfo, Password};
use pgwire::error::{PgWireError, PgWireResult};

/// How clients prove who they are (`--auth`; Postgres' `pg_hba.conf` methods of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Anyone may connect as any user (the default; allowed on loopback addresses only).
    Trust,
    /// The password in clear text (AuthenticationCleartextPassword): use with TLS.
    Password,
    /// SCRAM-SHA-256 (AuthenticationSASL): the password never crosses the wire.
    ScramSha256,
}

impl std::str::FromStr for AuthMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "trust" => Ok(Self::Trust),
            "password" => Ok(Self::Password),
            "scram-sha-256" | "scram" => Ok(Self::ScramSha256),
            other => Err(format!("unknown auth method '{other}': use trust, password or scram-sha-256")),
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Trust => "trust",
            Self::Password => "password",
            Self::ScramSha256 => "scram-sha-256",
        })
    }
}

/// Iterations of new verifiers (Postgres' `scram_iterations` default).
pub const SCRAM_ITERATIONS: usize = 4096;

/// A SCRAM-SHA-256 verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    iterations: usize,
    salt: Vec<u8>,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}

impl Verifier {
    /// Parses `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64 parts).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || "expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>".to_string();
        let rest = text.trim().strip_prefix("SCRAM-SHA-256$").ok_or_else(bad)?;
        let (params, keys) = rest.split_once('$').ok_or_else(bad)?;
        let (iterations, salt) = params.split_once(':').ok_or_else(bad)?;
        let (stored_key, server_key) = keys.split_once(':').ok_or_else(bad)?;
        let b64 = |s: &str| STANDARD.decode(s).map_err(|e| format!("invalid base64 in verifier: {e}"));
        let verifier = Self {
            iterations: iterations.parse().map_err(|_| bad())?,
            salt: b64(salt)?,
            stored_key: b64(stored_key)?,
            server_key: b64(server_key)?,
        };
        if verifier.iterations == 0 || verifier.stored_key.len() != 32 || verifier.server_key.len() != 32 {
            return Err(bad());
        }
        Ok(verifier)
    }

    /// The verifier of a password with a new random salt.
    pub fn new(password: &str) -> Self {
        Self::with_salt(password, rand::random::<[u8; 16]>().to_vec(), SCRAM_ITERATIONS)
    }

    fn with_salt(password: &str, salt: Vec<u8>, iterations: usize) -> Self {
        let salted = gen_salted_password(password, &salt, iterations);
        match ScramSecret::verifier_from_salted_password(salt, salted, iterations) {
            ScramSecret::Verifier { salt, iterations, stored_key, server_key } => {
                Self { iterations, salt, stored_key, server_key }
            }
            ScramSecret::SaltedPassword { .. } => unreachable!("verifier_from_salted_password returns a verifier"),
        }
    }

    /// Whether a cleartext password is the one this verifier was made from.
    pub fn matches(&self, password: &str) -> bool {
        let candidate = Self::with_salt(password, self.salt.clone(), self.iterations);
        // Constant-time enough for 32-byte keys: compare every byte.
        candidate.stored_key.iter().zip(&self.stored_key).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
            && candidate.stored_key.len() == self.stored_key.len()
    }
}

impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(&self.stored_key),
            STANDARD.encode(&self.server_key)
        )
    }
}

/// The users who may connect, by name.
#[derive(Debug, Clone, Default)]
pub struct Users {
    verifiers: BTreeMap<String, Verifier>,
    /// Keys the mock salts of unknown users (Postgres' `scram_mock_salt`).
    mock: RandomState,
}

impl Users {
    /// Users from `name = "SCRAM-SHA-256$..."` entries; errors name the bad entry.
    pub fn from_entries(entries: &BTreeMap<String, String>) -> Result<Self, String> {
        let mut verifiers = BTreeMap::new();
        for (name, text) in entries {
            let v = Verifier::parse(text).map_err(|e| format!("user '{name}': {e}"))?;
            verifiers.insert(name.clone(), v);
        }
        Ok(Self { verifiers, mock: RandomState::new() })
    }

    /// Whether no user is configured.
    pub fn is_empty(&self) -> bool {
        self.verifiers.is_empty()
    }

    /// Whether `password` is `user`'s (false for unknown users).
    pub fn verifies(&self, user: &str, password: &str) -> bool {
        self.verifiers.get(user).is_some_and(|v| v.matches(password))
    }

    fn verifier(&self, login: &LoginInfo) -> PgWireResult<&Verifier> {
        let user = login.user().unwrap_or_default();
        // An unknown user fails as a wrong password does: no hint which users exist.
        self.verifiers.get(user).ok_or_else(|| PgWireError::InvalidPassword(user.to_string()))
    }
}

#[async_trait]
impl AuthSource for Users {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        // Only verifiers are kept: there is no password to give.
        Err(PgWireError::InvalidPassword(login.user().unwrap_or_default().to_string()))
    }

    async fn verify_password(&self, login: &LoginInfo, presented: &[u8]) -> PgWireResult<Option<()>> {
        let verifier = self.verifier(login)?;
        let password = std::str::from_utf8(presented).unwrap_or_default();
        if verifier.matches(password) {
            Ok(None)
        } else {
            Err(PgWireError::InvalidPassword(login.user().unwrap_or_default().to_string()))
        }
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        let user = login.user().unwrap_or_default();
        let Some(v) = self.verifiers.get(user) else {
            // As Postgres does for an unknown user: a mock exchange (the same salt for the same
            // name, keys no proof matches) that fails where a wrong password would.
            let salt = [0u8, 1].iter().flat_map(|i| self.mock.hash_one((i, user)).to_le_bytes()).collect();
            let random = || rand::random::<[u8; 32]>().to_vec();
            let secret = ScramSecret::Verifier {
                salt,
                iterations: SCRAM_ITERATIONS,
                stored_key: random(),
                server_key: random(),
            };
            return Ok((secret, None));
        };
        Ok((
            ScramSecret::Verifier {
                salt: v.salt.clone(),
                iterations: v.iterations,
                stored_key: v.stored_key.clone(),
                server_key: v.server_key.clone(),
            },
            None,
        ))
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index what they just built.
mod tests {
    use super::*;

    #[test]
    fn verifiers_round_trip_and_check_passwords() {
        let v = Verifier::new("s3cret");
        let parsed = Verifier::parse(&v.to_string()).unwrap();
        assert_eq!(parsed, v);
        assert!(parsed.matches("s3cret"));
        assert!(!parsed.matches("secret"));
        assert!(Verifier::parse("md5abc").is_err());
    }

    #[test]
    fn postgres_verifiers_are_read() {
        // What PostgreSQL 15 stored in pg_authid.rolpassword for password 'postgres'.
        let pg = "SCRAM-SHA-256$4096:2z+4mMXyHnM/furSN7qa3w==$Py9d2OVWRwatrDltwNB6xn9DOj05KItqShsh05pMuzM=:37t8mhY1erR+obrOtKUoTVisXwubnwyRJ1iW8XncPgA=";
        let v = Verifier::parse(pg).unwrap();
        assert!(v.matches("postgres"));
        assert!(!v.matches("postgres "));
        assert_eq!(v.to_string(), pg);
    }
}
