//! Every run needs a run folder of its own: two runs whose `experiment_name`s name the same
//! folder (`a/b`, `a//b`, `a/b/`), folders that differ only in letter case (one folder on
//! macOS and Windows), and a run folder inside another run's folder are errors that name the
//! runs and the fix.

use std::collections::HashMap;
use std::path::{Component, Path};

use super::error::ConfigError;
use super::node::Node;
use super::{PlannedRun, SLUG_NAME};

/// At most this many folder problems are reported (one per folder), then a count.
const MAX_REPORTED: usize = 10;

/// The errors for runs that do not each get a folder of their own. `body` is the file's
/// document, for the position of `experiment_name`.
pub fn shared_folders(runs: &[PlannedRun], body: &Node) -> Vec<ConfigError> {
    let at = body
        .as_map()
        .and_then(|map| map.get("experiment_name"))
        .map_or_else(|| body.at.clone(), |node| node.at.clone());
    let written =
        body.as_map().and_then(|map| map.get("experiment_name")).and_then(Node::as_str).unwrap_or("");
    let folders: Vec<String> = runs.iter().map(|run| folder(&run.config.experiment_name)).collect();

    let mut problems = Vec::new();
    let mut by_folder: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, name) in folders.iter().enumerate() {
        by_folder.entry(name.to_lowercase()).or_default().push(i);
    }
    let mut groups: Vec<&Vec<usize>> = by_folder.values().filter(|group| group.len() > 1).collect();
    groups.sort();
    for group in groups {
        let same = group.iter().all(|&i| folders[i] == folders[group[0]]);
        let message = if same {
            format!("{} would share the run folder `{}`", list_runs(runs, group), folders[group[0]])
        } else {
            let names: Vec<String> = group.iter().map(|&i| format!("`{}`", folders[i])).collect();
            format!(
                "{} get run folders that differ only in letter case ({}): on macOS and Windows that is one folder",
                list_runs(runs, group),
                names.join(", ")
            )
        };
        problems.push(
            ConfigError::at(at.clone(), message).key("experiment_name").hint(fix_hint(runs, group, written)),
        );
    }

    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, name) in folders.iter().enumerate() {
        index.entry(name.as_str()).or_insert(i);
    }
    for (i, name) in folders.iter().enumerate() {
        let outer =
            Path::new(name).ancestors().skip(1).find_map(|parent| index.get(parent.to_str()?).copied());
        if let Some(outer) = outer {
            problems.push(
                ConfigError::at(
                    at.clone(),
                    format!(
                        "the run folder `{name}` of run {} lies inside the run folder `{}` of run {}",
                        describe(&runs[i]),
                        folders[outer],
                        describe(&runs[outer])
                    ),
                )
                .key("experiment_name")
                .hint("give every run a name at the same depth, e.g. `study/${matrix_slug}`"),
            );
        }
    }
    if problems.len() > MAX_REPORTED {
        let more = problems.len() - MAX_REPORTED;
        problems.truncate(MAX_REPORTED);
        problems.push(
            ConfigError::at(at, format!("{more} more runs share or nest run folders"))
                .key("experiment_name")
                .hint("fix the ones above first"),
        );
    }
    problems
}

/// The folder an experiment name names below the runs directory, written canonically
/// (`a//b/` is `a/b`). Names that escape the runs directory are refused before this.
pub fn folder(experiment_name: &str) -> String {
    Path::new(experiment_name)
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// "runs 1 (`a-1`) and 2 (`a-1.0`)", at most four, then a count.
fn list_runs(runs: &[PlannedRun], group: &[usize]) -> String {
    let shown: Vec<String> = group.iter().take(4).map(|&i| describe(&runs[i])).collect();
    let rest = group.len().saturating_sub(4);
    if rest > 0 {
        format!("runs {} and {rest} more", shown.join(", "))
    } else {
        let (last, first) = shown.split_last().expect("a group has two runs");
        format!("runs {} and {last}", first.join(", "))
    }
}

/// `3 (slug lr-0.1)`; a file without a matrix has one run without a slug.
fn describe(run: &PlannedRun) -> String {
    if run.matrix_slug.is_empty() {
        run.matrix_id.clone()
    } else {
        format!("{} (slug `{}`)", run.matrix_id, run.matrix_slug)
    }
}

/// How to tell the runs of `group` apart.
fn fix_hint(runs: &[PlannedRun], group: &[usize], written: &str) -> String {
    let first = &runs[group[0]];
    let differing: Vec<String> = first
        .values
        .iter()
        .filter(|(key, value)| {
            group.iter().any(|&i| runs[i].values.get(*key).map(|v| &v.value) != Some(&value.value))
        })
        .map(|(key, _)| format!("`${{{key}}}`"))
        .collect();
    if written.contains(&format!("${{{SLUG_NAME}}}")) || differing.is_empty() {
        "give each run its own experiment_name (runs that differ in nothing are one run: remove the repeated value)"
            .to_string()
    } else {
        format!(
            "add `${{{SLUG_NAME}}}` to experiment_name (e.g. `{}_${{{SLUG_NAME}}}`), or the keys the runs differ in: {}",
            if written.is_empty() { "name" } else { written },
            differing.join(", ")
        )
    }
}

/// Runs of different files (`expgrid run a.yml b.yml`) that name the same run folder with
/// different configurations. (The same configuration twice is the same run.)
pub fn shared_across_files(experiments: &[super::Experiment]) -> Vec<ConfigError> {
    let mut first: HashMap<String, (&super::Experiment, &PlannedRun)> = HashMap::new();
    let mut problems = Vec::new();
    for exp in experiments {
        for run in &exp.runs {
            let key = folder(&run.config.experiment_name).to_lowercase();
            match first.get(&key) {
                Some((other_exp, other)) if other_exp.file != exp.file && !same_config(other, run) => {
                    let at = run
                        .resolved
                        .as_map()
                        .and_then(|map| map.get("experiment_name"))
                        .map_or_else(|| run.resolved.at.clone(), |name| name.at.clone());
                    problems.push(
                        ConfigError::at(
                            at,
                            format!(
                                "run {} names the run folder `{}`, which run {} of {} names with another configuration",
                                describe(run),
                                folder(&run.config.experiment_name),
                                describe(other),
                                other_exp.file.display()
                            ),
                        )
                        .key("experiment_name")
                        .hint("give the files' runs different experiment names, e.g. a prefix per file"),
                    );
                }
                Some(_) => {}
                None => {
                    first.insert(key, (exp, run));
                }
            }
        }
    }
    problems.truncate(MAX_REPORTED);
    problems
}

/// The same resolved configuration, wherever it was written.
fn same_config(a: &PlannedRun, b: &PlannedRun) -> bool {
    serde_json::to_value(&a.resolved).ok() == serde_json::to_value(&b.resolved).ok()
}
