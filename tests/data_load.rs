//! Loading: the real MNIST / Fashion-MNIST files from the shared data folder, the IDX and
//! CIFAR parsers on small files written here, and every error path. No test touches the
//! network: every `DataSource` here has downloads off.

mod shared_data;

use shared_data::data_dir;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use expgrid::config::schema::{DatasetName, DatasetSpec, Split};
use expgrid::data::{DataError, DataSource, Dataset, cifar, idx};
use flate2::Compression;
use flate2::write::GzEncoder;

fn spec(dataset: DatasetName, split: Split, shape: [usize; 3], limit: Option<usize>) -> DatasetSpec {
    DatasetSpec { dataset, split, shape, limit }
}

fn load(
    dataset: DatasetName,
    split: Split,
    shape: [usize; 3],
    limit: Option<usize>,
    dirs: Vec<PathBuf>,
) -> Result<Dataset, DataError> {
    Dataset::load(&spec(dataset, split, shape, limit), 0, &DataSource::offline(dirs))
}

fn error_of(result: Result<Dataset, DataError>) -> DataError {
    match result {
        Err(error) => error,
        Ok(_) => panic!("expected an error"),
    }
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut content = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut content,
    )
    .unwrap();
    content
}

fn gzip(content: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(content).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn real_fashion_mnist_has_6000_train_and_1000_test_images_per_class() {
    let started = Instant::now();
    let train = load(DatasetName::Fmnist, Split::Train, [1, 28, 28], None, vec![data_dir()]).unwrap();
    let train_seconds = started.elapsed().as_secs_f64();
    let test = load(DatasetName::Fmnist, Split::Test, [1, 28, 28], None, vec![data_dir()]).unwrap();
    println!("fmnist train loaded and verified in {train_seconds:.3} s");
    assert_eq!(train.len(), 60_000);
    assert_eq!(train.class_counts(), vec![6_000; 10]);
    assert_eq!(test.class_counts(), vec![1_000; 10]);
    assert_eq!(train.shape(), [1, 28, 28]);
    assert_eq!((0..10).map(|i| train.label(i)).collect::<Vec<_>>(), vec![9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert!(train.image(0).iter().any(|&p| p > 200));
}

#[test]
fn real_mnist_loads() {
    let train = load(DatasetName::Mnist, Split::Train, [1, 28, 28], None, vec![data_dir()]).unwrap();
    let test = load(DatasetName::Mnist, Split::Test, [1, 28, 28], None, vec![data_dir()]).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.class_counts().iter().sum::<usize>(), 60_000);
    assert_eq!(train.label(0), 5, "the first MNIST training digit is a 5");
    assert_eq!(test.label(0), 7, "the first MNIST test digit is a 7");
}

#[test]
fn grey_images_repeat_to_three_channels_and_limit_is_class_balanced() {
    let dirs = vec![data_dir()];
    let grey = load(DatasetName::Fmnist, Split::Test, [1, 28, 28], Some(1005), dirs.clone()).unwrap();
    let rgb = load(DatasetName::Fmnist, Split::Test, [3, 28, 28], Some(1005), dirs.clone()).unwrap();
    assert_eq!(grey.len(), 1005);
    assert_eq!(grey.class_counts(), vec![101, 101, 101, 101, 101, 100, 100, 100, 100, 100]);
    assert_eq!(rgb.shape(), [3, 28, 28]);
    for i in [0, 500, 1004] {
        assert_eq!(rgb.label(i), grey.label(i));
        for channel in rgb.image(i).chunks_exact(784) {
            assert_eq!(channel, grey.image(i));
        }
    }
    let with_seed = |seed| {
        Dataset::load(
            &spec(DatasetName::Fmnist, Split::Test, [1, 28, 28], Some(50)),
            seed,
            &DataSource::offline(dirs.clone()),
        )
        .unwrap()
    };
    assert_eq!(with_seed(1), with_seed(1), "the subset is fixed by the seed");
    assert_ne!(with_seed(1), with_seed(2));
    let message =
        error_of(load(DatasetName::Fmnist, Split::Test, [1, 28, 28], Some(20_000), dirs.clone())).to_string();
    assert!(
        message.contains("limit 20000") && message.contains("needs 2000 samples of class 0"),
        "{message}"
    );
    assert!(
        error_of(load(DatasetName::Fmnist, Split::Test, [1, 28, 28], Some(0), dirs))
            .to_string()
            .contains("at least 1")
    );
}

#[test]
fn impossible_shapes_are_rejected() {
    for shape in [[2, 28, 28], [1, 32, 32], [3, 32, 32]] {
        let message = error_of(load(DatasetName::Fmnist, Split::Test, shape, None, vec![])).to_string();
        assert!(
            message.contains(&format!("shape {shape:?} cannot be made")) && message.contains("[3, 28, 28]"),
            "{message}"
        );
    }
    let message = error_of(load(DatasetName::Cifar10, Split::Test, [1, 32, 32], None, vec![])).to_string();
    assert!(message.contains("cifar10 images are [3, 32, 32]"), "{message}");
}

fn idx_images(count: u32, rows: u32, cols: u32, pixels: usize) -> Vec<u8> {
    let mut content = Vec::new();
    for word in [idx::IMAGES_MAGIC, count, rows, cols] {
        content.extend_from_slice(&word.to_be_bytes());
    }
    content.extend((0..pixels).map(|i| i as u8));
    content
}

#[test]
fn idx_parser_checks_magic_dimensions_and_length() {
    let path = Path::new("test.idx");
    let images = idx::parse_images(&idx_images(2, 3, 4, 24), path, "origin").unwrap();
    assert_eq!((images.count, images.rows, images.cols, images.pixels.len()), (2, 3, 4, 24));
    let truncated = idx::parse_images(&idx_images(2, 3, 4, 23), path, "origin").unwrap_err().to_string();
    assert!(
        truncated.contains("test.idx") && truncated.contains("24 bytes of data but the file has 23"),
        "{truncated}"
    );
    assert!(idx::parse_images(&idx_images(2, 3, 4, 25), path, "o").is_err(), "trailing bytes");
    assert!(
        idx::parse_images(&[0, 0, 8], path, "o")
            .unwrap_err()
            .to_string()
            .contains("shorter than the 16-byte IDX header")
    );
    let mut labels = Vec::new();
    labels.extend_from_slice(&idx::LABELS_MAGIC.to_be_bytes());
    labels.extend_from_slice(&3u32.to_be_bytes());
    labels.extend_from_slice(&[1, 9, 0]);
    assert_eq!(idx::parse_labels(&labels, 10, path, "o").unwrap(), vec![1, 9, 0]);
    let mut wrong_magic = idx_images(2, 3, 4, 24);
    wrong_magic[3] = 0x01;
    let magic = idx::parse_images(&wrong_magic, path, "o").unwrap_err().to_string();
    assert!(magic.contains("magic number is 2049, expected 2051"), "{magic}");
    labels[9] = 10;
    assert!(
        idx::parse_labels(&labels, 10, path, "o").unwrap_err().to_string().contains("label 10 at index 1")
    );
}

/// A data folder holding the real Fashion-MNIST test files, with `edit` applied to the
/// named one (written uncompressed when `edit` is given decompressed content).
fn fmnist_copy(root: &Path, broken_file: &str, broken: Vec<u8>) {
    let folder = root.join("fashion-mnist");
    std::fs::create_dir_all(&folder).unwrap();
    for file in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        if file != broken_file {
            std::fs::copy(data_dir().join("fashion-mnist").join(file), folder.join(file)).unwrap();
        }
    }
    std::fs::write(folder.join(broken_file), broken).unwrap();
}

fn fmnist_test_error(root: &Path) -> String {
    error_of(load(DatasetName::Fmnist, Split::Test, [1, 28, 28], None, vec![root.to_path_buf()])).to_string()
}

#[test]
fn a_changed_pixel_fails_the_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = gunzip(&data_dir().join("fashion-mnist/t10k-images-idx3-ubyte.gz"));
    content[5_000] ^= 0x40;
    fmnist_copy(dir.path(), "t10k-images-idx3-ubyte.gz", gzip(&content));
    let message = fmnist_test_error(dir.path());
    assert!(
        message.contains("t10k-images-idx3-ubyte.gz is damaged") && message.contains("SHA-256"),
        "{message}"
    );
    assert!(message.contains("delete it and run again"), "{message}");
}

