//! Training against a real MLflow tracking server (`mlflow server` on
//! 127.0.0.1), and a server that dies mid-run.
//!
//! These start their own servers and need the `mlflow` executable:
//! `CODEX_TEST_MLFLOW=/path/to/venv/bin/mlflow cargo test -p codex-cli --test mlflow`.
//! Without the variable they say so and pass; `.ci/run` installs MLflow into a
//! venv and sets it, so they always run in CI.
#![allow(clippy::print_stderr, reason = "a skipped test says why")]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TINY: &[&str] = &[
    "run.name=tiny",
    "data.synthetic_bytes=150000",
    "tokenizer.vocab_size=320",
    "model.n_layer=1",
    "model.d_model=64",
    "model.n_head=2",
    "model.n_kv_head=1",
    "model.d_ff=64",
    "model.context_length=64",
    "train.batch_size=8",
    "train.warmup_steps=2",
    "train.eval_every=10",
    "train.eval_batches=2",
    "train.checkpoint_every=20",
    "track.system_interval_secs=0.5",
];

fn mlflow_exe() -> Option<PathBuf> {
    match std::env::var_os("CODEX_TEST_MLFLOW") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!(
                "skipped: set CODEX_TEST_MLFLOW to an `mlflow` executable to run the MLflow integration tests"
            );
            None
        }
    }
}

/// An `mlflow server` on a free port, killed when dropped.
struct Server {
    child: Child,
    uri: String,
}

