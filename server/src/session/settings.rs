//! Postgres run-time settings (GUCs) of a session: `SET`, `SHOW`, `RESET`, `current_setting()`,
//! `set_config()` and `pg_settings` read and change them as Postgres does
//! (<https://www.postgresql.org/docs/15/runtime-config-client.html>).

use std::collections::BTreeMap;

/// The Postgres version Eddy speaks as (startup `server_version`, `SHOW server_version`, `version()`).
pub const SERVER_VERSION: &str = "15.0";
/// `server_version_num` of [`SERVER_VERSION`].
pub const SERVER_VERSION_NUM: &str = "150000";

/// One setting Eddy knows.
#[derive(Debug, Clone, Copy)]
pub struct Guc {
    /// The name as Postgres spells it (`DateStyle`); names match ignoring case.
    pub name: &'static str,
    pub default: &'static str,
    pub category: &'static str,
    pub description: &'static str,
    /// Reported to the client in a ParameterStatus message when it changes (and at startup).
    pub reported: bool,
    /// Only the server sets it.
    pub read_only: bool,
}

const fn guc(
    name: &'static str,
    default: &'static str,
    category: &'static str,
    description: &'static str,
    reported: bool,
    read_only: bool,
) -> Guc {
    Guc { name, default, category, description, reported, read_only }
}

/// The settings, in `SHOW ALL` order (by name).
pub const GUCS: &[Guc] = &[
    guc(
        "application_name",
        "",
        "Reporting and Logging",
        "Sets the application name to be reported in statistics and logs.",
        true,
        false,
    ),
    guc("bytea_output", "hex", "Client Connection Defaults", "Sets the output format for bytea.", false, false),
    guc(
        "client_encoding",
        "UTF8",
        "Client Connection Defaults",
        "Sets the client's character set encoding.",
        true,
        false,
    ),
    guc(
        "client_min_messages",
        "notice",
        "Client Connection Defaults",
        "Sets the message levels that are sent to the client.",
        false,
        false,
    ),
    guc(
        "DateStyle",
        "ISO, MDY",
        "Client Connection Defaults",
        "Sets the display format for date and time values.",
        true,
        false,
    ),
    guc(
        "default_transaction_isolation",
        "read committed",
        "Client Connection Defaults",
        "Sets the transaction isolation level of each new transaction.",
        false,
        false,
    ),
    guc(
        "default_transaction_read_only",
        "off",
        "Client Connection Defaults",
        "Sets the default read-only status of new transactions.",
        true,
        false,
    ),
    guc(
        "extra_float_digits",
        "1",
        "Client Connection Defaults",
        "Sets the number of digits displayed for floating-point values.",
        false,
        false,
    ),
    guc(
        "idle_in_transaction_session_timeout",
        "0",
        "Client Connection Defaults",
        "Sets the maximum allowed idle time between queries, when in a transaction.",
        false,
        false,
    ),
    guc(
        "idle_session_timeout",
        "0",
        "Client Connection Defaults",
        "Sets the maximum allowed idle time between queries, when not in a transaction.",
        false,
        false,
    ),
    guc("in_hot_standby", "off", "Preset Options", "Shows whether hot standby is currently active.", true, true),
    guc("integer_datetimes", "on", "Preset Options", "Shows whether datetimes are integer based.", true, true),
    guc(
        "IntervalStyle",
        "postgres",
        "Client Connection Defaults",
        "Sets the display format for interval values.",
        true,
        false,
    ),
    guc("is_superuser", "on", "Preset Options", "Shows whether the current user is a superuser.", true, true),
    guc("jit", "off", "Query Tuning", "Allow JIT compilation.", false, false),
    guc("lc_collate", "C", "Preset Options", "Shows the collation order locale.", false, true),
    guc(
        "lc_ctype",
        "C",
        "Preset Options",
        "Shows the character classification and case conversion locale.",
        false,
        true,
    ),
    guc(
        "lc_messages",
        "C",
        "Client Connection Defaults",
        "Sets the language in which messages are displayed.",
        false,
        false,
    ),
    guc(
        "lc_monetary",
        "C",
        "Client Connection Defaults",
        "Sets the locale for formatting monetary amounts.",
        false,
        false,
    ),
    guc("lc_numeric", "C", "Client Connection Defaults", "Sets the locale for formatting numbers.", false, false),
    guc(
        "lc_time",
        "C",
        "Client Connection Defaults",
        "Sets the locale for formatting date and time values.",
        false,
        false,
    ),
    guc(
        "lock_timeout",
        "0",
        "Client Connection Defaults",
        "Sets the maximum allowed duration of any wait for a lock.",
        false,
        false,
    ),
    guc("max_identifier_length", "63", "Preset Options", "Shows the maximum identifier length.", false, true),
    guc("row_security", "on", "Client Connection Defaults", "Enable row security.", false, false),
    guc(
        "search_path",
        "\"$user\", public",
        "Client Connection Defaults",
        "Sets the schema search order for names that are not schema-qualified.",
        false,
        false,
    ),
    guc("server_encoding", "UTF8", "Preset Options", "Shows the server (database) character set encoding.", true, true),
    guc("server_version", SERVER_VERSION, "Preset Options", "Shows the server version.", true, true),
    guc(
        "server_version_num",
        SERVER_VERSION_NUM,
        "Preset Options",
        "Shows the server version as an integer.",
        false,
        true,
    ),
    guc("session_authorization", "", "Preset Options", "Sets the session user name.", true, true),
    guc(
        "standard_conforming_strings",
        "on",
        "Version and Platform Compatibility",
        "Causes '...' strings to treat backslashes literally.",
        true,
        false,
    ),
    guc(
        "statement_timeout",
        "0",
        "Client Connection Defaults",
        "Sets the maximum allowed duration of any statement.",
        false,
        false,
    ),
    guc(
        "synchronous_commit",
        "on",
        "Write-Ahead Log",
        "Sets the current transaction's synchronization level.",
        false,
        false,
    ),
    guc(
        "TimeZone",
        "UTC",
        "Client Connection Defaults",
        "Sets the time zone for displaying and interpreting time stamps.",
        true,
        false,
    ),
    guc(
        "transaction_isolation",
        "read committed",
        "Client Connection Defaults",
        "Sets the current transaction's isolation level.",
        false,
        false,
    ),
    guc(
        "transaction_read_only",
        "off",
        "Client Connection Defaults",
        "Sets the current transaction's read-only status.",
        false,
        false,
    ),
    guc("work_mem", "4MB", "Resource Usage", "Sets the maximum memory to be used for query workspaces.", false, false),
];

