//! Batching: seeded epoch order, drop_last = false, in-order validation, one-hot targets,
//! and exact resumption (including augmentation) from a saved stream position.

use std::sync::Arc;

use expgrid::config::schema::{AugmentMode, TransformSpec};
use expgrid::data::batches::epoch_order;
use expgrid::data::{Batch, BatchStream, DataError, Dataset, Pipeline, StreamPosition};

/// 103 distinct 3x8x8 images with labels `i % 10`.
fn dataset() -> Arc<Dataset> {
    let shape = [3, 8, 8];
    let images = (0..103 * 192).map(|i| ((i * 7 + i / 192) % 256) as u8).collect();
    let labels = (0..103).map(|i| (i % 10) as u8).collect();
    Arc::new(Dataset::from_parts(shape, 10, images, labels).unwrap())
}

fn augmenting() -> Arc<Pipeline> {
    let specs = [
        TransformSpec::TrivialAugmentWide { mode: AugmentMode::PerSample, num_magnitude_bins: 31 },
        TransformSpec::RandomCrop { padding: 2 },
        TransformSpec::HorizontalFlip { p: 0.5 },
    ];
    Arc::new(Pipeline::new(&specs, [3, 8, 8]).unwrap())
}

fn plain() -> Arc<Pipeline> {
    Arc::new(Pipeline::new(&[], [3, 8, 8]).unwrap())
}

#[test]
fn epochs_are_seeded_permutations_without_dropping_the_last_batch() {
    let data = dataset();
    let stream = BatchStream::train(data.clone(), plain(), 10, 42, StreamPosition::default()).unwrap();
    assert_eq!(stream.batches_per_epoch(), 11);
    let batches: Vec<Batch> = stream.take(22).collect();
    let sizes: Vec<usize> = batches[..11].iter().map(Batch::len).collect();
    assert_eq!(sizes, [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
    assert_eq!(batches[10].resume_from, StreamPosition { epoch: 1, batch: 0 });
    assert_eq!(batches[11].position, StreamPosition { epoch: 1, batch: 0 });
    for epoch in 0..2 {
        let order = epoch_order(103, 42, epoch as u64);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..103).collect::<Vec<_>>(), "a permutation");
        let labels: Vec<usize> =
            batches[epoch * 11..(epoch + 1) * 11].iter().flat_map(|b| b.labels.clone()).collect();
        assert_eq!(labels, order.iter().map(|i| i % 10).collect::<Vec<_>>());
    }
    assert_ne!(epoch_order(103, 42, 0), epoch_order(103, 42, 1), "each epoch reshuffles");
    assert_eq!(epoch_order(103, 42, 3), epoch_order(103, 42, 3));
    assert_ne!(epoch_order(103, 42, 0), epoch_order(103, 43, 0));
    // Without augmentation the images are the data set's, scaled to [0, 1].
    let first = epoch_order(103, 42, 0)[0];
    let expected: Vec<f32> = data.image(first).iter().map(|&p| p as f32 / 255.0).collect();
    assert_eq!(batches[0].images[..192], expected[..]);
}

#[test]
fn targets_are_one_hot() {
    let batch = BatchStream::validation(dataset(), plain(), 16).unwrap().next().unwrap();
    assert_eq!(batch.shape, [16, 3, 8, 8]);
    assert_eq!(batch.images.len(), 16 * 192);
    for (row, &label) in batch.labels.iter().enumerate() {
        let target = &batch.targets[row * 10..(row + 1) * 10];
        assert_eq!(target.iter().sum::<f32>(), 1.0);
        assert_eq!(target[label], 1.0);
    }
}

#[test]
fn validation_is_one_pass_in_order() {
    let batches: Vec<Batch> = BatchStream::validation(dataset(), plain(), 25).unwrap().collect();
    assert_eq!(batches.iter().map(Batch::len).collect::<Vec<_>>(), [25, 25, 25, 25, 3]);
    let labels: Vec<usize> = batches.iter().flat_map(|b| b.labels.clone()).collect();
    assert_eq!(labels, (0..103).map(|i| i % 10).collect::<Vec<_>>());
}

#[test]
fn resuming_reproduces_the_stream_exactly() {
    let full: Vec<Batch> = BatchStream::train(dataset(), augmenting(), 10, 9, StreamPosition::default())
        .unwrap()
        .take(30)
        .collect();
    let again: Vec<Batch> = BatchStream::train(dataset(), augmenting(), 10, 9, StreamPosition::default())
        .unwrap()
        .take(30)
        .collect();
    assert_eq!(full, again, "same seed, same stream");
    // Resume after batch 14 (epoch 1, batch 3), as a checkpoint would.
    let resume = full[14].resume_from;
    assert_eq!(resume, StreamPosition { epoch: 1, batch: 4 });
    let resumed: Vec<Batch> =
        BatchStream::train(dataset(), augmenting(), 10, 9, resume).unwrap().take(15).collect();
    assert_eq!(resumed[..], full[15..], "the resumed stream, augmentation included");
    let other_seed: Vec<Batch> =
        BatchStream::train(dataset(), augmenting(), 10, 10, StreamPosition::default())
            .unwrap()
            .take(1)
            .collect();
    assert_ne!(other_seed[0].images, full[0].images);
}

#[test]
fn batching_errors() {
    let error = |result: Result<BatchStream, DataError>| match result {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error"),
    };
    assert!(
        error(BatchStream::train(dataset(), plain(), 0, 0, StreamPosition::default())).contains("at least 1")
    );
    let past_end = StreamPosition { epoch: 2, batch: 11 };
    assert!(
        error(BatchStream::train(dataset(), plain(), 10, 0, past_end)).contains("cannot resume at batch 11")
    );
    let wrong_shape = Arc::new(Pipeline::new(&[], [1, 8, 8]).unwrap());
    assert!(
        error(BatchStream::validation(dataset(), wrong_shape, 10)).contains("built for images of [1, 8, 8]")
    );
    assert!(Dataset::from_parts([1, 2, 2], 10, vec![0; 7], vec![1, 2]).is_err());
}
