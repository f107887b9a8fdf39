//! Task and group definitions in lm-evaluation-harness's YAML format: read,
//! `include`s merged, every key checked, unsupported ones refused by name.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::TaskError;

/// What a task asks the model for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputType {
    /// One log-likelihood request per choice; the best choice is the answer.
    MultipleChoice,
    /// The log-likelihood of the target after the context (and whether it is greedy).
    Loglikelihood,
    /// The log-likelihood of a whole document, in windows of the context length.
    LoglikelihoodRolling,
    /// Greedy generation until a stop string.
    GenerateUntil,
}

impl OutputType {
    /// The name used in task files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MultipleChoice => "multiple_choice",
            Self::Loglikelihood => "loglikelihood",
            Self::LoglikelihoodRolling => "loglikelihood_rolling",
            Self::GenerateUntil => "generate_until",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "multiple_choice" => Self::MultipleChoice,
            "loglikelihood" => Self::Loglikelihood,
            "loglikelihood_rolling" => Self::LoglikelihoodRolling,
            "generate_until" => Self::GenerateUntil,
            _ => return None,
        })
    }

    /// The metrics a task of this type reports when it lists none.
    pub fn default_metrics(self) -> &'static [&'static str] {
        match self {
            Self::Loglikelihood => &["perplexity", "acc"],
            Self::LoglikelihoodRolling => &["word_perplexity", "byte_perplexity", "bits_per_byte"],
            Self::MultipleChoice => &["acc", "acc_norm"],
            Self::GenerateUntil => &["exact_match"],
        }
    }
}

/// Keys of a task definition codex reads.
const TASK_KEYS: &[&str] = &[
    "task",
    "task_alias",
    "tag",
    "dataset_path",
    "dataset_name",
    "dataset_kwargs",
    "training_split",
    "validation_split",
    "test_split",
    "fewshot_split",
    "doc_to_text",
    "doc_to_target",
    "doc_to_choice",
    "description",
    "target_delimiter",
    "fewshot_delimiter",
    "fewshot_config",
    "num_fewshot",
    "output_type",
    "generation_kwargs",
    "repeats",
    "metric_list",
    "filter_list",
    "metadata",
    "should_decontaminate",
    "doc_to_decontamination_query",
    "include",
];

/// Keys of the harness that need Python or the Hub, refused with the reason.
const REFUSED_KEYS: &[(&str, &str)] = &[
    ("process_docs", "a Python hook over the documents"),
    ("process_results", "a Python scoring hook"),
    ("custom_dataset", "a Python dataset loader"),
    ("use_prompt", "a promptsource template from the Hub"),
    ("doc_to_image", "multimodal input"),
    ("doc_to_audio", "multimodal input"),
    ("gen_prefix", "an assistant prefill"),
    ("unsafe_code", "running model-written code"),
];

/// Keys of a group definition.
const GROUP_KEYS: &[&str] = &[
    "group",
    "group_alias",
    "task",
    "aggregate_metric_list",
    "metadata",
];

/// One metric of a task's `metric_list`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    /// Its name (`acc`, `exact_match`, …).
    pub metric: String,
    /// The aggregation named in the file, if any.
    pub aggregation: Option<String>,
    /// Whether higher is better, if the file says.
    pub higher_is_better: Option<bool>,
    /// Options of the metric (`ignore_case`, `regexes_to_ignore`, …).
    pub kwargs: Map<String, Value>,
}

/// One step of a filter pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterStep {
    /// `regex`: the `group_select`-th match of a pattern, else a fallback.
    Regex {
        /// The pattern (Rust `regex` syntax, which covers Python's common subset).
        pattern: String,
        /// Which match (negative counts from the end).
        group_select: i64,
        /// What a response without a match becomes.
        fallback: String,
    },
    /// `take_first`: the first response of each document.
    TakeFirst,
    /// `lowercase`.
    Lowercase,
    /// `uppercase`.
    Uppercase,
    /// `remove_whitespace`: leading whitespace removed.
    RemoveWhitespace,
}

/// A named filter pipeline (`filter_list` entry).
#[derive(Debug, Clone, PartialEq)]
pub struct FilterSpec {
    /// Its name, the second half of each metric key (`acc,none`).
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<FilterStep>,
}

