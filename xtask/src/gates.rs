//! The gates, cheapest first, each timed; the first failure stops the run.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::layering;

/// A gate: its name and how to run it.
struct Gate {
    name: &'static str,
    run: fn() -> Result<()>,
}

const GATES: &[Gate] = &[
    Gate {
        name: "fmt",
        run: fmt,
    },
    Gate {
        name: "layering",
        run: layering,
    },
    Gate {
        name: "clippy",
        run: clippy,
    },
    Gate {
        name: "test",
        run: test,
    },
    Gate {
        name: "doc",
        run: doc,
    },
    Gate {
        name: "deny",
        run: deny,
    },
];

fn cargo(args: &[&str], envs: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("$ cargo {}", args.join(" "));
    let status = crate::release::cargo_cmd(&cargo)
        .args(args)
        .envs(envs.iter().copied())
        .status()
        .with_context(|| format!("cannot run `{cargo}`"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn fmt() -> Result<()> {
    cargo(&["fmt", "--all", "--", "--check"], &[])
}

fn clippy() -> Result<()> {
    cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )
}

/// The README's test command, exactly.
fn test() -> Result<()> {
    cargo(&["test", "--workspace"], &[])
}

fn doc() -> Result<()> {
    cargo(
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )
}

fn deny() -> Result<()> {
    let found = crate::release::cargo_cmd("cargo")
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        bail!(
            "cargo-deny is not installed: run `cargo install cargo-deny --locked` (.ci/run does)"
        );
    }
    println!(
        "note: the RustSec advisory database cannot be fetched on this offline machine, \
         so `advisories` is not checked; licenses, bans and sources are"
    );
    cargo(
        &["deny", "--locked", "check", "licenses", "bans", "sources"],
        &[],
    )
}

/// The layering check on this workspace's real dependency graph.
pub(crate) fn layering() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = crate::release::cargo_cmd(&cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .context("cannot run `cargo metadata`")?;
    if !out.status.success() {
        bail!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: layering::Metadata =
        serde_json::from_slice(&out.stdout).context("cannot parse `cargo metadata` output")?;
    let violations = layering::check(&meta);
    if violations.is_empty() {
        println!("layering: every crate respects the brief's invariants");
        return Ok(());
    }
    for v in &violations {
        eprintln!("layering violation: {v}");
    }
    bail!("{} layering violation(s)", violations.len())
}

/// Whether gate `name` runs: named in `only` (or `only` empty) and not in `skip`.
fn selected(only: &[String], skip: &[String], name: &str) -> bool {
    (only.is_empty() || only.iter().any(|s| s == name)) && !skip.iter().any(|s| s == name)
}

/// Runs the gates in their order: those named in `only` (all when it is
/// empty), less those in `skip`.
pub(crate) fn run(only: &[String], skip: &[String]) -> Result<()> {
    for s in only.iter().chain(skip) {
        if !GATES.iter().any(|g| g.name == s) {
            bail!(
                "unknown gate `{s}` (gates: {})",
                GATES.iter().map(|g| g.name).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let mut timings: Vec<(&str, Duration, &str)> = Vec::new();
    let mut failure = None;
    for gate in GATES {
        if !selected(only, skip, gate.name) {
            timings.push((gate.name, Duration::ZERO, "skipped"));
            continue;
        }
        println!("\n==> gate {}", gate.name);
        let start = Instant::now();
        let result = (gate.run)();
        let elapsed = start.elapsed();
        match result {
            Ok(()) => timings.push((gate.name, elapsed, "ok")),
            Err(e) => {
                timings.push((gate.name, elapsed, "FAILED"));
                failure = Some((gate.name, e));
                break;
            }
        }
    }
    println!("\ngate        time      result");
    for (name, elapsed, status) in &timings {
        println!("{name:<10} {:>7.1}s  {status}", elapsed.as_secs_f64());
    }
    let total: f64 = timings.iter().map(|t| t.1.as_secs_f64()).sum();
    println!("total      {total:>7.1}s");
    match failure {
        Some((name, e)) => Err(e.context(format!("gate `{name}` failed"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn named_gates_run_alone_and_skip_wins() {
        let run = |only: &[&str], skip: &[&str]| -> Vec<&str> {
            let (only, skip) = (names(only), names(skip));
            GATES
                .iter()
                .map(|g| g.name)
                .filter(|n| selected(&only, &skip, n))
                .collect()
        };
        assert_eq!(
            run(&[], &[]),
            ["fmt", "layering", "clippy", "test", "doc", "deny"]
        );
        assert_eq!(
            run(&[], &["test", "deny"]),
            ["fmt", "layering", "clippy", "doc"]
        );
        // The gates' own order, whatever the order named.
        assert_eq!(run(&["doc", "test"], &[]), ["test", "doc"]);
        assert_eq!(run(&["test", "doc"], &["doc"]), ["test"]);
    }
}
