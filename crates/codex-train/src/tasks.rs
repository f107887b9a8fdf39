//! Benchmark tasks on a codex model: [`codex_eval::tasks::LanguageModel`]
//! answered the way lm-evaluation-harness's `hf` model answers (the same
//! tokenization of context and continuation, truncation, rolling windows and
//! greedy generation), batched by length; and the `codex eval tasks` job.

use std::path::{Path, PathBuf};

use codex_eval::tasks::{self, GenerateRequest, LanguageModel, RunOptions, TaskSet, TasksReport};
use codex_model::burn::module::Module;
use codex_model::burn::tensor::{Device, Int, Tensor, TensorData};
use codex_model::{GenerateOptions, Transformer};
use codex_tokenize::AnyTokenizer;

use crate::error::TrainError;
use crate::load::{InferenceModel, load_for_inference};

/// The harness's default `max_gen_toks`.
pub const DEFAULT_MAX_GEN_TOKS: usize = 256;

/// A model answering task requests.
#[derive(Debug)]
pub struct TaskModel<'a> {
    model: &'a Transformer,
    tokenizer: &'a AnyTokenizer,
    /// Fed before a text with no context (the harness's `prefix_token_id`:
    /// the tokenizer's BOS, else its EOS).
    pub prefix_token: u32,
    /// Tokens generation stops at.
    pub stop_tokens: Vec<u32>,
    /// Sequences per forward pass.
    pub batch_size: usize,
    /// What `results.json` records about the model.
    pub description: serde_json::Value,
}

impl<'a> TaskModel<'a> {
    /// A model with its tokenizer; `prefix_token` and `stop_tokens` as the
    /// harness takes them from the tokenizer.
    pub fn new(
        model: &'a Transformer,
        tokenizer: &'a AnyTokenizer,
        prefix_token: u32,
        stop_tokens: Vec<u32>,
        batch_size: usize,
    ) -> Self {
        Self {
            model,
            tokenizer,
            prefix_token,
            stop_tokens,
            batch_size: batch_size.max(1),
            description: serde_json::Value::Null,
        }
    }

    /// For a model loaded by [`load_for_inference`].
    pub fn of(loaded: &'a InferenceModel, batch_size: usize) -> Result<Self, TrainError> {
        let dir = loaded.tokenizer_path.parent().unwrap_or(Path::new("."));
        let special = codex_tokenize::SpecialTokens::read(dir)?.unwrap_or_default();
        let eos = loaded.separator();
        let prefix = special
            .bos
            .as_deref()
            .and_then(|t| loaded.tokenizer.token_to_id(t))
            .or(eos)
            .ok_or_else(|| {
                TrainError::input(
                    loaded.tokenizer_path.display(),
                    "the tokenizer has neither a BOS nor an EOS token to start a text with",
                )
            })?;
        let mut m = Self::new(
            &loaded.model,
            &loaded.tokenizer,
            prefix,
            loaded.stop_tokens()?,
            batch_size,
        );
        m.description = serde_json::json!({
            "source": loaded.source,
            "step": loaded.step,
            "context_length": loaded.model.config().context_length,
        });
        Ok(m)
    }

