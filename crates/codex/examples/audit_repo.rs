//! Audit a repository: inventory, README summary, placeholders, complexity
//! and the repo map, written as reports. Audits the directory given (or a
//! small generated one). `cargo run --release --example audit_repo [PATH]`

#![allow(
    clippy::print_stdout,
    reason = "an example shows what it did on the terminal"
)]

use codex::audit::{AuditRequest, FailOn, InventoryOptions, ReportFormat, run_job};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = tempfile::tempdir()?;
    let root = match std::env::args().nth(1) {
        Some(p) => p.into(),
        None => {
            let r = scratch.path().join("repo");
            std::fs::create_dir_all(r.join("src"))?;
            std::fs::write(
                r.join("README.md"),
                "# Demo\n\nA demo package.\n\n```sh\npython -m demo\n```\n",
            )?;
            std::fs::write(
                r.join("src/demo.py"),
                "def grade(x):\n    if x > 90:\n        return 'A'\n    elif x > 80:\n        return 'B'\n    # TODO: the other grades\n    raise NotImplementedError\n",
            )?;
            r
        }
    };
    let request = AuditRequest {
        root: root.clone(),
        out: scratch.path().join("reports"),
        formats: vec![ReportFormat::Json, ReportFormat::Md],
        options: InventoryOptions::default(),
        generated_at: "2026-01-01T00:00:00Z".into(),
        fail_on: vec![FailOn::Complexity(10)],
    };
    let outcome = run_job(&request, &|_, _| {})?;
    print!("{}", outcome.to_text(&root));
    let a = &outcome.audit;
    if let Some(r) = &a.readme {
        println!("README title {:?}, {} commands", r.title, r.commands.len());
    }
    for f in a.functions.iter().take(5) {
        println!(
            "  {}:{} {} complexity {}",
            f.path, f.line_start, f.name, f.complexity
        );
    }
    for p in a.placeholders.iter().take(5) {
        println!("  placeholder {}:{} {}", p.path, p.line, p.kind);
    }
    Ok(())
}
