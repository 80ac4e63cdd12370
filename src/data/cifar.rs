//! The CIFAR-10 binary format: files of 10,000 records, each one label byte followed by
//! 3,072 pixel bytes (the red, green and blue 32x32 planes, so already C x H x W).

use std::path::Path;

use super::error::DataError;

/// Records per batch file.
pub const RECORDS_PER_FILE: usize = 10_000;
/// Pixel bytes per image (3 x 32 x 32).
pub const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes per record: one label byte, then the image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Classes of CIFAR-10.
pub const CLASSES: usize = 10;

/// File names of a split inside `cifar-10-batches-bin/`.
pub fn batch_files(train: bool) -> &'static [&'static str] {
    if train {
        &["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"]
    } else {
        &["test_batch.bin"]
    }
}

/// Checks the exact size of one batch file's content and appends its images and labels.
pub fn parse_batch(
    content: &[u8],
    images: &mut Vec<u8>,
    labels: &mut Vec<u8>,
    path: &Path,
    origin: &str,
) -> Result<(), DataError> {
    let expected = RECORDS_PER_FILE * RECORD_BYTES;
    if content.len() != expected {
        let detail = format!(
            "a CIFAR-10 batch file has {RECORDS_PER_FILE} records of {RECORD_BYTES} bytes = {expected} bytes, this one has {}",
            content.len()
        );
        return Err(DataError::corrupt(path, detail, origin));
    }
    images.reserve(RECORDS_PER_FILE * IMAGE_BYTES);
    labels.reserve(RECORDS_PER_FILE);
    for (index, record) in content.chunks_exact(RECORD_BYTES).enumerate() {
        if record[0] as usize >= CLASSES {
            let detail = format!("record {index} has label {}, which is not below {CLASSES}", record[0]);
            return Err(DataError::corrupt(path, detail, origin));
        }
        labels.push(record[0]);
        images.extend_from_slice(&record[1..]);
    }
    Ok(())
}
