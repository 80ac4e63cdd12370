//! The metrics of a run by name: the vocabulary that experiment files (`report.trends[].y`),
//! `--sort`, `--columns`, `--y`, CSV and JSON share. It imports nothing, so `config` can check
//! names and `report` compute values without importing each other.

/// A metric a report shows, in the default column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    ValidationLoss,
    AccuracyArgmax,
    AccuracySvc,
    AccuracySvcHeldout,
    Params,
    TrainTime,
    Throughput,
}

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

impl Metric {
    /// Every metric, in the default column order.
    pub const ALL: [Metric; 7] = [
        Metric::ValidationLoss,
        Metric::AccuracyArgmax,
        Metric::AccuracySvc,
        Metric::AccuracySvcHeldout,
        Metric::Params,
        Metric::TrainTime,
        Metric::Throughput,
    ];

    /// The name used by `--sort`, `--columns`, `--y`, CSV and JSON.
    pub fn id(self) -> &'static str {
        match self {
            Metric::ValidationLoss => "validation_loss",
            Metric::AccuracyArgmax => "accuracy_argmax",
            Metric::AccuracySvc => "accuracy_svc",
            Metric::AccuracySvcHeldout => "accuracy_svc_heldout",
            Metric::Params => "params",
            Metric::TrainTime => "train_time",
            Metric::Throughput => "throughput",
        }
    }

    /// The column header (the loss header gets the budget added by the table).
    pub fn label(self) -> &'static str {
        match self {
            Metric::ValidationLoss => "validation loss",
            Metric::AccuracyArgmax => "accuracy (argmax)",
            Metric::AccuracySvc => "accuracy (svc)",
            Metric::AccuracySvcHeldout => "accuracy (svc, held-out)",
            Metric::Params => "model params",
            Metric::TrainTime => "train time",
            Metric::Throughput => "throughput",
        }
    }

    /// The direction of a quality metric; `None` for cost metrics (never bold).
    pub fn better(self) -> Option<Better> {
        match self {
            Metric::ValidationLoss => Some(Better::Lower),
            Metric::AccuracyArgmax | Metric::AccuracySvc | Metric::AccuracySvcHeldout => Some(Better::Higher),
            Metric::Params | Metric::TrainTime | Metric::Throughput => None,
        }
    }

    /// The metric with this id.
    pub fn from_id(id: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.id() == id)
    }

    /// Every metric id, for error messages.
    pub fn ids() -> String {
        Metric::ALL.map(|m| format!("`{}`", m.id())).join(", ")
    }
}
