//! Torch fixtures, shared by the model tests: safetensors files written by the fixture
//! scripts hold torch's weights (under torch's names) and the `input`/`output` of a case.
//! Weights are renamed to our module paths (by the models' own key functions, e.g.
//! `vit::torchvision_key`) and loaded with burn-store
//! (`PyTorchToBurnAdapter` transposes Linear weights); outputs must match to 1e-4.
//!
//! burn-store is used without its `std` feature (so without its regex key remapping):
//! with `std` it pulls in `tempfile`, whose `bitflags/std` feature changes the features of
//! burn-flex's dependencies and makes the test build compile the whole burn stack a second
//! time. The renaming is done on the safetensors header instead.

#![allow(dead_code)] // each test file uses part of it

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use burn_store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use expgrid::backend;
use serde_json::{Map, Value};

pub const TOLERANCE: f32 = 1e-4;

pub fn device() -> Device {
    backend::device(backend::DEFAULT_DEVICE).unwrap()
}

/// One safetensors file: its header (name -> dtype, shape, offsets) and its data section.
pub struct Safetensors {
    header: Map<String, Value>,
    data: Vec<u8>,
}

impl Safetensors {
    pub fn read(path: &Path) -> Self {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
        Safetensors { header, data: bytes[8 + len..].to_vec() }
    }

    /// The f32 tensor `name`.
    pub fn tensor<const D: usize>(&self, name: &str) -> Tensor<D> {
        let info = &self.header[name];
        let shape: Vec<usize> = serde_json::from_value(info["shape"].clone()).unwrap();
        let bytes = &self.data[self.offsets(name)];
        let values: Vec<f32> =
            bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        Tensor::from_data(TensorData::new(values, shape), &device())
    }

    /// The weights (every tensor but `input` and `output`) under the names `rename` gives,
    /// as a store for `load`. Enum variant names in our paths (`self_attention.Softmax.in_proj`)
    /// have no torch counterpart and are skipped.
    pub fn weights(&self, rename: impl Fn(&str) -> String) -> SafetensorsStore {
        let (mut header, mut data) = (Map::new(), Vec::new());
        for (name, info) in &self.header {
            if matches!(name.as_str(), "input" | "output" | "__metadata__") {
                continue;
            }
            let mut info = info.clone();
            let bytes = &self.data[self.offsets(name)];
            info["data_offsets"] = serde_json::json!([data.len(), data.len() + bytes.len()]);
            data.extend_from_slice(bytes);
            header.insert(rename(name), info);
        }
        let mut header = serde_json::to_vec(&header).unwrap();
        header.resize(header.len().next_multiple_of(8), b' ');
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend(header);
        file.extend(data);
        SafetensorsStore::from_bytes(Some(file))
            .with_from_adapter(PyTorchToBurnAdapter)
            .skip_enum_variants(true)
    }

    fn offsets(&self, name: &str) -> std::ops::Range<usize> {
        let [start, end]: [usize; 2] =
            serde_json::from_value(self.header[name]["data_offsets"].clone()).unwrap();
        start..end
    }
}

/// Applies every `(from, to)` substring replacement to a torch name.
pub fn replace_all(name: &str, renames: &[(&str, &str)]) -> String {
    renames.iter().fold(name.to_string(), |name, (from, to)| name.replace(from, to))
}

/// Loads every tensor of the store into the module and checks none is left out (`partial`:
/// the module may have more parameters than the store).
pub fn load<M: ModuleSnapshot>(module: &mut M, store: SafetensorsStore, partial: bool) {
    let mut store = store.allow_partial(partial);
    let result = module.load_from(&mut store).expect("weights load");
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert!(result.unused.is_empty(), "unused tensors: {:?}", result.unused);
    if !partial {
        assert!(result.missing.is_empty(), "missing tensors: {:?}", result.missing);
    }
}

/// Same shape, and every element within `TOLERANCE` of torch's.
pub fn assert_close<const D: usize>(case: &str, ours: Tensor<D>, torch: Tensor<D>) {
    assert_eq!(ours.dims(), torch.dims(), "{case}");
    let diff: f32 = (ours - torch).abs().max().into_scalar();
    println!("{case}: max abs diff {diff:e}");
    assert!(diff < TOLERANCE, "{case}: max abs diff {diff} >= {TOLERANCE}");
}
