//! Stop requests: SIGUSR1 (Slurm's warning before a time limit or preemption), SIGTERM and
//! SIGINT (Ctrl-C) ask `expgrid run` to stop. The signal handler only records the signal; the
//! training loop polls [`requested`] at every step boundary, saves a checkpoint there and
//! ends the run as interrupted. A second Ctrl-C ends the process at once.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use signal_hook::consts::signal::{SIGINT, SIGTERM, SIGUSR1};

/// The exit status of `expgrid run` after a stop request: 75 (`EX_TEMPFAIL` of sysexits.h,
/// "try again later"); the interrupted runs resume on the next `expgrid run`.
pub const EXIT_STOPPED: u8 = 75;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();

/// The signal that asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Usr1,
    Term,
    Int,
}

impl StopSignal {
    fn from_number(number: usize) -> Option<StopSignal> {
        match number as i32 {
            SIGUSR1 => Some(StopSignal::Usr1),
            SIGTERM => Some(StopSignal::Term),
            SIGINT => Some(StopSignal::Int),
            _ => None,
        }
    }

    /// `SIGUSR1`, `SIGTERM` or `SIGINT`.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Usr1 => "SIGUSR1",
            StopSignal::Term => "SIGTERM",
            StopSignal::Int => "SIGINT",
        }
    }
}

/// Install the handlers (once per process; later calls do nothing).
pub fn install() -> std::io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        result = (|| -> std::io::Result<()> {
            // Registered first, so it sees the flag before this signal sets it: a second
            // Ctrl-C does what Ctrl-C does by default. (Not for SIGTERM: `scontrol requeue`
            // sends one to a job that is already saving its checkpoint.)
            signal_hook::flag::register_conditional_default(SIGINT, &REQUESTED)?;
            for signal in [SIGUSR1, SIGTERM, SIGINT] {
                signal_hook::flag::register_usize(signal, &SIGNAL, signal as usize)?;
                signal_hook::flag::register(signal, &REQUESTED)?;
            }
            Ok(())
        })();
    });
    result
}

/// The signal that asked to stop, if one did.
pub fn requested() -> Option<StopSignal> {
    if REQUESTED.load(Ordering::SeqCst) {
        StopSignal::from_number(SIGNAL.load(Ordering::SeqCst))
    } else {
        None
    }
}

/// The error a training run ends with when a stop was requested; its checkpoint is saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stopped by {} after {inputs} inputs; the checkpoint is saved and the run resumes from it", .signal.name())]
pub struct Stopped {
    pub signal: StopSignal,
    pub inputs: u64,
}
