//! Progress of `expgrid run`: indicatif bars on a terminal, plain log lines otherwise
//! (batch jobs): then a line at least every [`LOG_EVERY`] of training, so a log shows life.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::rundir::MetricsRow;
use crate::train::TrainObserver;

/// Progress of the whole matrix.
pub struct MatrixProgress {
    bars: Option<MultiProgress>,
    runs: ProgressBar,
}

/// Without a terminal: the longest time between two progress lines of a training run.
pub const LOG_EVERY: Duration = Duration::from_secs(30);

/// Progress of one run; the trainer reports to it as a [`TrainObserver`].
pub struct RunProgress {
    name: String,
    bar: Option<ProgressBar>,
    max_inputs: u64,
    /// Inputs and time at the start of this session (for the rate), time of the last line.
    start_inputs: u64,
    start: Instant,
    last_line: Mutex<Instant>,
}

impl MatrixProgress {
    /// Bars when stderr is a terminal, log lines otherwise.
    pub fn new(total_runs: usize) -> MatrixProgress {
        if std::io::stderr().is_terminal() {
            let bars = MultiProgress::new();
            let runs = bars.add(ProgressBar::new(total_runs as u64));
            runs.set_style(
                ProgressStyle::with_template("runs {bar:30.cyan/blue} {pos}/{len} {msg}")
                    .expect("valid template"),
            );
            MatrixProgress { bars: Some(bars), runs }
        } else {
            let runs = ProgressBar::with_draw_target(Some(total_runs as u64), ProgressDrawTarget::hidden());
            MatrixProgress { bars: None, runs }
        }
    }

    /// Start showing one run that trains up to `max_inputs`.
    pub fn start_run(&self, name: &str, max_inputs: u64, inputs_done: u64) -> RunProgress {
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new(max_inputs));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} {bar:30.green/white} {pos}/{len} inputs, {msg} (eta {eta})",
                )
                .expect("valid template"),
            );
            bar.set_prefix(name.to_string());
            bar.set_position(inputs_done);
            bar.enable_steady_tick(Duration::from_millis(500));
            bar
        });
        let now = Instant::now();
        let progress = RunProgress {
            name: name.to_string(),
            bar,
            max_inputs,
            start_inputs: inputs_done,
            start: now,
            last_line: Mutex::new(now),
        };
        progress.log(&format!("start at {inputs_done} of {max_inputs} inputs"));
        progress
    }

    /// One run finished (trained, skipped or failed).
    pub fn finish_run(&self, progress: RunProgress, outcome: &str) {
        if let Some(bar) = &progress.bar {
            bar.finish_and_clear();
        }
        progress.log(outcome);
        self.runs.inc(1);
    }

    /// A line above the bars (or on stderr).
    pub fn println(&self, line: &str) {
        match &self.bars {
            Some(bars) => bars.println(line).unwrap_or(()),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        self.runs.finish_and_clear();
    }
}

impl TrainObserver for RunProgress {
    fn step(&self, inputs: u64, train_loss: f64) {
        if let Some(bar) = &self.bar {
            bar.set_position(inputs);
            bar.set_message(format!("loss {train_loss:.5}"));
            return;
        }
        let now = Instant::now();
        let mut last_line = self.last_line.lock().expect("progress clock");
        if now.duration_since(*last_line) >= LOG_EVERY {
            *last_line = now;
            let seconds = now.duration_since(self.start).as_secs_f64();
            let rate = inputs.saturating_sub(self.start_inputs) as f64 / seconds.max(1e-9);
            self.log(&progress_line(inputs, self.max_inputs, train_loss, rate));
        }
    }

    fn validated(&self, row: &MetricsRow) {
        let svc = row.accuracy_svc.map(|a| format!(", svc {a:.4}")).unwrap_or_default();
        self.log(&format!(
            "{} inputs: validation loss {:.5}, accuracy {:.4}{svc}, {:.0} inputs/s",
            row.inputs, row.validation_loss, row.accuracy_argmax, row.throughput
        ));
    }

    fn note(&self, text: &str) {
        self.log(text);
    }
}

impl RunProgress {
    /// A log line about this run.
    pub fn log(&self, text: &str) {
        let line = format!("[{}] {text}", self.name);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

/// `1200/6000 inputs, loss 0.12345, 850 inputs/s, eta 6s`.
fn progress_line(inputs: u64, max_inputs: u64, train_loss: f64, rate: f64) -> String {
    let left = max_inputs.saturating_sub(inputs) as f64;
    let eta = if rate > 0.0 {
        humantime::format_duration(Duration::from_secs((left / rate).ceil() as u64)).to_string()
    } else {
        "unknown".to_string()
    };
    format!("{inputs}/{max_inputs} inputs, loss {train_loss:.5}, {rate:.0} inputs/s, eta {eta}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_has_inputs_loss_rate_and_eta() {
        assert_eq!(
            progress_line(1200, 6000, 0.123456, 800.0),
            "1200/6000 inputs, loss 0.12346, 800 inputs/s, eta 6s"
        );
        assert_eq!(progress_line(0, 10, 1.0, 0.0), "0/10 inputs, loss 1.00000, 0 inputs/s, eta unknown");
        assert_eq!(
            progress_line(0, 2_000_000, 1.0, 500.0),
            "0/2000000 inputs, loss 1.00000, 500 inputs/s, eta 1h 6m 40s"
        );
    }
}
