//! The IDX format of MNIST and Fashion-MNIST (plain or gzip-compressed).
//!
//! Layout: big-endian magic (2051 images, 2049 labels), one big-endian u32 per dimension,
//! then the u8 payload. Every header field and the exact length is checked, so a truncated
//! or padded file is an error instead of garbage data.

use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

use super::error::DataError;

/// Magic number of an IDX file of u8 images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of an IDX file of u8 labels (1 dimension).
pub const LABELS_MAGIC: u32 = 2049;

/// Decoded IDX images: `count` images of `rows x cols` u8 pixels, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Reads a file whole, decompressing it when it starts with the gzip magic bytes.
pub fn read_maybe_gz(path: &Path, origin: &str) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    // Decompressed IDX files are about 1.8x (images) to 2x (labels) their gzip size.
    let mut content = Vec::with_capacity(raw.len() * 2);
    GzDecoder::new(raw.as_slice())
        .read_to_end(&mut content)
        .map_err(|e| DataError::corrupt(path, format!("gzip data is broken or truncated ({e})"), origin))?;
    Ok(content)
}

fn header(
    content: &[u8],
    magic: u32,
    dims: usize,
    path: &Path,
    origin: &str,
) -> Result<Vec<usize>, DataError> {
    let header_len = 4 + 4 * dims;
    if content.len() < header_len {
        let detail = format!("{} bytes is shorter than the {header_len}-byte IDX header", content.len());
        return Err(DataError::corrupt(path, detail, origin));
    }
    let word = |i: usize| {
        u32::from_be_bytes([content[4 * i], content[4 * i + 1], content[4 * i + 2], content[4 * i + 3]])
    };
    if word(0) != magic {
        let detail = format!("IDX magic number is {}, expected {magic}", word(0));
        return Err(DataError::corrupt(path, detail, origin));
    }
    let sizes: Vec<usize> = (1..=dims).map(|i| word(i) as usize).collect();
    let payload: usize = sizes.iter().product();
    if content.len() != header_len + payload {
        let detail = format!(
            "IDX header announces {sizes:?} = {payload} bytes of data but the file has {}",
            content.len() - header_len
        );
        return Err(DataError::corrupt(path, detail, origin));
    }
    Ok(sizes)
}

/// Parses decompressed IDX image content (magic 2051, dims count x rows x cols).
pub fn parse_images(content: &[u8], path: &Path, origin: &str) -> Result<IdxImages, DataError> {
    let sizes = header(content, IMAGES_MAGIC, 3, path, origin)?;
    Ok(IdxImages { count: sizes[0], rows: sizes[1], cols: sizes[2], pixels: content[16..].to_vec() })
}

/// Parses decompressed IDX label content (magic 2049); every label must be below `classes`.
pub fn parse_labels(content: &[u8], classes: usize, path: &Path, origin: &str) -> Result<Vec<u8>, DataError> {
    header(content, LABELS_MAGIC, 1, path, origin)?;
    let labels = &content[8..];
    if let Some(position) = labels.iter().position(|&l| l as usize >= classes) {
        let detail = format!("label {} at index {position} is not below {classes}", labels[position]);
        return Err(DataError::corrupt(path, detail, origin));
    }
    Ok(labels.to_vec())
}
