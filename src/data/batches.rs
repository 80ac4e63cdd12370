//! Batches: a seeded shuffled order per epoch, augmentation with a generator derived per
//! batch, and a background thread that prepares the next batches while the model trains.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::augment::Pipeline;
use super::dataset::Dataset;
use super::error::DataError;
use super::rng::{self, Purpose};

/// Batches prepared ahead of the one being trained on.
const PREFETCH: usize = 2;

/// A point in the training stream: batch `batch` of epoch `epoch` (both from 0). Saving
/// it with the seed in a checkpoint is enough to resume the exact same stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StreamPosition {
    pub epoch: u64,
    pub batch: usize,
}

/// A backend-agnostic batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `[batch, channels, height, width]`.
    pub shape: [usize; 4],
    /// Pixels, NCHW, scaled to [0, 1] (then normalised if the pipeline says so).
    pub images: Vec<f32>,
    /// One-hot targets, `batch x classes` (1.0 on, 0.0 off).
    pub targets: Vec<f32>,
    /// Integer labels.
    pub labels: Vec<usize>,
    /// Where this batch is in the stream.
    pub position: StreamPosition,
    /// Where the stream continues after this batch (what a checkpoint saves).
    pub resume_from: StreamPosition,
}

impl Batch {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// What the background thread produces.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// Endless: shuffled epochs, augmented, starting at a position.
    Train { seed: u64, start: StreamPosition },
    /// One pass in order, not augmented.
    Validation,
}

/// An iterator of batches prepared on a background thread. Dropping it stops the thread.
pub struct BatchStream {
    receiver: Option<Receiver<Batch>>,
    worker: Option<JoinHandle<()>>,
    batches_per_epoch: usize,
}

impl BatchStream {
    /// The endless training stream from `start`: epoch `e` visits every sample once in an
    /// order fixed by (`seed`, `e`); the last batch of an epoch may be smaller
    /// (drop_last = false). Each batch is augmented with a generator fixed by (`seed`,
    /// epoch, batch index), so the stream from any position is always the same.
    pub fn train(
        dataset: Arc<Dataset>,
        pipeline: Arc<Pipeline>,
        batch_size: usize,
        seed: u64,
        start: StreamPosition,
    ) -> Result<BatchStream, DataError> {
        BatchStream::spawn(dataset, pipeline, batch_size, Plan::Train { seed, start })
    }

    /// One pass over `dataset` in order, without augmentation (`pipeline` is typically
    /// [`Pipeline::for_validation`]: only normalisation).
    pub fn validation(
        dataset: Arc<Dataset>,
        pipeline: Arc<Pipeline>,
        batch_size: usize,
    ) -> Result<BatchStream, DataError> {
        BatchStream::spawn(dataset, pipeline, batch_size, Plan::Validation)
    }

    /// Batches in one epoch (the last one may be smaller).
    pub fn batches_per_epoch(&self) -> usize {
        self.batches_per_epoch
    }

    fn spawn(
        dataset: Arc<Dataset>,
        pipeline: Arc<Pipeline>,
        batch_size: usize,
        plan: Plan,
    ) -> Result<BatchStream, DataError> {
        if batch_size == 0 {
            return Err(DataError::Batching("batch_size must be at least 1".to_string()));
        }
        if dataset.is_empty() {
            return Err(DataError::Batching("the data set is empty".to_string()));
        }
        if pipeline.shape() != dataset.shape() {
            return Err(DataError::Batching(format!(
                "the transforms were built for images of {:?}, the data set has {:?}",
                pipeline.shape(),
                dataset.shape()
            )));
        }
        let batches_per_epoch = dataset.len().div_ceil(batch_size);
        if let Plan::Train { start, .. } = plan
            && start.batch >= batches_per_epoch
        {
            return Err(DataError::Batching(format!(
                "cannot resume at batch {} of an epoch of {batches_per_epoch} batches (was batch_size or limit changed?)",
                start.batch
            )));
        }
        let (sender, receiver) = sync_channel(PREFETCH);
        let worker = std::thread::Builder::new()
            .name("expgrid-data".to_string())
            .spawn(move || produce(&dataset, &pipeline, batch_size, plan, &sender))
            .map_err(|e| DataError::Batching(format!("cannot start the data thread: {e}")))?;
        Ok(BatchStream { receiver: Some(receiver), worker: Some(worker), batches_per_epoch })
    }
}

