//! Where data sets are looked for, downloading into the user cache, and the atomic moves
//! that keep a half-written file from ever being mistaken for data.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::GzDecoder;
use indicatif::{ProgressBar, ProgressStyle};

use super::cifar;
use super::error::DataError;
use super::idx;
use super::verify;
use crate::config::schema::{DatasetName, Split};

/// Environment variable naming an extra data folder (searched first, like `--data-dir`).
pub const DATA_DIR_ENV: &str = "EXPGRID_DATA";
/// Environment variable that turns downloads off when set to `1`, `true` or `yes`.
pub const OFFLINE_ENV: &str = "EXPGRID_OFFLINE";
/// The folder Debian's `dataset-*` packages fill (`dataset-fashion-mnist` ->
/// `/usr/share/datasets/fashion-mnist/`).
pub const SYSTEM_DATA_DIR: &str = "/usr/share/datasets";

/// Where to look for data and whether downloading is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
    /// Folders given explicitly (`--data-dir`, `EXPGRID_DATA`): a data set's files may sit
    /// in a sub-folder named after it or directly in the folder.
    pub explicit_dirs: Vec<PathBuf>,
    /// The user cache (`$XDG_CACHE_HOME/expgrid/datasets` or `~/.cache/expgrid/datasets`);
    /// searched after the explicit folders, and where downloads go.
    pub cache_dir: Option<PathBuf>,
    /// System folders with one sub-folder per data set (Debian's `/usr/share/datasets`).
    pub system_dirs: Vec<PathBuf>,
    /// Download missing data from the official URLs into the cache.
    pub download: bool,
}

impl DataSource {
    /// The standard search order: `data_dir` (from `--data-dir`), `$EXPGRID_DATA`, the user
    /// cache, `/usr/share/datasets`. Downloads are on unless `$EXPGRID_OFFLINE` is set.
    pub fn from_env(data_dir: Option<PathBuf>) -> DataSource {
        let env_dir = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        let cache_dir = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .map(|cache| cache.join("expgrid").join("datasets"));
        let offline = std::env::var(OFFLINE_ENV)
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
            .unwrap_or(false);
        DataSource {
            explicit_dirs: data_dir.into_iter().chain(env_dir).collect(),
            cache_dir,
            system_dirs: vec![PathBuf::from(SYSTEM_DATA_DIR)],
            download: !offline,
        }
    }

    /// Only the given folders, no cache, no downloads (tests, fully offline use).
    pub fn offline(dirs: Vec<PathBuf>) -> DataSource {
        DataSource { explicit_dirs: dirs, cache_dir: None, system_dirs: Vec::new(), download: false }
    }

    /// Candidate folders for a data set, in search order.
    fn candidates(&self, name: DatasetName) -> Vec<PathBuf> {
        let subs = sub_folders(name);
        let mut dirs = Vec::new();
        for dir in &self.explicit_dirs {
            dirs.extend(subs.iter().map(|s| dir.join(s)));
            dirs.push(dir.clone());
        }
        for dir in self.cache_dir.iter().chain(&self.system_dirs) {
            dirs.extend(subs.iter().map(|s| dir.join(s)));
        }
        dirs
    }
}

/// Sub-folder names a data set may live in; the first is the one the cache uses.
pub fn sub_folders(name: DatasetName) -> &'static [&'static str] {
    match name {
        DatasetName::Fmnist => &["fashion-mnist", "fmnist"],
        DatasetName::Mnist => &["mnist"],
        DatasetName::Cifar10 => &["cifar-10", "cifar10"],
    }
}

/// Official download location of the files (a folder URL for IDX, the archive for CIFAR).
pub fn base_url(name: DatasetName) -> &'static str {
    match name {
        DatasetName::Fmnist => "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        DatasetName::Mnist => "https://ossci-datasets.s3.amazonaws.com/mnist/",
        DatasetName::Cifar10 => "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    }
}

/// Stems (without `.gz`) of the IDX image and label files of a split.
pub fn idx_stems(split: Split) -> [&'static str; 2] {
    match split {
        Split::Train => ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
        Split::Test => ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
    }
}

/// Folder inside the CIFAR archive (and accepted inside a data set folder).
pub const CIFAR_BIN_DIR: &str = "cifar-10-batches-bin";
/// File name of the CIFAR-10 binary archive.
pub const CIFAR_ARCHIVE: &str = "cifar-10-binary.tar.gz";

