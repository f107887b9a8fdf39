//! The layering check: the dependency edges the brief forbids, read from `cargo metadata`.
//!
//! Three rules, each stated once in [`RULES`]:
//! - a workspace crate may depend only on the workspace crates listed for it;
//! - some crates must never reach (through normal or build dependencies, at any
//!   depth) a package whose name starts with a forbidden prefix, e.g. a tensor backend;
//! - only the binary and xtask may depend on `anyhow`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Deserialize;

/// Workspace crates and the workspace crates each may depend on.
const ALLOWED_EDGES: &[(&str, &[&str])] = &[
    ("codex-core", &[]),
    ("codex-tokenize", &["codex-core"]),
    ("codex-data", &["codex-core", "codex-tokenize"]),
    ("codex-model", &["codex-core"]),
    ("codex-eval", &["codex-core"]),
    ("codex-safety", &["codex-core"]),
    ("codex-track", &["codex-core"]),
    ("codex-audit", &["codex-core"]),
    (
        "codex-train",
        &[
            "codex-core",
            "codex-model",
            "codex-data",
            "codex-tokenize",
            "codex-track",
            "codex-eval",
        ],
    ),
    (
        "codex-cli",
        &[
            "codex-core",
            "codex-tokenize",
            "codex-data",
            "codex-model",
            "codex-train",
            "codex-eval",
            "codex-safety",
            "codex-track",
            "codex-audit",
        ],
    ),
    (
        "codex",
        &[
            "codex-core",
            "codex-tokenize",
            "codex-data",
            "codex-model",
            "codex-train",
            "codex-eval",
            "codex-safety",
            "codex-track",
            "codex-audit",
        ],
    ),
    ("xtask", &[]),
    // Only a manifest (feature unification for CI's builds); no list above
    // names it, so nothing may depend on it.
    ("xtask-unify", &[]),
];

const TENSOR: &[&str] = &["burn", "cubecl", "tch", "candle"];
const TOKENIZER_LIBS: &[&str] = &["tokenizers", "sentencepiece"];

/// Crates that must never reach a package whose name starts with one of the prefixes.
const RULES: &[(&str, &[&[&str]], &str)] = &[
    (
        "codex-core",
        &[TENSOR, TOKENIZER_LIBS],
        "codex-core depends on no tensor framework and no tokenizer library",
    ),
    (
        "codex-tokenize",
        &[TENSOR],
        "codex-tokenize never compiles a tensor backend",
    ),
    (
        "codex-data",
        &[TENSOR],
        "codex-data never compiles a tensor backend",
    ),
    (
        "codex-eval",
        &[TENSOR],
        "codex-eval never compiles a tensor backend",
    ),
    (
        "codex-safety",
        &[TENSOR],
        "codex-safety never compiles a tensor backend",
    ),
    (
        "codex-track",
        &[TENSOR],
        "codex-track never compiles a tensor backend",
    ),
    (
        "codex-audit",
        &[TENSOR],
        "codex-audit never compiles a tensor backend",
    ),
];

/// Crates allowed to depend on `anyhow` directly.
const ANYHOW_ALLOWED: &[&str] = &["codex-cli", "xtask"];

#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    resolve: Resolve,
}

#[derive(Debug, Deserialize)]
struct Package {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Debug, Deserialize)]
struct NodeDep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(Debug, Deserialize)]
struct DepKind {
    kind: Option<String>,
}

