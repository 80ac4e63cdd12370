//! Experiment files: parsing, validation, matrix expansion and templating.

pub mod schema;
