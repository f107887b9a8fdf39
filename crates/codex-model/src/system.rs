//! What this machine and build can run: `codex system`.

use codex_core::{BuildInfo, HostInfo, TextReport};
use serde_json::json;

use crate::device::{Backend, DeviceSpec, VisibleDevice, visible_devices};

const GIB: f64 = (1u64 << 30) as f64;

/// The machine, the build's backends and the devices they can use.
#[derive(Debug, Clone)]
pub struct SystemReport {
    /// The binary.
    pub build: BuildInfo,
    /// The machine.
    pub host: HostInfo,
    /// Memory available now, in bytes.
    pub memory_available: Option<u64>,
    /// The CPU and visible GPUs.
    pub devices: Vec<VisibleDevice>,
    /// What `device: auto` resolves to.
    pub auto_device: String,
}

impl SystemReport {
    /// Looks at this machine for the binary described by `build`.
    pub fn capture(build: BuildInfo) -> Self {
        let host = codex_core::host_info();
        Self {
            devices: visible_devices(&host),
            build,
            host,
            memory_available: codex_core::memory_available(),
            auto_device: DeviceSpec::Auto.resolve_auto().to_string(),
        }
    }

    /// The report as JSON (`codex system --json`).
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "codex": self.build,
            "host": self.host,
            "memory_available_bytes": self.memory_available,
            "backends": Backend::ALL.iter().map(|b| json!({
                "name": b.feature(),
                "compiled": b.is_compiled(),
                "description": b.description(),
            })).collect::<Vec<_>>(),
            "devices": self.devices,
            "auto_device": self.auto_device,
        })
    }

    /// The report as `key value` lines.
    pub fn to_text(&self) -> String {
        let mut out = machine(&self.build, &self.host, self.memory_available);
        out.push_str(&device_lines(&self.host, &self.devices));
        out.push_str(&format!("auto      resolves to `{}`\n", self.auto_device));
        out
    }
}

fn machine(build: &BuildInfo, host: &HostInfo, available: Option<u64>) -> String {
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
    TextReport::new(9)
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
        .finish()
}

fn device_lines(host: &HostInfo, devices: &[VisibleDevice]) -> String {
    let mut r = TextReport::new(0);
    r.line("devices");
    for d in devices {
        let usable = match (d.usable, d.backend) {
            (true, Some(b)) => format!("usable via {b}"),
            _ => "not usable: backend not compiled in".to_owned(),
        };
        r.line(format_args!(
            "  {:8}  {}  ({usable})",
            d.device,
            d.name.as_deref().unwrap_or("unknown")
        ));
    }
    if host.gpus.is_empty() {
        r.line("  (no NVIDIA GPU visible: no driver under /proc/driver/nvidia)");
    }
    if Backend::Wgpu.is_compiled() {
        r.line("  wgpu adapters are chosen by wgpu when first used (device `wgpu`)");
    }
    r.finish()
}
