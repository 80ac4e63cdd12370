//! The one place tests find the real data sets: `../shared/data` beside the repository
//! (`fashion-mnist/` and `mnist/`, the official gzip IDX files). CI lays a copy of `shared/`
//! there; a checkout without it fails these tests with a message saying so.

use std::path::{Path, PathBuf};

/// `../shared/data` from the repository root.
pub fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        dir.join("fashion-mnist").is_dir() && dir.join("mnist").is_dir(),
        "the tests read FMNIST and MNIST from {}: put the shared data folder (fashion-mnist/, mnist/) there",
        dir.display()
    );
    dir
}
