//! The losses of `loss_function:`, on logits against one-hot targets, averaged over the
//! batch (PyTorch's `reduction="mean"`).

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;

use crate::config::schema::LossSpec;

/// The batch-mean loss of `logits` `[batch, classes]` against one-hot `targets`.
pub fn loss(spec: &LossSpec, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    match spec {
        // nn.MSELoss(): the mean over all batch x classes elements.
        LossSpec::L2 => (logits - targets).powi_scalar(2).mean(),
        // nn.L1Loss()
        LossSpec::L1 => (logits - targets).abs().mean(),
        LossSpec::Ce => cross_entropy(logits, targets),
        // nn.CrossEntropyLoss(label_smoothing=s): targets (1 - s) * one_hot + s / classes.
        LossSpec::LabelSmoothingCe { smoothing } => {
            let classes = targets.dims()[1] as f64;
            let smoothed = targets.mul_scalar(1.0 - smoothing).add_scalar(smoothing / classes);
            cross_entropy(logits, smoothed)
        }
    }
}

/// `-mean over the batch of sum(targets * log_softmax(logits))`.
fn cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (log_softmax(logits, 1) * targets).sum_dim(1).mean().neg()
}