/// Why a setting cannot be read or changed, worded as Postgres words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("unrecognized configuration parameter \"{0}\"")]
    Unknown(String),
    #[error("parameter \"{0}\" cannot be changed")]
    ReadOnly(String),
    #[error("invalid value for parameter \"{name}\": \"{value}\"")]
    InvalidValue { name: String, value: String, hint: Option<String> },
}

/// The known setting `name` means (ignoring case).
pub fn lookup(name: &str) -> Option<&'static Guc> {
    GUCS.iter().find(|g| g.name.eq_ignore_ascii_case(name))
}

/// Postgres' aliases in `SHOW`/`SET` (`SHOW TIME ZONE`, `SET NAMES`, `SHOW TRANSACTION ISOLATION LEVEL`).
pub fn canonical_name(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    let collapsed: Vec<&str> = lower.split_whitespace().collect();
    match collapsed.join(" ").as_str() {
        "time zone" => "timezone".into(),
        "transaction isolation level" => "transaction_isolation".into(),
        "session authorization" => "session_authorization".into(),
        "names" => "client_encoding".into(),
        other => other.to_string(),
    }
}

/// A session's settings: the known ones with their current values, and custom `prefix.name` ones.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Values set in this session, by lower-case name.
    changed: BTreeMap<String, String>,
    /// The user the session authenticated as (`session_authorization`, `is_superuser`).
    user: String,
}

impl Settings {
    /// Settings of a session of `user`.
    pub fn for_user(user: &str) -> Self {
        Self { changed: BTreeMap::new(), user: user.to_string() }
    }

    /// The value of a setting; custom settings (`a.b`) that were never set are unknown.
    pub fn get(&self, name: &str) -> Result<String, SettingError> {
        let key = canonical_name(name);
        if let Some(v) = self.changed.get(&key) {
            return Ok(v.clone());
        }
        match lookup(&key) {
            Some(g) if g.name == "session_authorization" => Ok(self.user.clone()),
            Some(g) => Ok(g.default.to_string()),
            None => Err(SettingError::Unknown(name.to_string())),
        }
    }

