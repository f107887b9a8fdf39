//! System metrics: a sampler thread that records CPU (overall and per core),
//! process RSS, memory, swap, load and process disk I/O every interval, and
//! GPU utilization, memory, temperature and power through NVML when a driver
//! is present. Samples go to `system.ndjson` and to a callback (the sinks).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use codex_core::MetricRecord;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// GPU counters through NVML, when the library and a device are there.
struct Gpus {
    nvml: nvml_wrapper::Nvml,
    count: u32,
}

impl Gpus {
    /// NVML, or the reason it is not available.
    fn open() -> Result<Self, String> {
        let nvml = nvml_wrapper::Nvml::init().map_err(|e| e.to_string())?;
        let count = nvml.device_count().map_err(|e| e.to_string())?;
        if count == 0 {
            return Err("NVML found no GPU".into());
        }
        Ok(Self { nvml, count })
    }

    fn sample(&self, out: &mut Vec<(String, f64)>) {
        for i in 0..self.count {
            let Ok(d) = self.nvml.device_by_index(i) else {
                continue;
            };
            if let Ok(u) = d.utilization_rates() {
                out.push((format!("gpu{i}_utilization_percent"), f64::from(u.gpu)));
            }
            if let Ok(m) = d.memory_info() {
                out.push((format!("gpu{i}_memory_used_bytes"), m.used as f64));
                out.push((format!("gpu{i}_memory_total_bytes"), m.total as f64));
            }
            if let Ok(t) =
                d.temperature(nvml_wrapper::enum_wrappers::device::TemperatureSensor::Gpu)
            {
                out.push((format!("gpu{i}_temperature_celsius"), f64::from(t)));
            }
            if let Ok(p) = d.power_usage() {
                out.push((format!("gpu{i}_power_watts"), f64::from(p) / 1000.0));
            }
        }
    }
}

/// A running sampler; [`SystemSampler::stop`] (or dropping it) ends and joins its thread.
#[derive(Debug)]
pub struct SystemSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
    /// Why GPU metrics are missing, if they are.
    pub gpu_note: Option<String>,
}

/// Takes one sample of every metric.
fn sample(sys: &mut System, pid: Pid, gpus: Option<&Gpus>) -> Vec<(String, f64)> {
    sys.refresh_cpu_usage();
    sys.refresh_memory();
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing()
            .with_memory()
            .with_disk_usage()
            .with_cpu(),
    );
    let mut out = vec![("cpu_percent".to_owned(), f64::from(sys.global_cpu_usage()))];
    for (i, c) in sys.cpus().iter().enumerate() {
        out.push((format!("cpu{i}_percent"), f64::from(c.usage())));
    }
    out.push(("memory_used_bytes".into(), sys.used_memory() as f64));
    out.push(("memory_total_bytes".into(), sys.total_memory() as f64));
    out.push(("swap_used_bytes".into(), sys.used_swap() as f64));
    if let Ok(load) = System::load_average() {
        out.push(("load_1m".into(), load.one));
    }
    if let Some(p) = sys.process(pid) {
        out.push(("process_rss_bytes".into(), p.memory() as f64));
        out.push(("process_cpu_percent".into(), f64::from(p.cpu_usage())));
        let d = p.disk_usage();
        out.push(("process_disk_read_bytes".into(), d.total_read_bytes as f64));
        out.push((
            "process_disk_written_bytes".into(),
            d.total_written_bytes as f64,
        ));
    }
    if let Some(g) = gpus {
        g.sample(&mut out);
    }
    out
}

impl SystemSampler {
    /// Starts sampling every `interval` into `path` (appending), handing each
    /// sample's records to `on_sample`; `step` says which optimizer step the
    /// run is at.
    pub fn start(
        path: &Path,
        interval: Duration,
        step: Arc<std::sync::atomic::AtomicU64>,
        mut on_sample: impl FnMut(&[MetricRecord]) + Send + 'static,
    ) -> std::io::Result<Self> {
        let mut file = std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        );
        let (gpus, gpu_note) = match Gpus::open() {
            Ok(g) => (Some(g), None),
            Err(e) => (None, Some(format!("no GPU metrics: {e}"))),
        };
        if let Some(n) = &gpu_note {
            // The usual case on a machine without an NVIDIA driver: not news.
            tracing::debug!("{n}");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let pid = sysinfo::get_current_pid().map_err(std::io::Error::other)?;
        let thread = std::thread::Builder::new()
            .name("codex-system".into())
            .spawn(move || {
                let Ok(mut sys) = System::new() else { return };
                // CPU usage is a difference between two refreshes.
                sys.refresh_cpu_usage();
                let mut next = Instant::now()
                    + interval
                        .min(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.max(Duration::from_millis(200)));
                loop {
                    while Instant::now() < next {
                        if flag.load(Ordering::Relaxed) {
                            let _ = file.flush();
                            return;
                        }
                        std::thread::sleep((next - Instant::now()).min(Duration::from_millis(50)));
                    }
                    next += interval;
                    let wall = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
                    let s = step.load(Ordering::Relaxed);
                    let records: Vec<MetricRecord> = sample(&mut sys, pid, gpus.as_ref())
                        .into_iter()
                        .map(|(name, value)| MetricRecord {
                            step: s,
                            epoch: 0,
                            split: "system".into(),
                            name,
                            value,
                            wall_time: wall,
                        })
                        .collect();
                    for r in &records {
                        if let Ok(line) = serde_json::to_string(r) {
                            let _ = writeln!(file, "{line}");
                        }
                    }
                    let _ = file.flush();
                    on_sample(&records);
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
            path: path.to_owned(),
            gpu_note,
        })
    }

    /// Where samples go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the thread and waits for it; returns whether it had ended cleanly.
    pub fn stop(mut self) -> bool {
        self.halt()
    }

    fn halt(&mut self) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().is_none_or(|t| t.join().is_ok())
    }
}

impl Drop for SystemSampler {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn samples_are_written_and_the_thread_ends_with_the_sampler() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.ndjson");
        let seen = Arc::new(Mutex::new(0usize));
        let counter = Arc::clone(&seen);
        let sampler = SystemSampler::start(
            &path,
            Duration::from_millis(100),
            Arc::new(AtomicU64::new(7)),
            move |r| {
                *counter.lock().unwrap() += r.len();
            },
        )
        .unwrap();
        let weak = Arc::downgrade(&seen);
        std::thread::sleep(Duration::from_millis(450));
        assert!(sampler.stop());
        // The thread held the only other reference to the counter; it is gone.
        drop(seen);
        assert!(
            weak.upgrade().is_none(),
            "the sampler thread outlived stop()"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let rows: Vec<MetricRecord> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(
            rows.iter()
                .any(|r| r.name == "process_rss_bytes" && r.value > 0.0),
            "{text}"
        );
        assert!(rows.iter().all(|r| r.split == "system" && r.step == 7));
        let samples = rows.iter().filter(|r| r.name == "cpu_percent").count();
        assert!(samples >= 1, "no sample in 450 ms at a 100 ms interval");
    }
}