    fn max_length(&self) -> usize {
        self.model.config().context_length
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>, TrainError> {
        Ok(self.tokenizer.encode(text, false)?)
    }

    /// The harness's `_encode_pair`: trailing whitespace of the context moves
    /// to the continuation; the continuation is what encoding both adds.
    fn encode_pair(
        &self,
        context: &str,
        continuation: &str,
    ) -> Result<(Vec<u32>, Vec<u32>), TrainError> {
        if context.is_empty() {
            return Ok((vec![self.prefix_token], self.encode(continuation)?));
        }
        let trimmed = context.trim_end();
        let (ctx, cont) = (
            trimmed,
            format!("{}{continuation}", &context[trimmed.len()..]),
        );
        let whole = self.encode(&format!("{ctx}{cont}"))?;
        let ctx_enc = self.encode(ctx)?;
        let cont_enc = whole.get(ctx_enc.len()..).unwrap_or_default().to_vec();
        Ok((ctx_enc, cont_enc))
    }

    /// `(logprob, greedy)` of token-level `(context, continuation)` pairs,
    /// longest first in padded batches, returned in the given order.
    fn score_tokens(&self, pairs: &[(Vec<u32>, Vec<u32>)]) -> Result<Vec<(f64, bool)>, TrainError> {
        let max_len = self.max_length();
        let vocab = self.model.config().vocab_size;
        let model = self.model.valid();
        let device = model.wte.weight.val().device();
        // (input tokens, number of scored positions, continuation tokens)
        let inputs: Vec<(Vec<u32>, Vec<u32>)> = pairs
            .iter()
            .map(|(ctx, cont)| {
                let mut all: Vec<u32> = ctx.iter().chain(cont).copied().collect();
                if all.len() > max_len + 1 {
                    all.drain(..all.len() - (max_len + 1));
                }
                all.pop();
                (all, cont.clone())
            })
            .collect();
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by(|&a, &b| {
            let la = pairs[a].0.len() + pairs[a].1.len();
            let lb = pairs[b].0.len() + pairs[b].1.len();
            lb.cmp(&la).then_with(|| {
                pairs[a]
                    .0
                    .iter()
                    .chain(&pairs[a].1)
                    .cmp(pairs[b].0.iter().chain(&pairs[b].1))
            })
        });
        let mut out = vec![(0.0, false); inputs.len()];
        for chunk in order.chunks(self.batch_size) {
            let width = chunk
                .iter()
                .map(|&i| inputs[i].0.len())
                .max()
                .unwrap_or(1)
                .max(1);
            let mut flat = Vec::with_capacity(chunk.len() * width);
            for &i in chunk {
                let inp = &inputs[i].0;
                flat.extend(inp.iter().map(|&t| i64::from(t)));
                flat.extend(std::iter::repeat_n(0i64, width - inp.len()));
            }
            let x =
                Tensor::<2, Int>::from_data(TensorData::new(flat, [chunk.len(), width]), &device);
            let logits = model.forward(x)?;
            let data = logits.into_data();
            let values: Vec<f32> = data
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| TrainError::input("task logits", format!("{e:?}")))?;
            for (row, &i) in chunk.iter().enumerate() {
                let (inp, cont) = &inputs[i];
                let inplen = inp.len();
                let contlen = cont.len();
                let mut sum = 0.0f64;
                let mut greedy = true;
                for (j, &tok) in cont.iter().enumerate() {
                    let pos = inplen - contlen + j;
                    let base = (row * width + pos) * vocab;
                    let r = &values[base..base + vocab];
                    let mut best = 0usize;
                    let mut max = f32::NEG_INFINITY;
                    for (k, &v) in r.iter().enumerate() {
                        if v > max {
                            max = v;
                            best = k;
                        }
                    }
                    let lse = f64::from(max)
                        + r.iter()
                            .map(|&v| (f64::from(v) - f64::from(max)).exp())
                            .sum::<f64>()
                            .ln();
                    sum += f64::from(r[tok as usize]) - lse;
                    greedy &= best == tok as usize;
                }
                out[i] = (sum, greedy);
            }
        }
        Ok(out)
    }

    /// The harness's rolling windows of one text: the first window predicts
    /// every token after the prefix token, later ones the next tokens with as
    /// much context as fits.
    fn rolling_windows(&self, tokens: &[u32]) -> Vec<(Vec<u32>, Vec<u32>)> {
        let max = self.max_length();
        let mut out = Vec::new();
        if tokens.is_empty() {
            return out;
        }
        let first = max.min(tokens.len());
        let mut input = vec![self.prefix_token];
        input.extend_from_slice(&tokens[..first - 1]);
        out.push((input, tokens[..first].to_vec()));
        let mut predicted = first;
        while predicted < tokens.len() {
            let n = (tokens.len() - predicted).min(max);
            let end = predicted + n;
            let input = tokens[end.saturating_sub(max + 1)..end - 1].to_vec();
            out.push((input, tokens[end - n..end].to_vec()));
            predicted += n;
        }
        // Disjoint: the context is the input without the predicted tokens.
        out.into_iter()
            .map(|(a, b)| {
                let keep = a.len() - (b.len() - 1);
                (a[..keep].to_vec(), b)
            })
            .collect()
    }
}