/// A task definition, checked.
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// The task's name.
    pub task: String,
    /// The name shown in tables.
    pub task_alias: Option<String>,
    /// The file it was read from (relative data files resolve against its directory).
    pub source: PathBuf,
    /// `dataset_path`: `json`, `csv`, or a path to a JSON Lines file.
    pub dataset_path: String,
    /// `dataset_kwargs` (`data_files`).
    pub dataset_kwargs: Option<Map<String, Value>>,
    /// Split names.
    pub training_split: Option<String>,
    /// Split names.
    pub validation_split: Option<String>,
    /// Split names.
    pub test_split: Option<String>,
    /// Split names.
    pub fewshot_split: Option<String>,
    /// A field name, a Jinja template or a number.
    pub doc_to_text: Option<Value>,
    /// A field name, a Jinja template, a number or a list.
    pub doc_to_target: Option<Value>,
    /// A field name, a template rendering a list, a list or a mapping.
    pub doc_to_choice: Option<Value>,
    /// Text before the examples (a template).
    pub description: String,
    /// Between a question and its answer.
    pub target_delimiter: String,
    /// Between examples.
    pub fewshot_delimiter: String,
    /// `fewshot_config.sampler`: `default` (seeded sampling) or `first_n`.
    pub fewshot_sampler: String,
    /// `fewshot_config.samples`: fixed few-shot documents.
    pub fewshot_samples: Option<Vec<Map<String, Value>>>,
    /// Examples before each question.
    pub num_fewshot: Option<usize>,
    /// What is asked of the model.
    pub output_type: OutputType,
    /// `until` strings.
    pub until: Vec<String>,
    /// `max_gen_toks`.
    pub max_gen_toks: Option<usize>,
    /// Metrics (the type's defaults when the file lists none).
    pub metric_list: Vec<MetricSpec>,
    /// Filter pipelines (one `none`/`take_first` when the file lists none).
    pub filter_list: Vec<FilterSpec>,
    /// `metadata.version`.
    pub version: Option<Value>,
    /// The definition as written (after `include`), for `results.json`'s `configs`.
    pub raw: Map<String, Value>,
}

/// How a group combines the metrics of its tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSpec {
    /// The metric.
    pub metric: String,
    /// Weight each task by its number of documents.
    pub weight_by_size: bool,
    /// The filters whose values are combined.
    pub filter_list: Vec<String>,
}

/// A member of a group: a task named elsewhere, or defined in place.
#[derive(Debug, Clone)]
pub enum GroupMember {
    /// A task or group defined in another file.
    Name(String),
    /// A task defined inside the group.
    Task(Box<TaskConfig>),
}

/// A group definition.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// The group's name.
    pub group: String,
    /// The name shown in tables.
    pub group_alias: Option<String>,
    /// Its members.
    pub members: Vec<GroupMember>,
    /// How its metrics are combined; none: the group only lists its tasks.
    pub aggregate: Vec<AggregateSpec>,
    /// `metadata.version`.
    pub version: Option<Value>,
    /// The file.
    pub source: PathBuf,
}

/// One definition read from a file.
#[derive(Debug, Clone)]
pub enum Definition {
    /// A task.
    Task(Box<TaskConfig>),
    /// A group.
    Group(GroupConfig),
}