    /// Changes a setting; returns the (name, value) to report to the client, if reported.
    /// `value` None means `DEFAULT`.
    pub fn set(&mut self, name: &str, value: Option<&str>) -> Result<Option<(String, String)>, SettingError> {
        let key = canonical_name(name);
        let Some(guc) = lookup(&key) else {
            // Postgres accepts any two-part name as a custom setting (`SET myapp.user_id = 7`).
            if key.contains('.') {
                match value {
                    Some(v) => self.changed.insert(key, v.to_string()),
                    None => self.changed.remove(&key),
                };
                return Ok(None);
            }
            return Err(SettingError::Unknown(name.to_string()));
        };
        if guc.read_only {
            return Err(SettingError::ReadOnly(guc.name.to_string()));
        }
        let value = match value {
            None => {
                self.changed.remove(&key);
                guc.default.to_string()
            }
            Some(v) => {
                let v = normalize(guc, v)?;
                self.changed.insert(key, v.clone());
                v
            }
        };
        Ok(guc.reported.then(|| (guc.name.to_string(), value)))
    }

    /// `RESET ALL`: every setting back to its default; returns what to report.
    pub fn reset_all(&mut self) -> Vec<(String, String)> {
        let changed = std::mem::take(&mut self.changed);
        changed
            .keys()
            .filter_map(|k| lookup(k))
            .filter(|g| g.reported)
            .map(|g| (g.name.to_string(), g.default.to_string()))
            .collect()
    }

    /// Every known setting with its value, in name order (`SHOW ALL`, `pg_settings`).
    pub fn all(&self) -> Vec<(&'static Guc, String)> {
        let mut all: Vec<_> =
            GUCS.iter().map(|g| (g, self.get(g.name).unwrap_or_else(|_| g.default.to_string()))).collect();
        all.sort_by_key(|(g, _)| g.name.to_lowercase());
        all
    }

    /// The session's time zone (`TimeZone`).
    pub fn time_zone(&self) -> String {
        self.get("TimeZone").unwrap_or_else(|_| "UTC".into())
    }
}

/// Checks a value as Postgres would and returns it as `SHOW` prints it.
fn normalize(guc: &Guc, value: &str) -> Result<String, SettingError> {
    let invalid = |hint: Option<&str>| SettingError::InvalidValue {
        name: guc.name.to_string(),
        value: value.to_string(),
        hint: hint.map(str::to_string),
    };
    let lower = value.trim().to_lowercase();
    match guc.name {
        "client_encoding" => match lower.replace(['-', '_'], "").as_str() {
            "utf8" | "unicode" => Ok("UTF8".into()),
            _ => Err(invalid(Some("Eddy speaks UTF8 only."))),
        },
        "TimeZone" => {
            if lower == "utc" || lower == "gmt" || lower == "z" || lower == "zulu" {
                return Ok("UTC".into());
            }
            if value.parse::<chrono_tz::Tz>().is_ok() || parse_offset(value).is_some() {
                Ok(value.trim().to_string())
            } else {
                Err(invalid(None))
            }
        }
        "DateStyle" => {
            // Postgres keeps the output style and the field order, each defaulting when not given.
            let mut style = "ISO";
            let mut order = "MDY";
            for part in lower.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match part {
                    "iso" => style = "ISO",
                    "sql" => style = "SQL",
                    "postgres" => style = "Postgres",
                    "german" => style = "German",
                    "mdy" | "us" | "noneuropean" | "non-european" => order = "MDY",
                    "dmy" | "euro" | "european" => order = "DMY",
                    "ymd" => order = "YMD",
                    _ => return Err(invalid(None)),
                }
            }
            Ok(format!("{style}, {order}"))
        }
        "transaction_isolation" | "default_transaction_isolation" => match lower.as_str() {
            "read committed" | "read uncommitted" | "repeatable read" | "serializable" => Ok(lower),
            _ => {
                Err(invalid(Some("Available values: serializable, repeatable read, read committed, read uncommitted.")))
            }
        },
        "transaction_read_only"
        | "default_transaction_read_only"
        | "standard_conforming_strings"
        | "jit"
        | "row_security"
        | "synchronous_commit" => match lower.as_str() {
            "on" | "true" | "yes" | "1" | "t" | "y" => Ok("on".into()),
            "off" | "false" | "no" | "0" | "f" | "n" => Ok("off".into()),
            "local" | "remote_write" | "remote_apply" if guc.name == "synchronous_commit" => Ok(lower),
            _ => Err(invalid(None)),
        },
        "extra_float_digits" => match lower.parse::<i32>() {
            Ok(n) if (-15..=3).contains(&n) => Ok(n.to_string()),
            _ => Err(invalid(Some("-15 .. 3"))),
        },
        "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" | "idle_session_timeout" => {
            duration_ms(&lower).map(duration_text).ok_or_else(|| invalid(None))
        }
        "bytea_output" => match lower.as_str() {
            "hex" | "escape" => Ok(lower),
            _ => Err(invalid(None)),
        },
        "IntervalStyle" => match lower.as_str() {
            "postgres" | "postgres_verbose" | "sql_standard" | "iso_8601" => Ok(lower),
            _ => Err(invalid(None)),
        },
        _ => Ok(value.to_string()),
    }
}

