//! The modules import one way: each top-level module of `src/` names (`crate::x`) only modules
//! of the layers below its own, and inside a module no file imports from a file that imports
//! from it (a child using its parent's items while the parent re-exports the child's is a cycle
//! too). The layers, bottom first, are the ones `src/lib.rs` documents. A new module must be
//! given a layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom layer first; a module may import from any module of an earlier layer.
const LAYERS: &[&[&str]] = &[
    &["knobs", "units", "error", "files", "stdout"],
    &["workload"],
    &["config"],
    &["tls"],
    &["cluster"],
    &["local"],
    &["hop"],
    &["metrics"],
    &["profiler"],
    &["record"],
    &["engine"],
    &["control"],
    &["report"],
    &["target", "run"],
    &["ui", "cli"],
    &["commands"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its test module (always at the end here;
/// a test may reach across layers).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `x` of every `crate::x` in the code.
fn imported(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .filter(|(at, _)| {
            // `casstop_crate::` or `$crate::` are not ours.
            code[..*at]
                .chars()
                .last()
                .is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '$')
        })
        .map(|(at, _)| {
            code[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let own = layer_of(&top)
            .unwrap_or_else(|| panic!("src/{top} has no layer in tests/it/layers.rs"));
        for name in imported(&code(file)) {
            if name == top {
                continue;
            }
            match layer_of(&name) {
                Some(layer) if layer < own => {}
                _ => wrong.push(format!("{} imports crate::{name}", relative.display())),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_an_import_upwards() {
    let code = "use crate::config::Settings;\nfn f() { crate::engine::Engine::start(); }";
    let names = imported(code);
    assert!(names.contains("config") && names.contains("engine"));
    assert!(layer_of("engine") > layer_of("config"));
}

/// A file's module path: `src/report/plot.rs` → `["report", "plot"]`, `src/report/mod.rs` →
/// `["report"]`, `src/lib.rs` → `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let mut path: Vec<String> = file
        .strip_prefix(src)
        .unwrap()
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        path.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        path.pop();
    }
    path
}

/// The paths a `use` tree names: `a::{b, c::{d as e}}` → `a::b`, `a::c::d`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap().trim().to_string()];
    };
    let (prefix, inner) = (&tree[..open], &tree[open + 1..tree.rfind('}').unwrap()]);
    let mut parts = vec![String::new()];
    let mut depth = 0;
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().unwrap().push(c);
    }
    parts
        .iter()
        .filter(|part| !part.trim().is_empty())
        .flat_map(|part| expand_use(part))
        .map(|path| format!("{prefix}{path}"))
        .collect()
}

/// Every path in `code` that may name a module: `use` trees, and `crate::`, `super::`, `self::`
/// or `name::` paths written inline.
fn paths_in(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let starts_word = rest[..at]
            .chars()
            .last()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        if starts_word {
            paths.extend(expand_use(&rest[at + 4..end]));
        }
        rest = &rest[(at + 4).min(end)..];
    }
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let word_start = i == 0
            || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == ':');
        if word_start && (chars[i].is_ascii_lowercase() || chars[i] == '_') {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == ':')
            {
                j += 1;
            }
            let path: String = chars[i..j].iter().collect();
            if path.contains("::") {
                paths.push(path);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    paths
}

/// The module a path in module `from` names, if it is one of `modules` other than `from`.
fn target<'a>(
    from: &[String],
    path: &str,
    modules: &'a BTreeSet<Vec<String>>,
) -> Option<&'a Vec<String>> {
    let segments: Vec<&str> = path
        .split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut full: Vec<String> = match segments.first()? {
        &"crate" => Vec::new(),
        &"super" | &"self" => from.to_vec(),
        _ => from.to_vec(),
    };
    let mut segments = &segments[..];
    if segments[0] == "crate" || segments[0] == "self" {
        segments = &segments[1..];
    }
    while segments.first() == Some(&"super") {
        full.pop();
        segments = &segments[1..];
    }
    full.extend(segments.iter().map(|s| s.to_string()));
    while !full.is_empty() {
        if let Some(module) = modules.get(&full) {
            return (module.as_slice() != from).then_some(module);
        }
        full.pop();
    }
    None
}

/// A cycle in `edges`, as the modules around it, if there is one.
fn find_cycle(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        at: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        done: &mut BTreeSet<Vec<String>>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(start) = stack.iter().position(|m| m == at) {
            let mut cycle: Vec<String> = stack[start..].iter().map(|m| m.join("::")).collect();
            cycle.push(at.join("::"));
            return Some(cycle);
        }
        if !done.insert(at.clone()) {
            return None;
        }
        stack.push(at.clone());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|module| visit(module, edges, &mut done, &mut Vec::new()))
}

#[test]
fn no_file_module_imports_from_one_that_imports_from_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_path(&src, f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let from = module_path(&src, file);
        if from.is_empty() {
            continue; // lib.rs and main.rs declare the modules and re-export
        }
        let code = code(file);
        let targets = paths_in(&code)
            .iter()
            .filter_map(|path| target(&from, path, &modules))
            .filter(|module| !module.is_empty())
            .cloned()
            .collect();
        edges.insert(from, targets);
    }
    assert!(edges.len() > 40, "found only {} modules", edges.len());
    if let Some(cycle) = find_cycle(&edges) {
        panic!("an import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn the_cycle_check_sees_a_child_using_its_parent() {
    let modules: BTreeSet<Vec<String>> = [vec!["a".to_string()], vec!["a".into(), "b".into()]]
        .into_iter()
        .collect();
    let parent = paths_in("mod b;\npub use b::{Thing, other::{X as Y}};");
    let child = paths_in("use super::Item;\nfn f() { crate::a::g(); }");
    let a = vec!["a".to_string()];
    let b = vec!["a".to_string(), "b".to_string()];
    assert!(
        parent.iter().any(|p| target(&a, p, &modules) == Some(&b)),
        "{parent:?}"
    );
    assert!(
        child.iter().all(|p| target(&b, p, &modules) == Some(&a)),
        "{child:?}"
    );
    let edges = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b, BTreeSet::from([a])),
    ]);
    assert!(find_cycle(&edges).is_some());
}
