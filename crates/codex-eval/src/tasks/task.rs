//! A task ready to run: its documents loaded, its templates compiled, and
//! the harness's rules for prompts, few-shot contexts, requests and per-document
//! scores.

use serde_json::{Map, Value};

use super::config::{OutputType, TaskConfig};
use super::dataset::{self, Doc};
use super::metrics::{self, SampleValue};
use super::pyrandom::PyRandom;
use super::template::{Templates, literal_eval, py_str};
use super::{Request, Response, TaskError};

/// Where a prompt piece comes from.
#[derive(Debug, Clone)]
enum Source {
    Field(String),
    Template(String),
    Int(i64),
    List(Vec<Value>),
}

/// A task with its data.
#[derive(Debug)]
pub struct Task {
    /// The definition.
    pub config: TaskConfig,
    docs: Vec<Doc>,
    fewshot_docs: Vec<Doc>,
    templates: Templates,
    text: Option<Source>,
    target: Option<Source>,
    choice: Option<Source>,
    description: Option<String>,
    multiple_input: bool,
    multiple_target: bool,
    /// The data files read.
    pub files: Vec<std::path::PathBuf>,
}

/// The requests of one document.
#[derive(Debug, Clone)]
pub struct DocRequests {
    /// Index of the document in the evaluated split.
    pub doc_id: usize,
    /// The requests, in the harness's order.
    pub requests: Vec<Request>,
}

