//! MLflow over its REST API: experiment, run, tags, params, batched metrics,
//! artifacts and status, sent by a background thread so the caller never waits
//! on the network.
//!
//! A server that is down or answers 5xx is retried with exponential backoff
//! (250 ms doubling to 30 s) while records queue in memory; the first failure
//! is reported once, and what could not be sent by [`MetricSink::close`] is in
//! the [`MlflowReport`]. The NDJSON file is the source of truth:
//! `codex runs sync-mlflow` replays a run directory later.
//!
//! Credentials come from `MLFLOW_TRACKING_TOKEN` (bearer) or
//! `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD` (basic); they are
//! sent in headers and never logged or written.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use codex_core::{MetricRecord, MetricSink, SinkError};
use serde::Serialize;
use serde_json::{Value, json};

/// Metrics per `log-batch` request (the server's limit is 1000).
const METRICS_PER_BATCH: usize = 1000;
/// Params per `log-batch` request (the server's limit is 100).
const PARAMS_PER_BATCH: usize = 100;
/// `log-batch` requests in flight at once.
const PARALLEL: usize = 8;
/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What went wrong talking to MLflow.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MlflowError {
    /// The server could not be reached.
    #[error("MLflow at {uri} is unreachable: {message}")]
    Unreachable {
        /// Tracking URI.
        uri: String,
        /// Transport error.
        message: String,
    },
    /// The server answered with an error status.
    #[error("MLflow at {uri} answered {status} to {endpoint}: {body}")]
    Status {
        /// Tracking URI.
        uri: String,
        /// The API endpoint.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The response body (MLflow's error code and message).
        body: String,
    },
    /// The server's answer was not what the API documents.
    #[error("MLflow at {uri}: unexpected answer to {endpoint}: {body}")]
    Protocol {
        /// Tracking URI.
        uri: String,
        /// The API endpoint.
        endpoint: String,
        /// The body.
        body: String,
    },
}

impl MlflowError {
    /// Whether retrying later may succeed (transport errors, 429 and 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Protocol { .. } => false,
        }
    }
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `uri` without its userinfo, and the userinfo (`user:password`) if any.
fn split_userinfo(uri: &str) -> (String, Option<String>) {
    let Some(scheme_end) = uri.find("://") else {
        return (uri.to_owned(), None);
    };
    let after = scheme_end + 3;
    let authority_end = uri[after..]
        .find(['/', '?', '#'])
        .map_or(uri.len(), |i| after + i);
    match uri[after..authority_end].rfind('@') {
        Some(at) => (
            format!("{}{}", &uri[..after], &uri[after + at + 1..]),
            Some(uri[after..after + at].to_owned()),
        ),
        None => (uri.to_owned(), None),
    }
}