#[test]
fn a_recompressed_copy_passes_and_plain_files_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let labels = gunzip(&data_dir().join("fashion-mnist/t10k-labels-idx1-ubyte.gz"));
    fmnist_copy(dir.path(), "t10k-labels-idx1-ubyte.gz", gzip(&labels));
    assert_eq!(
        load(DatasetName::Fmnist, Split::Test, [1, 28, 28], None, vec![dir.path().into()]).unwrap().len(),
        10_000
    );
    let plain = tempfile::tempdir().unwrap();
    // Files directly in an explicit folder, the labels uncompressed.
    let images = "t10k-images-idx3-ubyte.gz";
    std::fs::copy(data_dir().join("fashion-mnist").join(images), plain.path().join(images)).unwrap();
    std::fs::write(plain.path().join("t10k-labels-idx1-ubyte"), labels).unwrap();
    assert_eq!(
        load(DatasetName::Fmnist, Split::Test, [1, 28, 28], None, vec![plain.path().into()]).unwrap().len(),
        10_000
    );
}

#[test]
fn a_truncated_gzip_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let raw = std::fs::read(data_dir().join("fashion-mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
    fmnist_copy(dir.path(), "t10k-labels-idx1-ubyte.gz", raw[..raw.len() / 2].to_vec());
    let message = fmnist_test_error(dir.path());
    assert!(
        message.contains("t10k-labels-idx1-ubyte.gz is damaged")
            && message.contains("gzip data is broken or truncated"),
        "{message}"
    );
}

#[test]
fn wrong_magic_truncated_idx_and_swapped_data_sets_are_errors() {
    let labels = gunzip(&data_dir().join("fashion-mnist/t10k-labels-idx1-ubyte.gz"));
    let dir = tempfile::tempdir().unwrap();
    fmnist_copy(dir.path(), "t10k-images-idx3-ubyte.gz", gzip(&labels));
    assert!(fmnist_test_error(dir.path()).contains("IDX magic number is 2049, expected 2051"));

    let dir = tempfile::tempdir().unwrap();
    fmnist_copy(dir.path(), "t10k-labels-idx1-ubyte.gz", gzip(&labels[..9_000]));
    assert!(fmnist_test_error(dir.path()).contains("10000 bytes of data but the file has 8992"));

    let dir = tempfile::tempdir().unwrap();
    let mnist_labels = std::fs::read(data_dir().join("mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
    fmnist_copy(dir.path(), "t10k-labels-idx1-ubyte.gz", mnist_labels);
    let message = fmnist_test_error(dir.path());
    assert!(
        message.contains(
            "its content is mnist/t10k-labels-idx1-ubyte, not fashion-mnist/t10k-labels-idx1-ubyte"
        ),
        "{message}"
    );
}

/// A CIFAR-10 test batch file of `records` records with labels `i % 10`.
fn cifar_batch(records: usize) -> Vec<u8> {
    let mut content = Vec::with_capacity(records * cifar::RECORD_BYTES);
    for i in 0..records {
        content.push((i % 10) as u8);
        content.extend(std::iter::repeat_n((i % 251) as u8, cifar::IMAGE_BYTES));
    }
    content
}

#[test]
fn cifar_batch_files_load_and_wrong_sizes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("cifar-10").join("cifar-10-batches-bin");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("test_batch.bin"), cifar_batch(10_000)).unwrap();
    let test = load(DatasetName::Cifar10, Split::Test, [3, 32, 32], None, vec![dir.path().into()]).unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.class_counts(), vec![1_000; 10]);
    assert_eq!((test.label(13), test.image(13)[3071]), (3, 13));

    std::fs::write(folder.join("test_batch.bin"), cifar_batch(9_999)).unwrap();
    let message =
        error_of(load(DatasetName::Cifar10, Split::Test, [3, 32, 32], None, vec![dir.path().into()]))
            .to_string();
    assert!(
        message.contains("test_batch.bin is damaged")
            && message.contains("30730000 bytes, this one has 30726927"),
        "{message}"
    );

    let mut bad_label = cifar_batch(10_000);
    bad_label[cifar::RECORD_BYTES * 2] = 10;
    let err = cifar::parse_batch(&bad_label, &mut Vec::new(), &mut Vec::new(), Path::new("b.bin"), "o")
        .unwrap_err();
    assert!(err.to_string().contains("record 2 has label 10"));
}