fn err(path: &Path, message: impl Into<String>) -> TaskError {
    TaskError::Definition {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Reads a YAML file into a mapping, refusing Python tags (`!function`) by key and line.
fn read_yaml(path: &Path) -> Result<Map<String, Value>, TaskError> {
    let bytes = std::fs::read(path).map_err(|e| TaskError::Io {
        path: path.to_owned(),
        source: e,
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| err(path, format!("not UTF-8: {e}")))?;
    for (i, line) in text.lines().enumerate() {
        if let Some(at) = line.find("!function") {
            let key = line[..at]
                .trim()
                .trim_end_matches(':')
                .trim()
                .trim_start_matches("- ");
            return Err(err(
                path,
                format!(
                    "line {}: `{key}` is a `!function` hook, Python code codex cannot run; \
                     write it as a field name or a Jinja template",
                    i + 1
                ),
            ));
        }
    }
    let value: Value =
        serde_saphyr::from_str(text).map_err(|e| err(path, format!("not valid YAML: {e}")))?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(err(path, "a task file must be a mapping of keys")),
    }
}

/// A file read with its `include` (relative to the file) merged underneath.
fn read_with_includes(path: &Path, depth: usize) -> Result<Map<String, Value>, TaskError> {
    let mut map = read_yaml(path)?;
    let Some(include) = map.remove("include") else {
        return Ok(map);
    };
    if depth > 8 {
        return Err(err(path, "`include` nests more than 8 levels (a cycle?)"));
    }
    let Value::String(inc) = include else {
        return Err(err(path, "`include` must be a file name"));
    };
    let base_path = path.parent().unwrap_or(Path::new(".")).join(&inc);
    if !base_path.is_file() {
        return Err(err(
            path,
            format!("`include`: {} does not exist", base_path.display()),
        ));
    }
    let mut base = read_with_includes(&base_path, depth + 1)?;
    for (k, v) in map {
        base.insert(k, v);
    }
    Ok(base)
}

/// Reads every definition of one YAML file.
pub fn read_definition(path: &Path) -> Result<Definition, TaskError> {
    let map = read_with_includes(path, 0)?;
    parse_definition(map, path)
}

fn parse_definition(map: Map<String, Value>, path: &Path) -> Result<Definition, TaskError> {
    if matches!(map.get("task"), Some(Value::Array(_))) {
        return parse_group(map, path).map(Definition::Group);
    }
    parse_task(map, path).map(|t| Definition::Task(Box::new(t)))
}

fn string(map: &Map<String, Value>, key: &str, path: &Path) -> Result<Option<String>, TaskError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if key.ends_with("split") => Ok(Some(n.to_string())),
        Some(other) => Err(err(path, format!("`{key}` must be a string, got {other}"))),
    }
}

fn count(map: &Map<String, Value>, key: &str, path: &Path) -> Result<Option<usize>, TaskError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(|n| Some(n as usize)).ok_or_else(|| {
            err(
                path,
                format!("`{key}` must be a non-negative integer, got {v}"),
            )
        }),
    }
}

