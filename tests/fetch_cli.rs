//! `expgrid fetch`: every split the runs need is found and verified (real FMNIST files, no
//! network), and a missing one is an error that says where it looked.

mod run_fixture;
mod shared_data;

use run_fixture::cluster::{TINY, Workspace};
use run_fixture::{data_dir, text};

#[test]
fn present_data_is_verified_once_per_split() {
    let mnist_too = TINY
        .replace("seed: [0, 1, 2]", "seed: [0]\n  data: [fmnist, mnist]")
        .replace("tiny/seed-${seed}", "both/${data}")
        .replace("validation_set: {dataset: fmnist", "validation_set: {dataset: '${data}'");
    let ws = Workspace::new(&[("tiny.yml", TINY), ("both.yml", &mnist_too)]);
    let output =
        ws.expgrid(&["fetch", "tiny.yml", "both.yml", "--data-dir"]).arg(data_dir()).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let data = data_dir();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "fmnist train: 60000 images, verified, in {0}/fashion-mnist\n\
             fmnist test: 10000 images, verified, in {0}/fashion-mnist\n\
             mnist test: 10000 images, verified, in {0}/mnist\n",
            data.display()
        )
    );
}

#[test]
fn missing_data_offline_is_an_error_naming_the_split() {
    let cifar = TINY
        .replace(
            "dataset: fmnist, split: train, shape: [1, 28, 28]",
            "dataset: cifar10, split: train, shape: [3, 32, 32]",
        )
        .replace(
            "dataset: fmnist, split: test, shape: [1, 28, 28]",
            "dataset: cifar10, split: test, shape: [3, 32, 32]",
        );
    let ws = Workspace::new(&[("cifar.yml", &cifar)]);
    let empty = tempfile::tempdir().unwrap();
    let output = ws
        .expgrid(&["fetch", "cifar.yml", "--data-dir"])
        .arg(empty.path())
        .env("HOME", empty.path())
        .env("XDG_CACHE_HOME", empty.path())
        .env_remove("EXPGRID_DATA")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("cifar10") && stderr.contains("downloads are off"), "{stderr}");
}
