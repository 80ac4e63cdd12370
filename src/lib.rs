//! expgrid: declarative deep-learning experiment matrices.
//!
//! See `ARCHITECTURE.md` for the code map.

pub mod config;
pub mod plan;
pub mod probe;