impl Server {
    fn start(exe: &Path, store: &Path, port: u16) -> Self {
        let child = Command::new(exe)
            .args([
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--workers",
                "1",
            ])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", store.join("mlflow.db").display()))
            .arg("--artifacts-destination")
            .arg(store.join("artifacts"))
            // Without MLflow's job runner (a process and seven huey consumers
            // for its GenAI jobs, which codex never submits): these three
            // tests took 36 s and 49 s of the machine's CPU instead of 82 s
            // and 149 s.
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            // MLflow leaves a lock file per database in the temporary
            // directory; this one goes away with the store.
            .env("TMPDIR", store)
            .current_dir(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that stopping it also stops its workers.
            .process_group(0)
            .spawn()
            .expect("mlflow server starts");
        let mut server = Self {
            child,
            uri: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && get(&server.uri, "experiments/search", &[("max_results", "1")]).is_some()
            {
                return server;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        server.stop();
        panic!("mlflow server on port {port} did not come up in 120 s");
    }

    fn stop(&mut self) {
        // `kill -s KILL -- -PGID`: the `--` keeps the negative id from being read as an option.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Wait until nothing answers on the port any more.
        let host = self.uri.trim_start_matches("http://").to_owned();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&host).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET on the REST API with `curl`-free plain HTTP (no client crate in tests).
fn get(uri: &str, endpoint: &str, query: &[(&str, &str)]) -> Option<Value> {
    use std::io::{Read, Write};
    let host = uri.trim_start_matches("http://");
    let mut q = String::new();
    for (i, (k, v)) in query.iter().enumerate() {
        q.push(if i == 0 { '?' } else { '&' });
        let enc: String = v
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        q.push_str(&format!("{k}={enc}"));
    }
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(
        s,
        "GET /api/2.0/mlflow/{endpoint}{q} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let text = String::from_utf8_lossy(&resp);
    let (head, body) = text.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    serde_json::from_str(&body).ok()
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

fn codex(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_codex"));
    cmd.current_dir(dir).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("CODEX_") || k.starts_with("MLFLOW_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn only_run(dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn history(uri: &str, run_id: &str, key: &str) -> Vec<(u64, f64)> {
    let v = get(
        uri,
        "metrics/get-history",
        &[
            ("run_id", run_id),
            ("metric_key", key),
            ("max_results", "25000"),
        ],
    )
    .expect("history");
    let mut h: Vec<(u64, f64)> = v["metrics"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| {
                    (
                        m["step"].as_u64().unwrap_or(0),
                        m["value"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    h.sort_by_key(|a| a.0);
    h
}

#[test]
fn a_run_is_visible_in_mlflow_with_params_metrics_tags_status_and_artifacts() {
    let Some(exe) = mlflow_exe() else { return };
    let store = tempfile::tempdir().unwrap();
    let server = Server::start(&exe, store.path(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let o = codex(dir.path())
        .arg("train")
        .args(TINY)
        .args([
            "train.max_steps=30",
            &format!("track.mlflow.uri={}", server.uri),
            "track.mlflow.experiment=codex-test",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = only_run(dir.path());
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let m = &summary["mlflow"];
    assert_eq!(m["metrics_unsent"], 0, "{m}");
    let run_id = m["run_id"].as_str().unwrap();

    let r = get(&server.uri, "runs/get", &[("run_id", run_id)]).expect("runs/get");
    assert_eq!(r["run"]["info"]["status"], "FINISHED");
    let params = r["run"]["data"]["params"].as_array().unwrap();
    let param = |k: &str| {
        params
            .iter()
            .find(|p| p["key"] == k)
            .map(|p| p["value"].clone())
    };
    assert_eq!(param("train.max_steps"), Some(Value::from("30")));
    assert_eq!(param("model.d_model"), Some(Value::from("64")));
    let tags = r["run"]["data"]["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["key"] == "codex.run_dir"), "{tags:?}");

    // Every train loss in metrics.ndjson, with its step, is on the server.
    let local: Vec<(u64, f64)> = ndjson(&run.join("metrics.ndjson"))
        .iter()
        .filter(|r| r["split"] == "train" && r["name"] == "loss")
        .map(|r| (r["step"].as_u64().unwrap(), r["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(local.len(), 30);
    assert_eq!(history(&server.uri, run_id, "train/loss"), local);
    assert!(!history(&server.uri, run_id, "system/process_rss_bytes").is_empty());

    let a = get(&server.uri, "artifacts/list", &[("run_id", run_id)]).expect("artifacts/list");
    let files: Vec<&str> = a["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    for f in ["config.yaml", "report.md", "summary.json", "checkpoints"] {
        assert!(files.contains(&f), "{f} not in {files:?}");
    }
}

#[test]
fn a_server_that_dies_mid_run_loses_nothing_and_sync_fills_it_later() {
    let Some(exe) = mlflow_exe() else { return };
    let store = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(&exe, store.path(), port);
    let dir = tempfile::tempdir().unwrap();
    let child = codex(dir.path())
        .arg("train")
        .args(TINY)
        .args([
            "train.max_steps=400",
            &format!("track.mlflow.uri={}", server.uri),
            "track.mlflow.close_timeout_secs=2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until training has logged something, then take the server away.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let logged = std::fs::read_dir(dir.path().join("runs"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_to_string(e.ok()?.path().join("metrics.ndjson")).ok())
            .is_some_and(|t| t.lines().count() > 20);
        if logged || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "training must finish without its server: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("sync-mlflow"), "{out}");
    let run = only_run(dir.path());
    let rows = ndjson(&run.join("metrics.ndjson"));
    let losses = rows
        .iter()
        .filter(|r| r["split"] == "train" && r["name"] == "loss")
        .count();
    assert_eq!(losses, 400, "metrics.ndjson lost records");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert!(
        summary["mlflow"]["metrics_unsent"].as_u64().unwrap() > 0,
        "{}",
        summary["mlflow"]
    );

    // The server comes back; the run directory is replayed into it.
    let server = Server::start(&exe, store.path(), port);
    let o = codex(dir.path())
        .args(["runs", "sync-mlflow"])
        .arg(&run)
        .args(["--uri", &server.uri])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let synced: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("mlflow.json")).unwrap()).unwrap();
    let run_id = synced["run_id"].as_str().unwrap();
    assert_eq!(history(&server.uri, run_id, "train/loss").len(), 400);
    let r = get(&server.uri, "runs/get", &[("run_id", run_id)]).unwrap();
    assert_eq!(r["run"]["info"]["status"], "FINISHED");
}

#[test]
fn a_run_killed_and_resumed_is_one_mlflow_run_with_the_whole_curve() {
    let Some(exe) = mlflow_exe() else { return };
    let store = tempfile::tempdir().unwrap();
    let server = Server::start(&exe, store.path(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("track.mlflow.uri={}", server.uri);
    let args = |extra: &[&str]| -> Vec<String> {
        TINY.iter()
            .copied()
            .chain([
                "train.max_steps=120",
                "train.checkpoint_every=20",
                uri.as_str(),
            ])
            .chain(extra.iter().copied())
            .map(str::to_owned)
            .collect()
    };
    let mut child = codex(dir.path())
        .arg("train")
        .args(args(&[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // SIGKILL once a checkpoint exists and MLflow has steps past it.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let run = std::fs::read_dir(dir.path().join("runs"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path());
        let past = run.as_ref().is_some_and(|r| {
            r.join("checkpoints/step-00000040").is_dir() && r.join("mlflow.json").is_file()
        });
        if past || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    let _ = child.wait();
    let run = only_run(dir.path());
    let recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("mlflow.json")).unwrap()).unwrap();
    let run_id = recorded["run_id"].as_str().unwrap().to_owned();
    let before = history(&server.uri, &run_id, "train/loss");
    assert!(!before.is_empty());

    let o = codex(dir.path())
        .arg("train")
        .arg("--resume")
        .arg(&run)
        .args(args(&[]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // One MLflow run: the one the run started, now finished, holding every
    // step once, equal to metrics.ndjson.
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["mlflow"]["run_id"],
        run_id.as_str(),
        "the resumed run wrote elsewhere"
    );
    assert_eq!(summary["mlflow"]["metrics_unsent"], 0);
    let r = get(&server.uri, "runs/get", &[("run_id", &run_id)]).expect("runs/get");
    assert_eq!(r["run"]["info"]["status"], "FINISHED");
    let local: Vec<(u64, f64)> = ndjson(&run.join("metrics.ndjson"))
        .iter()
        .filter(|r| r["split"] == "train" && r["name"] == "loss")
        .map(|r| (r["step"].as_u64().unwrap(), r["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(local.len(), 120);
    let after = history(&server.uri, &run_id, "train/loss");
    assert_eq!(
        after,
        local,
        "every step once (killed at step {})",
        before.len()
    );
}
