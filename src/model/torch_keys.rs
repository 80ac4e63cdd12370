//! PyTorch state-dict keys of the reference models in our module paths, so that weights
//! saved by torchvision or Compact-Transformers load into our modules (each model declares
//! its renames beside itself: `vit::torchvision_key`, `resnet::torchvision_key`,
//! `cct::compact_transformers_key`). Enum variants in our paths (`self_attention.Softmax`)
//! have no torch counterpart; burn-store's `skip_enum_variants` matches without them.

/// Applies every `(from, to)` substring replacement to `key`, in order.
pub(crate) fn replace_all(key: &str, renames: &[(&str, &str)]) -> String {
    renames.iter().fold(key.to_string(), |key, (from, to)| key.replace(from, to))
}
