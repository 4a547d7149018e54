//! The modules import one way: each top-level module of `src/` names (`crate::x`) only modules
//! of the layers below its own, so there is no import cycle. The layers, bottom first, are the
//! ones `src/lib.rs` documents. A new module must be given a layer here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom layer first; a module may import from any module of an earlier layer.
const LAYERS: &[&[&str]] = &[
    &["knobs", "units", "error", "files"],
    &["config"],
    &["tls"],
    &["cluster"],
    &["local"],
    &["hop"],
    &["metrics"],
    &["profiler"],
    &["record"],
    &["engine"],
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
        let own =
            layer_of(&top).unwrap_or_else(|| panic!("src/{top} has no layer in tests/layers.rs"));
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
