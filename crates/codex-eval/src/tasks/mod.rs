//! Benchmark tasks in lm-evaluation-harness's format, run on any model that
//! answers the harness's three kinds of request.
//!
//! - [`config`]: task and group YAML files (`include`, every key checked,
//!   keys that need Python refused by name);
//! - [`Task`]: the data of a task (`json`/`csv` `data_files`, or a JSON
//!   Lines file), prompts from field names, Jinja templates or lists,
//!   few-shot examples drawn by `random.Random(1234)` as the harness draws
//!   them, and per-document scores;
//! - [`run`]: every task's requests sent to a [`LanguageModel`] in one batch
//!   per kind, filters, aggregation, standard errors and groups, into a
//!   [`TasksReport`] that writes `results.json` (the harness's schema) and
//!   `samples_<task>.jsonl`.
//!
//! This crate holds no model: `codex-train` implements [`LanguageModel`].

pub mod config;
mod dataset;
mod metrics;
mod pyrandom;
mod task;
mod template;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};

pub use config::{Definition, GroupConfig, OutputType, TaskConfig, read_definition};
pub use dataset::Doc;
pub use metrics::SampleValue;
pub use task::{DocRequests, Task};

use metrics::{Aggregation, Filter};

use crate::EvalError;

/// The harness's default few-shot seed (`--fewshot_random_seed`).
pub const FEWSHOT_SEED: u64 = 1234;
/// The harness's default bootstrap resamples for perplexity's standard error.
pub const BOOTSTRAP_ITERS: usize = 100_000;

/// A task file, its data or one of its documents is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A task or group definition is wrong.
    #[error("{}: {message}", path.display())]
    Definition {
        /// The task file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A data file is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Data {
        /// The data file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A template failed on one document.
    #[error("task `{task}`, document {doc}, `{field}`: {message}")]
    Render {
        /// The task.
        task: String,
        /// Index of the document in its split.
        doc: usize,
        /// The template's key (`doc_to_text`, …).
        field: String,
        /// Why.
        message: String,
    },
    /// A task or group named that no file defines, or defined twice.
    #[error("{0}")]
    Selection(String),
}

/// One request to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Request {
    /// Log-likelihood of `continuation` after `context`, and whether greedy
    /// decoding would produce it.
    Loglikelihood {
        /// The prompt.
        context: String,
        /// The text scored.
        continuation: String,
    },
    /// Log-likelihood of a whole text, in windows.
    Rolling {
        /// The text.
        text: String,
    },
    /// Greedy generation until a stop string.
    Generate {
        /// The prompt.
        context: String,
        /// Stop strings (the model adds its end-of-text token).
        until: Vec<String>,
        /// Tokens at most (the model's default when `None`).
        max_gen_toks: Option<usize>,
    },
}

impl Request {
    /// The request's arguments as the harness logs them (`arg_0`, `arg_1`).
    fn arguments(&self) -> Value {
        match self {
            Self::Loglikelihood {
                context,
                continuation,
            } => json!({"arg_0": context, "arg_1": continuation}),
            Self::Rolling { text } => json!({"arg_0": text}),
            Self::Generate {
                context,
                until,
                max_gen_toks,
            } => {
                let mut kwargs = json!({"until": until, "do_sample": false, "temperature": 0.0});
                if let Some(n) = max_gen_toks {
                    kwargs["max_gen_toks"] = json!(n);
                }
                json!({"arg_0": context, "arg_1": kwargs})
            }
        }
    }
}

/// A request of [`Request::Generate`] for [`LanguageModel::generate_until`].
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// The prompt.
    pub context: String,
    /// Stop strings.
    pub until: Vec<String>,
    /// Tokens at most.
    pub max_gen_toks: Option<usize>,
}

/// The model's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// Summed log-probability and whether it is the greedy continuation.
    Loglikelihood {
        /// Natural-log probability of the continuation.
        logprob: f64,
        /// Whether every continuation token is the argmax.
        greedy: bool,
    },
    /// Summed log-probability of a whole text.
    Rolling(f64),
    /// The generated text, cut at the first stop string.
    Generated(String),
}

