//! Backend selection: the one place that maps a `--device` string to a burn [`Device`].
//! The command line parses it once into a [`SelectedDevice`]; runs take that.
//!
//! burn 0.22 picks the backend at run time: tensors and modules are not generic over a
//! `Backend` type, they carry a [`Device`] that names the backend. Which backends exist is
//! decided by cargo features:
//!
//! - default build: burn's pure-Rust `flex` CPU backend (`cpu` and `flex` name it);
//! - `--features tch`: libtorch through burn-tch as well; `cpu` then means libtorch's CPU
//!   device, `flex` still names the pure-Rust backend, `cuda` / `cuda:N` name libtorch's
//!   CUDA devices.
//!
//! Training wraps the device with [`Device::autodiff`]; see `crate::model` for how train
//! and eval modes follow from that.

use burn::tensor::Device;

/// The `--device` value used when none is given.
pub const DEFAULT_DEVICE: &str = "cpu";

/// A `--device` value this build cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("unknown device `{name}`; this build knows: {}", DeviceChoice::known().join(", "))]
    Unknown { name: String },
    #[error("bad CUDA device index in `{name}`")]
    BadCudaIndex { name: String },
}

/// A parsed `--device` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// burn-flex, the pure-Rust CPU backend.
    Flex,
    /// libtorch on the CPU.
    #[cfg(feature = "tch")]
    LibTorchCpu,
    /// libtorch on the CUDA device with this index.
    #[cfg(feature = "tch")]
    LibTorchCuda(usize),
}

impl DeviceChoice {
    /// Parses a `--device` value: `cpu`, `flex`, and with the `tch` feature `tch`,
    /// `cuda`, `cuda:N`.
    pub fn parse(name: &str) -> Result<Self, DeviceError> {
        match name {
            #[cfg(not(feature = "tch"))]
            "cpu" => Ok(Self::Flex),
            "flex" => Ok(Self::Flex),
            #[cfg(feature = "tch")]
            "cpu" | "tch" => Ok(Self::LibTorchCpu),
            #[cfg(feature = "tch")]
            "cuda" => Ok(Self::LibTorchCuda(0)),
            #[cfg(feature = "tch")]
            _ if name.starts_with("cuda:") => name["cuda:".len()..]
                .parse()
                .map(Self::LibTorchCuda)
                .map_err(|_| DeviceError::BadCudaIndex { name: name.to_string() }),
            _ => Err(DeviceError::Unknown { name: name.to_string() }),
        }
    }

    /// The device names this build accepts.
    pub fn known() -> &'static [&'static str] {
        if cfg!(feature = "tch") { &["cpu", "flex", "tch", "cuda", "cuda:N"] } else { &["cpu", "flex"] }
    }

    /// The burn device (without autodiff).
    pub fn device(self) -> Device {
        match self {
            Self::Flex => Device::flex(),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            // burn-tch is deprecated upstream; we keep it as an option.
            Self::LibTorchCpu => Device::libtorch(),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Self::LibTorchCuda(index) => Device::libtorch_cuda(index),
        }
    }

    /// The backend's name for reports, e.g. `flex`, `tch-cpu`, `tch-cuda:0`.
    pub fn backend_name(self) -> String {
        match self {
            Self::Flex => "flex".into(),
            #[cfg(feature = "tch")]
            Self::LibTorchCpu => "tch-cpu".into(),
            #[cfg(feature = "tch")]
            Self::LibTorchCuda(index) => format!("tch-cuda:{index}"),
        }
    }
}

/// A `--device` value, parsed once before any run starts: the backend it chooses and the
/// name it was given as (`run.json` records the name, Slurm scripts pass it on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedDevice {
    name: String,
    choice: DeviceChoice,
}

impl SelectedDevice {
    /// The name as given, e.g. `cpu`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The burn device (without autodiff).
    pub fn device(&self) -> Device {
        self.choice.device()
    }

    /// The backend's name for reports, e.g. `flex`.
    pub fn backend_name(&self) -> String {
        self.choice.backend_name()
    }
}

impl std::str::FromStr for SelectedDevice {
    type Err = DeviceError;

    /// See [`DeviceChoice::parse`].
    fn from_str(name: &str) -> Result<Self, DeviceError> {
        Ok(SelectedDevice { name: name.to_string(), choice: DeviceChoice::parse(name)? })
    }
}

/// The device (without autodiff) for a `--device` value.
pub fn device(name: &str) -> Result<Device, DeviceError> {
    DeviceChoice::parse(name).map(DeviceChoice::device)
}

/// The backend name for reports for a `--device` value.
pub fn backend_name(name: &str) -> Result<String, DeviceError> {
    DeviceChoice::parse(name).map(DeviceChoice::backend_name)
}

/// Seeds the random generator of the device's backend. Model initialisation (and dropout)
/// draw from it, so seeding before [`crate::model::Model::new`] makes the weights
/// reproducible. burn keeps one generator per backend, not per device value.
pub fn seed(device: &Device, seed: u64) {
    device.seed(seed);
}