fn unknown_key(key: &str, known: &[&str], path: &Path, what: &str) -> TaskError {
    if let Some((_, why)) = REFUSED_KEYS.iter().find(|(k, _)| *k == key) {
        return err(
            path,
            format!("`{key}` is not supported: it needs {why}, which codex does not run"),
        );
    }
    let hint = codex_core::nearest(key, known.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    err(
        path,
        format!("unknown key `{key}` in a {what} definition{hint}"),
    )
}

fn parse_task(map: Map<String, Value>, path: &Path) -> Result<TaskConfig, TaskError> {
    for key in map.keys() {
        if key == "group" {
            // The harness's old spelling of `tag`: a label, not a group.
            continue;
        }
        if !TASK_KEYS.contains(&key.as_str()) {
            return Err(unknown_key(key, TASK_KEYS, path, "task"));
        }
    }
    let task = string(&map, "task", path)?
        .ok_or_else(|| err(path, "`task` (the task's name) is missing"))?;
    let dataset_path = string(&map, "dataset_path", path)?.ok_or_else(|| {
        err(
            path,
            "`dataset_path` is missing (`json`, `csv` or a JSON Lines file)",
        )
    })?;
    if let Some(name) = string(&map, "dataset_name", path)? {
        return Err(err(
            path,
            format!(
                "`dataset_name: {name}` names a configuration of a Hub dataset; local data has none, remove it"
            ),
        ));
    }
    let dataset_kwargs = match map.get("dataset_kwargs") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            for k in m.keys() {
                if k != "data_files" {
                    return Err(err(
                        path,
                        format!("`dataset_kwargs.{k}` is not supported (only `data_files`)"),
                    ));
                }
            }
            Some(m.clone())
        }
        Some(_) => return Err(err(path, "`dataset_kwargs` must be a mapping")),
    };
    let output_type = match string(&map, "output_type", path)? {
        None => OutputType::GenerateUntil,
        Some(s) => OutputType::parse(&s).ok_or_else(|| {
            err(
                path,
                format!("`output_type: {s}` is not one of multiple_choice, loglikelihood, loglikelihood_rolling, generate_until"),
            )
        })?,
    };
    let text_or = |key: &str, default: &str| -> Result<String, TaskError> {
        Ok(string(&map, key, path)?.unwrap_or_else(|| default.to_owned()))
    };
    let target_delimiter = text_or("target_delimiter", " ")?;
    let fewshot_delimiter = text_or("fewshot_delimiter", "\n\n")?;
    let description = text_or("description", "")?;
    let (mut fewshot_sampler, mut fewshot_samples) = ("default".to_owned(), None);
    if let Some(fc) = map.get("fewshot_config").filter(|v| !v.is_null()) {
        let Value::Object(fc) = fc else {
            return Err(err(path, "`fewshot_config` must be a mapping"));
        };
        for (k, v) in fc {
            match k.as_str() {
                "sampler" => {
                    let s = v.as_str().unwrap_or_default();
                    if s != "default" && s != "first_n" {
                        return Err(err(
                            path,
                            format!(
                                "`fewshot_config.sampler: {v}` is not supported (default, first_n)"
                            ),
                        ));
                    }
                    s.clone_into(&mut fewshot_sampler);
                }
                "samples" => {
                    let Value::Array(items) = v else {
                        return Err(err(
                            path,
                            "`fewshot_config.samples` must be a list of documents",
                        ));
                    };
                    let docs = items
                        .iter()
                        .map(|d| {
                            d.as_object().cloned().ok_or_else(|| {
                                err(path, "`fewshot_config.samples` must be a list of mappings")
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    fewshot_samples = Some(docs);
                }
                other => {
                    return Err(err(
                        path,
                        format!("`fewshot_config.{other}` is not supported (sampler, samples)"),
                    ));
                }
            }
        }
    }
    if let Some(r) = count(&map, "repeats", path)?
        && r != 1
    {
        return Err(err(
            path,
            format!("`repeats: {r}` is not supported (greedy answers repeat exactly; use 1)"),
        ));
    }
    let mut until = vec![fewshot_delimiter.clone()];
    let mut max_gen_toks = None;
    if let Some(g) = map.get("generation_kwargs").filter(|v| !v.is_null()) {
        let Value::Object(g) = g else {
            return Err(err(path, "`generation_kwargs` must be a mapping"));
        };
        for (k, v) in g {
            match k.as_str() {
                "until" => {
                    until = match v {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(items) => items
                            .iter()
                            .map(|s| {
                                s.as_str().map(str::to_owned).ok_or_else(|| {
                                    err(path, "`generation_kwargs.until` must be strings")
                                })
                            })
                            .collect::<Result<_, _>>()?,
                        _ => {
                            return Err(err(
                                path,
                                "`generation_kwargs.until` must be a string or a list of strings",
                            ));
                        }
                    }
                }
                "max_gen_toks" => {
                    max_gen_toks = Some(v.as_u64().filter(|&n| n > 0).ok_or_else(|| {
                        err(
                            path,
                            "`generation_kwargs.max_gen_toks` must be a positive integer",
                        )
                    })? as usize);
                }
                "do_sample" => {
                    if v.as_bool() == Some(true) {
                        return Err(err(
                            path,
                            "`generation_kwargs.do_sample: true` is not supported: tasks generate greedily",
                        ));
                    }
                }
                "temperature" => {
                    if v.as_f64().is_none_or(|t| t != 0.0) {
                        return Err(err(
                            path,
                            "`generation_kwargs.temperature` must be 0: tasks generate greedily",
                        ));
                    }
                }
                other => {
                    return Err(err(
                        path,
                        format!(
                            "`generation_kwargs.{other}` is not supported (until, max_gen_toks, do_sample: false, temperature: 0)"
                        ),
                    ));
                }
            }
        }
    }
    let metric_list = match map.get("metric_list").filter(|v| !v.is_null()) {
        None => output_type
            .default_metrics()
            .iter()
            .map(|m| MetricSpec {
                metric: (*m).to_owned(),
                aggregation: None,
                higher_is_better: None,
                kwargs: Map::new(),
            })
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| parse_metric(item, output_type, path))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err(path, "`metric_list` must be a list")),
    };
    let filter_list = match map.get("filter_list").filter(|v| !v.is_null()) {
        None => vec![FilterSpec {
            name: "none".into(),
            steps: vec![FilterStep::TakeFirst],
        }],
        Some(Value::Array(items)) => items
            .iter()
            .map(|f| parse_filter(f, path))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err(path, "`filter_list` must be a list")),
    };
    let version = map.get("metadata").and_then(|m| m.get("version")).cloned();
    Ok(TaskConfig {
        task,
        task_alias: string(&map, "task_alias", path)?,
        source: path.to_owned(),
        dataset_path,
        dataset_kwargs,
        training_split: string(&map, "training_split", path)?,
        validation_split: string(&map, "validation_split", path)?,
        test_split: string(&map, "test_split", path)?,
        fewshot_split: string(&map, "fewshot_split", path)?,
        doc_to_text: map.get("doc_to_text").cloned().filter(|v| !v.is_null()),
        doc_to_target: map.get("doc_to_target").cloned().filter(|v| !v.is_null()),
        doc_to_choice: map.get("doc_to_choice").cloned().filter(|v| !v.is_null()),
        description,
        target_delimiter,
        fewshot_delimiter,
        fewshot_sampler,
        fewshot_samples,
        num_fewshot: count(&map, "num_fewshot", path)?,
        output_type,
        until,
        max_gen_toks,
        metric_list,
        filter_list,
        version,
        raw: map,
    })
}

