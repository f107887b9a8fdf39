//! `codex system`: CPU, memory, compiled backends and visible devices.

use std::fmt::Write;

use anyhow::Result;
use codex_model::{Backend, DeviceSpec};
use serde_json::json;

use super::build_info;

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
    let cpu_backend = DeviceSpec::Cpu.backend().ok();
    let auto = DeviceSpec::Auto.resolve_auto();

    // Visible devices: the CPU, and every NVIDIA GPU the driver reports, with
    // whether this build can use it.
    let mut devices = Vec::new();
    devices.push(json!({
        "device": "cpu",
        "name": host.cpu_model,
        "usable": cpu_backend.is_some(),
        "backend": cpu_backend.map(Backend::feature),
    }));
    for (i, gpu) in host.gpus.iter().enumerate() {
        devices.push(json!({
            "device": format!("cuda:{i}"),
            "name": gpu,
            "usable": Backend::Cuda.is_compiled(),
            "backend": Backend::Cuda.is_compiled().then_some("cuda"),
        }));
    }

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
            "auto_device": auto.to_string(),
        });
        let mut s = serde_json::to_string_pretty(&value)?;
        s.push('\n');
        return Ok(s);
    }

    let mut out = String::new();
    writeln!(
        out,
        "codex     {} ({}, {} build, {})",
        build.version,
        build
            .git_commit
            .as_deref()
            .map_or("no git commit", |c| &c[..12.min(c.len())]),
        build.profile,
        build.target
    )?;
    writeln!(
        out,
        "cpu       {} ({} logical, {} physical)",
        host.cpu_model.as_deref().unwrap_or("unknown model"),
        host.cpu_logical,
        host.cpu_physical.map_or("?".into(), |n| n.to_string())
    )?;
    writeln!(
        out,
        "memory    {:.1} GiB total{}",
        host.memory_bytes as f64 / GIB,
        available.map_or(String::new(), |a| format!(
            ", {:.1} GiB available",
            a as f64 / GIB
        ))
    )?;
    writeln!(
        out,
        "os        {} (kernel {}, {})",
        host.os.as_deref().unwrap_or("unknown"),
        host.kernel.as_deref().unwrap_or("?"),
        host.arch
    )?;
    let compiled: Vec<_> = Backend::ALL
        .iter()
        .map(|b| {
            format!(
                "{} [{}]",
                b.feature(),
                if b.is_compiled() {
                    "compiled"
                } else {
                    "not compiled"
                }
            )
        })
        .collect();
    writeln!(out, "backends  {}", compiled.join(", "))?;
    writeln!(out, "devices")?;
    for d in &devices {
        let usable = if d["usable"].as_bool() == Some(true) {
            format!("usable via {}", d["backend"].as_str().unwrap_or("?"))
        } else {
            "not usable: backend not compiled in".to_owned()
        };
        writeln!(
            out,
            "  {:8}  {}  ({usable})",
            d["device"].as_str().unwrap_or("?"),
            d["name"].as_str().unwrap_or("unknown")
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
    writeln!(out, "auto      resolves to `{auto}`")?;
    Ok(out)
}
