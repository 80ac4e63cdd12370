//! Placeholder replaced by the models branch.
pub const DEFAULT_DEVICE: &str = "cpu";
pub fn backend_name(name: &str) -> Result<String, String> {
    Ok(name.to_string())
}
