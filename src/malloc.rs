//! Process-wide allocator settings for training.
//!
//! A training step allocates and frees the same large tensor buffers every step. With
//! glibc's defaults, freed blocks above the mmap threshold (128 KiB, adapted upwards at most
//! to 32 MiB) go back to the OS and the heap top is trimmed above 128 KiB, so every step
//! faults in fresh, zeroed pages (thousands of page faults per ViT or conv step). Raising the
//! thresholds keeps those buffers in the heap for reuse; memory returns to the OS only when
//! more than 1 GiB is free at the top. Measured in `bench/README.md` (training step and peak
//! memory). Only glibc has these knobs; elsewhere this does nothing.

/// Requests up to this size come from the heap, not from a fresh mapping.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 32 << 20;
/// The heap top is returned to the OS only when this much is free there.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: i32 = 1 << 30;
/// Extra room requested whenever the heap grows, so growth happens in few steps.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TOP_PAD: i32 = 64 << 20;

/// Applies the settings; call it at the start of the process, before the first tensor.
pub fn tune_for_training() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocator parameters; it is called before any
    // other thread exists and has no memory-safety preconditions.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        libc::mallopt(libc::M_TOP_PAD, TOP_PAD);
    }
}
