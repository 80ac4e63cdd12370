//! The layering rules of ARCHITECTURE.md, checked on the sources: every `crate::` import of a
//! module is allowed by the "Layers" table, no two top-level modules import each other
//! (directly or around a circle), and no files inside `config/` or `model/` do.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn every_import_is_allowed_by_the_layer_table() {
    let allowed = layer_table(&std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap());
    let graph = module_graph(&source_files());
    assert!(graph.len() >= 10, "found the modules: {graph:?}");
    assert_eq!(upward_imports(&graph, &allowed), Vec::<String>::new());
}

#[test]
fn no_circle_between_top_level_modules() {
    assert_eq!(find_circle(&module_graph(&source_files())), None);
}

#[test]
fn no_circle_between_files_of_config_and_model() {
    for module in ["config", "model"] {
        assert_eq!(find_circle(&file_graph(module)), None, "files of {module}/");
    }
}

#[test]
fn the_library_neither_prints_to_stdout_nor_parses_argv() {
    let mut found = Vec::new();
    for file in source_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split_once("//").map_or(line, |(code, _)| code);
            let print = ["println!", "print!", "std::io::stdout", "clap::", "std::env::args"]
                .iter()
                .find(|word| code.contains(*word) && !code.contains(&format!("e{word}")));
            if let Some(word) = print {
                found.push(format!("{}:{}: {word}", file.display(), number + 1));
            }
        }
    }
    assert_eq!(found, Vec::<String>::new(), "only src/main.rs prints and parses the command line");
}

