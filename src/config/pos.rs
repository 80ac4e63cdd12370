//! [`Pos`]: where a value or an error is in an experiment file. A leaf module, so that the
//! tree (`node`) and the errors (`error`) both use it without importing each other.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A place in an experiment file: file, 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<Path>,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}