/// `%XX` escapes of a URI's userinfo decoded (invalid escapes kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A blocking MLflow REST client.
#[derive(Clone)]
pub struct Client {
    uri: String,
    agent: ureq::Agent,
    auth: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials are never printed.
        f.debug_struct("Client")
            .field("uri", &self.uri)
            .field("auth", &self.auth.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Client {
    /// A client for `uri` with credentials from the environment.
    pub fn new(uri: &str) -> Self {
        let auth = match std::env::var("MLFLOW_TRACKING_TOKEN") {
            Ok(t) if !t.is_empty() => Some(format!("Bearer {t}")),
            _ => match (
                std::env::var("MLFLOW_TRACKING_USERNAME"),
                std::env::var("MLFLOW_TRACKING_PASSWORD"),
            ) {
                (Ok(u), Ok(p)) => Some(format!("Basic {}", base64(format!("{u}:{p}").as_bytes()))),
                _ => None,
            },
        };
        // Credentials in the URI (`http://user:pass@host`) authenticate when
        // the environment gives none, and never stay in the URI the client
        // keeps, prints or puts in an error.
        let (uri, userinfo) = split_userinfo(uri);
        let auth = auth.or_else(|| {
            userinfo
                .filter(|u| !codex_core::redact::is_redacted(u))
                .map(|u| format!("Basic {}", base64(percent_decode(&u).as_bytes())))
        });
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build();
        Self {
            uri: codex_core::redact::redact_uri(uri.trim_end_matches('/')).into_owned(),
            agent: config.into(),
            auth,
        }
    }

    /// The tracking URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn finish(
        &self,
        endpoint: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, MlflowError> {
        let mut resp = r.map_err(|e| MlflowError::Unreachable {
            uri: self.uri.clone(),
            message: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(MlflowError::Status {
                uri: self.uri.clone(),
                endpoint: endpoint.to_owned(),
                status,
                body,
            });
        }
        if body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&body).map_err(|_| MlflowError::Protocol {
            uri: self.uri.clone(),
            endpoint: endpoint.to_owned(),
            body,
        })
    }

    /// `GET` an API endpoint with query parameters.
    pub fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, MlflowError> {
        let mut req = self
            .agent
            .get(format!("{}/api/2.0/mlflow/{endpoint}", self.uri));
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        self.finish(endpoint, req.call())
    }

    /// `POST` JSON to an API endpoint.
    pub fn post(&self, endpoint: &str, body: &Value) -> Result<Value, MlflowError> {
        let mut req = self
            .agent
            .post(format!("{}/api/2.0/mlflow/{endpoint}", self.uri))
            .content_type("application/json");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        self.finish(endpoint, req.send(body.to_string()))
    }

    /// Uploads an artifact through the server's proxied artifact store.
    pub fn put_artifact(
        &self,
        artifact_uri: &str,
        path: &str,
        bytes: &[u8],
    ) -> Result<(), MlflowError> {
        let root = artifact_uri.strip_prefix("mlflow-artifacts:").map(|r| r.trim_start_matches('/')).ok_or_else(|| {
            MlflowError::Protocol {
                uri: self.uri.clone(),
                endpoint: "artifacts".into(),
                body: format!("artifact URI `{artifact_uri}` is not served by the tracking server (mlflow-artifacts:)"),
            }
        })?;
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{root}/{path}",
            self.uri
        );
        let mut req = self
            .agent
            .put(&url)
            .content_type("application/octet-stream");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        self.finish("mlflow-artifacts", req.send(bytes)).map(|_| ())
    }

    /// The id of experiment `name`, created when missing.
    pub fn experiment_id(&self, name: &str) -> Result<String, MlflowError> {
        match self.get("experiments/get-by-name", &[("experiment_name", name)]) {
            Ok(v) => v["experiment"]["experiment_id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| MlflowError::Protocol {
                    uri: self.uri.clone(),
                    endpoint: "experiments/get-by-name".into(),
                    body: v.to_string(),
                }),
            Err(MlflowError::Status { status: 404, .. }) => {
                let v = self.post("experiments/create", &json!({ "name": name }))?;
                v["experiment_id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| MlflowError::Protocol {
                        uri: self.uri.clone(),
                        endpoint: "experiments/create".into(),
                        body: v.to_string(),
                    })
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a run; returns its id and artifact URI.
    pub fn create_run(
        &self,
        experiment_id: &str,
        name: &str,
        tags: &[(String, String)],
    ) -> Result<(String, String), MlflowError> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect();
        let v = self.post(
            "runs/create",
            &json!({
                "experiment_id": experiment_id,
                "run_name": name,
                "start_time": chrono::Utc::now().timestamp_millis(),
                "tags": tags,
            }),
        )?;
        let info = &v["run"]["info"];
        match (info["run_id"].as_str(), info["artifact_uri"].as_str()) {
            (Some(id), Some(a)) => Ok((id.to_owned(), a.to_owned())),
            _ => Err(MlflowError::Protocol {
                uri: self.uri.clone(),
                endpoint: "runs/create".into(),
                body: v.to_string(),
            }),
        }
    }

    /// Logs params and metrics in batches of the server's limits.
    pub fn log_batch(
        &self,
        run_id: &str,
        params: &[(String, String)],
        metrics: &[MetricRecord],
    ) -> Result<(), MlflowError> {
        for chunk in params.chunks(PARAMS_PER_BATCH) {
            let params: Vec<Value> = chunk
                .iter()
                .map(|(k, v)| json!({ "key": k, "value": v }))
                .collect();
            self.post(
                "runs/log-batch",
                &json!({ "run_id": run_id, "params": params }),
            )?;
        }
        for chunk in metrics.chunks(METRICS_PER_BATCH) {
            let metrics: Vec<Value> = chunk.iter().map(metric_json).collect();
            self.post(
                "runs/log-batch",
                &json!({ "run_id": run_id, "metrics": metrics }),
            )?;
        }
        Ok(())
    }

    /// The last step logged for each metric key of a run (MLflow keeps each
    /// key's latest value with its step).
    pub fn latest_steps(&self, run_id: &str) -> Result<BTreeMap<String, u64>, MlflowError> {
        let v = self.get("runs/get", &[("run_id", run_id)])?;
        let mut out = BTreeMap::new();
        if let Some(metrics) = v["run"]["data"]["metrics"].as_array() {
            for m in metrics {
                let step = m["step"]
                    .as_u64()
                    .or_else(|| m["step"].as_str().and_then(|s| s.parse().ok()));
                if let (Some(key), Some(step)) = (m["key"].as_str(), step) {
                    out.insert(key.to_owned(), step);
                }
            }
        }
        Ok(out)
    }

    /// Marks a run as running again (a resumed codex run).
    pub fn reopen_run(&self, run_id: &str) -> Result<(), MlflowError> {
        self.post(
            "runs/update",
            &json!({ "run_id": run_id, "status": "RUNNING" }),
        )
        .map(|_| ())
    }

    /// Sets a run's final status (`FINISHED`, `FAILED`, `KILLED`).
    pub fn finish_run(&self, run_id: &str, status: &str) -> Result<(), MlflowError> {
        self.post(
            "runs/update",
            &json!({ "run_id": run_id, "status": status, "end_time": chrono::Utc::now().timestamp_millis() }),
        )
        .map(|_| ())
    }
}

/// A metric as MLflow's JSON wants it: `split/name`, milliseconds, and the
/// protobuf JSON spellings of non-finite values.
fn metric_json(r: &MetricRecord) -> Value {
    let value = if r.value.is_finite() {
        json!(r.value)
    } else if r.value.is_nan() {
        json!("NaN")
    } else if r.value > 0.0 {
        json!("Infinity")
    } else {
        json!("-Infinity")
    };
    json!({
        "key": format!("{}/{}", r.split, r.name),
        "value": value,
        "timestamp": (r.wall_time * 1000.0) as i64,
        "step": r.step,
    })
}

/// MLflow run status for a codex close status.
pub fn run_status(status: &str) -> &'static str {
    match status {
        "finished" => "FINISHED",
        "killed" => "KILLED",
        _ => "FAILED",
    }
}

