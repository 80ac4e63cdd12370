//! expgrid: declarative deep-learning experiment matrices.
//!
//! See `ARCHITECTURE.md` for the code map.

pub mod backend;
pub mod config;
pub mod model;
