//! Errors in experiment files: where (file, line, column), which key, what is wrong, and
//! how to fix it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::pos::Pos;

/// One problem in an experiment file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// Where it is; line and column are 0 when only the file is known.
    pub pos: Pos,
    /// The dotted key path, e.g. `model.encoder`, when known.
    pub key: Option<String>,
    pub message: String,
    /// What to do about it, e.g. "did you mean `vit`?".
    pub hint: Option<String>,
    /// The `$extends` lines through which the file was read, innermost first (boxed: keeps
    /// the error small enough to return by value).
    pub extended_by: Box<[Pos]>,
}

impl ConfigError {
    /// An error at a position.
    pub fn at(pos: Pos, message: impl Into<String>) -> ConfigError {
        ConfigError { pos, key: None, message: message.into(), hint: None, extended_by: Box::new([]) }
    }

    /// An error about a whole file (no line known).
    pub fn file(path: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError::at(Pos { file: Arc::from(path), line: 0, column: 0 }, message)
    }

    /// `unknown key `NAME` in `DIRECTIVE``, at the key `KEY.NAME`, with the keys it takes
    /// (`takes`: e.g. "`n` and `seed`").
    pub fn unknown_key_in(directive: &str, name: &str, at: Pos, key: &str, takes: &str) -> ConfigError {
        ConfigError::at(at, format!("unknown key `{name}` in `{directive}`"))
            .key(format!("{key}.{name}"))
            .hint(format!("`{directive}` takes {takes}"))
    }

    /// Name the key the error is about.
    pub fn key(mut self, key: impl Into<String>) -> ConfigError {
        self.key = Some(key.into());
        self
    }

    /// Name the key if none is named yet.
    pub fn key_if_unset(mut self, key: &str) -> ConfigError {
        if self.key.is_none() && !key.is_empty() {
            self.key = Some(key.to_string());
        }
        self
    }

    /// Add a hint on how to fix it.
    pub fn hint(mut self, hint: impl Into<String>) -> ConfigError {
        self.hint = Some(hint.into());
        self
    }

    /// Note that the file was read through the `$extends` line at `at`.
    pub fn extended_by(mut self, at: Pos) -> ConfigError {
        self.extended_by = self.extended_by.iter().cloned().chain([at]).collect();
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            write!(f, "{}", self.pos.file.display())?;
        } else {
            write!(f, "{}", self.pos)?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        for at in &self.extended_by {
            write!(f, "\n  in the file `$extends` names at {at}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// All problems found in one or more files.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(err: ConfigError) -> Self {
        ConfigErrors(vec![err])
    }
}

/// The known name closest to `given`, if it is close enough to be a likely typo.
pub fn closest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|name| (strsim::damerau_levenshtein(&given.to_lowercase(), &name.to_lowercase()), name))
        .filter(|(distance, name)| *distance <= (name.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

/// "did you mean `x`? (known: a, b, c)" or "known: a, b, c".
pub fn suggestion(given: &str, known: &[&str]) -> String {
    let list = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
    match closest(given, known.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? (known: {list})"),
        None => format!("known: {list}"),
    }
}
