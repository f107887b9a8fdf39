//! codex-audit's line counts equal tokei's on the fixtures (tokei's Rust doc
//! comments, which it reports as embedded Markdown, counted as comments).
//! Goldens: `scripts/goldens/audit_lines_goldens.py`.

use std::path::Path;

#[test]
fn line_counts_equal_tokei_on_the_fixtures() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("lines.tokei.json")).unwrap())
            .unwrap();
    let root = data.join("lines");
    let walked = codex_audit::inventory::walk(&root);
    assert!(walked.errors.is_empty(), "{:?}", walked.errors);
    let (files, _) = codex_audit::inventory::inventory(
        &root,
        &walked.files,
        &codex_audit::InventoryOptions::default(),
    );
    let expected = golden["files"].as_object().unwrap();
    assert_eq!(files.len(), expected.len());
    for f in &files {
        let want = &expected[&f.path];
        let got = f.lines.unwrap();
        assert_eq!(
            (got.code, got.comment, got.blank),
            (
                want["code"].as_u64().unwrap(),
                want["comment"].as_u64().unwrap(),
                want["blank"].as_u64().unwrap()
            ),
            "{} (tokei {})",
            f.path,
            golden["tokei"]
        );
    }
}
