//! The receiver's layering (README, "Project layout"), read from the `crate::` paths of src/: a
//! module names only modules of its own layer or a lower one, and no modules import each other.
//! Test code (after `#[cfg(test)]`) is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Inner to outer. A module not listed fails the test: each new module is placed on purpose.
const LAYERS: [(&str, &[&str]); 4] = [
    (
        "the pure core",
        &[
            "clock",
            "platform",
            "unique_keys_json",
            "event_id",
            "webhook_event",
            "message_status",
            "contact_key",
            "keys",
            "stored_body",
            "records",
            "message_item",
            "message_view",
            "event_detail",
            "queued_delivery",
            "webhook_tokens",
        ],
    ),
    ("the ports", &["store", "spill"]),
    (
        "the receiver, through the ports",
        &["acceptance", "delivery"],
    ),
    (
        "the edges and adapters",
        &[
            "store::dynamodb",
            "store::memory",
            "spill::sqs",
            "spill::memory",
            "outcome",
            "http_event",
            "http_handler",
            "metrics",
            "telemetry",
            "spill_drain",
            "table_stream",
            "message_projection",
            "pipe_enrichment",
            "config",
            "token_secret",
            "contact_key_secret",
            "lambda_function",
        ],
    ),
];

/// Each module of src/ (`store::dynamodb` for src/store/dynamodb.rs, `store` for its mod.rs)
/// with the modules its non-test code names, through `use crate::` or a `crate::` path (comments
/// are skipped; `super::` in a submodule is its parent).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        match path.file_name().unwrap().to_str().unwrap() {
            "lib.rs" | "bin" => {}
            _ if path.is_dir() => {
                for inner in std::fs::read_dir(&path).unwrap() {
                    files.push(inner.unwrap().path());
                }
            }
            _ => files.push(path),
        }
    }
    let mut modules = BTreeMap::new();
    for path in files {
        let relative = path.strip_prefix(&src).unwrap().with_extension("");
        let name = relative
            .to_str()
            .unwrap()
            .trim_end_matches("/mod")
            .replace('/', "::");
        let text = std::fs::read_to_string(&path).unwrap();
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut used: BTreeSet<String> = named_paths(&code)
            .iter()
            .map(|path| module_path(path))
            .filter(|m| m != &name && !m.starts_with(&format!("{name}::")))
            .collect();
        if let Some((parent, _)) = name.split_once("::")
            && code.contains("super::")
        {
            used.insert(parent.to_owned());
        }
        modules.insert(name, used);
    }
    modules
}

/// Every path after `crate::`, a `{…}` group giving one path per member.
fn named_paths(code: &str) -> Vec<String> {
    let is_path = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut paths = vec![];
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for member in group.split(',') {
                    let member = member.trim();
                    let end = member.find(|c| !is_path(c)).unwrap_or(member.len());
                    paths.push(member[..end].to_owned());
                }
            }
            None => {
                let end = rest.find(|c| !is_path(c)).unwrap_or(rest.len());
                paths.push(rest[..end].trim_end_matches(':').to_owned());
            }
        }
    }
    paths.retain(|p| !p.is_empty());
    paths
}

/// `store::dynamodb::Item` → `store::dynamodb`; `records::Received` → `records`: the longest
/// prefix that is a listed module.
fn module_path(path: &str) -> String {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|candidate| layer_of(candidate).is_some())
        .unwrap_or_else(|| parts[0].to_owned())
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let imports = imports();
    let mut problems = vec![];
    for (module, used) in &imports {
        let Some(layer) = layer_of(module) else {
            problems.push(format!("{module} is in no layer: add it to LAYERS"));
            continue;
        };
        for other in used {
            match layer_of(other) {
                Some(other_layer) if other_layer <= layer => {}
                Some(other_layer) => problems.push(format!(
                    "{module} ({}) imports {other} ({})",
                    LAYERS[layer].0, LAYERS[other_layer].0
                )),
                None => problems.push(format!("{module} imports {other}, in no layer")),
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(imports["delivery"].contains("acceptance"), "{imports:?}");
}

#[test]
fn no_two_modules_import_each_other() {
    let imports = imports();
    // Depth-first, per module: a path back to where it started is a circle.
    for start in imports.keys() {
        let mut stack = vec![vec![start.clone()]];
        while let Some(path) = stack.pop() {
            let last = path.last().unwrap();
            for next in imports.get(last).into_iter().flatten() {
                assert!(next != start, "an import circle: {path:?} → {next}");
                if !path.contains(next) {
                    stack.push([path.clone(), vec![next.clone()]].concat());
                }
            }
        }
    }
}