/// Where a run should go.
#[derive(Debug, Clone)]
pub struct MlflowTarget {
    /// Tracking URI.
    pub uri: String,
    /// Experiment name.
    pub experiment: String,
    /// Run name.
    pub run_name: String,
    /// Tags set when the run is created.
    pub tags: Vec<(String, String)>,
    /// How long [`MetricSink::close`] keeps trying to send what is queued.
    pub close_timeout: Duration,
    /// Where the run's MLflow identity is kept (`<run>/mlflow.json`), written
    /// when the MLflow run is created.
    pub state: Option<std::path::PathBuf>,
    /// A resumed codex run: continue this MLflow run rather than create one.
    pub resume: Option<MlflowRun>,
}

/// An MLflow run a codex run writes to, as `<run>/mlflow.json` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MlflowRun {
    /// Tracking URI, credentials redacted.
    pub uri: String,
    /// Experiment id.
    pub experiment_id: String,
    /// Run id.
    pub run_id: String,
    /// Where its artifacts go.
    pub artifact_uri: String,
}

/// What the MLflow sink managed to do.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MlflowReport {
    /// Tracking URI.
    pub uri: String,
    /// Experiment id, once known.
    pub experiment_id: Option<String>,
    /// Run id, once created.
    pub run_id: Option<String>,
    /// Metrics the server accepted.
    pub metrics_sent: u64,
    /// Metrics still queued at close.
    pub metrics_unsent: u64,
    /// Params sent.
    pub params_sent: u64,
    /// Artifacts uploaded.
    pub artifacts_sent: u64,
    /// Artifacts not uploaded.
    pub artifacts_unsent: u64,
    /// Whether the final status was set.
    pub status_set: bool,
    /// Failures, oldest first (at most 20).
    pub errors: Vec<String>,
}

