//! An in-memory data set split: verified u8 images in the requested shape plus labels,
//! optionally cut down to a class-balanced subset.

use std::path::Path;

use rand::seq::SliceRandom;

use super::error::DataError;
use super::locate::{self, DataSource, Found, base_url, dataset_key, split_key};
use super::rng::{self, Purpose};
use super::{cifar, idx, verify};
use crate::config::schema::{DatasetName, DatasetSpec, Split};

/// One split of a data set, fully in memory: `len()` images of `shape` (C x H x W) u8
/// pixels, one after the other, and their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    shape: [usize; 3],
    classes: usize,
    images: Vec<u8>,
    labels: Vec<u8>,
}

/// Shape of the images as stored in the official files.
pub fn native_shape(name: DatasetName) -> [usize; 3] {
    match name {
        DatasetName::Fmnist | DatasetName::Mnist => [1, 28, 28],
        DatasetName::Cifar10 => [3, 32, 32],
    }
}

/// Number of classes (all three data sets have 10).
pub fn class_count(_name: DatasetName) -> usize {
    10
}

/// Samples of each class in a split of the official files (what `limit` can draw from).
pub fn class_sizes(name: DatasetName, split: Split) -> [usize; 10] {
    match (name, split) {
        (DatasetName::Fmnist, Split::Train) => [6000; 10],
        (DatasetName::Fmnist, Split::Test) => [1000; 10],
        (DatasetName::Mnist, Split::Train) => [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        (DatasetName::Mnist, Split::Test) => [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
        (DatasetName::Cifar10, Split::Train) => [5000; 10],
        (DatasetName::Cifar10, Split::Test) => [1000; 10],
    }
}

impl Dataset {
    /// Finds, verifies and loads `spec`'s split, converts it to `spec.shape` and applies
    /// `spec.limit` (the subset is fixed by `seed`).
    pub fn load(spec: &DatasetSpec, seed: u64, source: &DataSource) -> Result<Dataset, DataError> {
        let available = native_shape(spec.dataset);
        check_shape(spec.dataset, spec.shape, available)?;
        let classes = class_count(spec.dataset);
        let (images, labels) = match locate::locate(spec.dataset, spec.split, source)? {
            Found::Idx { images, labels } => read_idx(spec.dataset, spec.split, &images, &labels, available)?,
            Found::Cifar(files) => read_cifar(&files)?,
        };
        let full = Dataset { shape: available, classes, images, labels };
        let subset = match spec.limit {
            Some(limit) => full.balanced_subset(limit, seed, spec)?,
            None => full,
        };
        Ok(subset.with_channels(spec.shape[0]))
    }

    /// A data set from raw parts (tests, synthetic data); checks that the sizes agree.
    pub fn from_parts(
        shape: [usize; 3],
        classes: usize,
        images: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<Dataset, DataError> {
        let size: usize = shape.iter().product();
        if size == 0 || images.len() != size * labels.len() || labels.iter().any(|&l| l as usize >= classes) {
            return Err(DataError::Batching(format!(
                "{} image bytes and {} labels do not make images of shape {shape:?} with labels below {classes}",
                images.len(),
                labels.len()
            )));
        }
        Ok(Dataset { shape, classes, images, labels })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[channels, height, width]` of every image.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Number of classes (length of a one-hot target).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Pixels of image `index`, C x H x W.
    pub fn image(&self, index: usize) -> &[u8] {
        let size = self.image_size();
        &self.images[index * size..(index + 1) * size]
    }

    /// Label of image `index`.
    pub fn label(&self, index: usize) -> usize {
        self.labels[index] as usize
    }

    /// How many images each class has.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &label in &self.labels {
            counts[label as usize] += 1;
        }
        counts
    }

    fn image_size(&self) -> usize {
        self.shape.iter().product()
    }

    /// `limit` samples, `limit / classes` per class (the first `limit % classes` classes get
    /// one more), drawn at random with a generator fixed by `seed`; original order is kept.
    /// `spec` names the data set in errors.
    pub fn balanced_subset(&self, limit: usize, seed: u64, spec: &DatasetSpec) -> Result<Dataset, DataError> {
        let error = |detail: String| DataError::Limit {
            dataset: dataset_key(spec.dataset),
            split: split_key(spec.split),
            limit,
            detail,
        };
        if limit == 0 {
            return Err(error("it must be at least 1".to_string()));
        }
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.classes];
        for (index, &label) in self.labels.iter().enumerate() {
            by_class[label as usize].push(index);
        }
        let mut rng = rng::derive(seed, Purpose::Limit, spec.split as u64, 0);
        let mut chosen = Vec::with_capacity(limit);
        for (class, members) in by_class.iter_mut().enumerate() {
            let wanted = limit / self.classes + usize::from(class < limit % self.classes);
            if wanted > members.len() {
                return Err(error(format!(
                    "a class-balanced subset needs {wanted} samples of class {class}, the split has {} (it has {} samples in all)",
                    members.len(),
                    self.len()
                )));
            }
            members.shuffle(&mut rng);
            chosen.extend_from_slice(&members[..wanted]);
        }
        chosen.sort_unstable();
        let mut images = Vec::with_capacity(chosen.len() * self.image_size());
        for &index in &chosen {
            images.extend_from_slice(self.image(index));
        }
        let labels = chosen.iter().map(|&i| self.labels[i]).collect();
        Ok(Dataset { shape: self.shape, classes: self.classes, images, labels })
    }

    /// Repeats a grey channel to `channels` channels (as nn-experiments does for
    /// `shape: [3, 28, 28]`); `check_shape` has already ruled out everything else.
    fn with_channels(self, channels: usize) -> Dataset {
        if channels == self.shape[0] {
            return self;
        }
        let plane = self.shape[1] * self.shape[2];
        let mut images = Vec::with_capacity(self.images.len() * channels);
        for grey in self.images.chunks_exact(plane) {
            for _ in 0..channels {
                images.extend_from_slice(grey);
            }
        }
        Dataset { shape: [channels, self.shape[1], self.shape[2]], images, ..self }
    }
}

/// Images are never resized; the only conversion is grey -> 3 channels.
pub fn check_shape(name: DatasetName, requested: [usize; 3], available: [usize; 3]) -> Result<(), DataError> {
    let channels_ok = requested[0] == available[0] || (available[0] == 1 && requested[0] == 3);
    if channels_ok && requested[1..] == available[1..] {
        return Ok(());
    }
    Err(DataError::Shape {
        dataset: dataset_key(name),
        requested,
        available,
        grey_hint: if available[0] == 1 { " or [3, 28, 28] (the grey channel repeated)" } else { "" },
    })
}

fn read_idx(
    name: DatasetName,
    split: Split,
    images_path: &Path,
    labels_path: &Path,
    shape: [usize; 3],
) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let origin = base_url(name);
    let folder = locate::sub_folders(name)[0];
    let [image_stem, label_stem] = locate::idx_stems(split);
    let content = idx::read_maybe_gz(images_path, origin)?;
    let images = idx::parse_images(&content, images_path, origin)?;
    verify::check_idx(folder, image_stem, &content, images_path, origin)?;
    let content = idx::read_maybe_gz(labels_path, origin)?;
    let labels = idx::parse_labels(&content, class_count(name), labels_path, origin)?;
    verify::check_idx(folder, label_stem, &content, labels_path, origin)?;
    // The checksums pin the exact files, so these can only fail for a checksum table error;
    // they are kept because a wrong table would otherwise give silently misshaped data.
    if [1, images.rows, images.cols] != shape || images.count != labels.len() {
        let detail =
            format!("{} images of {}x{} for {} labels", images.count, images.rows, images.cols, labels.len());
        return Err(DataError::corrupt(images_path, detail, origin));
    }
    Ok((images.pixels, labels))
}

fn read_cifar(files: &[std::path::PathBuf]) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let origin = base_url(DatasetName::Cifar10);
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for path in files {
        let content = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        cifar::parse_batch(&content, &mut images, &mut labels, path, origin)?;
    }
    Ok((images, labels))
}
