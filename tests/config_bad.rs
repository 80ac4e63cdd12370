//! Every file in `tests/bad/` is a malformed experiment file; next to it, `NAME.err` holds
//! the exact error text it must produce (file, line, column, key, message, hint).
//! Set `EXPGRID_BLESS=1` to write the `.err` files from the current output (then review
//! them with `git diff`).

use std::path::Path;

use expgrid::config::Experiment;

#[test]
fn every_bad_file_gives_its_expected_error() {
    let dir = Path::new("tests/bad");
    let bless = std::env::var_os("EXPGRID_BLESS").is_some();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "only {} bad files", files.len());
    let mut mismatches = Vec::new();
    for file in &files {
        let outcome = std::panic::catch_unwind(|| Experiment::load(file));
        let actual = match outcome {
            Err(_) => format!("PANIC while loading {}", file.display()),
            Ok(Ok(exp)) => format!("no error: {} runs", exp.runs.len()),
            Ok(Err(errors)) => errors.to_string(),
        };
        let expected_path = file.with_extension("err");
        if bless {
            std::fs::write(&expected_path, format!("{actual}\n")).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected.trim_end() != actual {
            mismatches.push(format!(
                "{}:\n  expected: {}\n  actual:   {}",
                file.display(),
                expected.trim_end(),
                actual
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
