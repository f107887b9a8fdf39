//! `codex system`: CPU, memory, compiled backends and visible devices.

use std::fmt::Write;

use anyhow::Result;
use codex_core::{BuildInfo, HostInfo};
use codex_model::{Backend, DeviceSpec, VisibleDevice};
use serde_json::json;

use super::build_info;
use super::text::Report;

const GIB: f64 = (1u64 << 30) as f64;

pub(super) fn run(as_json: bool) -> Result<String> {
    let host = codex_core::host_info();
    let build = build_info();
    let available = {
        use sysinfo::{MemoryRefreshKind, RefreshKind, System};
        System::new_with_specifics(
            RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
        )
        .map(|s| s.available_memory())
        .ok()
    };
    let devices = codex_model::visible_devices(&host);
    let auto = DeviceSpec::Auto.resolve_auto().to_string();
    if as_json {
        let value = json!({
            "codex": build,
            "host": host,
            "memory_available_bytes": available,
            "backends": Backend::ALL.iter().map(|b| json!({
                "name": b.feature(),
                "compiled": b.is_compiled(),
                "description": b.description(),
            })).collect::<Vec<_>>(),
            "devices": devices,
            "auto_device": auto,
        });
        return Ok(serde_json::to_string_pretty(&value)? + "\n");
    }
    let mut out = String::new();
    machine(&mut out, &build, &host, available)?;
    device_lines(&mut out, &host, &devices)?;
    writeln!(out, "auto      resolves to `{auto}`")?;
    Ok(out)
}

fn machine(
    out: &mut String,
    build: &BuildInfo,
    host: &HostInfo,
    available: Option<u64>,
) -> Result<()> {
    let commit = build
        .git_commit
        .as_deref()
        .map_or("no git commit", |c| &c[..12.min(c.len())]);
    let available = available.map_or(String::new(), |a| {
        format!(", {:.1} GiB available", a as f64 / GIB)
    });
    let compiled: Vec<String> = Backend::ALL
        .iter()
        .map(|b| {
            let state = if b.is_compiled() {
                "compiled"
            } else {
                "not compiled"
            };
            format!("{} [{state}]", b.feature())
        })
        .collect();
    out.push_str(
        &Report::new(9)
            .kv(
                "codex",
                format_args!(
                    "{} ({commit}, {} build, {})",
                    build.version, build.profile, build.target
                ),
            )
            .kv(
                "cpu",
                format_args!(
                    "{} ({} logical, {} physical)",
                    host.cpu_model.as_deref().unwrap_or("unknown model"),
                    host.cpu_logical,
                    host.cpu_physical.map_or("?".into(), |n| n.to_string())
                ),
            )
            .kv(
                "memory",
                format_args!("{:.1} GiB total{available}", host.memory_bytes as f64 / GIB),
            )
            .kv(
                "os",
                format_args!(
                    "{} (kernel {}, {})",
                    host.os.as_deref().unwrap_or("unknown"),
                    host.kernel.as_deref().unwrap_or("?"),
                    host.arch
                ),
            )
            .kv("backends", compiled.join(", "))
            .finish(),
    );
    Ok(())
}

fn device_lines(out: &mut String, host: &HostInfo, devices: &[VisibleDevice]) -> Result<()> {
    writeln!(out, "devices")?;
    for d in devices {
        let usable = match (d.usable, d.backend) {
            (true, Some(b)) => format!("usable via {b}"),
            _ => "not usable: backend not compiled in".to_owned(),
        };
        writeln!(
            out,
            "  {:8}  {}  ({usable})",
            d.device,
            d.name.as_deref().unwrap_or("unknown")
        )?;
    }
    if host.gpus.is_empty() {
        writeln!(
            out,
            "  (no NVIDIA GPU visible: no driver under /proc/driver/nvidia)"
        )?;
    }
    if Backend::Wgpu.is_compiled() {
        writeln!(
            out,
            "  wgpu adapters are chosen by wgpu when first used (device `wgpu`)"
        )?;
    }
    Ok(())
}