impl LanguageModel for TaskModel<'_> {
    type Error = TrainError;

    fn loglikelihood(
        &mut self,
        requests: &[(String, String)],
    ) -> Result<Vec<(f64, bool)>, TrainError> {
        let pairs = requests
            .iter()
            .map(|(c, x)| {
                let (ctx, cont) = self.encode_pair(c, x)?;
                if cont.is_empty() {
                    return Err(TrainError::input(
                        format!("task request {c:?} → {x:?}"),
                        "the continuation encodes to no tokens",
                    ));
                }
                Ok((ctx, cont))
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        self.score_tokens(&pairs)
    }

    fn loglikelihood_rolling(&mut self, texts: &[String]) -> Result<Vec<f64>, TrainError> {
        let mut windows = Vec::new();
        let mut owner = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            for w in self.rolling_windows(&self.encode(t)?) {
                windows.push(w);
                owner.push(i);
            }
        }
        let scores = self.score_tokens(&windows)?;
        let mut out = vec![0.0; texts.len()];
        for (i, (ll, _)) in owner.into_iter().zip(scores) {
            out[i] += ll;
        }
        Ok(out)
    }

    fn generate_until(&mut self, requests: &[GenerateRequest]) -> Result<Vec<String>, TrainError> {
        let max_len = self.max_length();
        let mut prompts = Vec::with_capacity(requests.len());
        for r in requests {
            let max_gen = r.max_gen_toks.unwrap_or(DEFAULT_MAX_GEN_TOKS);
            if max_gen >= max_len {
                return Err(TrainError::input(
                    "generation_kwargs.max_gen_toks",
                    format!(
                        "{max_gen} leaves no room for a prompt in the model's context of {max_len}"
                    ),
                ));
            }
            let mut ids = self.encode(&r.context)?;
            if ids.len() > max_len - max_gen {
                ids.drain(..ids.len() - (max_len - max_gen));
            }
            if ids.is_empty() {
                ids.push(self.prefix_token);
            }
            prompts.push((ids, max_gen));
        }
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by(|&a, &b| {
            prompts[b]
                .0
                .len()
                .cmp(&prompts[a].0.len())
                .then(requests[a].context.cmp(&requests[b].context))
        });
        let mut out = vec![String::new(); requests.len()];
        // Batches share one `max_gen_toks`.
        let mut i = 0;
        while i < order.len() {
            let max_gen = prompts[order[i]].1;
            let mut batch = Vec::new();
            while i < order.len() && batch.len() < self.batch_size && prompts[order[i]].1 == max_gen
            {
                batch.push(order[i]);
                i += 1;
            }
            let ids: Vec<Vec<u32>> = batch.iter().map(|&j| prompts[j].0.clone()).collect();
            let gens = codex_model::generate(
                self.model,
                &ids,
                &GenerateOptions {
                    max_new_tokens: max_gen,
                    temperature: 0.0,
                    stop_tokens: self.stop_tokens.clone(),
                    pad_token: self.prefix_token,
                    ..GenerateOptions::default()
                },
            )?;
            for (&j, g) in batch.iter().zip(gens) {
                let mut s = self.tokenizer.decode(&g.tokens, true)?;
                for term in &requests[j].until {
                    if !term.is_empty()
                        && let Some(at) = s.find(term.as_str())
                    {
                        s.truncate(at);
                    }
                }
                out[j] = s;
            }
        }
        Ok(out)
    }

    fn describe(&self) -> serde_json::Value {
        self.description.clone()
    }
}

/// What `codex eval tasks` asks for.
#[derive(Debug, Clone)]
pub struct TasksRequest {
    /// A run, checkpoint, native model or Hugging Face directory.
    pub model: PathBuf,
    /// Task and group files, or directories of them.
    pub tasks: Vec<PathBuf>,
    /// Overrides each task's `num_fewshot`.
    pub num_fewshot: Option<usize>,
    /// Documents per task at most.
    pub limit: Option<usize>,
    /// Sequences per forward pass.
    pub batch_size: usize,
    /// Where `results.json` and the samples go; `None`: `<run>/eval/tasks`
    /// for a model of a run, else `eval-tasks`.
    pub out: Option<PathBuf>,
}

/// What `codex eval tasks` produced.
#[derive(Debug)]
pub struct TasksOutcome {
    /// The results.
    pub report: TasksReport,
    /// The files written.
    pub written: Vec<PathBuf>,
    /// The output directory.
    pub out: PathBuf,
    /// Seconds spent answering requests.
    pub seconds: f64,
}