#[test]
fn nothing_found_offline_lists_the_places_and_urls() {
    let dir = tempfile::tempdir().unwrap();
    let source = DataSource {
        explicit_dirs: vec![dir.path().join("mine")],
        cache_dir: Some(dir.path().join("cache")),
        system_dirs: vec![dir.path().join("system")],
        download: false,
    };
    let message =
        error_of(Dataset::load(&spec(DatasetName::Fmnist, Split::Train, [1, 28, 28], None), 0, &source))
            .to_string();
    for place in ["mine/fashion-mnist", "mine\n", "cache/fashion-mnist", "system/fashion-mnist"] {
        assert!(message.contains(place), "{place} missing from: {message}");
    }
    for url in [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz",
    ] {
        assert!(message.contains(url), "{url} missing from: {message}");
    }
    assert!(message.contains("downloads are off") && message.contains("EXPGRID_OFFLINE"), "{message}");
    let message =
        error_of(Dataset::load(&spec(DatasetName::Cifar10, Split::Test, [3, 32, 32], None), 0, &source))
            .to_string();
    assert!(
        message.contains("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz")
            && message.contains("cache/cifar-10"),
        "{message}"
    );
    let message =
        error_of(Dataset::load(&spec(DatasetName::Mnist, Split::Test, [1, 28, 28], None), 0, &source))
            .to_string();
    assert!(
        message.contains("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz"),
        "{message}"
    );
}

