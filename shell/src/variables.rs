//! `DEFINE name = 'value'` / `UNDEFINE name` and `${name}` substitution in statements.

use std::collections::BTreeMap;

use crate::error::ShellError;

/// The variables of a shell session (names are case-insensitive).
#[derive(Debug, Default, Clone)]
pub struct Variables(BTreeMap<String, String>);

impl Variables {
    /// Runs `DEFINE name = 'value'`.
    pub fn define(&mut self, statement: &str) -> Result<(), ShellError> {
        let usage = || ShellError::Usage("usage: DEFINE name = 'value'".into());
        let rest = statement.trim().get(6..).ok_or_else(usage)?;
        let (name, value) = rest.split_once('=').ok_or_else(usage)?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ShellError::Usage(format!("invalid variable name: '{name}'")));
        }
        let value = value.trim();
        let unquoted = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(|| ShellError::Usage("the value of DEFINE is a quoted string: DEFINE name = 'value'".into()))?;
        self.0.insert(name.to_ascii_uppercase(), unquoted.replace("''", "'"));
        Ok(())
    }

    /// Runs `UNDEFINE name`.
    pub fn undefine(&mut self, statement: &str) -> Result<(), ShellError> {
        let name =
            statement.split_whitespace().nth(1).ok_or_else(|| ShellError::Usage("usage: UNDEFINE name".into()))?;
        match self.0.remove(&name.to_ascii_uppercase()) {
            Some(_) => Ok(()),
            None => Err(ShellError::Usage(format!("Variable '{name}' is not defined."))),
        }
    }

    /// The defined variables, by name.
    pub fn list(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// Replaces each `${name}` by its value; an undefined name is an error.
    pub fn substitute(&self, text: &str) -> Result<String, ShellError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let name = &after[..end];
            match self.0.get(&name.to_ascii_uppercase()) {
                Some(v) => out.push_str(v),
                None => {
                    return Err(ShellError::Usage(
                        format!("Variable '{name}' is not defined (DEFINE {name} = '...').",),
                    ))
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn define_substitute_undefine() {
        let mut v = Variables::default();
        v.define("DEFINE topic = 'page''views'").expect("define");
        v.define("define n='3'").expect("define");
        assert_eq!(
            v.substitute("SELECT * FROM ${TOPIC} LIMIT ${n};").expect("substitute"),
            "SELECT * FROM page'views LIMIT 3;"
        );
        assert!(v.substitute("${missing}").is_err());
        v.undefine("UNDEFINE n").expect("undefine");
        assert!(v.substitute("${n}").is_err());
        assert!(v.define("DEFINE x = unquoted").is_err());
        assert!(v.undefine("UNDEFINE n").is_err());
    }
}