/// Checks the graph and returns one sentence per violation; empty means the layering holds.
pub(crate) fn check(meta: &Metadata) -> Vec<String> {
    let name_of: BTreeMap<&str, &str> = meta
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    // Edges that get compiled into the crate: normal and build dependencies, never dev.
    let edges: BTreeMap<&str, Vec<&str>> = meta
        .resolve
        .nodes
        .iter()
        .map(|n| {
            let deps = n
                .deps
                .iter()
                .filter(|d| d.dep_kinds.iter().any(|k| k.kind.as_deref() != Some("dev")))
                .map(|d| d.pkg.as_str())
                .collect();
            (n.id.as_str(), deps)
        })
        .collect();
    let members: BTreeSet<&str> = meta.workspace_members.iter().map(String::as_str).collect();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED_EDGES.iter().copied().collect();
    let mut violations = Vec::new();

    for &member in &members {
        let name = name_of.get(member).copied().unwrap_or(member);
        let Some(allowed_deps) = allowed.get(name) else {
            violations.push(format!(
                "{name} is a workspace crate without layering rules: add it to xtask/src/layering.rs"
            ));
            continue;
        };
        for &dep in edges.get(member).map(Vec::as_slice).unwrap_or_default() {
            let dep_name = name_of.get(dep).copied().unwrap_or(dep);
            if members.contains(dep) && !allowed_deps.contains(&dep_name) {
                violations.push(format!(
                    "{name} depends on {dep_name}, which the layering does not allow (allowed: {})",
                    if allowed_deps.is_empty() {
                        "no workspace crate".to_owned()
                    } else {
                        allowed_deps.join(", ")
                    }
                ));
            }
            if dep_name == "anyhow" && !ANYHOW_ALLOWED.contains(&name) {
                violations.push(format!(
                    "{name} depends on anyhow; libraries return typed errors (only {} may use anyhow)",
                    ANYHOW_ALLOWED.join(" and ")
                ));
            }
        }
    }

    for &(krate, prefix_sets, why) in RULES {
        let Some(&start) = members.iter().find(|m| name_of.get(**m) == Some(&krate)) else {
            continue;
        };
        let prefixes: Vec<&str> = prefix_sets.iter().flat_map(|s| s.iter().copied()).collect();
        // Breadth-first, so the path reported is a shortest one.
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut seen = BTreeSet::from([start]);
        while let Some(id) = queue.pop_front() {
            for &dep in edges.get(id).map(Vec::as_slice).unwrap_or_default() {
                if !seen.insert(dep) {
                    continue;
                }
                parent.insert(dep, id);
                let dep_name = name_of.get(dep).copied().unwrap_or(dep);
                if prefixes
                    .iter()
                    .any(|p| dep_name == *p || dep_name.starts_with(&format!("{p}-")))
                {
                    let mut path = vec![dep_name];
                    let mut at = dep;
                    while let Some(&up) = parent.get(at) {
                        path.push(name_of.get(up).copied().unwrap_or(up));
                        at = up;
                    }
                    path.reverse();
                    violations.push(format!(
                        "{krate} reaches {dep_name} via {} ({why})",
                        path.join(" → ")
                    ));
                } else {
                    queue.push_back(dep);
                }
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A metadata document for a hand-made graph: (crate, [dependencies]), with
    /// `dev:` marking a dev-dependency; names starting with `codex-` are workspace members.
    fn graph(edges: &[(&str, &[&str])]) -> Metadata {
        let mut names: BTreeSet<&str> = BTreeSet::new();
        for (k, deps) in edges {
            names.insert(k);
            for d in *deps {
                names.insert(d.trim_start_matches("dev:"));
            }
        }
        let json = serde_json::json!({
            "packages": names.iter().map(|n| serde_json::json!({"id": n, "name": n})).collect::<Vec<_>>(),
            "workspace_members": names.iter().filter(|n| n.starts_with("codex-")).collect::<Vec<_>>(),
            "resolve": {"nodes": names.iter().map(|n| {
                let deps = edges.iter().find(|(k, _)| k == n).map(|(_, d)| *d).unwrap_or_default();
                serde_json::json!({"id": n, "deps": deps.iter().map(|d| {
                    let (kind, pkg) = match d.strip_prefix("dev:") {
                        Some(p) => (serde_json::json!("dev"), p),
                        None => (serde_json::Value::Null, *d),
                    };
                    serde_json::json!({"pkg": pkg, "dep_kinds": [{"kind": kind}]})
                }).collect::<Vec<_>>()})
            }).collect::<Vec<_>>()}
        });
        serde_json::from_value(json).unwrap()
    }

    #[track_caller]
    fn check_graph(edges: &[(&str, &[&str])], expect: &[&str]) {
        assert_eq!(check(&graph(edges)), expect);
    }

    #[test]
    fn allowed_graph_passes() {
        check_graph(
            &[
                ("codex-core", &["serde", "dev:tempfile"]),
                ("codex-data", &["codex-core", "codex-tokenize"]),
                ("codex-tokenize", &["codex-core", "tokenizers"]),
                ("codex-model", &["codex-core", "burn"]),
                ("burn", &["burn-tensor"]),
            ],
            &[],
        );
    }

    #[test]
    fn core_reaching_burn_fails_with_the_path() {
        check_graph(
            &[("codex-core", &["helper"]), ("helper", &["burn-tensor"])],
            &[
                "codex-core reaches burn-tensor via codex-core → helper → burn-tensor \
               (codex-core depends on no tensor framework and no tokenizer library)",
            ],
        );
    }

    #[test]
    fn data_reaching_a_backend_through_a_sibling_fails_twice() {
        check_graph(
            &[
                ("codex-core", &[]),
                ("codex-data", &["codex-core", "codex-model"]),
                ("codex-model", &["codex-core", "burn"]),
                ("burn", &["burn-flex"]),
            ],
            &[
                "codex-data depends on codex-model, which the layering does not allow \
                 (allowed: codex-core, codex-tokenize)",
                "codex-data reaches burn via codex-data → codex-model → burn \
                 (codex-data never compiles a tensor backend)",
            ],
        );
    }

    #[test]
    fn dev_dependencies_do_not_count_but_anyhow_in_a_library_does() {
        check_graph(
            &[
                ("codex-eval", &["dev:burn", "anyhow"]),
                ("codex-core", &["tokenizers"]),
                ("codex-unknown", &[]),
            ],
            &[
                "codex-eval depends on anyhow; libraries return typed errors \
                 (only codex-cli and xtask may use anyhow)",
                "codex-unknown is a workspace crate without layering rules: add it to xtask/src/layering.rs",
                "codex-core reaches tokenizers via codex-core → tokenizers \
                 (codex-core depends on no tensor framework and no tokenizer library)",
            ],
        );
    }

    #[test]
    fn prefix_matching_is_by_whole_word() {
        // `burnish` is not Burn; `burn-ir` is.
        check_graph(
            &[("codex-track", &["burnish", "burn-ir"])],
            &["codex-track reaches burn-ir via codex-track → burn-ir \
               (codex-track never compiles a tensor backend)"],
        );
    }
}
