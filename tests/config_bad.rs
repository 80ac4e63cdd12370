//! Every file in `tests/bad/` is a malformed experiment file; next to it, `NAME.err` holds
//! the exact error text it must produce (file, line, column, key, message, hint). Each file
//! is a test case of its own, named after it: `cargo test --test config_bad extends-cycle`.
//! Set `EXPGRID_BLESS=1` to write the `.err` files from the current output (then review
//! them with `git diff`).

use std::path::{Path, PathBuf};

use expgrid::config::Experiment;
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/bad")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    let count = files.len();
    let mut trials = vec![Trial::test("all-bad-files-found", move || {
        if count >= 25 { Ok(()) } else { Err(format!("only {count} bad files in tests/bad").into()) }
    })];
    trials.extend(files.into_iter().map(|file| {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        Trial::test(name, move || check(&file))
    }));
    libtest_mimic::run(&args, trials).exit();
}

/// The file's errors against its `.err` file (or, blessing, written to it).
fn check(file: &Path) -> Result<(), Failed> {
    let actual = match std::panic::catch_unwind(|| Experiment::load(file)) {
        Err(_) => format!("PANIC while loading {}", file.display()),
        Ok(Ok(exp)) => format!("no error: {} runs", exp.runs.len()),
        Ok(Err(errors)) => errors.to_string(),
    };
    let expected_path = file.with_extension("err");
    if std::env::var_os("EXPGRID_BLESS").is_some() {
        std::fs::write(&expected_path, format!("{actual}\n")).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if expected.trim_end() == actual {
        Ok(())
    } else {
        Err(format!("{}:\n  expected: {}\n  actual:   {}", file.display(), expected.trim_end(), actual)
            .into())
    }
}
