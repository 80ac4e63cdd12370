//! `expgrid fetch`: find or download, and verify, every data set split the runs need, so
//! compute nodes without internet find them in the cache (or `--data-dir`).

use std::path::PathBuf;

use indexmap::IndexSet;

use super::dataset::{Dataset, native_shape};
use super::error::DataError;
use super::locate::{self, DataSource, Found, dataset_key, split_key};
use crate::config::schema::{DatasetName, DatasetSpec, RunConfig, Split};

/// A split that is present and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub dataset: DatasetName,
    pub split: Split,
    /// The files it was loaded from.
    pub files: Vec<PathBuf>,
    pub images: usize,
}

impl std::fmt::Display for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let folder =
            self.files.first().and_then(|p| p.parent()).map(|p| p.display().to_string()).unwrap_or_default();
        write!(
            f,
            "{} {}: {} images, verified, in {folder}",
            dataset_key(self.dataset),
            split_key(self.split),
            self.images
        )
    }
}

/// The distinct splits that runs with these configs train and validate on, in their order.
pub fn needed<'a>(configs: impl IntoIterator<Item = &'a RunConfig>) -> Vec<(DatasetName, Split)> {
    let mut splits = IndexSet::new();
    for config in configs {
        for spec in [&config.train_set, &config.validation_set] {
            splits.insert((spec.dataset, spec.split));
        }
    }
    splits.into_iter().collect()
}

/// Find (downloading into the cache when missing and allowed) and verify one split.
pub fn fetch(dataset: DatasetName, split: Split, source: &DataSource) -> Result<Fetched, DataError> {
    let files = match locate::locate(dataset, split, source)? {
        Found::Idx { images, labels } => vec![images, labels],
        Found::Cifar(files) => files,
    };
    // Loading the whole split checks its checksums and contents.
    let spec = DatasetSpec { dataset, split, shape: native_shape(dataset), limit: None };
    let loaded = Dataset::load(&spec, 0, source)?;
    Ok(Fetched { dataset, split, files, images: loaded.len() })
}
