//! The one error type of the data side. Every message names the file or setting at fault
//! and says how to fix it.

use std::path::{Path, PathBuf};

/// Anything that can go wrong while finding, reading, batching or augmenting data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data set is nowhere on disk and could not (or may not) be downloaded.
    #[error(
        "{dataset} ({split}) not found{why}.\nLooked in:\n{looked}\nTo fetch it by hand, download\n{urls}\ninto one of the folders above (the file names must stay as they are){offline_hint}"
    )]
    NotFound {
        dataset: &'static str,
        split: &'static str,
        /// Why no download happened (or how it failed), starting with ": " or empty.
        why: String,
        /// One indented line per place looked.
        looked: String,
        /// One indented line per URL to fetch.
        urls: String,
        offline_hint: &'static str,
    },
    /// Reading a file failed at the operating-system level.
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A file exists but its content is not the expected data.
    #[error(
        "{path} is damaged or not the expected file: {detail}.\nFix: delete it and run again to download a fresh copy (or copy it again from {origin})"
    )]
    Corrupt { path: PathBuf, detail: String, origin: String },
    /// A download or the move into the cache failed.
    #[error("downloading {url} failed: {detail}")]
    Download { url: String, detail: String },
    /// The requested `shape:` cannot be made from the data set's images.
    #[error(
        "{dataset} images are {available:?} (channels, height, width); shape {requested:?} cannot be made from them. Use {available:?}{grey_hint} (images are never resized)"
    )]
    Shape { dataset: &'static str, requested: [usize; 3], available: [usize; 3], grey_hint: &'static str },
    /// `limit:` asks for more samples than the split (or a class) has, or for zero.
    #[error("{dataset} ({split}): limit {limit} is not possible: {detail}")]
    Limit { dataset: &'static str, split: &'static str, limit: usize, detail: String },
    /// A `train_input_transforms:` entry is invalid for this data.
    #[error("train_input_transforms: {0}")]
    Transform(String),
    /// A batching parameter is invalid.
    #[error("batching: {0}")]
    Batching(String),
}

impl DataError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        DataError::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn corrupt(path: &Path, detail: impl Into<String>, origin: impl Into<String>) -> Self {
        DataError::Corrupt { path: path.to_path_buf(), detail: detail.into(), origin: origin.into() }
    }
}