/// A duration in milliseconds as Postgres shows a setting of unit `ms`: in the largest unit that
/// divides it (`10s`, `1min`, `250ms`), `0` for none.
pub fn duration_text(ms: u64) -> String {
    if ms == 0 {
        return "0".into();
    }
    let units = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "min"), (1_000, "s")];
    match units.iter().find(|(factor, _)| ms.is_multiple_of(*factor)) {
        Some((factor, unit)) => format!("{}{unit}", ms / factor),
        None => format!("{ms}ms"),
    }
}

/// A duration setting in milliseconds: `5000`, `5s`, `2min`, `1h`, `250ms`.
pub fn duration_ms(text: &str) -> Option<u64> {
    let t = text.trim().trim_matches('\'').to_lowercase();
    let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().ok()?;
    let unit = t[digits.len()..].trim();
    let factor = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// A fixed offset time zone (`+02:00`, `-5`).
fn parse_offset(text: &str) -> Option<i32> {
    let t = text.trim();
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 15 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_show_reset_as_postgres() {
        let mut s = Settings::for_user("alice");
        assert_eq!(s.get("TIMEZONE").as_deref(), Ok("UTC"));
        assert_eq!(s.get("time zone").as_deref(), Ok("UTC"));
        assert_eq!(s.set("TimeZone", Some("Europe/Paris")), Ok(Some(("TimeZone".into(), "Europe/Paris".into()))));
        assert_eq!(s.get("timezone").as_deref(), Ok("Europe/Paris"));
        assert_eq!(s.set("datestyle", Some("german")), Ok(Some(("DateStyle".into(), "German, MDY".into()))));
        assert_eq!(s.set("application_name", None), Ok(Some(("application_name".into(), String::new()))));
        assert_eq!(s.get("session_authorization").as_deref(), Ok("alice"));
        assert!(matches!(s.set("server_version", Some("1")), Err(SettingError::ReadOnly(_))));
        assert!(matches!(s.set("no_such_thing", Some("1")), Err(SettingError::Unknown(_))));
        assert!(matches!(s.get("myapp.user"), Err(SettingError::Unknown(_))));
        assert_eq!(s.set("myapp.user", Some("7")), Ok(None));
        assert_eq!(s.get("MYAPP.USER").as_deref(), Ok("7"));
        assert!(matches!(s.set("client_encoding", Some("LATIN1")), Err(SettingError::InvalidValue { .. })));
        assert_eq!(s.set("statement_timeout", Some("2s")), Ok(None));
        assert_eq!(s.get("statement_timeout").as_deref(), Ok("2s"));
        assert_eq!(
            s.reset_all(),
            vec![("DateStyle".to_string(), "ISO, MDY".to_string()), ("TimeZone".to_string(), "UTC".to_string())]
        );
        assert_eq!(s.get("timezone").as_deref(), Ok("UTC"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms("250"), Some(250));
        assert_eq!(duration_ms("5s"), Some(5000));
        assert_eq!(duration_ms("2min"), Some(120_000));
        assert_eq!(duration_ms("x"), None);
    }

    #[test]
    fn durations_show_in_their_largest_unit() {
        assert_eq!(duration_text(0), "0");
        assert_eq!(duration_text(10_000), "10s");
        assert_eq!(duration_text(1_500), "1500ms");
        assert_eq!(duration_text(120_000), "2min");
        assert_eq!(duration_ms(&duration_text(86_400_000)), Some(86_400_000));
    }
}