enum Msg {
    Params(Vec<(String, String)>),
    Metrics(Vec<MetricRecord>),
    Artifact(String, Vec<u8>),
    Close(String),
}

/// Sends a run to MLflow from a background thread.
pub struct MlflowSink {
    tx: Option<mpsc::Sender<Msg>>,
    worker: Option<JoinHandle<MlflowReport>>,
    report: Option<MlflowReport>,
}

impl std::fmt::Debug for MlflowSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowSink")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl MlflowSink {
    /// Starts the sender thread; nothing is sent until there is something to send.
    pub fn start(target: MlflowTarget) -> Self {
        let (tx, rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("codex-mlflow".into())
            .spawn(move || Worker::new(target).run(&rx))
            .expect("the MLflow sender thread starts");
        Self {
            tx: Some(tx),
            worker: Some(worker),
            report: None,
        }
    }

    /// Queues an artifact (uploaded under `path` in the run's artifacts).
    pub fn log_artifact(&mut self, path: &str, bytes: Vec<u8>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Artifact(path.to_owned(), bytes));
        }
    }

    /// The report, after [`MetricSink::close`].
    pub fn report(&self) -> Option<&MlflowReport> {
        self.report.as_ref()
    }
}

impl MetricSink for MlflowSink {
    fn name(&self) -> &str {
        "mlflow"
    }

    fn log_params(&mut self, params: &BTreeMap<String, String>) -> Result<(), SinkError> {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Params(
                params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ));
        }
        Ok(())
    }

    fn log_metrics(&mut self, records: &[MetricRecord]) -> Result<(), SinkError> {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Metrics(records.to_vec()));
        }
        Ok(())
    }

    /// Never waits for the network: the sender thread sends as it can.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn close(&mut self, status: &str) -> Result<(), SinkError> {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Msg::Close(status.to_owned()));
        }
        if let Some(w) = self.worker.take() {
            let report = w.join().map_err(|_| "the MLflow sender thread panicked")?;
            let incomplete =
                report.metrics_unsent > 0 || report.artifacts_unsent > 0 || !report.status_set;
            self.report = Some(report.clone());
            if incomplete {
                return Err(format!(
                    "MLflow at {} did not receive everything ({} metrics, {} artifacts unsent{}); \
                     metrics.ndjson is complete, replay it with `codex runs sync-mlflow`",
                    report.uri,
                    report.metrics_unsent,
                    report.artifacts_unsent,
                    report
                        .errors
                        .last()
                        .map(|e| format!("; last error: {e}"))
                        .unwrap_or_default()
                )
                .into());
            }
        }
        Ok(())
    }
}

impl Drop for MlflowSink {
    fn drop(&mut self) {
        // A sink dropped without close still stops its thread.
        if self.worker.is_some() {
            let _ = self.close("killed");
        }
    }
}

struct Worker {
    client: Client,
    target: MlflowTarget,
    run: Option<(String, String)>,
    params: VecDeque<(String, String)>,
    metrics: VecDeque<MetricRecord>,
    artifacts: VecDeque<(String, Vec<u8>)>,
    report: MlflowReport,
    backoff: Duration,
    next_try: Instant,
    warned: bool,
    /// On resume: the last step MLflow already holds for each key.
    skip_through: BTreeMap<String, u64>,
}

impl Worker {
    fn new(target: MlflowTarget) -> Self {
        Self {
            client: Client::new(&target.uri),
            report: MlflowReport {
                uri: codex_core::redact::redact_uri(&target.uri).into_owned(),
                ..MlflowReport::default()
            },
            target,
            run: None,
            params: VecDeque::new(),
            metrics: VecDeque::new(),
            artifacts: VecDeque::new(),
            backoff: Duration::from_millis(250),
            next_try: Instant::now(),
            warned: false,
            skip_through: BTreeMap::new(),
        }
    }

    fn take(&mut self, msg: Msg) -> Option<String> {
        match msg {
            Msg::Params(p) => self.params.extend(p),
            Msg::Metrics(m) => {
                let skip = &self.skip_through;
                self.metrics.extend(m.into_iter().filter(|r| {
                    skip.get(&format!("{}/{}", r.split, r.name))
                        .is_none_or(|&last| r.step > last)
                }));
            }
            Msg::Artifact(p, b) => self.artifacts.push_back((p, b)),
            Msg::Close(s) => return Some(s),
        }
        None
    }

