//! `docs/audit.schema.json` is the JSON Schema of `audit.json` as the code writes it.

use std::path::Path;

#[test]
fn committed_audit_schema_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/audit.schema.json");
    let expected = serde_json::to_string_pretty(&codex_audit::json_schema()).unwrap() + "\n";
    if std::env::var_os("CODEX_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "docs/audit.schema.json is out of date; regenerate it with \
         `CODEX_WRITE_SCHEMA=1 cargo test -p codex-audit --test schema`"
    );
}
