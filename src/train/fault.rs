//! The fault-injection hook of the crash tests: `EXPGRID_FAULT=panic-at-input:N` makes every
//! run that reaches N training inputs panic there (after the optimizer step, before any
//! validation or checkpoint of that step). Unset, it costs nothing and changes nothing.

use anyhow::{Result, bail};

/// The environment variable read (once per run, here only).
pub const FAULT_VAR: &str = "EXPGRID_FAULT";

/// The input count at which to panic, if the hook is set.
pub fn panic_at_input() -> Result<Option<u64>> {
    let Ok(value) = std::env::var(FAULT_VAR) else { return Ok(None) };
    match value.strip_prefix("panic-at-input:").and_then(|n| n.parse().ok()) {
        Some(inputs) => Ok(Some(inputs)),
        None => bail!("{FAULT_VAR}={value} is not understood: the one fault is `panic-at-input:N`"),
    }
}