    fn pending(&self) -> bool {
        !(self.params.is_empty() && self.metrics.is_empty() && self.artifacts.is_empty())
            || self.run.is_none()
    }

    fn run(mut self, rx: &mpsc::Receiver<Msg>) -> MlflowReport {
        let mut closing: Option<(String, Instant)> = None;
        loop {
            let wait = if closing.is_some() {
                Duration::from_millis(10)
            } else if self.pending() {
                self.next_try
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(50))
            } else {
                Duration::from_secs(1)
            };
            match rx.recv_timeout(wait) {
                Ok(m) => {
                    if let Some(s) = self.take(m) {
                        closing = Some((s, Instant::now() + self.target.close_timeout));
                    }
                    while let Ok(m) = rx.try_recv() {
                        if let Some(s) = self.take(m) {
                            closing = Some((s, Instant::now() + self.target.close_timeout));
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    if closing.is_none() {
                        closing =
                            Some(("killed".into(), Instant::now() + self.target.close_timeout));
                    }
                }
            }
            if Instant::now() >= self.next_try && (self.pending() || closing.is_some()) {
                match self.send(closing.as_ref().map(|(s, _)| s.as_str())) {
                    Ok(()) => self.backoff = Duration::from_millis(250),
                    Err(e) => {
                        if !self.warned {
                            tracing::warn!(
                                "{e}; records are queued and retried, metrics.ndjson stays complete"
                            );
                            self.warned = true;
                        }
                        if self.report.errors.len() < 20 {
                            self.report.errors.push(e.to_string());
                        }
                        let permanent = !e.is_transient();
                        self.next_try = Instant::now() + self.backoff;
                        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                        if permanent && closing.is_some() {
                            break;
                        }
                    }
                }
            }
            if let Some((_, deadline)) = &closing
                && (self.report.status_set || Instant::now() >= *deadline)
            {
                break;
            }
        }
        self.report.metrics_unsent = self.metrics.len() as u64;
        self.report.artifacts_unsent = self.artifacts.len() as u64;
        self.report
    }

    /// Sends everything queued, then the status when closing.
    fn send(&mut self, closing: Option<&str>) -> Result<(), MlflowError> {
        if self.run.is_none() {
            match self.target.resume.clone() {
                Some(r) => {
                    // The same MLflow run, running again. Steps it already
                    // holds (sent before the codex run stopped, past its
                    // checkpoint) are the ones being logged again, with the
                    // same values: they are not sent twice. Its params are
                    // the run's first ones (MLflow's params do not change).
                    self.client.reopen_run(&r.run_id)?;
                    let logged = self.client.latest_steps(&r.run_id)?;
                    self.metrics.retain(|m| {
                        logged
                            .get(&format!("{}/{}", m.split, m.name))
                            .is_none_or(|&last| m.step > last)
                    });
                    self.skip_through = logged;
                    self.params.clear();
                    self.report.experiment_id = Some(r.experiment_id.clone());
                    self.report.run_id = Some(r.run_id.clone());
                    self.run = Some((r.run_id, r.artifact_uri));
                }
                None => {
                    let exp = self.client.experiment_id(&self.target.experiment)?;
                    self.report.experiment_id = Some(exp.clone());
                    let run =
                        self.client
                            .create_run(&exp, &self.target.run_name, &self.target.tags)?;
                    self.report.run_id = Some(run.0.clone());
                    if let Some(path) = &self.target.state {
                        let record = MlflowRun {
                            uri: self.report.uri.clone(),
                            experiment_id: exp,
                            run_id: run.0.clone(),
                            artifact_uri: run.1.clone(),
                        };
                        let text = serde_json::to_string_pretty(&record).expect("serializes");
                        // Losing it only means a resume starts a new MLflow run.
                        let _ = codex_core::write_bytes_atomic(path, text.as_bytes());
                    }
                    self.run = Some(run);
                }
            }
        }
        let (run_id, artifact_uri) = self.run.clone().expect("created above");
        while !self.params.is_empty() {
            let n = self.params.len().min(PARAMS_PER_BATCH);
            let batch: Vec<(String, String)> = self.params.iter().take(n).cloned().collect();
            self.client.log_batch(&run_id, &batch, &[])?;
            self.params.drain(..n);
            self.report.params_sent += n as u64;
        }
        while !self.metrics.is_empty() {
            // Up to PARALLEL batches in flight: the server, not the client, is
            // the bottleneck, and it handles concurrent requests. A batch that
            // fails stays queued, with every batch after it.
            let n = self.metrics.len().min(METRICS_PER_BATCH * PARALLEL);
            let chunk: Vec<MetricRecord> = self.metrics.iter().take(n).cloned().collect();
            let results: Vec<Result<(), MlflowError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .chunks(METRICS_PER_BATCH)
                    .map(|batch| {
                        let client = &self.client;
                        let run_id = &run_id;
                        scope.spawn(move || client.log_batch(run_id, &[], batch))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a sender thread panicked"))
                    .collect()
            });
            // Successful batches leave the queue whatever their position (MLflow's
            // history does not depend on arrival order); failed ones go back to
            // its front, so nothing is sent twice or lost.
            let mut failed: Vec<MetricRecord> = Vec::new();
            let mut first_error = None;
            for (batch, r) in chunk.chunks(METRICS_PER_BATCH).zip(results) {
                match r {
                    Ok(()) => self.report.metrics_sent += batch.len() as u64,
                    Err(e) => {
                        failed.extend_from_slice(batch);
                        first_error.get_or_insert(e);
                    }
                }
            }
            self.metrics.drain(..n);
            for r in failed.into_iter().rev() {
                self.metrics.push_front(r);
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        while let Some((path, bytes)) = self.artifacts.front() {
            self.client.put_artifact(&artifact_uri, path, bytes)?;
            self.artifacts.pop_front();
            self.report.artifacts_sent += 1;
        }
        if let Some(status) = closing {
            self.client.finish_run(&run_id, run_status(status))?;
            self.report.status_set = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn an_unreachable_server_never_blocks_the_caller_and_is_reported() {
        // Port 9 (discard) on localhost: nothing listens there in a test sandbox.
        let mut sink = MlflowSink::start(MlflowTarget {
            uri: "http://127.0.0.1:9".into(),
            experiment: "x".into(),
            run_name: "r".into(),
            tags: Vec::new(),
            close_timeout: Duration::from_millis(300),
            state: None,
            resume: None,
        });
        let t = Instant::now();
        let recs: Vec<MetricRecord> = (0..10_000)
            .map(|s| MetricRecord {
                step: s,
                epoch: 0,
                split: "train".into(),
                name: "loss".into(),
                value: 1.0,
                wall_time: 0.0,
            })
            .collect();
        sink.log_metrics(&recs).unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "logging waited on the network"
        );
        let err = sink.close("finished").unwrap_err().to_string();
        assert!(
            err.contains("10000 metrics") && err.contains("sync-mlflow"),
            "{err}"
        );
        let report = sink.report().unwrap();
        assert!(report.errors[0].contains("unreachable"), "{report:?}");
        assert_eq!(report.metrics_sent, 0);
    }

    /// A one-shot HTTP server answering every request with `status` and `body`.
    fn fake_server(status: &'static str, body: &'static str) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(8) {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        format!("http://{addr}")
    }

    #[test]
    fn an_http_4xx_names_the_endpoint_status_and_body_and_is_not_retried() {
        let uri = fake_server(
            "403 Forbidden",
            r#"{"error_code": "PERMISSION_DENIED", "message": "no access to experiment"}"#,
        );
        let err = Client::new(&uri).experiment_id("x").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("403")
                && text.contains("experiments/get-by-name")
                && text.contains("PERMISSION_DENIED"),
            "{text}"
        );
        assert!(!err.is_transient());
        let err = Client::new(&fake_server("503 Service Unavailable", "{}"))
            .experiment_id("x")
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[test]
    fn non_finite_values_use_protobuf_json_spellings() {
        let r = |v| MetricRecord {
            step: 1,
            epoch: 0,
            split: "train".into(),
            name: "loss".into(),
            value: v,
            wall_time: 2.5,
        };
        assert_eq!(metric_json(&r(f64::NAN))["value"], "NaN");
        assert_eq!(metric_json(&r(f64::NEG_INFINITY))["value"], "-Infinity");
        assert_eq!(metric_json(&r(1.5))["timestamp"], 2500);
    }
}