impl Task {
    /// Loads the task's data and compiles its templates.
    pub fn load(config: TaskConfig) -> Result<Self, TaskError> {
        let data = dataset::load(&config)?;
        let split_docs = |name: &Option<String>| -> Result<Option<Vec<Doc>>, TaskError> {
            match name {
                None => Ok(None),
                Some(s) => {
                    data.splits
                        .get(s)
                        .cloned()
                        .map(Some)
                        .ok_or_else(|| TaskError::Definition {
                            path: config.source.clone(),
                            message: format!("split `{s}` is not in the data (it has {})", {
                                let mut names: Vec<&String> = data.splits.keys().collect();
                                names.sort();
                                names
                                    .iter()
                                    .map(|n| format!("`{n}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }),
                        })
                }
            }
        };
        let test = split_docs(&config.test_split)?;
        let validation = split_docs(&config.validation_split)?;
        let training = split_docs(&config.training_split)?;
        let docs = match (&test, &validation) {
            (Some(t), _) => t.clone(),
            (None, Some(v)) => v.clone(),
            (None, None) => {
                return Err(TaskError::Definition {
                    path: config.source.clone(),
                    message: "the task needs `test_split` or `validation_split`".into(),
                });
            }
        };
        if docs.is_empty() {
            return Err(TaskError::Definition {
                path: config.source.clone(),
                message: "the evaluated split has no documents".into(),
            });
        }
        let fewshot_docs = if let Some(f) = split_docs(&config.fewshot_split)? {
            f
        } else if let Some(samples) = &config.fewshot_samples {
            samples.clone()
        } else if let Some(t) = training {
            t
        } else if let Some(v) = validation {
            v
        } else {
            test.unwrap_or_default()
        };
        let mut templates = Templates::new();
        let features = data.features.clone();
        let mut source = |key: &str, v: &Option<Value>| -> Result<Option<Source>, TaskError> {
            let bad = |m: String| TaskError::Definition {
                path: config.source.clone(),
                message: format!("`{key}`: {m}"),
            };
            Ok(match v {
                None => None,
                Some(Value::String(s)) if features.contains(s) => Some(Source::Field(s.clone())),
                Some(Value::String(s)) => Some(Source::Template(templates.add(s).map_err(bad)?)),
                Some(Value::Number(n)) => Some(Source::Int(
                    n.as_i64().ok_or_else(|| bad("must be an integer".into()))?,
                )),
                Some(Value::Array(a)) => Some(Source::List(a.clone())),
                Some(Value::Object(m)) if key == "doc_to_choice" => {
                    Some(Source::List(m.values().cloned().collect()))
                }
                Some(other) => {
                    return Err(bad(format!(
                        "must be a field name, a template, a number or a list, got {other}"
                    )));
                }
            })
        };
        let text = source("doc_to_text", &config.doc_to_text)?;
        let target = source("doc_to_target", &config.doc_to_target)?;
        let choice = source("doc_to_choice", &config.doc_to_choice)?;
        let description = if config.description.is_empty() {
            None
        } else {
            Some(
                templates
                    .add(&config.description)
                    .map_err(|m| TaskError::Definition {
                        path: config.source.clone(),
                        message: format!("`description`: {m}"),
                    })?,
            )
        };
        if config.output_type == OutputType::MultipleChoice && choice.is_none() {
            return Err(TaskError::Definition {
                path: config.source.clone(),
                message: "a multiple_choice task needs `doc_to_choice`".into(),
            });
        }
        let mut task = Self {
            files: data.files.clone(),
            config,
            docs,
            fewshot_docs,
            templates,
            text,
            target,
            choice,
            description,
            multiple_input: false,
            multiple_target: false,
        };
        // The harness decides from the first document whether questions are
        // choices (an index) and whether there are several gold answers.
        let first = task.docs[0].clone();
        if task.choice.is_some() && matches!(task.doc_to_text(&first, 0)?, Value::Number(_)) {
            task.multiple_input = true;
        }
        task.multiple_target = matches!(task.doc_to_target(&first, 0)?, Value::Array(_));
        Ok(task)
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.config.task
    }

    /// Documents in the evaluated split.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether the evaluated split is empty (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The evaluated document `i`.
    pub fn doc(&self, i: usize) -> &Doc {
        &self.docs[i]
    }

    fn field_error(
        &self,
        doc_id: usize,
        field: &str,
        message: impl std::fmt::Display,
    ) -> TaskError {
        TaskError::Render {
            task: self.config.task.clone(),
            doc: doc_id,
            field: field.to_owned(),
            message: message.to_string(),
        }
    }

    fn render(
        &self,
        name: &str,
        doc: &Doc,
        doc_id: usize,
        field: &str,
    ) -> Result<String, TaskError> {
        self.templates
            .render(name, doc)
            .map_err(|m| self.field_error(doc_id, field, m))
    }

    fn get(&self, doc: &Doc, f: &str) -> Value {
        doc.get(f).cloned().unwrap_or(Value::Null)
    }

    fn doc_to_text(&self, doc: &Doc, doc_id: usize) -> Result<Value, TaskError> {
        Ok(match &self.text {
            None => return Err(self.field_error(doc_id, "doc_to_text", "is not set")),
            Some(Source::Int(i)) => Value::from(*i),
            Some(Source::Field(f)) => self.get(doc, f),
            Some(Source::Template(t)) => {
                let s = self.render(t, doc, doc_id, "doc_to_text")?;
                if is_digit(&s) && self.choice.is_some() {
                    literal_eval(&s).map_err(|m| self.field_error(doc_id, "doc_to_text", m))?
                } else {
                    Value::String(s)
                }
            }
            Some(Source::List(l)) => Value::Array(l.clone()),
        })
    }

    fn doc_to_target(&self, doc: &Doc, doc_id: usize) -> Result<Value, TaskError> {
        Ok(match &self.target {
            None => return Err(self.field_error(doc_id, "doc_to_target", "is not set")),
            Some(Source::Int(i)) => Value::from(*i),
            Some(Source::Field(f)) => self.get(doc, f),
            Some(Source::Template(t)) => {
                let s = self.render(t, doc, doc_id, "doc_to_target")?;
                if is_digit(&s) && self.choice.is_some() {
                    literal_eval(&s).map_err(|m| self.field_error(doc_id, "doc_to_target", m))?
                } else if s.len() >= 2 && s.starts_with('[') && s.ends_with(']') {
                    literal_eval(&s).unwrap_or(Value::String(s))
                } else {
                    Value::String(s)
                }
            }
            Some(Source::List(l)) => Value::Array(l.clone()),
        })
    }

    fn doc_to_choice(&self, doc: &Doc, doc_id: usize) -> Result<Vec<String>, TaskError> {
        let v = match &self.choice {
            None => return Err(self.field_error(doc_id, "doc_to_choice", "is not set")),
            Some(Source::Field(f)) => self.get(doc, f),
            Some(Source::Template(t)) => {
                let s = self.render(t, doc, doc_id, "doc_to_choice")?;
                literal_eval(&s).map_err(|m| {
                    self.field_error(doc_id, "doc_to_choice", format!("`{s}` is not a list: {m}"))
                })?
            }
            Some(Source::List(l)) => Value::Array(l.clone()),
            Some(Source::Int(_)) => {
                return Err(self.field_error(doc_id, "doc_to_choice", "must be a list"));
            }
        };
        match v {
            Value::Array(items) => Ok(items.iter().map(py_str).collect()),
            other => Err(self.field_error(
                doc_id,
                "doc_to_choice",
                format!("must give a list, gave {other}"),
            )),
        }
    }

    /// The few-shot examples for one document, drawn and written as the
    /// harness (0.4.13) does: when the examples come from the evaluated split,
    /// `k + 1` are drawn and the document itself removed (drawn again without
    /// it if that leaves fewer than `k`); each is the question, the target
    /// delimiter, the answer and the few-shot delimiter.
    fn fewshot_examples(
        &self,
        doc: &Doc,
        doc_id: usize,
        k: usize,
        rnd: &mut PyRandom,
    ) -> Result<String, TaskError> {
        let exclude = self.config.fewshot_split == self.config.test_split;
        let docs = &self.fewshot_docs;
        let too_few = |have: usize| TaskError::Definition {
            path: self.config.source.clone(),
            message: format!(
                "{k} few-shot examples asked, but only {have} few-shot documents are available"
            ),
        };
        let picked: Vec<&Doc> = if self.config.fewshot_sampler == "first_n" {
            let pool: Vec<&Doc> = docs.iter().filter(|d| !exclude || *d != doc).collect();
            if pool.len() < k {
                return Err(too_few(pool.len()));
            }
            pool[..k].to_vec()
        } else if exclude {
            if k + 1 > docs.len() {
                return Err(too_few(docs.len()));
            }
            let drawn: Vec<&Doc> = rnd
                .sample_indices(docs.len(), k + 1)
                .into_iter()
                .map(|i| &docs[i])
                .filter(|d| *d != doc)
                .take(k)
                .collect();
            if drawn.len() < k {
                let pool: Vec<&Doc> = docs.iter().filter(|d| *d != doc).collect();
                if pool.len() < k {
                    return Err(too_few(pool.len()));
                }
                rnd.sample_indices(pool.len(), k)
                    .into_iter()
                    .map(|i| pool[i])
                    .collect()
            } else {
                drawn
            }
        } else {
            if k > docs.len() {
                return Err(too_few(docs.len()));
            }
            rnd.sample_indices(docs.len(), k)
                .into_iter()
                .map(|i| &docs[i])
                .collect()
        };
        let mut out = String::new();
        for d in picked {
            let mut question = self.doc_to_text(d, doc_id)?;
            let choices = match &self.choice {
                Some(_) => Some(self.doc_to_choice(d, doc_id)?),
                None => None,
            };
            if self.multiple_input
                && let (Value::Number(n), Some(c)) = (&question, &choices)
            {
                question = Value::String(
                    index(c, n)
                        .ok_or_else(|| {
                            self.field_error(
                                doc_id,
                                "doc_to_text",
                                "few-shot index outside the choices",
                            )
                        })?
                        .to_owned(),
                );
            }
            let Value::String(question) = question else {
                return Err(self.field_error(
                    doc_id,
                    "doc_to_text",
                    "a few-shot question must be text",
                ));
            };
            out.push_str(&question);
            let target = self.doc_to_target(d, doc_id)?;
            if target.is_null() || target == Value::String(String::new()) {
                continue;
            }
            out.push_str(&self.config.target_delimiter);
            match (&target, &choices) {
                (Value::Number(n), Some(c)) if n.is_u64() => {
                    out.push_str(index(c, n).ok_or_else(|| {
                        self.field_error(
                            doc_id,
                            "doc_to_target",
                            "few-shot index outside the choices",
                        )
                    })?)
                }
                (Value::Array(items), _) => {
                    out.push_str(&items.first().map(py_str).unwrap_or_default())
                }
                (other, _) => out.push_str(&py_str(other)),
            }
            out.push_str(&self.config.fewshot_delimiter);
        }
        Ok(out)
    }

    /// The context before the answer (the harness's `fewshot_context`): the
    /// description, `k` examples, and the question.
    fn context(
        &self,
        doc: &Doc,
        doc_id: usize,
        k: usize,
        rnd: &mut PyRandom,
    ) -> Result<String, TaskError> {
        let mut labeled = match &self.description {
            Some(_) if doc.contains_key(&self.config.description) => {
                py_str(&doc[&self.config.description])
            }
            Some(t) => self.render(t, doc, doc_id, "description")?,
            None => String::new(),
        };
        if k > 0 {
            labeled.push_str(&self.fewshot_examples(doc, doc_id, k, rnd)?);
        }
        if self.multiple_input {
            return Ok(labeled);
        }
        match self.doc_to_text(doc, doc_id)? {
            Value::String(s) => labeled.push_str(&s),
            Value::Number(n) if self.choice.is_some() => {
                let choices = self.doc_to_choice(doc, doc_id)?;
                labeled.push_str(index(&choices, &n).ok_or_else(|| {
                    self.field_error(doc_id, "doc_to_text", "index outside the choices")
                })?);
            }
            Value::Array(_) => {
                return Err(self.field_error(
                    doc_id,
                    "doc_to_text",
                    "a list of questions is not supported",
                ));
            }
            other => labeled.push_str(&py_str(&other)),
        }
        Ok(labeled)
    }

    /// The requests of the first `limit` documents, with `num_fewshot`
    /// examples each drawn from `random.Random(seed)` as the harness draws them.
    pub fn requests(
        &self,
        num_fewshot: usize,
        limit: Option<usize>,
        seed: u64,
    ) -> Result<Vec<DocRequests>, TaskError> {
        let mut rnd = PyRandom::new(seed);
        let n = limit.map_or(self.docs.len(), |l| l.min(self.docs.len()));
        let mut out = Vec::with_capacity(n);
        for doc_id in 0..n {
            let doc = &self.docs[doc_id];
            let ctx = self.context(doc, doc_id, num_fewshot, &mut rnd)?;
            // Scoring reads the target: a template that fails on it fails now.
            self.doc_to_target(doc, doc_id)?;
            let requests = match self.config.output_type {
                OutputType::Loglikelihood => vec![Request::Loglikelihood {
                    context: ctx,
                    continuation: py_str(&self.doc_to_target(doc, doc_id)?),
                }],
                OutputType::LoglikelihoodRolling => vec![Request::Rolling {
                    text: py_str(&self.doc_to_target(doc, doc_id)?),
                }],
                OutputType::MultipleChoice => {
                    let choices = self.doc_to_choice(doc, doc_id)?;
                    let delim = &self.config.target_delimiter;
                    if self.multiple_input {
                        let cont = format!("{delim}{}", py_str(&self.doc_to_target(doc, doc_id)?));
                        choices
                            .iter()
                            .map(|c| Request::Loglikelihood {
                                context: format!("{ctx}{c}"),
                                continuation: cont.clone(),
                            })
                            .collect()
                    } else {
                        choices
                            .iter()
                            .map(|c| Request::Loglikelihood {
                                context: ctx.clone(),
                                continuation: format!("{delim}{c}"),
                            })
                            .collect()
                    }
                }
                OutputType::GenerateUntil => vec![Request::Generate {
                    context: ctx,
                    until: self.config.until.clone(),
                    max_gen_toks: self.config.max_gen_toks,
                }],
            };
            out.push(DocRequests { doc_id, requests });
        }
        Ok(out)
    }

    /// The gold answer as the samples file records it.
    pub fn target(&self, doc_id: usize) -> Result<Value, TaskError> {
        self.doc_to_target(&self.docs[doc_id], doc_id)
    }

    /// Per-document metric values (the harness's `process_results`), for
    /// responses already through one filter.
    pub fn process_results(
        &self,
        doc_id: usize,
        responses: &[Response],
    ) -> Result<Vec<(String, SampleValue)>, TaskError> {
        let doc = &self.docs[doc_id];
        let wanted = |m: &str| self.config.metric_list.iter().any(|s| s.metric == m);
        let mut out = Vec::new();
        match self.config.output_type {
            OutputType::Loglikelihood => {
                let Some(Response::Loglikelihood { logprob, greedy }) = responses.first() else {
                    unreachable!("a loglikelihood request has a loglikelihood response")
                };
                if wanted("perplexity") {
                    out.push(("perplexity".into(), SampleValue::Number(*logprob)));
                }
                if wanted("acc") {
                    out.push((
                        "acc".into(),
                        SampleValue::Number(f64::from(u8::from(*greedy))),
                    ));
                }
            }
            OutputType::LoglikelihoodRolling => {
                let Some(Response::Rolling(ll)) = responses.first() else {
                    unreachable!("a rolling request has a rolling response")
                };
                let text = py_str(&self.doc_to_target(doc, doc_id)?);
                let words = metrics::count_words(&text) as f64;
                let bytes = text.len() as f64;
                for (m, w) in [
                    ("word_perplexity", words),
                    ("byte_perplexity", bytes),
                    ("bits_per_byte", bytes),
                ] {
                    if wanted(m) {
                        out.push((m.into(), SampleValue::Pair(*ll, w)));
                    }
                }
            }
            OutputType::MultipleChoice => {
                let (lls, greedy): (Vec<f64>, Vec<bool>) = responses
                    .iter()
                    .map(|r| match r {
                        Response::Loglikelihood { logprob, greedy } => (*logprob, *greedy),
                        _ => unreachable!("choices have loglikelihood responses"),
                    })
                    .unzip();
                let choices = self.doc_to_choice(doc, doc_id)?;
                let pred = argmax(lls.iter().copied());
                let pred_norm = argmax(
                    lls.iter()
                        .zip(&choices)
                        .map(|(ll, c)| ll / c.chars().count() as f64),
                );
                let gold = if self.multiple_input {
                    self.doc_to_text(doc, doc_id)?
                } else {
                    self.doc_to_target(doc, doc_id)?
                };
                let gold_index = |v: &Value| -> i64 {
                    match v {
                        Value::Number(n) => n
                            .as_i64()
                            .filter(|&i| i >= 0 && (i as usize) < choices.len())
                            .unwrap_or(-100),
                        Value::String(s) => choices
                            .iter()
                            .position(|c| c == s)
                            .map_or(-100, |i| i as i64),
                        _ => -100,
                    }
                };
                let (acc, acc_norm, em) =
                    if let (true, Value::Array(golds)) = (self.multiple_target, &gold) {
                        let g: Vec<i64> = golds.iter().map(gold_index).collect();
                        (
                            f64::from(u8::from(g.contains(&(pred as i64)))),
                            f64::from(u8::from(g.contains(&(pred_norm as i64)))),
                            f64::from(u8::from(g.iter().any(|&i| i >= 0 && greedy[i as usize]))),
                        )
                    } else {
                        let g = gold_index(&gold);
                        (
                            f64::from(u8::from(pred as i64 == g)),
                            f64::from(u8::from(pred_norm as i64 == g)),
                            if g >= 0 {
                                f64::from(u8::from(greedy[g as usize]))
                            } else {
                                0.0
                            },
                        )
                    };
                for (m, v) in [("acc", acc), ("acc_norm", acc_norm), ("exact_match", em)] {
                    if wanted(m) {
                        out.push((m.into(), SampleValue::Number(v)));
                    }
                }
            }
            OutputType::GenerateUntil => {
                let Some(Response::Generated(result)) = responses.first() else {
                    unreachable!("a generation request has a generated response")
                };
                let mut gold = self.doc_to_target(doc, doc_id)?;
                if self.choice.is_some() {
                    let choices = self.doc_to_choice(doc, doc_id)?;
                    let Value::Number(n) = &gold else {
                        return Err(self.field_error(
                            doc_id,
                            "doc_to_target",
                            "must be an index into doc_to_choice",
                        ));
                    };
                    gold = Value::String(
                        index(&choices, n)
                            .ok_or_else(|| {
                                self.field_error(
                                    doc_id,
                                    "doc_to_target",
                                    "index outside the choices",
                                )
                            })?
                            .to_owned(),
                    );
                }
                let golds: Vec<String> = match (&gold, self.multiple_target) {
                    (Value::Array(items), true) => items.iter().map(py_str).collect(),
                    (other, _) => vec![py_str(other)],
                };
                for spec in &self.config.metric_list {
                    let options = metrics::ExactMatch::from_kwargs(&spec.kwargs).map_err(|m| {
                        TaskError::Definition {
                            path: self.config.source.clone(),
                            message: format!("metric `{}`: {m}", spec.metric),
                        }
                    })?;
                    let any = golds.iter().any(|g| options.matches(result, g));
                    out.push((
                        spec.metric.clone(),
                        SampleValue::Number(f64::from(u8::from(any))),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The definition as `results.json` records it (the file's keys after
    /// `include`, with the defaults the harness fills in).
    pub fn config_record(&self, num_fewshot: usize) -> Map<String, Value> {
        let mut m = self.config.raw.clone();
        m.insert("task".into(), Value::String(self.config.task.clone()));
        m.insert(
            "output_type".into(),
            Value::String(self.config.output_type.as_str().into()),
        );
        m.insert(
            "target_delimiter".into(),
            Value::String(self.config.target_delimiter.clone()),
        );
        m.insert(
            "fewshot_delimiter".into(),
            Value::String(self.config.fewshot_delimiter.clone()),
        );
        m.insert("num_fewshot".into(), Value::from(num_fewshot));
        m.insert("repeats".into(), Value::from(1));
        m
    }
}

fn is_digit(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

fn index<'a>(choices: &'a [String], n: &serde_json::Number) -> Option<&'a str> {
    n.as_u64()
        .and_then(|i| choices.get(i as usize))
        .map(String::as_str)
}

/// numpy's `argmax`: the first index of the largest value.
fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 || (i == 0) {
            best = (i, v);
        }
    }
    best.0
}