#[test]
fn data_source_reads_the_environment() {
    // The only test of this binary that touches the environment.
    unsafe {
        std::env::set_var("EXPGRID_DATA", "/from/env");
        std::env::set_var("EXPGRID_OFFLINE", "1");
        std::env::set_var("XDG_CACHE_HOME", "/xdg");
    }
    let source = DataSource::from_env(Some(PathBuf::from("/from/flag")));
    assert_eq!(source.explicit_dirs, vec![PathBuf::from("/from/flag"), PathBuf::from("/from/env")]);
    assert_eq!(source.cache_dir, Some(PathBuf::from("/xdg/expgrid/datasets")));
    assert_eq!(source.system_dirs, vec![PathBuf::from("/usr/share/datasets")]);
    assert!(!source.download);
    unsafe { std::env::set_var("EXPGRID_OFFLINE", "0") };
    assert!(DataSource::from_env(None).download);
}

#[test]
fn cache_and_system_folders_are_searched_by_sub_folder() {
    for in_cache in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        // Laid out like Debian's dataset-fashion-mnist: ROOT/fashion-mnist/*.gz.
        let folder = dir.path().join("root/fashion-mnist");
        std::fs::create_dir_all(&folder).unwrap();
        for file in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            std::fs::copy(data_dir().join("fashion-mnist").join(file), folder.join(file)).unwrap();
        }
        let root = dir.path().join("root");
        let source = DataSource {
            explicit_dirs: vec![dir.path().join("empty")],
            cache_dir: in_cache.then(|| root.clone()),
            system_dirs: if in_cache { vec![] } else { vec![root.clone()] },
            download: false,
        };
        let test =
            Dataset::load(&spec(DatasetName::Fmnist, Split::Test, [1, 28, 28], None), 0, &source).unwrap();
        assert_eq!(test.len(), 10_000);
    }
}
