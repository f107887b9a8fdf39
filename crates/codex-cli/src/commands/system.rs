//! `codex system`: CPU, memory, compiled backends and visible devices.

use anyhow::Result;
use codex_model::SystemReport;

pub(super) fn run(as_json: bool) -> Result<String> {
    let report = SystemReport::capture(super::build_info());
    Ok(if as_json {
        serde_json::to_string_pretty(&report.to_json())? + "\n"
    } else {
        report.to_text()
    })
}
