//! Golden files of `expgrid slurm --dry-run` scripts, shared by the test binaries that check
//! them.

use std::path::Path;

/// Compare `actual` with `tests/golden/slurm/NAME` (`EXPGRID_BLESS=1` rewrites the file).
pub fn check_slurm_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/slurm").join(name);
    if std::env::var_os("EXPGRID_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, expected, "{name} differs (EXPGRID_BLESS=1 rewrites it; review the diff)");
}
