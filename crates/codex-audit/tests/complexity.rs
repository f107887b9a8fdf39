//! Python cyclomatic complexity equal to radon's on the fixtures: the
//! hand-written ones, which cover every construct radon counts, and under
//! `ours/` a frozen copy of this project's own Python scripts, the real-code
//! sample (goldens: `scripts/goldens/audit_complexity_goldens.py`).

use std::path::Path;

use codex_audit::complexity::{Parsed, analyze};

#[test]
fn python_complexity_equals_radon() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("complexity.radon.json")).unwrap())
            .unwrap();
    let mut compared = 0;
    for (file, blocks) in golden["files"].as_object().unwrap() {
        let text = std::fs::read_to_string(data.join("complexity").join(file)).unwrap();
        let Parsed::Functions(found) = analyze(file, Some("Python"), &text) else {
            panic!("{file} did not parse");
        };
        // Methods of classes nested in a class or function: codex reports
        // them, radon drops them; the golden lists them apart.
        let unreported: Vec<(String, usize)> = golden["unreported"][file]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["name"].as_str().unwrap().to_owned(),
                    b["line"].as_u64().unwrap() as usize,
                )
            })
            .collect();
        let extra: Vec<(String, usize)> = found
            .iter()
            .map(|f| (f.name.clone(), f.line_start))
            .filter(|k| unreported.contains(k))
            .collect();
        assert_eq!(extra, unreported, "{file}: functions radon does not report");
        let got: Vec<(String, usize, u32)> = found
            .iter()
            .filter(|f| !unreported.contains(&(f.name.clone(), f.line_start)))
            .map(|f| (f.name.clone(), f.line_start, f.complexity))
            .collect();
        let want: Vec<(String, usize, u32)> = blocks
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["name"].as_str().unwrap().to_owned(),
                    b["line"].as_u64().unwrap() as usize,
                    b["complexity"].as_u64().unwrap() as u32,
                )
            })
            .collect();
        assert_eq!(got, want, "{file} (radon {})", golden["radon"]);
        compared += want.len();
    }
    assert!(compared >= 100, "only {compared} functions compared");
}
