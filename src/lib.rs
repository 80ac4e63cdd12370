//! expgrid: declarative deep-learning experiment matrices.
//!
//! See `ARCHITECTURE.md` for the code map.

pub mod backend;
pub mod cluster;
pub mod config;
pub mod data;
pub mod malloc;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod probe;
pub mod report;
pub mod run;
pub mod rundir;
pub mod rungs;
pub mod serve;
pub mod stop;
pub mod train;
