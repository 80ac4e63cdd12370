//! The data side: find, verify and load the image data sets, batch them, augment them.
//!
//! What a training run does:
//! ```no_run
//! # use std::sync::Arc;
//! # use expgrid::data::*;
//! # fn demo(run: &expgrid::config::schema::RunConfig) -> Result<(), DataError> {
//! let source = DataSource::from_env(None); // --data-dir, EXPGRID_DATA, cache, /usr/share/datasets
//! let train = Arc::new(Dataset::load(&run.train_set, run.seed, &source)?);
//! let validation = Arc::new(Dataset::load(&run.validation_set, run.seed, &source)?);
//! let pipeline = Pipeline::new(&run.train_input_transforms, train.shape())?;
//! let eval_pipeline = Arc::new(pipeline.for_validation());
//! let stream = BatchStream::train(train, Arc::new(pipeline), run.batch_size, run.seed, StreamPosition::default())?;
//! for batch in stream.take(10) {
//!     // train on batch.images / batch.targets; a checkpoint saves batch.resume_from
//! }
//! for batch in BatchStream::validation(validation, eval_pipeline, run.batch_size)? {
//!     // evaluate
//! }
//! # Ok(()) }
//! ```

pub mod augment;
pub mod batches;
pub mod cifar;
pub mod dataset;
pub mod error;
pub mod fetch;
pub mod idx;
pub mod locate;
mod rng;
pub mod verify;

pub use augment::Pipeline;
pub use batches::{Batch, BatchStream, StreamPosition};
pub use dataset::Dataset;
pub use error::DataError;
pub use locate::DataSource;
