//! No import cycle among the top-level modules of each crate of the workspace (issue 18,
//! point 2). A module's dependencies are the `crate::<module>` paths its non-test code names
//! (`use crate::{a, b::c}` included); test modules may use anything. Modules that are one
//! unit are listed in `UNITS` with the reason; the test fails when any other cycle appears,
//! naming it and the files behind each edge, and when a listed unit is no longer a cycle (so
//! the list only shrinks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module graph: module -> module it names -> a file of the first that names it.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// Groups of top-level modules that are one unit: (crate, modules, why).
const UNITS: &[(&str, &[&str], &str)] = &[
    (
        "m365ctl-core",
        &["rules", "tenant"],
        "Microsoft's rules read the model (rules -> tenant), and the model's writes obey them \
         (tenant::mutate checks rules::writes/seats/exchange); rules is a module of its own only \
         so that each rule is in one citable place",
    ),
    (
        "m365ctl",
        &["backend", "exchange", "graph"],
        "the Graph backend (backend::graph) is built on the Graph and Exchange HTTP clients, which \
         return backend::BackendError; the one error taxonomy of issue 18 point 3 takes the \
         error type out of backend",
    ),
];

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let crates = workspace_crates();
    assert!(
        crates.iter().any(|(name, _)| name == "m365ctl-core"),
        "the core crate was not found: {crates:?}"
    );
    let mut problems = Vec::new();
    for (name, src) in &crates {
        let graph = module_graph(src);
        assert!(graph.len() > 3, "{name}: too few modules found in {src:?}");
        let units: Vec<&[&str]> = UNITS
            .iter()
            .filter(|(krate, _, _)| krate == name)
            .map(|(_, modules, _)| *modules)
            .collect();
        for unit in &units {
            if !is_one_cycle(&graph, unit) {
                problems.push(format!(
                    "{name}: {unit:?} is listed as one unit in UNITS but is no longer a cycle: remove it from the list"
                ));
            }
        }
        let condensed = condense(&graph, &units);
        if let Some(cycle) = find_cycle(&condensed) {
            let edges: Vec<String> = cycle
                .windows(2)
                .map(|pair| {
                    format!(
                        "  {} -> {}: {}",
                        pair[0],
                        pair[1],
                        evidence(&graph, &units, &pair[0], &pair[1])
                    )
                })
                .collect();
            problems.push(format!(
                "{name}: import cycle {}\n{}",
                cycle.join(" -> "),
                edges.join("\n")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "module dependencies must form a DAG in each crate (ARCHITECTURE.md):\n{}\n\
         hint: move the shared item down to the module both depend on, or, if the modules \
         really are one unit, list them in UNITS with the reason",
        problems.join("\n")
    );
}

/// Every crate of the workspace: the root package's `src` and each `crates/*/src`.
fn workspace_crates() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut crates = vec![("m365ctl".to_string(), root.join("src"))];
    let mut members: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("crates/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    members.sort();
    for dir in members {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        crates.push((name, dir.join("src")));
    }
    crates
}

/// The graph of a crate's top-level modules (`x.rs` and `x/` beside `lib.rs`).
fn module_graph(src: &Path) -> Graph {
    let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("src/ exists") {
        let path = entry.expect("readable entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            files.entry(name).or_default().extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") && name != "lib" && name != "main" {
            files.entry(name).or_default().push(path);
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let mut graph = Graph::new();
    for (module, paths) in &files {
        let edges = graph.entry(module.clone()).or_default();
        let test_only = test_only_files(paths);
        for path in paths.iter().filter(|p| !test_only.contains(*p)) {
            let text = std::fs::read_to_string(path).expect("readable source");
            for named in referenced_modules(&text) {
                if named != *module && modules.contains(&named) {
                    let shown = path.strip_prefix(src).unwrap_or(path).display().to_string();
                    edges.entry(named).or_insert(shown);
                }
            }
        }
    }
    graph
}

/// The `.rs` files under a directory, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out
}

/// Files declared as `#[cfg(test)] mod x;` (or `cfg(any(test, ...))`) by a file of the module.
fn test_only_files(paths: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for path in paths {
        let text = std::fs::read_to_string(path).expect("readable source");
        let dir = if path.file_name().is_some_and(|n| n == "mod.rs") {
            path.parent().unwrap().to_path_buf()
        } else {
            path.with_extension("")
        };
        for child in test_only_children(&text) {
            out.insert(dir.join(format!("{child}.rs")));
            out.insert(dir.join(&child).join("mod.rs"));
        }
    }
    out
}

/// Names of child modules declared test-only in `text`.
fn test_only_children(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !(line.starts_with("#[cfg(test)]") || line.starts_with("#[cfg(any(test")) {
            continue;
        }
        let Some(next) = lines.get(i + 1) else {
            continue;
        };
        let decl = next
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ");
        if let Some(name) = decl.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
            out.push(name.trim().to_string());
        }
    }
    out
}

/// The top-level modules that the non-test code of `text` names as `crate::<module>`:
/// comments and the trailing `#[cfg(test)] mod … { … }` block are skipped (clippy's
/// `items_after_test_module` keeps that block last).
fn referenced_modules(text: &str) -> BTreeSet<String> {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]"
            && lines.peek().is_some_and(|next| {
                next.trim_start().starts_with("mod ") && next.trim_end().ends_with('{')
            })
        {
            break;
        }
        if !trimmed.starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    let mut out = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        from = start + "crate::".len();
        let before = start.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$') {
            continue;
        }
        if code[from..].starts_with('{') {
            out.extend(braced_heads(&code[from + 1..]));
        } else {
            out.extend(identifier(&code[from..]));
        }
    }
    out
}

