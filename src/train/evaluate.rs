//! Evaluation in evaluation mode (dropout off, BatchNorm on running statistics): loss,
//! argmax accuracy and the embeddings the SVC probe is fitted on.
//!
//! nn-experiments validated in training mode, which changes BatchNorm models (resnet18):
//! its numbers for them are not comparable one to one with ours.

use std::sync::Arc;

use anyhow::{Context, Result};
use burn::tensor::{Device, Tensor, TensorData};

use crate::config::schema::LossSpec;
use crate::data::{BatchStream, Dataset, Pipeline};
use crate::model::Model;

use super::loss::loss;

/// Batch size of evaluation passes: large for speed; eval mode makes results independent of it.
const EVAL_BATCH: usize = 256;

/// The outcome of one pass over a data set.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Per-sample mean loss.
    pub loss: f64,
    pub accuracy: f64,
    /// `samples x embedding_dim`, row-major.
    pub embeddings: Vec<f32>,
    pub embedding_dim: usize,
    pub labels: Vec<usize>,
}

/// Run `model` (an evaluation copy, on the plain device) over all of `dataset`.
pub fn evaluate(
    model: &Model,
    dataset: Arc<Dataset>,
    pipeline: Arc<Pipeline>,
    loss_spec: &LossSpec,
    device: &Device,
) -> Result<Evaluation> {
    let mut loss_sum = 0.0;
    let mut correct = 0usize;
    let mut embeddings = Vec::new();
    let mut embedding_dim = 0;
    let mut labels = Vec::new();
    for batch in BatchStream::validation(dataset, pipeline, EVAL_BATCH)? {
        let n = batch.len();
        let classes = batch.targets.len() / n;
        let images = Tensor::<4>::from_data(TensorData::new(batch.images, batch.shape), device);
        let targets = Tensor::<2>::from_data(TensorData::new(batch.targets, [n, classes]), device);
        let output = model.forward(images);
        loss_sum += loss(loss_spec, output.logits.clone(), targets).into_scalar::<f64>() * n as f64;
        let logits = to_vec(output.logits)?;
        correct +=
            logits.chunks(classes).zip(&batch.labels).filter(|(row, label)| argmax(row) == **label).count();
        embedding_dim = output.embedding.dims()[1];
        embeddings.extend(to_vec(output.embedding)?);
        labels.extend(batch.labels);
    }
    let samples = labels.len().max(1) as f64;
    Ok(Evaluation {
        loss: loss_sum / samples,
        accuracy: correct as f64 / samples,
        embeddings,
        embedding_dim,
        labels,
    })
}

/// A float tensor's values on the host.
fn to_vec<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    let data = tensor.into_data().convert::<f32>();
    Ok(data.as_slice::<f32>().context("reading model outputs")?.to_vec())
}

/// Index of the largest value (the first one on ties, as `torch.argmax`).
fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &x)| if x > best.1 { (i, x) } else { best })
        .0
}