/// Metrics codex computes, with the output types that produce them.
const METRICS: &[(&str, &[OutputType])] = &[
    (
        "acc",
        &[OutputType::MultipleChoice, OutputType::Loglikelihood],
    ),
    ("acc_norm", &[OutputType::MultipleChoice]),
    (
        "exact_match",
        &[OutputType::MultipleChoice, OutputType::GenerateUntil],
    ),
    ("perplexity", &[OutputType::Loglikelihood]),
    ("word_perplexity", &[OutputType::LoglikelihoodRolling]),
    ("byte_perplexity", &[OutputType::LoglikelihoodRolling]),
    ("bits_per_byte", &[OutputType::LoglikelihoodRolling]),
];

fn parse_metric(
    item: &Value,
    output_type: OutputType,
    path: &Path,
) -> Result<MetricSpec, TaskError> {
    let Value::Object(m) = item else {
        return Err(err(
            path,
            "each `metric_list` entry must be a mapping with `metric`",
        ));
    };
    let name = m
        .get("metric")
        .and_then(Value::as_str)
        .ok_or_else(|| err(path, "a `metric_list` entry has no `metric` name"))?;
    let Some((_, types)) = METRICS.iter().find(|(n, _)| *n == name) else {
        let hint = codex_core::nearest(name, METRICS.iter().map(|(n, _)| *n))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(err(path, format!("metric `{name}` is not supported{hint}")));
    };
    if !types.contains(&output_type) {
        return Err(err(
            path,
            format!(
                "metric `{name}` does not apply to output_type {}",
                output_type.as_str()
            ),
        ));
    }
    let aggregation = m
        .get("aggregation")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(a) = &aggregation
        && !["mean", "perplexity", "weighted_perplexity", "bits_per_byte"].contains(&a.as_str())
    {
        return Err(err(
            path,
            format!(
                "aggregation `{a}` of metric `{name}` is not supported (mean, perplexity, weighted_perplexity, bits_per_byte)"
            ),
        ));
    }
    let mut kwargs = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "metric" | "aggregation" | "higher_is_better" => {}
            "hf_evaluate" => {}
            "ignore_case" | "ignore_punctuation" | "ignore_numbers" | "regexes_to_ignore"
                if name == "exact_match" =>
            {
                kwargs.insert(k.clone(), v.clone());
            }
            other => {
                return Err(err(
                    path,
                    format!("option `{other}` of metric `{name}` is not supported"),
                ));
            }
        }
    }
    Ok(MetricSpec {
        metric: name.to_owned(),
        aggregation,
        higher_is_better: m.get("higher_is_better").and_then(Value::as_bool),
        kwargs,
    })
}

