//! Running matrices on clusters: shards of a plan (`--shard`), the Slurm job this process
//! runs in (`env`), requeueing it after a stop request (`requeue`), and `expgrid slurm`'s
//! job-array scripts (`script`) and their submission (`submit`).

pub mod env;
pub mod requeue;
pub mod script;
pub mod shard;
pub mod submit;

pub use env::{Env, SlurmJob};
pub use shard::{Shard, ShardSpec};
