//! The fault-injection hook of the crash tests: `EXPGRID_FAULT=panic-at-input:N` makes every
//! run that reaches N training inputs panic there, `abort-at-input:N` abort the whole process
//! there (as a crash or the out-of-memory killer would end it). Both strike after the
//! optimizer step, before any validation or checkpoint of that step. Unset, the hook does
//! nothing.

use anyhow::{Result, bail};

use super::TrainObserver;

/// The environment variable read (once per run, here only).
pub const FAULT_VAR: &str = "EXPGRID_FAULT";

/// What the hook does, and at how many training inputs.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    PanicAt(u64),
    AbortAt(u64),
}

impl Fault {
    /// The fault asked for, if any.
    pub fn from_env() -> Result<Option<Fault>> {
        let Ok(value) = std::env::var(FAULT_VAR) else { return Ok(None) };
        let parse = |prefix: &str| value.strip_prefix(prefix).and_then(|n| n.parse().ok());
        match (parse("panic-at-input:"), parse("abort-at-input:")) {
            (Some(inputs), _) => Ok(Some(Fault::PanicAt(inputs))),
            (_, Some(inputs)) => Ok(Some(Fault::AbortAt(inputs))),
            _ => bail!("{FAULT_VAR}={value} is not understood: use `panic-at-input:N` or `abort-at-input:N`"),
        }
    }

    /// Strike if training has reached the fault's input count (an abort tells `observer`
    /// first: nothing else will).
    pub fn strike(self, inputs: u64, observer: &dyn TrainObserver) {
        match self {
            Fault::PanicAt(at) if inputs >= at => panic!("{FAULT_VAR}: panicking at input {inputs} as asked"),
            Fault::AbortAt(at) if inputs >= at => {
                observer.note(&format!("{FAULT_VAR}: aborting at input {inputs} as asked"));
                std::process::abort()
            }
            _ => {}
        }
    }
}