/// What a model must answer: the harness's `LM` interface.
pub trait LanguageModel {
    /// The model's error.
    type Error: From<EvalError>;
    /// `(logprob, is_greedy)` of each `(context, continuation)`; `done`
    /// hears how many requests are answered so far.
    fn loglikelihood(
        &mut self,
        requests: &[(String, String)],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<(f64, bool)>, Self::Error>;
    /// The log-likelihood of each text.
    fn loglikelihood_rolling(
        &mut self,
        texts: &[String],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<f64>, Self::Error>;
    /// The greedy continuation of each prompt, cut at its stop strings.
    fn generate_until(
        &mut self,
        requests: &[GenerateRequest],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<String>, Self::Error>;
    /// A description of the model for `results.json`'s `config`.
    fn describe(&self) -> Value {
        Value::Null
    }
}

/// The tasks and groups selected to run.
#[derive(Debug)]
pub struct TaskSet {
    /// Tasks, in the order given.
    pub tasks: Vec<Task>,
    /// Groups, with the indices of their tasks.
    pub groups: Vec<(GroupConfig, Vec<usize>)>,
}

fn yaml_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), TaskError> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| TaskError::Io {
                path: path.to_owned(),
                source: e,
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                yaml_files(&e, out)?;
            } else if matches!(e.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
                out.push(e);
            }
        }
        Ok(())
    } else if path.is_file() {
        out.push(path.to_owned());
        Ok(())
    } else {
        Err(TaskError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such task file or directory",
            ),
        })
    }
}

/// Reads the task and group files at `paths` (files, or directories searched
/// for `*.yaml`), loads every task's data, and selects what runs: every group,
/// and every task that is not a member of a group. A file named only through
/// `include` (a base without `task` of its own) is skipped.
pub fn load_tasks(paths: &[PathBuf]) -> Result<TaskSet, TaskError> {
    let mut files = Vec::new();
    for p in paths {
        yaml_files(p, &mut files)?;
    }
    let explicit: Vec<&PathBuf> = paths.iter().filter(|p| p.is_file()).collect();
    let mut tasks: Vec<TaskConfig> = Vec::new();
    let mut groups: Vec<GroupConfig> = Vec::new();
    for f in &files {
        // In a directory, a file without `task` or `group` is a base others include.
        if !explicit.contains(&f) {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            let has_key = |k: &str| text.lines().any(|l| l.starts_with(&format!("{k}:")));
            if !has_key("task") && !has_key("group") {
                continue;
            }
        }
        match read_definition(f)? {
            Definition::Task(t) => tasks.push(*t),
            Definition::Group(g) => groups.push(g),
        }
    }
    let mut selected: Vec<TaskConfig> = Vec::new();
    let mut members_of: Vec<(GroupConfig, Vec<String>)> = Vec::new();
    let mut in_group: Vec<String> = Vec::new();
    for g in &groups {
        let mut names = Vec::new();
        for m in &g.members {
            match m {
                config::GroupMember::Name(n) => {
                    if !tasks.iter().any(|t| &t.task == n) {
                        return Err(TaskError::Selection(format!(
                            "{}: group `{}` names task `{n}`, which none of the task files defines",
                            g.source.display(),
                            g.group
                        )));
                    }
                    names.push(n.clone());
                }
                config::GroupMember::Task(t) => {
                    names.push(t.task.clone());
                    tasks.push((**t).clone());
                }
            }
        }
        in_group.extend(names.iter().cloned());
        members_of.push((g.clone(), names));
    }
    for t in tasks {
        if selected.iter().any(|s| s.task == t.task) {
            return Err(TaskError::Selection(format!(
                "{}: task `{}` is defined twice",
                t.source.display(),
                t.task
            )));
        }
        selected.push(t);
    }
    // Order: tasks on their own first, then each group's members.
    let mut ordered: Vec<TaskConfig> = selected
        .iter()
        .filter(|t| !in_group.contains(&t.task))
        .cloned()
        .collect();
    for (_, names) in &members_of {
        for n in names {
            if !ordered.iter().any(|t| &t.task == n) {
                ordered.push(
                    selected
                        .iter()
                        .find(|t| &t.task == n)
                        .expect("checked")
                        .clone(),
                );
            }
        }
    }
    if ordered.is_empty() {
        return Err(TaskError::Selection(format!(
            "no task definitions in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let loaded = ordered
        .into_iter()
        .map(Task::load)
        .collect::<Result<Vec<_>, _>>()?;
    let groups = members_of
        .into_iter()
        .map(|(g, names)| {
            let idx = names
                .iter()
                .map(|n| loaded.iter().position(|t| t.name() == n).expect("loaded"))
                .collect();
            (g, idx)
        })
        .collect();
    Ok(TaskSet {
        tasks: loaded,
        groups,
    })
}

/// How tasks are run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Overrides every task's `num_fewshot`.
    pub num_fewshot: Option<usize>,
    /// Documents per task at most.
    pub limit: Option<usize>,
    /// Few-shot sampling seed (the harness's 1234).
    pub fewshot_seed: u64,
    /// Bootstrap resamples for perplexity's standard error (0: none).
    pub bootstrap_iters: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            num_fewshot: None,
            limit: None,
            fewshot_seed: FEWSHOT_SEED,
            bootstrap_iters: BOOTSTRAP_ITERS,
        }
    }
}

/// One document's record in `samples_<task>.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct SampleRecord {
    /// Index in the evaluated split.
    pub doc_id: usize,
    /// The document.
    pub doc: Doc,
    /// The gold answer.
    pub target: Value,
    /// Each request's arguments.
    pub arguments: Vec<Value>,
    /// Each request's response.
    pub resps: Vec<Response>,
    /// Each response after the filter.
    pub filtered_resps: Vec<Response>,
    /// The filter's name.
    pub filter: String,
    /// Metric values of this document.
    pub metrics: Map<String, Value>,
    /// SHA-256 of the document as the harness hashes it.
    pub doc_hash: String,
    /// SHA-256 of the first request's prompt.
    pub prompt_hash: String,
    /// SHA-256 of `str(target)`.
    pub target_hash: String,
}