#[test]
fn the_checks_find_what_they_look_for() {
    let graph = |edges: &[(&str, &str)]| {
        let mut graph = Graph::new();
        for (from, to) in edges {
            graph.entry(from.to_string()).or_default().insert(to.to_string());
        }
        graph
    };
    let circle = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]);
    assert_eq!(find_circle(&circle), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    assert_eq!(find_circle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
    let table = layer_table(
        "## Layers\n\n| module | may import |\n| --- | --- |\n| `train` | `model` |\n| `model` | nothing |\n",
    );
    let graph = graph(&[("train", "model"), ("model", "train")]);
    assert_eq!(upward_imports(&graph, &table), vec!["model imports train".to_string()]);
    let source = "use crate::config::schema::{A, B};\nuse super::{\n    node::Node,\n    error as e,\n};\n// crate::run\nlet x = crate::data::f();\n#[cfg(test)]\nmod tests {\n    use crate::run;\n}";
    assert_eq!(
        import_paths(source),
        [
            "crate::config::schema::A",
            "crate::config::schema::B",
            "super::node::Node",
            "super::error",
            "crate::data::f"
        ]
    );
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every library source file (`main.rs`, the binary, imports through `expgrid::`).
fn source_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![root().join("src")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("src/main.rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The module a file or an import path belongs to: its top-level module, except that
/// `config::schema` (with the `slurm:` mapping it includes) is a layer of its own: the
/// vocabulary that `data` and `model` read, below the `config` loading that checks against them.
fn layer_of(segments: &[&str]) -> String {
    match segments {
        ["config", "schema" | "schema.rs" | "slurm" | "slurm.rs", ..] => "config::schema".into(),
        [top, ..] => top.trim_end_matches(".rs").to_string(),
        [] => String::new(),
    }
}

/// Top-level module → the modules its `crate::` paths name.
fn module_graph(files: &[PathBuf]) -> Graph {
    let src = root().join("src");
    let mut graph = Graph::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let segments: Vec<&str> = relative.split('/').collect();
        let from = layer_of(&segments);
        if from == "lib" {
            continue;
        }
        for path in import_paths(&std::fs::read_to_string(file).unwrap()) {
            let segments: Vec<&str> = path.split("::").collect();
            let to = match segments.as_slice() {
                ["crate", rest @ ..] => layer_of(rest),
                // `super::x` inside `config/` may reach the schema.
                ["super", rest @ ..] if segments.len() > 1 && relative.starts_with("config/") => {
                    layer_of(&[&["config"], rest].concat())
                }
                _ => continue,
            };
            if to != from && !to.is_empty() {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
        graph.entry(from).or_default();
    }
    graph
}

/// File (`config/node`) → the sibling files it imports, inside `module/` (its `mod.rs`,
/// which declares them all, left out).
fn file_graph(module: &str) -> Graph {
    let folder = root().join("src").join(module);
    let stem = |path: &Path| path.file_stem().unwrap().to_string_lossy().into_owned();
    let files: Vec<PathBuf> =
        source_files().into_iter().filter(|f| f.parent() == Some(folder.as_path())).collect();
    let siblings: BTreeSet<String> = files.iter().map(|f| stem(f)).filter(|s| s != "mod").collect();
    let mut graph = Graph::new();
    for file in files.iter().filter(|f| stem(f) != "mod") {
        let from = format!("{module}/{}", stem(file));
        let deps = graph.entry(from.clone()).or_default();
        for path in import_paths(&std::fs::read_to_string(file).unwrap()) {
            let sibling = path
                .strip_prefix("super::")
                .or_else(|| path.strip_prefix(&format!("crate::{module}::")))
                .and_then(|rest| rest.split("::").next());
            if let Some(sibling) = sibling.filter(|s| siblings.contains(*s)) {
                let to = format!("{module}/{sibling}");
                if to != from {
                    deps.insert(to);
                }
            }
        }
    }
    graph
}

/// The paths a source names outside its unit tests: `use` trees expanded (`a::{b, c::d}` →
/// `a::b`, `a::c::d`), and `crate::`/`super::` paths in code. Comments are skipped.
fn import_paths(source: &str) -> Vec<String> {
    let source = source.split("#[cfg(test)]\nmod tests").next().unwrap();
    let mut paths = Vec::new();
    let mut statement: Option<String> = None;
    for line in source.lines() {
        let code = line.split_once("//").map_or(line, |(code, _)| code).trim();
        let use_tree =
            ["use ", "pub use ", "pub(crate) use "].iter().find_map(|start| code.strip_prefix(start));
        match (&mut statement, use_tree) {
            (Some(text), _) => text.push_str(code),
            (None, Some(tree)) => statement = Some(tree.to_string()),
            (None, None) => paths.extend(
                code.split(|c: char| !c.is_alphanumeric() && c != '_' && c != ':')
                    .filter(|token| token.starts_with("crate::") || token.starts_with("super::"))
                    .map(|token| token.trim_end_matches(':').to_string()),
            ),
        }
        if let Some(text) = statement.take_if(|text| text.ends_with(';')) {
            let tree: String = text.trim_end_matches(';').split_whitespace().collect::<Vec<_>>().join(" ");
            expand_use_tree("", &tree, &mut paths);
        }
    }
    paths
}

fn expand_use_tree(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    match tree.find('{') {
        None => out.push(format!("{prefix}{}", tree.split(" as ").next().unwrap())),
        Some(open) => {
            let inner = &tree[open + 1..tree.rfind('}').unwrap()];
            let prefix = format!("{prefix}{}", &tree[..open]);
            let mut depth = 0;
            let mut item_start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand_use_tree(&prefix, &inner[item_start..i], out);
                        item_start = i + 1;
                    }
                    _ => {}
                }
            }
            if item_start < inner.len() {
                expand_use_tree(&prefix, &inner[item_start..], out);
            }
        }
    }
}

/// The "Layers" table of ARCHITECTURE.md: module → the modules it may import.
fn layer_table(markdown: &str) -> Graph {
    let section = markdown.split("## Layers").nth(1).expect("ARCHITECTURE.md has a `## Layers` section");
    let backticked =
        |cell: &str| -> Vec<String> { cell.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    let mut table = Graph::new();
    for line in section.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').collect();
        if cells.len() < 4 {
            continue;
        }
        for module in backticked(cells[1]) {
            table.entry(module).or_default().extend(backticked(cells[2]));
        }
    }
    table
}

/// `"a imports b"` for every import the table does not allow.
fn upward_imports(graph: &Graph, allowed: &Graph) -> Vec<String> {
    let mut wrong = Vec::new();
    for (from, deps) in graph {
        let Some(may) = allowed.get(from) else {
            wrong.push(format!("{from} is not in the table"));
            continue;
        };
        wrong.extend(deps.iter().filter(|to| !may.contains(*to)).map(|to| format!("{from} imports {to}")));
    }
    wrong
}

/// A circle of imports (`[a, b, a]`), if there is one.
fn find_circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}
