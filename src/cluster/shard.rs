//! `expgrid run --shard I/N`: the runs of one of N shards. Runs are dealt round-robin by
//! their position in the plan (run `p` belongs to shard `p mod N`), so every process
//! computes the same split from the same files, whatever state the runs are in.

use anyhow::{Result, bail};

use super::env::Env;

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// A `--shard` value before the environment is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    /// `I/N`.
    Fixed(Shard),
    /// `auto` or `auto/N`: the index (and count) from a Slurm job array or a Kubernetes
    /// Indexed Job.
    Auto { count: Option<usize> },
}

impl Shard {
    /// Does the run at `position` in the plan belong to this shard?
    pub fn contains(self, position: usize) -> bool {
        position % self.count == self.index
    }
}

impl std::str::FromStr for ShardSpec {
    type Err = String;

    /// `I/N` (0 ≤ I < N), `auto` or `auto/N`.
    fn from_str(text: &str) -> Result<ShardSpec, String> {
        let usage = || {
            format!(
                "`{text}` is not a shard: give I/N with 0 <= I < N (`--shard 0/4`), `auto` (from a \
                 Slurm job array) or `auto/N` (N shards, the index from Slurm or from a Kubernetes \
                 Indexed Job's JOB_COMPLETION_INDEX)"
            )
        };
        let (index, count) = text.split_once('/').unwrap_or((text, ""));
        let count = match count {
            "" if index == "auto" => None,
            "" => return Err(usage()),
            n => Some(n.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(usage)?),
        };
        if index == "auto" {
            return Ok(ShardSpec::Auto { count });
        }
        let index = index.parse::<usize>().map_err(|_| usage())?;
        let count = count.expect("a count unless auto");
        if index >= count {
            return Err(usage());
        }
        Ok(ShardSpec::Fixed(Shard { index, count }))
    }
}

impl ShardSpec {
    /// The shard, reading `SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`,
    /// `SLURM_ARRAY_TASK_MIN` or `JOB_COMPLETION_INDEX` for `auto`.
    pub fn resolve(self, env: &Env) -> Result<Shard> {
        let count = match self {
            ShardSpec::Fixed(shard) => return Ok(shard),
            ShardSpec::Auto { count } => count,
        };
        let number = |name: &str| -> Result<Option<usize>> {
            match env.get(name) {
                None => Ok(None),
                Some(text) => match text.trim().parse() {
                    Ok(n) => Ok(Some(n)),
                    Err(_) => bail!("--shard auto: {name}={text} is not a non-negative integer"),
                },
            }
        };
        let (index, count) = if let Some(task) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let slurm_count = number("SLURM_ARRAY_TASK_COUNT")?;
            let Some(count) = count.or(slurm_count) else {
                bail!("--shard auto: SLURM_ARRAY_TASK_COUNT is not set; give the count: --shard auto/N");
            };
            (task.checked_sub(min).unwrap_or(usize::MAX), count)
        } else if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let Some(count) = count else {
                bail!(
                    "--shard auto: JOB_COMPLETION_INDEX is set but Kubernetes does not say how many \
                     indexes there are; give the job's `completions` as the count: --shard auto/N"
                );
            };
            (index, count)
        } else {
            bail!(
                "--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX \
                 (a Kubernetes Indexed Job) is set; outside those give the shard as I/N, e.g. --shard 0/4"
            );
        };
        if index >= count {
            bail!(
                "--shard auto: task index {index} is not below the shard count {count} (a Slurm array must \
                 be contiguous, e.g. --array=0-{}; an Indexed Job's completions must equal N)",
                count.saturating_sub(1)
            );
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> ShardSpec {
        text.parse().unwrap()
    }

    #[test]
    fn every_position_is_in_exactly_one_shard() {
        for runs in [0, 1, 5, 12] {
            for count in [1, 2, 3, 7, 20] {
                let mut seen = vec![0; runs];
                for index in 0..count {
                    let shard = Shard { index, count };
                    (0..runs).filter(|&p| shard.contains(p)).for_each(|p| seen[p] += 1);
                }
                assert!(seen.iter().all(|&n| n == 1), "runs {runs}, count {count}: {seen:?}");
            }
        }
    }

    #[test]
    fn parses_fixed_and_auto_and_refuses_the_rest() {
        assert_eq!(spec("1/4"), ShardSpec::Fixed(Shard { index: 1, count: 4 }));
        assert_eq!(spec("auto"), ShardSpec::Auto { count: None });
        assert_eq!(spec("auto/3"), ShardSpec::Auto { count: Some(3) });
        for bad in ["4/4", "1", "a/2", "1/0", "auto/0", "", "/3", "-1/3"] {
            let err = bad.parse::<ShardSpec>().unwrap_err();
            assert!(err.starts_with(&format!("`{bad}` is not a shard: give I/N")), "{bad}: {err}");
        }
    }

    #[test]
    fn auto_reads_slurm_arrays_and_indexed_jobs() {
        let slurm = Env::from_pairs(&[
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(spec("auto").resolve(&slurm).unwrap(), Shard { index: 2, count: 4 });
        let k8s = Env::from_pairs(&[("JOB_COMPLETION_INDEX", "3")]);
        assert_eq!(spec("auto/5").resolve(&k8s).unwrap(), Shard { index: 3, count: 5 });
        assert_eq!(
            spec("auto").resolve(&k8s).unwrap_err().to_string(),
            "--shard auto: JOB_COMPLETION_INDEX is set but Kubernetes does not say how many indexes \
             there are; give the job's `completions` as the count: --shard auto/N"
        );
        assert_eq!(
            spec("auto").resolve(&Env::from_pairs(&[])).unwrap_err().to_string(),
            "--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX \
             (a Kubernetes Indexed Job) is set; outside those give the shard as I/N, e.g. --shard 0/4"
        );
        assert_eq!(
            spec("auto/2").resolve(&k8s).unwrap_err().to_string(),
            "--shard auto: task index 3 is not below the shard count 2 (a Slurm array must be \
             contiguous, e.g. --array=0-1; an Indexed Job's completions must equal N)"
        );
        let fixed = spec("0/2").resolve(&slurm).unwrap();
        assert_eq!(fixed, Shard { index: 0, count: 2 }, "I/N ignores the environment");
    }
}
