//! Checksums of the official files.
//!
//! MNIST and Fashion-MNIST are checked by the SHA-256 of their *decompressed* content, so a
//! re-compressed copy (Debian's `dataset-fashion-mnist` rewrites the gzip headers) passes
//! while any changed pixel or label fails. The hashes were computed from the official files
//! (`zcat FILE | sha256sum`).
//!
//! CIFAR-10 could not be hashed here (the archive was not available offline), so it is
//! checked less strictly: the downloaded `cifar-10-binary.tar.gz` against the MD5 the
//! CIFAR page publishes for it, and every batch file by its exact size (10,000 records of
//! 3,073 bytes) and label range. Extracted batch files are not hashed.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

use super::error::DataError;

/// (data set folder name, file name, SHA-256 of the decompressed content).
const IDX_SHA256: [(&str, &str, &str); 8] = [
    (
        "fashion-mnist",
        "train-images-idx3-ubyte",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    (
        "fashion-mnist",
        "train-labels-idx1-ubyte",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    (
        "fashion-mnist",
        "t10k-images-idx3-ubyte",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    (
        "fashion-mnist",
        "t10k-labels-idx1-ubyte",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    ("mnist", "train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("mnist", "train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("mnist", "t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("mnist", "t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];

/// MD5 of `cifar-10-binary.tar.gz` as listed on the CIFAR page (170,052,171 bytes).
/// (`c58f30108f718f92721af3b95e74349a` is the *python* archive's MD5, not this one.)
pub const CIFAR_TAR_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex MD5 of a file, read in chunks (the CIFAR archive is 170 MB).
pub fn md5_file_hex(path: &Path) -> Result<String, DataError> {
    let mut file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buffer[..n]);
    }
}

/// Checks decompressed IDX content against the official hash of `folder/file_stem`.
/// `path` and `origin` only go into the error message.
pub fn check_idx(
    folder: &str,
    file_stem: &str,
    content: &[u8],
    path: &Path,
    origin: &str,
) -> Result<(), DataError> {
    let Some(&(_, _, expected)) = IDX_SHA256.iter().find(|(f, s, _)| *f == folder && *s == file_stem) else {
        return Err(DataError::corrupt(path, format!("no known checksum for {folder}/{file_stem}"), origin));
    };
    let actual = sha256_hex(content);
    if actual == expected {
        return Ok(());
    }
    let detail = match IDX_SHA256.iter().find(|(_, _, h)| *h == actual) {
        Some((other, stem, _)) => {
            format!("its content is {other}/{stem}, not {folder}/{file_stem}")
        }
        None => format!("SHA-256 of the decompressed content is {actual}, expected {expected}"),
    };
    Err(DataError::corrupt(path, detail, origin))
}
