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

/// The largest IDX payload expgrid reads (the largest real file, MNIST's training images, is
/// 47 MB): a header announcing more is rejected before anything is allocated for it.
const MAX_PAYLOAD: u64 = 256 << 20;

/// Reads a file whole, decompressing it when it starts with the gzip magic bytes. The
/// decompressed size is bounded by what the IDX header announces (one byte more is read, so
/// that trailing data is still reported), so a gzip bomb costs no more memory than the
/// file it pretends to be.
pub fn read_maybe_gz(path: &Path, origin: &str) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let broken = |e: std::io::Error| {
        DataError::corrupt(path, format!("gzip data is broken or truncated ({e})"), origin)
    };
    let mut decoder = GzDecoder::new(raw.as_slice());
    // The header: the magic, whose last byte is the number of dimensions (2051 = 0x0803: u8
    // data, 3 dimensions), then one big-endian u32 per dimension.
    let mut content = Vec::new();
    (&mut decoder).take(4).read_to_end(&mut content).map_err(broken)?;
    let dims = content.get(3).map_or(0, |&d| u64::from(d).min(4));
    (&mut decoder).take(4 * dims).read_to_end(&mut content).map_err(broken)?;
    let payload = content
        .get(4..)
        .unwrap_or_default()
        .chunks_exact(4)
        .map(|w| u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]])))
        .try_fold(1u64, u64::checked_mul)
        .filter(|&payload| payload <= MAX_PAYLOAD)
        .ok_or_else(|| {
            let detail = format!("the IDX header announces more than {} MB of data", MAX_PAYLOAD >> 20);
            DataError::corrupt(path, detail, origin)
        })?;
    content.reserve_exact(payload as usize + 1);
    decoder.take(payload + 1).read_to_end(&mut content).map_err(broken)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(dir: &Path, content: &[u8]) -> std::path::PathBuf {
        let path = dir.join("file.gz");
        let mut encoder =
            flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
        encoder.write_all(content).unwrap();
        encoder.finish().unwrap();
        path
    }

    const HEADER_2X3X4: [u8; 16] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4];

    #[test]
    fn a_gzip_bomb_is_read_no_further_than_its_header_announces() {
        let dir = tempfile::tempdir().unwrap();
        // 24 bytes of images announced, 16 MiB of zeros behind them.
        let mut content = HEADER_2X3X4.to_vec();
        content.resize(16 + (16 << 20), 0);
        let path = gzip(dir.path(), &content);
        let read = read_maybe_gz(&path, "origin").unwrap();
        assert_eq!(read.len(), 16 + 24 + 1, "the announced size and one byte to see the excess");
        let error = parse_images(&read, &path, "origin").unwrap_err().to_string();
        assert!(error.contains("announces [2, 3, 4] = 24 bytes of data but the file has 25"), "{error}");
    }

    #[test]
    fn a_header_announcing_too_much_is_rejected_before_reading_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut content = HEADER_2X3X4.to_vec();
        content[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let path = gzip(dir.path(), &content);
        let error = read_maybe_gz(&path, "origin").unwrap_err().to_string();
        assert!(error.contains("the IDX header announces more than 256 MB of data"), "{error}");
        // An intact small file reads whole.
        let mut content = HEADER_2X3X4.to_vec();
        content.extend(1..=24);
        let path = gzip(dir.path(), &content);
        assert_eq!(read_maybe_gz(&path, "origin").unwrap(), content);
    }
}
