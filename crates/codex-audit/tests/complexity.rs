//! Python cyclomatic complexity equal to radon's on the fixtures
//! (goldens: `scripts/goldens/audit_complexity_goldens.py`).

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
        let got: Vec<(String, usize, u32)> = found
            .iter()
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
    assert!(compared >= 15, "only {compared} functions compared");
}