/// One task's results.
#[derive(Debug, Clone)]
pub struct TaskResult {
    /// The task's name.
    pub name: String,
    /// Its alias.
    pub alias: String,
    /// `metric,filter` → value, with `metric_stderr,filter` (`None`: N/A), in order.
    pub metrics: Vec<(String, f64, Option<f64>)>,
    /// Documents scored.
    pub samples: usize,
    /// Documents in the split.
    pub original: usize,
    /// Few-shot examples per document.
    pub n_shot: usize,
    /// Per-document records.
    pub records: Vec<SampleRecord>,
    /// The definition, for `configs`.
    pub config: Map<String, Value>,
    /// Its version.
    pub version: Value,
    /// Whether higher is better, per metric.
    pub higher_is_better: Map<String, Value>,
}

/// One group's results.
#[derive(Debug, Clone)]
pub struct GroupResult {
    /// The group's name.
    pub name: String,
    /// Its alias.
    pub alias: String,
    /// Its tasks.
    pub tasks: Vec<String>,
    /// `metric,filter` → value and pooled standard error.
    pub metrics: Vec<(String, f64, Option<f64>)>,
    /// Documents over all its tasks.
    pub samples: usize,
    /// Its version.
    pub version: Value,
}

/// Every task's and group's results.
#[derive(Debug, Clone)]
pub struct TasksReport {
    /// Tasks, in order.
    pub tasks: Vec<TaskResult>,
    /// Groups.
    pub groups: Vec<GroupResult>,
    /// Requests sent to the model.
    pub requests: usize,
    /// The model's description.
    pub model: Value,
    /// Options used.
    pub limit: Option<usize>,
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(s.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn higher_is_better(metric: &str) -> bool {
    !matches!(
        metric,
        "perplexity" | "word_perplexity" | "byte_perplexity" | "bits_per_byte"
    )
}

/// Runs every task of `set` on `model`: all requests of one kind in one
/// call (the model batches them), then filters, scores and aggregates.
/// `progress` hears `(requests answered, requests in all)` between kinds.
pub fn run<M: LanguageModel>(
    set: &TaskSet,
    model: &mut M,
    options: &RunOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TasksReport, M::Error> {
    // Build every request first: a template error stops the run before the model works.
    let mut all: Vec<(usize, Vec<DocRequests>, usize)> = Vec::new();
    for (ti, task) in set.tasks.iter().enumerate() {
        let k = options.num_fewshot.or(task.config.num_fewshot).unwrap_or(0);
        let reqs = task
            .requests(k, options.limit, options.fewshot_seed)
            .map_err(|e| M::Error::from(EvalError::Task(e)))?;
        all.push((ti, reqs, k));
    }
    let total: usize = all
        .iter()
        .map(|(_, r, _)| r.iter().map(|d| d.requests.len()).sum::<usize>())
        .sum();
    progress(0, total);
    let mut ll_in: Vec<(String, String)> = Vec::new();
    let mut roll_in: Vec<String> = Vec::new();
    let mut gen_in: Vec<GenerateRequest> = Vec::new();
    for (_, docs, _) in &all {
        for d in docs {
            for r in &d.requests {
                match r {
                    Request::Loglikelihood {
                        context,
                        continuation,
                    } => ll_in.push((context.clone(), continuation.clone())),
                    Request::Rolling { text } => roll_in.push(text.clone()),
                    Request::Generate {
                        context,
                        until,
                        max_gen_toks,
                    } => gen_in.push(GenerateRequest {
                        context: context.clone(),
                        until: until.clone(),
                        max_gen_toks: *max_gen_toks,
                    }),
                }
            }
        }
    }
    let ll_out = if ll_in.is_empty() {
        Vec::new()
    } else {
        model.loglikelihood(&ll_in, &mut |n| progress(n, total))?
    };
    let offset = ll_in.len();
    let roll_out = if roll_in.is_empty() {
        Vec::new()
    } else {
        model.loglikelihood_rolling(&roll_in, &mut |n| progress(offset + n, total))?
    };
    let offset = offset + roll_in.len();
    let gen_out = if gen_in.is_empty() {
        Vec::new()
    } else {
        model.generate_until(&gen_in, &mut |n| progress(offset + n, total))?
    };
    progress(total, total);
    let (mut li, mut ri, mut gi) = (0, 0, 0);
    let mut results = Vec::new();
    for (ti, docs, k) in all {
        let task = &set.tasks[ti];
        let filters: Vec<Filter> = task
            .config
            .filter_list
            .iter()
            .map(|f| {
                Filter::compile(f).map_err(|m| TaskError::Definition {
                    path: task.config.source.clone(),
                    message: m,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| M::Error::from(EvalError::Task(e)))?;
        // metric,filter → items
        let mut items: Vec<((String, String), Vec<SampleValue>)> = Vec::new();
        let mut records = Vec::new();
        for d in &docs {
            let resps: Vec<Response> = d
                .requests
                .iter()
                .map(|r| match r {
                    Request::Loglikelihood { .. } => {
                        let (logprob, greedy) = ll_out[li];
                        li += 1;
                        Response::Loglikelihood { logprob, greedy }
                    }
                    Request::Rolling { .. } => {
                        ri += 1;
                        Response::Rolling(roll_out[ri - 1])
                    }
                    Request::Generate { .. } => {
                        gi += 1;
                        Response::Generated(gen_out[gi - 1].clone())
                    }
                })
                .collect();
            for f in &filters {
                let filtered: Vec<Response> = resps
                    .iter()
                    .map(|r| match r {
                        Response::Generated(s) => Response::Generated(f.apply(s)),
                        other => other.clone(),
                    })
                    .collect();
                let scores = task
                    .process_results(d.doc_id, &filtered)
                    .map_err(|e| M::Error::from(EvalError::Task(e)))?;
                let target = task
                    .target(d.doc_id)
                    .map_err(|e| M::Error::from(EvalError::Task(e)))?;
                let doc = task.doc(d.doc_id).clone();
                let mut metrics = Map::new();
                for (name, v) in &scores {
                    metrics.insert(name.clone(), serde_json::to_value(v).expect("serializes"));
                    let key = (name.clone(), f.name.clone());
                    match items.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, list)) => list.push(*v),
                        None => items.push((key, vec![*v])),
                    }
                }
                let prompt = match &d.requests[0] {
                    Request::Loglikelihood { context, .. } | Request::Generate { context, .. } => {
                        context.clone()
                    }
                    Request::Rolling { text } => text.clone(),
                };
                records.push(SampleRecord {
                    doc_id: d.doc_id,
                    doc_hash: sha256_hex(&serde_json::to_string_pretty(&doc).expect("serializes")),
                    doc,
                    target_hash: sha256_hex(&template::py_str(&target)),
                    target,
                    arguments: d.requests.iter().map(Request::arguments).collect(),
                    resps: resps.clone(),
                    filtered_resps: filtered,
                    filter: f.name.clone(),
                    metrics,
                    prompt_hash: sha256_hex(&prompt),
                });
            }
        }
        let mut metrics = Vec::new();
        let mut hib = Map::new();
        for ((metric, filter), list) in &items {
            let spec = task.config.metric_list.iter().find(|s| &s.metric == metric);
            let agg = spec
                .and_then(|s| s.aggregation.as_deref())
                .map_or_else(|| Aggregation::default_for(metric), Aggregation::named);
            metrics.push((
                format!("{metric},{filter}"),
                agg.aggregate(list),
                agg.stderr(list, options.bootstrap_iters),
            ));
            hib.insert(
                metric.clone(),
                Value::Bool(
                    spec.and_then(|s| s.higher_is_better)
                        .unwrap_or_else(|| higher_is_better(metric)),
                ),
            );
        }
        results.push(TaskResult {
            name: task.name().to_owned(),
            alias: task
                .config
                .task_alias
                .clone()
                .unwrap_or_else(|| task.name().to_owned()),
            metrics,
            samples: docs.len(),
            original: task.len(),
            n_shot: k,
            records,
            config: task.config_record(k),
            version: task.config.version.clone().unwrap_or(Value::Null),
            higher_is_better: hib,
        });
    }
    let groups = set
        .groups
        .iter()
        .map(|(g, idx)| {
            let members: Vec<&TaskResult> = idx.iter().map(|&i| &results[i]).collect();
            let mut metrics = Vec::new();
            for a in &g.aggregate {
                for f in &a.filter_list {
                    let key = format!("{},{f}", a.metric);
                    let (mut values, mut errs, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
                    for m in &members {
                        if let Some((_, v, e)) = m.metrics.iter().find(|(k, _, _)| *k == key) {
                            values.push(*v);
                            errs.push(*e);
                            sizes.push(m.samples);
                        }
                    }
                    if values.is_empty() {
                        continue;
                    }
                    let value = metrics::weighted_group_mean(&values, &sizes, a.weight_by_size);
                    let err = errs
                        .iter()
                        .copied()
                        .collect::<Option<Vec<f64>>>()
                        .map(|e| metrics::pooled_stderr(&e, &sizes));
                    metrics.push((key, value, err));
                }
            }
            GroupResult {
                name: g.group.clone(),
                alias: g.group_alias.clone().unwrap_or_else(|| g.group.clone()),
                tasks: members.iter().map(|m| m.name.clone()).collect(),
                metrics,
                samples: members.iter().map(|m| m.samples).sum(),
                version: g.version.clone().unwrap_or(Value::Null),
            }
        })
        .collect();
    Ok(TasksReport {
        tasks: results,
        groups,
        requests: total,
        model: model.describe(),
        limit: options.limit,
    })
}

/// One `results` entry in the harness's (0.4.13) layout: name, alias,
/// documents, then each `metric,filter` with its `metric_stderr,filter`.
fn metric_entries(
    name: &str,
    alias: &str,
    metrics: &[(String, f64, Option<f64>)],
    samples: usize,
    group: bool,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name.to_owned()));
    m.insert("alias".into(), Value::String(alias.to_owned()));
    m.insert("sample_len".into(), json!(samples));
    let mut counts = Map::new();
    for (key, v, e) in metrics {
        let (metric, filter) = key.split_once(',').unwrap_or((key, "none"));
        m.insert(key.clone(), json!(v));
        m.insert(
            format!("{metric}_stderr,{filter}"),
            e.map_or_else(|| Value::String("N/A".into()), |e| json!(e)),
        );
        counts.insert(key.clone(), json!(samples));
    }
    if group {
        m.insert("sample_count".into(), Value::Object(counts));
    }
    m
}

impl TasksReport {
    /// `results.json` in the harness's schema.
    pub fn results_json(&self) -> Value {
        let mut results = Map::new();
        let mut groups = Map::new();
        let mut group_subtasks = Map::new();
        let mut configs = Map::new();
        let mut versions = Map::new();
        let mut n_shot = Map::new();
        let mut hib = Map::new();
        let mut n_samples = Map::new();
        for t in &self.tasks {
            results.insert(
                t.name.clone(),
                Value::Object(metric_entries(
                    &t.name, &t.alias, &t.metrics, t.samples, false,
                )),
            );
            configs.insert(t.name.clone(), Value::Object(t.config.clone()));
            versions.insert(t.name.clone(), t.version.clone());
            n_shot.insert(t.name.clone(), json!(t.n_shot));
            hib.insert(t.name.clone(), Value::Object(t.higher_is_better.clone()));
            n_samples.insert(
                t.name.clone(),
                json!({"original": t.original, "effective": t.samples}),
            );
        }
        for g in &self.groups {
            let entry = Value::Object(metric_entries(
                &g.name, &g.alias, &g.metrics, g.samples, true,
            ));
            results.insert(g.name.clone(), entry.clone());
            if !g.metrics.is_empty() {
                groups.insert(g.name.clone(), entry);
            }
            group_subtasks.insert(g.name.clone(), json!(g.tasks));
            versions.insert(g.name.clone(), g.version.clone());
        }
        let mut out = Map::new();
        out.insert("results".into(), Value::Object(results));
        if !groups.is_empty() {
            out.insert("groups".into(), Value::Object(groups));
        }
        out.insert("group_subtasks".into(), Value::Object(group_subtasks));
        out.insert("configs".into(), Value::Object(configs));
        out.insert("versions".into(), Value::Object(versions));
        out.insert("n-shot".into(), Value::Object(n_shot));
        out.insert("higher_is_better".into(), Value::Object(hib));
        out.insert("n-samples".into(), Value::Object(n_samples));
        out.insert(
            "config".into(),
            json!({"model": "codex", "model_args": self.model, "limit": self.limit, "bootstrap_iters": BOOTSTRAP_ITERS, "fewshot_seed": FEWSHOT_SEED}),
        );
        Value::Object(out)
    }

    /// Writes `results.json` and one `samples_<task>.jsonl` per task into
    /// `dir`, each file atomically; returns the paths written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
        std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
        let mut written = Vec::new();
        for t in &self.tasks {
            let path = dir.join(format!("samples_{}.jsonl", t.name));
            let mut text = String::new();
            for r in &t.records {
                text.push_str(&serde_json::to_string(r).expect("serializes"));
                text.push('\n');
            }
            codex_core::write_bytes_atomic(&path, text.as_bytes())?;
            written.push(path);
        }
        let path = dir.join("results.json");
        let mut text = serde_json::to_string_pretty(&self.results_json()).expect("serializes");
        text.push('\n');
        codex_core::write_bytes_atomic(&path, text.as_bytes())?;
        written.push(path);
        Ok(written)
    }

    /// Every `(task or group, metric,filter, value)`, for metric sinks.
    pub fn values(&self) -> Vec<(String, String, f64)> {
        let mut out = Vec::new();
        for (name, metrics) in self
            .tasks
            .iter()
            .map(|t| (&t.name, &t.metrics))
            .chain(self.groups.iter().map(|g| (&g.name, &g.metrics)))
        {
            for (k, v, _) in metrics {
                out.push((name.clone(), k.clone(), *v));
            }
        }
        out
    }

    /// The harness's table: task, filter, n-shot, metric, value ± stderr.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<[String; 6]> = vec![[
            "Tasks".into(),
            "Filter".into(),
            "n-shot".into(),
            "Metric".into(),
            "Value".into(),
            "Stderr".into(),
        ]];
        let mut push = |name: &str,
                        shot: String,
                        metrics: &[(String, f64, Option<f64>)],
                        hib: &dyn Fn(&str) -> bool| {
            for (i, (key, v, e)) in metrics.iter().enumerate() {
                let (metric, filter) = key.split_once(',').unwrap_or((key, "none"));
                let arrow = if hib(metric) { "↑" } else { "↓" };
                rows.push([
                    if i == 0 {
                        name.to_owned()
                    } else {
                        String::new()
                    },
                    filter.to_owned(),
                    if i == 0 { shot.clone() } else { String::new() },
                    format!("{metric} {arrow}"),
                    format!("{v:.4}"),
                    e.map_or_else(|| "N/A".into(), |e| format!("± {e:.4}")),
                ]);
            }
        };
        for t in &self.tasks {
            let hib = |m: &str| {
                t.higher_is_better
                    .get(m)
                    .and_then(Value::as_bool)
                    .unwrap_or(true)
            };
            push(&t.alias, t.n_shot.to_string(), &t.metrics, &hib);
        }
        for g in &self.groups {
            push(&g.alias, String::new(), &g.metrics, &|m: &str| {
                higher_is_better(m)
            });
        }
        let widths: Vec<usize> = (0..6)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (i, r) in rows.iter().enumerate() {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            out.push_str(&format!("|{}|\n", cells.join("|")));
            if i == 0 {
                out.push_str(&format!(
                    "|{}|\n",
                    widths
                        .iter()
                        .map(|w| "-".repeat(*w))
                        .collect::<Vec<_>>()
                        .join("|")
                ));
            }
        }
        out
    }
}