/// Files of one split, found on disk (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// IDX images file, IDX labels file.
    Idx { images: PathBuf, labels: PathBuf },
    /// CIFAR-10 batch files of the split, in order.
    Cifar(Vec<PathBuf>),
}

/// Finds (or downloads) the files of a split.
pub fn locate(name: DatasetName, split: Split, source: &DataSource) -> Result<Found, DataError> {
    let candidates = source.candidates(name);
    if let Some(found) = candidates.iter().find_map(|dir| find_in(name, split, dir)) {
        return Ok(found);
    }
    let cache_folder = source.cache_dir.as_ref().map(|cache| cache.join(sub_folders(name)[0]));
    // After an extraction or a download the files must be in the cache folder.
    let in_cache = |folder: &Path| {
        find_in(name, split, folder).ok_or_else(|| DataError::Download {
            url: base_url(name).to_string(),
            detail: format!("the files did not appear in {}", folder.display()),
        })
    };
    if name == DatasetName::Cifar10
        && let Some(archive) = candidates.iter().map(|d| d.join(CIFAR_ARCHIVE)).find(|p| p.is_file())
    {
        let folder = cache_folder.ok_or_else(|| no_cache_for_archive(&archive))?;
        check_cifar_archive(&archive)?;
        unpack_cifar(&archive, &folder.join(CIFAR_BIN_DIR))?;
        return in_cache(&folder);
    }
    let why = match (&cache_folder, source.download) {
        (_, false) => " and downloads are off".to_string(),
        (None, true) => {
            " and there is no cache folder to download into (set HOME or XDG_CACHE_HOME)".to_string()
        }
        (Some(folder), true) => match download(name, split, folder) {
            Ok(()) => return in_cache(folder),
            Err(error) => format!("; the download failed: {error}"),
        },
    };
    Err(not_found(name, split, &candidates, why, !source.download))
}

fn find_in(name: DatasetName, split: Split, dir: &Path) -> Option<Found> {
    match name {
        DatasetName::Fmnist | DatasetName::Mnist => {
            let file = |stem: &str| {
                [format!("{stem}.gz"), stem.to_string()]
                    .into_iter()
                    .map(|f| dir.join(f))
                    .find(|p| p.is_file())
            };
            let [images, labels] = idx_stems(split);
            Some(Found::Idx { images: file(images)?, labels: file(labels)? })
        }
        DatasetName::Cifar10 => [dir.join(CIFAR_BIN_DIR), dir.to_path_buf()]
            .into_iter()
            .find_map(|d| {
                let files: Vec<PathBuf> =
                    cifar::batch_files(split == Split::Train).iter().map(|f| d.join(f)).collect();
                files.iter().all(|p| p.is_file()).then_some(files)
            })
            .map(Found::Cifar),
    }
}

/// File names and URLs to fetch by hand.
fn manual_urls(name: DatasetName, split: Split) -> Vec<String> {
    match name {
        DatasetName::Cifar10 => vec![base_url(name).to_string()],
        _ => idx_stems(split).iter().map(|stem| format!("{}{stem}.gz", base_url(name))).collect(),
    }
}

fn not_found(name: DatasetName, split: Split, looked: &[PathBuf], why: String, offline: bool) -> DataError {
    let looked = looked.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n");
    let mut urls = manual_urls(name, split).iter().map(|u| format!("  {u}")).collect::<Vec<_>>().join("\n");
    if name == DatasetName::Cifar10 {
        urls.push_str(&format!("\n(or put its extracted {CIFAR_BIN_DIR}/ folder there)"));
    }
    DataError::NotFound {
        dataset: dataset_key(name),
        split: split_key(split),
        why,
        looked,
        urls,
        offline_hint: if offline { "\nor allow downloads (unset EXPGRID_OFFLINE)" } else { "" },
    }
}

fn no_cache_for_archive(archive: &Path) -> DataError {
    DataError::Download {
        url: archive.display().to_string(),
        detail: "found the archive but there is no cache folder to extract it into (set HOME or XDG_CACHE_HOME), or extract it yourself next to it".to_string(),
    }
}