/// The first path segment of each item of a `{a, b::c, d::{e, f}}` list (text after `{`).
fn braced_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if item_start && !c.is_whitespace() => {
                item_start = false;
                heads.extend(identifier(&text[i..]));
            }
            _ => {}
        }
    }
    heads
}

/// The identifier `text` starts with, if any.
fn identifier(text: &str) -> Option<String> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| text[..end].to_string())
}

/// Whether every module of `unit` reaches every other one (they are in one cycle).
fn is_one_cycle(graph: &Graph, unit: &[&str]) -> bool {
    unit.iter().all(|from| {
        let reached = reachable(graph, from);
        unit.iter().all(|to| from == to || reached.contains(*to))
    })
}

/// The modules reachable from `from` by one or more edges.
fn reachable(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(module) = stack.pop() {
        for next in graph.get(&module).into_iter().flat_map(|e| e.keys()) {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

/// The graph with each unit's modules merged into one node named `a+b`.
fn condense(graph: &Graph, units: &[&[&str]]) -> BTreeMap<String, BTreeSet<String>> {
    let node = |module: &str| -> String {
        units
            .iter()
            .find(|unit| unit.contains(&module))
            .map_or_else(|| module.to_string(), |unit| unit.join("+"))
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, edges) in graph {
        let from = node(from);
        let targets = out.entry(from.clone()).or_default();
        for to in edges.keys() {
            let to = node(to);
            if to != from {
                targets.insert(to);
            }
        }
    }
    out
}

/// The file behind an edge of the condensed graph.
fn evidence(graph: &Graph, units: &[&[&str]], from: &str, to: &str) -> String {
    let members = |node: &str| -> Vec<String> {
        units
            .iter()
            .find(|unit| unit.join("+") == node)
            .map_or_else(
                || vec![node.to_string()],
                |unit| unit.iter().map(|m| m.to_string()).collect(),
            )
    };
    for a in members(from) {
        for b in members(to) {
            if let Some(file) = graph.get(&a).and_then(|e| e.get(&b)) {
                return format!("{file} names crate::{b}");
            }
        }
    }
    String::new()
}

/// A cycle of a directed graph as its path (first node repeated at the end), if any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Open,
        Done,
    }
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        state: &mut BTreeMap<String, State>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), State::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(State::Open) => {
                    let at = path.iter().position(|m| m == next).unwrap();
                    let mut cycle = path[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(State::Done) => {}
                None => {
                    if let Some(cycle) = visit(graph, next, state, path) {
                        return Some(cycle);
                    }
                }
            }
        }
        path.pop();
        state.insert(node.to_string(), State::Done);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node)
            && let Some(cycle) = visit(graph, node, &mut state, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

fn graph_of(edges: &[(&str, &str)]) -> Graph {
    let mut graph = Graph::new();
    for (from, to) in edges {
        graph
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string(), format!("{from}.rs"));
        graph.entry(to.to_string()).or_default();
    }
    graph
}

#[test]
fn the_cycle_finder_names_a_cycle_and_accepts_a_dag() {
    let cyclic = graph_of(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]);
    assert_eq!(
        find_cycle(&condense(&cyclic, &[])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let dag = graph_of(&[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]);
    assert_eq!(find_cycle(&condense(&dag, &[])), None);
    let two = graph_of(&[("a", "b"), ("b", "a")]);
    assert!(find_cycle(&condense(&two, &[])).is_some());
}

#[test]
fn a_unit_hides_its_own_cycle_but_not_one_through_another_module() {
    let pair = graph_of(&[("a", "b"), ("b", "a"), ("c", "a")]);
    assert_eq!(find_cycle(&condense(&pair, &[&["a", "b"]])), None);
    assert!(is_one_cycle(&pair, &["a", "b"]));
    assert!(!is_one_cycle(&pair, &["a", "c"]), "c is not reached from a");
    let through = graph_of(&[("a", "b"), ("b", "a"), ("b", "c"), ("c", "a")]);
    let cycle = find_cycle(&condense(&through, &[&["a", "b"]])).expect("a+b -> c -> a+b");
    assert_eq!(cycle, vec!["a+b".to_string(), "c".into(), "a+b".into()]);
    assert_eq!(
        evidence(&through, &[&["a", "b"]], "c", "a+b"),
        "c.rs names crate::a"
    );
}

#[test]
fn references_are_read_from_code_not_from_comments_tests_or_macros() {
    let text = "use crate::{plan::{self, Op}, tenant::Tenant};\n\
                use crate::diag;\n\
                // crate::render is only mentioned\n\
                let x = $crate::cost::Money;\n\
                fn f() -> crate::ids::Id { my_crate::report() }\n\
                #[cfg(test)]\n\
                mod tests {\n\
                    use crate::synth;\n\
                }\n";
    let found: Vec<String> = referenced_modules(text).into_iter().collect();
    assert_eq!(found, ["diag", "ids", "plan", "tenant"]);
    let declared =
        "mod a;\n#[cfg(test)]\nmod b;\n#[cfg(any(test, feature = \"testkit\"))]\npub mod c;\n";
    assert_eq!(test_only_children(declared), ["b", "c"]);
}