impl TasksOutcome {
    /// The table, the output directory and the speed.
    pub fn to_text(&self) -> String {
        format!(
            "{}\nresults  {}\nrequests {} in {:.1} s ({:.1}/s)\n",
            self.report.to_table(),
            self.out.join("results.json").display(),
            self.report.requests,
            self.seconds,
            self.report.requests as f64 / self.seconds.max(1e-9)
        )
    }
}

/// Runs tasks on a loaded model (no files written); used by `codex eval
/// tasks` and by training's `train.eval_tasks`.
pub fn run_tasks(
    set: &TaskSet,
    loaded: &InferenceModel,
    options: &RunOptions,
    batch_size: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TasksReport, TrainError> {
    let mut lm = TaskModel::of(loaded, batch_size)?;
    tasks::run(set, &mut lm, options, progress)
}

/// Reads the task files and renders every prompt once, so that a bad
/// definition, data file or template fails before any model work.
pub fn load_checked(paths: &[PathBuf], options: &RunOptions) -> Result<TaskSet, TrainError> {
    let set = tasks::load_tasks(paths).map_err(codex_eval::EvalError::from)?;
    for t in &set.tasks {
        let k = options.num_fewshot.or(t.config.num_fewshot).unwrap_or(0);
        t.requests(k, options.limit, options.fewshot_seed)
            .map_err(codex_eval::EvalError::from)?;
    }
    Ok(set)
}

/// Benchmark tasks scored during training (`train.eval_tasks`).
#[derive(Debug)]
pub struct TrainingTasks<'a> {
    /// The tasks, loaded.
    pub set: &'a TaskSet,
    /// The run's tokenizer.
    pub tokenizer: &'a AnyTokenizer,
    /// Token before a text without context.
    pub prefix_token: u32,
    /// Tokens generation stops at.
    pub stop_tokens: Vec<u32>,
    /// Limit and few-shot settings.
    pub options: RunOptions,
    /// Sequences per forward pass.
    pub batch_size: usize,
}

impl TrainingTasks<'_> {
    /// Scores every task on `model`: `(task or group, metric[/filter], value)`.
    pub fn score(&self, model: &Transformer) -> Result<Vec<(String, f64)>, TrainError> {
        let mut lm = TaskModel::new(
            model,
            self.tokenizer,
            self.prefix_token,
            self.stop_tokens.clone(),
            self.batch_size,
        );
        let report = tasks::run(self.set, &mut lm, &self.options, &mut |_, _| {})?;
        Ok(report
            .values()
            .into_iter()
            .map(|(task, key, v)| {
                let name = match key.split_once(',') {
                    Some((metric, "none")) => format!("{task}/{metric}"),
                    Some((metric, filter)) => format!("{task}/{metric}/{filter}"),
                    None => format!("{task}/{key}"),
                };
                (name, v)
            })
            .collect())
    }
}

/// The `codex eval tasks` job: the tasks read (bad definitions, data or
/// templates fail before the model is loaded or anything is written), the
/// model loaded, every request answered, and `results.json` with
/// `samples_<task>.jsonl` written into the output directory.
pub fn evaluate_tasks(
    request: &TasksRequest,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TasksOutcome, TrainError> {
    let set = tasks::load_tasks(&request.tasks).map_err(codex_eval::EvalError::from)?;
    let options = RunOptions {
        num_fewshot: request.num_fewshot,
        limit: request.limit,
        ..RunOptions::default()
    };
    // Every prompt is rendered once before loading the model, so a template
    // that fails on some document stops the job here.
    for t in &set.tasks {
        let k = options.num_fewshot.or(t.config.num_fewshot).unwrap_or(0);
        t.requests(k, options.limit, options.fewshot_seed)
            .map_err(codex_eval::EvalError::from)?;
    }
    let loaded = load_for_inference(&request.model, device)?;
    let out = match (&request.out, &loaded.run) {
        (Some(o), _) => o.clone(),
        (None, Some(run)) => run.join("eval").join("tasks"),
        (None, None) => PathBuf::from("eval-tasks"),
    };
    let start = std::time::Instant::now();
    let report = run_tasks(&set, &loaded, &options, request.batch_size, progress)?;
    let seconds = start.elapsed().as_secs_f64();
    let written = report.write(&out)?;
    Ok(TasksOutcome {
        report,
        written,
        out,
        seconds,
    })
}
