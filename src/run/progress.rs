//! Progress of `expgrid run`: indicatif bars on a terminal, plain log lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::rundir::MetricsRow;

/// Progress of the whole matrix.
pub struct MatrixProgress {
    bars: Option<MultiProgress>,
    runs: ProgressBar,
}

/// Progress of one run, handed to the trainer.
pub struct RunProgress {
    name: String,
    bar: Option<ProgressBar>,
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
        let progress = RunProgress { name: name.to_string(), bar };
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

impl RunProgress {
    /// After a training step.
    pub fn step(&self, inputs: u64, train_loss: f64) {
        if let Some(bar) = &self.bar {
            bar.set_position(inputs);
            bar.set_message(format!("loss {train_loss:.5}"));
        }
    }

    /// After a validation.
    pub fn validated(&self, row: &MetricsRow) {
        let svc = row.accuracy_svc.map(|a| format!(", svc {a:.4}")).unwrap_or_default();
        self.log(&format!(
            "{} inputs: validation loss {:.5}, accuracy {:.4}{svc}, {:.0} inputs/s",
            row.inputs, row.validation_loss, row.accuracy_argmax, row.throughput
        ));
    }

    /// A log line about this run.
    pub fn log(&self, text: &str) {
        let line = format!("[{}] {text}", self.name);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}