/// The config key of a data set (`fmnist`, `mnist`, `cifar10`).
pub fn dataset_key(name: DatasetName) -> &'static str {
    match name {
        DatasetName::Fmnist => "fmnist",
        DatasetName::Mnist => "mnist",
        DatasetName::Cifar10 => "cifar10",
    }
}

/// The config key of a split (`train`, `test`).
pub fn split_key(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Test => "test",
    }
}

/// Downloads the split's files into `folder` (verified before they get their final name).
fn download(name: DatasetName, split: Split, folder: &Path) -> Result<(), DataError> {
    fs::create_dir_all(folder).map_err(|e| DataError::io(folder, e))?;
    match name {
        DatasetName::Cifar10 => {
            let url = base_url(name);
            let archive = folder.join(CIFAR_ARCHIVE);
            fetch_atomically(url, &archive, check_cifar_archive)?;
            unpack_cifar(&archive, &folder.join(CIFAR_BIN_DIR))?;
            // The verified batch files are all that is read later; the 170 MB archive is not.
            fs::remove_file(&archive).map_err(|e| DataError::io(&archive, e))
        }
        DatasetName::Fmnist | DatasetName::Mnist => {
            let [images, labels] = idx_stems(split);
            for (stem, is_images) in [(images, true), (labels, false)] {
                let url = format!("{}{stem}.gz", base_url(name));
                fetch_atomically(&url, &folder.join(format!("{stem}.gz")), |tmp| {
                    let content = idx::read_maybe_gz(tmp, &url)?;
                    if is_images {
                        idx::parse_images(&content, tmp, &url)?;
                    } else {
                        idx::parse_labels(&content, 10, tmp, &url)?;
                    }
                    verify::check_idx(sub_folders(name)[0], stem, &content, tmp, &url)
                })?;
            }
            Ok(())
        }
    }
}