impl Iterator for BatchStream {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let batch = self.receiver.as_ref()?.recv().ok();
        if batch.is_none() {
            // The worker has ended: a finished validation pass, or a panic, passed on here
            // rather than looking like the end of the data.
            self.receiver = None;
            if let Some(Err(panic)) = self.worker.take().map(JoinHandle::join) {
                std::panic::resume_unwind(panic);
            }
        }
        batch
    }
}

impl Drop for BatchStream {
    fn drop(&mut self) {
        // Closing the channel makes the worker's next send fail, which ends it.
        self.receiver.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The sample order of one training epoch.
pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut rng::derive(seed, Purpose::Shuffle, epoch, 0));
    order
}

/// Builds one batch from the samples `indices`, augmented with `augment_rng` if given.
pub fn make_batch(
    dataset: &Dataset,
    pipeline: &Pipeline,
    indices: &[usize],
    augment_rng: Option<&mut rand_chacha::ChaCha8Rng>,
    position: StreamPosition,
    resume_from: StreamPosition,
) -> Batch {
    let [channels, height, width] = dataset.shape();
    let mut pixels = Vec::with_capacity(indices.len() * channels * height * width);
    for &index in indices {
        pixels.extend_from_slice(dataset.image(index));
    }
    if let Some(rng) = augment_rng {
        pipeline.augment(&mut pixels, rng);
    }
    let mut images = Vec::with_capacity(pixels.len());
    pipeline.to_float(&pixels, &mut images);
    let classes = dataset.classes();
    let labels: Vec<usize> = indices.iter().map(|&i| dataset.label(i)).collect();
    let mut targets = vec![0.0; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        targets[row * classes + label] = 1.0;
    }
    Batch { shape: [labels.len(), channels, height, width], images, targets, labels, position, resume_from }
}

/// The worker loop; returns when the plan is done or the receiver is gone.
fn produce(
    dataset: &Dataset,
    pipeline: &Pipeline,
    batch_size: usize,
    plan: Plan,
    sender: &SyncSender<Batch>,
) {
    let batches_per_epoch = dataset.len().div_ceil(batch_size);
    match plan {
        Plan::Validation => {
            let order: Vec<usize> = (0..dataset.len()).collect();
            for (batch, indices) in order.chunks(batch_size).enumerate() {
                let position = StreamPosition { epoch: 0, batch };
                let next = StreamPosition { epoch: 0, batch: batch + 1 };
                if sender.send(make_batch(dataset, pipeline, indices, None, position, next)).is_err() {
                    return;
                }
            }
        }
        Plan::Train { seed, start } => {
            let mut position = start;
            loop {
                let order = epoch_order(dataset.len(), seed, position.epoch);
                for (batch, indices) in order.chunks(batch_size).enumerate().skip(position.batch) {
                    let here = StreamPosition { epoch: position.epoch, batch };
                    let next = if batch + 1 == batches_per_epoch {
                        StreamPosition { epoch: position.epoch + 1, batch: 0 }
                    } else {
                        StreamPosition { epoch: position.epoch, batch: batch + 1 }
                    };
                    let mut rng = rng::derive(seed, Purpose::Augment, here.epoch, batch as u64);
                    if sender
                        .send(make_batch(dataset, pipeline, indices, Some(&mut rng), here, next))
                        .is_err()
                    {
                        return;
                    }
                }
                position = StreamPosition { epoch: position.epoch + 1, batch: 0 };
            }
        }
    }
}