fn parse_filter(item: &Value, path: &Path) -> Result<FilterSpec, TaskError> {
    let Value::Object(m) = item else {
        return Err(err(
            path,
            "each `filter_list` entry must be a mapping with `name` and `filter`",
        ));
    };
    let name = m
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| err(path, "a `filter_list` entry has no `name`"))?;
    let Some(Value::Array(steps)) = m.get("filter") else {
        return Err(err(path, format!("filter `{name}` has no `filter` list")));
    };
    let steps = steps
        .iter()
        .map(|s| {
            let function = s.get("function").and_then(Value::as_str).unwrap_or_default();
            let allowed: &[&str] = match function {
                "regex" => &["function", "regex_pattern", "group_select", "fallback"],
                _ => &["function"],
            };
            if let Some(Value::Object(o)) = Some(s)
                && let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str()))
            {
                return Err(err(path, format!("filter `{name}`: option `{k}` of `{function}` is not supported")));
            }
            Ok(match function {
                "regex" => FilterStep::Regex {
                    pattern: s
                        .get("regex_pattern")
                        .and_then(Value::as_str)
                        .unwrap_or(r"#### (\-?[0-9\.\,]+)")
                        .to_owned(),
                    group_select: s.get("group_select").and_then(Value::as_i64).unwrap_or(0),
                    fallback: s.get("fallback").and_then(Value::as_str).unwrap_or("[invalid]").to_owned(),
                },
                "take_first" => FilterStep::TakeFirst,
                "lowercase" => FilterStep::Lowercase,
                "uppercase" => FilterStep::Uppercase,
                "remove_whitespace" => FilterStep::RemoveWhitespace,
                other => {
                    return Err(err(path, format!("filter `{name}`: function `{other}` is not supported (regex, take_first, lowercase, uppercase, remove_whitespace)")));
                }
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(FilterSpec {
        name: name.to_owned(),
        steps,
    })
}

fn parse_group(map: Map<String, Value>, path: &Path) -> Result<GroupConfig, TaskError> {
    for key in map.keys() {
        if !GROUP_KEYS.contains(&key.as_str()) {
            return Err(unknown_key(key, GROUP_KEYS, path, "group"));
        }
    }
    let group =
        string(&map, "group", path)?.ok_or_else(|| err(path, "a group needs a `group` name"))?;
    let Some(Value::Array(items)) = map.get("task") else {
        unreachable!("checked by the caller");
    };
    let members = items
        .iter()
        .map(|item| match item {
            Value::String(name) => Ok(GroupMember::Name(name.clone())),
            Value::Object(m) => match parse_definition(m.clone(), path)? {
                Definition::Task(t) => Ok(GroupMember::Task(t)),
                Definition::Group(_) => Err(err(
                    path,
                    "groups inside groups must be defined in their own file and named",
                )),
            },
            _ => Err(err(
                path,
                "each `task` of a group must be a task name or a task definition",
            )),
        })
        .collect::<Result<_, _>>()?;
    let aggregate = match map.get("aggregate_metric_list").filter(|v| !v.is_null()) {
        None => Vec::new(),
        Some(v) => {
            let items = match v {
                Value::Array(a) => a.clone(),
                Value::Object(_) => vec![v.clone()],
                _ => return Err(err(path, "`aggregate_metric_list` must be a list")),
            };
            items
                .iter()
                .map(|a| {
                    let metric = a.get("metric").and_then(Value::as_str).ok_or_else(|| {
                        err(path, "an `aggregate_metric_list` entry has no `metric`")
                    })?;
                    if let Some(agg) = a.get("aggregation").and_then(Value::as_str)
                        && agg != "mean"
                    {
                        return Err(err(
                            path,
                            format!("group aggregation `{agg}` is not supported (mean)"),
                        ));
                    }
                    if let Some(Value::Object(o)) = Some(a)
                        && let Some(k) = o.keys().find(|k| {
                            !["metric", "aggregation", "weight_by_size", "filter_list"]
                                .contains(&k.as_str())
                        })
                    {
                        return Err(err(
                            path,
                            format!("`aggregate_metric_list`: option `{k}` is not supported"),
                        ));
                    }
                    let filter_list = match a.get("filter_list") {
                        None => vec!["none".to_owned()],
                        Some(Value::String(s)) => vec![s.clone()],
                        Some(Value::Array(l)) => l
                            .iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect(),
                        Some(_) => {
                            return Err(err(
                                path,
                                "`aggregate_metric_list.filter_list` must be filter names",
                            ));
                        }
                    };
                    Ok(AggregateSpec {
                        metric: metric.to_owned(),
                        weight_by_size: a
                            .get("weight_by_size")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                        filter_list,
                    })
                })
                .collect::<Result<_, _>>()?
        }
    };
    Ok(GroupConfig {
        group,
        group_alias: string(&map, "group_alias", path)?,
        members,
        aggregate,
        version: map.get("metadata").and_then(|m| m.get("version")).cloned(),
        source: path.to_owned(),
    })
}