/// Downloads `url` to a temporary file next to `dest`, runs `check` on it, then renames it
/// to `dest`; a failed or interrupted download never leaves a file under the final name.
fn fetch_atomically(
    url: &str,
    dest: &Path,
    check: impl FnOnce(&Path) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let tmp = temp_path(dest);
    // The temporary file is deleted on failure, so a check failure is reported against the URL.
    let rejected = |error| match error {
        DataError::Corrupt { detail, .. } => DataError::Download {
            url: url.to_string(),
            detail: format!(
                "the downloaded file is not the expected one ({detail}); try again later or fetch it by hand"
            ),
        },
        other => other,
    };
    let result = fetch(url, &tmp)
        .and_then(|()| check(&tmp).map_err(rejected))
        .and_then(|()| fs::rename(&tmp, dest).map_err(|e| DataError::io(dest, e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_path(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.part-{}", std::process::id()))
}

fn fetch(url: &str, to: &Path) -> Result<(), DataError> {
    let failed = |detail: String| DataError::Download { url: url.to_string(), detail };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_body(Some(Duration::from_secs(120)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    let body = response.into_body();
    let progress = match body.content_length() {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::no_length(),
    };
    let style =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    progress.set_style(style);
    progress.set_message(format!("downloading {url}"));
    let mut file = fs::File::create(to).map_err(|e| DataError::io(to, e))?;
    let mut reader = progress.wrap_read(body.into_reader());
    io::copy(&mut reader, &mut file).map_err(|e| failed(e.to_string()))?;
    file.flush().and_then(|()| file.sync_all()).map_err(|e| DataError::io(to, e))?;
    progress.finish_and_clear();
    Ok(())
}

/// Checks the CIFAR-10 archive against its published MD5.
fn check_cifar_archive(archive: &Path) -> Result<(), DataError> {
    let actual = verify::md5_file_hex(archive)?;
    if actual != verify::CIFAR_TAR_MD5 {
        let detail = format!("MD5 is {actual}, expected {}", verify::CIFAR_TAR_MD5);
        return Err(DataError::corrupt(archive, detail, base_url(DatasetName::Cifar10)));
    }
    Ok(())
}

/// Extracts the six batch files from a (checked) CIFAR-10 archive into `dest`, checking
/// each one's size and labels; each file appears under its name only when complete.
fn unpack_cifar(archive: &Path, dest: &Path) -> Result<(), DataError> {
    let origin = base_url(DatasetName::Cifar10);
    fs::create_dir_all(dest).map_err(|e| DataError::io(dest, e))?;
    let file = fs::File::open(archive).map_err(|e| DataError::io(archive, e))?;
    let broken = |e: io::Error| DataError::corrupt(archive, format!("cannot unpack it ({e})"), origin);
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let wanted: Vec<&str> =
        [true, false].iter().flat_map(|&train| cifar::batch_files(train).iter().copied()).collect();
    let mut extracted = 0;
    for entry in tar.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let path = entry.path().map_err(broken)?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).filter(|n| wanted.contains(n)) else {
            continue;
        };
        let mut content = Vec::with_capacity(cifar::RECORDS_PER_FILE * cifar::RECORD_BYTES);
        entry.read_to_end(&mut content).map_err(broken)?;
        let target = dest.join(name);
        cifar::parse_batch(&content, &mut Vec::new(), &mut Vec::new(), &target, origin)?;
        let tmp = temp_path(&target);
        fs::write(&tmp, &content)
            .and_then(|()| fs::rename(&tmp, &target))
            .map_err(|e| DataError::io(&target, e))?;
        extracted += 1;
    }
    if extracted != wanted.len() {
        let detail = format!("it holds {extracted} of the {} expected batch files", wanted.len());
        return Err(DataError::corrupt(archive, detail, origin));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The download and unpacking steps, against a one-shot HTTP server on 127.0.0.1 and
    //! small archives made here (never the network).

    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    /// Serves one request with `status` and `body`; returns the URL.
    fn serve_once(status: &'static str, body: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/file.gz", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let mut stream = reader.into_inner();
            let head =
                format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
        });
        url
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn a_checked_download_gets_its_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("file.gz");
        let url = serve_once("200 OK", b"payload".to_vec());
        fetch_atomically(&url, &dest, |tmp| {
            assert_eq!(fs::read(tmp).unwrap(), b"payload");
            Ok(())
        })
        .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"payload");
        assert_eq!(leftovers(dir.path()), vec!["file.gz"]);
    }

    #[test]
    fn a_download_failing_its_check_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("file.gz");
        let url = serve_once("200 OK", b"garbage".to_vec());
        let error =
            fetch_atomically(&url, &dest, |tmp| Err(DataError::corrupt(tmp, "bad", "here"))).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&url) && message.contains("not the expected one (bad)"), "{message}");
        assert!(leftovers(dir.path()).is_empty());

        let url = serve_once("404 Not Found", Vec::new());
        let error = fetch_atomically(&url, &dest, |_| Ok(())).unwrap_err();
        assert!(matches!(error, DataError::Download { .. }), "{error}");
        assert!(error.to_string().contains("404"), "{error}");
        assert!(leftovers(dir.path()).is_empty());
    }

    /// A tar.gz holding `cifar-10-batches-bin/NAME` for each (name, size).
    fn archive(dir: &Path, members: &[(&str, usize)]) -> PathBuf {
        let path = dir.join(CIFAR_ARCHIVE);
        let gz = flate2::write::GzEncoder::new(fs::File::create(&path).unwrap(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, size) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(*size as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, format!("{CIFAR_BIN_DIR}/{name}"), io::repeat(1).take(*size as u64))
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        path
    }

    #[test]
    fn unpacking_checks_sizes_and_completeness() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let full = cifar::RECORDS_PER_FILE * cifar::RECORD_BYTES;
        let wrong_size = archive(dir.path(), &[("test_batch.bin", 100)]);
        let message = unpack_cifar(&wrong_size, &dest).unwrap_err().to_string();
        assert!(message.contains("test_batch.bin") && message.contains("this one has 100"), "{message}");
        let incomplete = archive(dir.path(), &[("test_batch.bin", full), ("readme.html", 10)]);
        let message = unpack_cifar(&incomplete, &dest).unwrap_err().to_string();
        assert!(message.contains("holds 1 of the 6 expected batch files"), "{message}");
        assert_eq!(fs::read(dest.join("test_batch.bin")).unwrap().len(), full);
        assert!(!dest.join("readme.html").exists());
        let message = check_cifar_archive(&incomplete).unwrap_err().to_string();
        assert!(
            message.contains("expected c32a1d4ab5d03f1284b67883e8d87530") && message.contains("delete it"),
            "{message}"
        );
    }
}
