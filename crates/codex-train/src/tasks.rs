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
        let prefix = prefix_token(
            &loaded.tokenizer,
            &loaded.tokenizer_path,
            loaded.separator(),
        )?
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

    /// `(logprob, greedy)` of token-level `(context, continuation)` pairs, in
    /// the given order. Pairs that share a context (a question's choices) read
    /// it once: the context is run with the key/value cache, which is then
    /// continued every way at once. The rest go longest first in padded batches.
    fn score_tokens(
        &self,
        pairs: &[(Vec<u32>, Vec<u32>)],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<(f64, bool)>, TrainError> {
        let max_len = self.max_length();
        let model = self.model.valid();
        let mut out = vec![(0.0, false); pairs.len()];
        // Groups of untruncated pairs with one context, worth sharing: the
        // context is longer than what the choices add.
        let mut groups: Vec<(Vec<u32>, Vec<usize>)> = Vec::new();
        let mut rest = Vec::new();
        {
            let mut by_ctx: std::collections::BTreeMap<&[u32], Vec<usize>> = Default::default();
            for (i, (ctx, cont)) in pairs.iter().enumerate() {
                if !ctx.is_empty() && ctx.len() + cont.len() <= max_len {
                    by_ctx.entry(ctx.as_slice()).or_default().push(i);
                } else {
                    rest.push(i);
                }
            }
            for (ctx, members) in by_ctx {
                let added: usize = members.iter().map(|&i| pairs[i].1.len()).sum();
                if members.len() >= 2 && ctx.len() * (members.len() - 1) > added {
                    groups.push((ctx.to_vec(), members));
                } else {
                    rest.extend(members);
                }
            }
        }
        // Longest first, as the harness orders them (then by tokens, for
        // a deterministic order).
        rest.sort_by(|&a, &b| {
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
        let mut answered = 0;
        for (ctx, members) in &groups {
            self.score_shared(&model, ctx, members, pairs, &mut out)?;
            answered += members.len();
            done(answered);
        }
        for chunk in rest.chunks(self.batch_size * 4) {
            self.score_batched(&model, chunk, pairs, &mut out)?;
            answered += chunk.len();
            done(answered);
        }
        Ok(out)
    }

    /// One context, several continuations: the context through the cache
    /// once, then every continuation (less its last token) as one batch.
    fn score_shared(
        &self,
        model: &Transformer,
        ctx: &[u32],
        members: &[usize],
        pairs: &[(Vec<u32>, Vec<u32>)],
        out: &mut [(f64, bool)],
    ) -> Result<(), TrainError> {
        let vocab = self.model.config().vocab_size;
        let device = model.wte.weight.val().device();
        let mut cache = codex_model::KvCache::new();
        let x = int_tensor(&[ctx.to_vec()], ctx.len(), &device);
        let first = model.forward_with(
            x,
            codex_model::ForwardOptions {
                cache: Some(&mut cache),
                ..Default::default()
            },
        )?;
        let first = host_f32(first.narrow(1, ctx.len() - 1, 1))?;
        let width = members.iter().map(|&i| pairs[i].1.len()).max().unwrap_or(1) - 1;
        let rest = if width > 0 {
            let rows: Vec<Vec<u32>> = members
                .iter()
                .map(|&i| pairs[i].1[..pairs[i].1.len() - 1].to_vec())
                .collect();
            let mut cache = cache.repeat_batch(members.len());
            let logits = model.forward_with(
                int_tensor(&rows, width, &device),
                codex_model::ForwardOptions {
                    cache: Some(&mut cache),
                    ..Default::default()
                },
            )?;
            host_f32(logits)?
        } else {
            Vec::new()
        };
        for (row, &i) in members.iter().enumerate() {
            let cont = &pairs[i].1;
            let (mut sum, mut greedy) = row_score(&first[..vocab], cont[0]);
            for (j, &tok) in cont.iter().enumerate().skip(1) {
                let base = (row * width + j - 1) * vocab;
                let (lp, g) = row_score(&rest[base..base + vocab], tok);
                sum += lp;
                greedy &= g;
            }
            out[i] = (sum, greedy);
        }
        Ok(())
    }

    /// The harness's way: each pair's last `context_length` tokens before the
    /// final one, in right-padded batches (`which` comes sorted longest first).
    fn score_batched(
        &self,
        model: &Transformer,
        which: &[usize],
        pairs: &[(Vec<u32>, Vec<u32>)],
        out: &mut [(f64, bool)],
    ) -> Result<(), TrainError> {
        let max_len = self.max_length();
        let vocab = self.model.config().vocab_size;
        let device = model.wte.weight.val().device();
        let input = |i: usize| -> Vec<u32> {
            let (ctx, cont) = &pairs[i];
            let mut all: Vec<u32> = ctx.iter().chain(cont).copied().collect();
            if all.len() > max_len + 1 {
                all.drain(..all.len() - (max_len + 1));
            }
            all.pop();
            all
        };
        for chunk in which.chunks(self.batch_size) {
            let rows: Vec<Vec<u32>> = chunk.iter().map(|&i| input(i)).collect();
            let width = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let values = host_f32(model.forward(int_tensor(&rows, width, &device))?)?;
            for (row, &i) in chunk.iter().enumerate() {
                let inplen = rows[row].len();
                let cont = &pairs[i].1;
                let (mut sum, mut greedy) = (0.0, true);
                for (j, &tok) in cont.iter().enumerate() {
                    let base = (row * width + inplen - cont.len() + j) * vocab;
                    let (lp, g) = row_score(&values[base..base + vocab], tok);
                    sum += lp;
                    greedy &= g;
                }
                out[i] = (sum, greedy);
            }
        }
        Ok(())
    }

    /// Tokens whose own text holds one of the stop strings: once greedy
    /// decoding picks one, the answer is cut inside it, so generation can stop
    /// there and give what the harness gets by generating on and cutting.
    fn stop_ids(&self, until: &[String]) -> Result<Vec<u32>, TrainError> {
        let terms: Vec<&String> = until.iter().filter(|t| !t.is_empty()).collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = Vec::new();
        for id in 0..self.tokenizer.vocab_size() as u32 {
            let text = self.tokenizer.decode(&[id], true)?;
            if terms.iter().any(|t| text.contains(t.as_str())) {
                ids.push(id);
            }
        }
        Ok(ids)
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
        done: &mut dyn FnMut(usize),
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
        self.score_tokens(&pairs, done)
    }

    fn loglikelihood_rolling(
        &mut self,
        texts: &[String],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<f64>, TrainError> {
        let mut windows = Vec::new();
        let mut owner = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            for w in self.rolling_windows(&self.encode(t)?) {
                windows.push(w);
                owner.push(i);
            }
        }
        // Windows answered, as a share of the texts.
        let (n_windows, n_texts) = (windows.len().max(1), texts.len());
        let scores = self.score_tokens(&windows, &mut |n| done(n * n_texts / n_windows))?;
        let mut out = vec![0.0; texts.len()];
        for (i, (ll, _)) in owner.into_iter().zip(scores) {
            out[i] += ll;
        }
        Ok(out)
    }

    fn generate_until(
        &mut self,
        requests: &[GenerateRequest],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<String>, TrainError> {
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
        // Batches share their stop strings and `max_gen_toks` (as the
        // harness groups by generation settings), longest prompts first.
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by(|&a, &b| {
            (&requests[a].until, prompts[a].1)
                .cmp(&(&requests[b].until, prompts[b].1))
                .then(prompts[b].0.len().cmp(&prompts[a].0.len()))
                .then(requests[a].context.cmp(&requests[b].context))
        });
        let mut out = vec![String::new(); requests.len()];
        let mut stops: Option<(&[String], Vec<u32>)> = None;
        let mut i = 0;
        while i < order.len() {
            let (until, max_gen) = (&requests[order[i]].until, prompts[order[i]].1);
            let mut batch = Vec::new();
            while i < order.len()
                && batch.len() < self.batch_size
                && prompts[order[i]].1 == max_gen
                && &requests[order[i]].until == until
            {
                batch.push(order[i]);
                i += 1;
            }
            if stops.as_ref().is_none_or(|(u, _)| *u != until.as_slice()) {
                stops = Some((until.as_slice(), self.stop_ids(until)?));
            }
            let (_, string_stops) = stops.as_ref().expect("set above");
            let ids: Vec<Vec<u32>> = batch.iter().map(|&j| prompts[j].0.clone()).collect();
            let gens = codex_model::generate(
                self.model,
                &ids,
                &GenerateOptions {
                    max_new_tokens: max_gen,
                    temperature: 0.0,
                    stop_tokens: self
                        .stop_tokens
                        .iter()
                        .chain(string_stops)
                        .copied()
                        .collect(),
                    pad_token: self.prefix_token,
                    ..GenerateOptions::default()
                },
            )?;
            for (&j, g) in batch.iter().zip(gens) {
                let mut tokens = g.tokens;
                // A token holding a stop string ended the sequence early; its
                // text up to the string is part of the answer.
                if let codex_model::StopReason::StopToken(t) = g.stop
                    && !self.stop_tokens.contains(&t)
                {
                    tokens.push(t);
                }
                let mut s = self.tokenizer.decode(&tokens, true)?;
                for term in &requests[j].until {
                    if !term.is_empty()
                        && let Some(at) = s.find(term.as_str())
                    {
                        s.truncate(at);
                    }
                }
                out[j] = s;
            }
            done(i);
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

/// The harness's `prefix_token_id`: the BOS token the tokenizer's directory
/// declares, else `eos`.
pub(crate) fn prefix_token(
    tokenizer: &AnyTokenizer,
    tokenizer_path: &Path,
    eos: Option<u32>,
) -> Result<Option<u32>, TrainError> {
    let dir = tokenizer_path.parent().unwrap_or(Path::new("."));
    Ok(codex_tokenize::SpecialTokens::read(dir)?
        .and_then(|s| s.bos)
        .and_then(|b| tokenizer.token_to_id(&b))
        .or(eos))
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

/// Right-padded `[rows, width]` token ids.
fn int_tensor(rows: &[Vec<u32>], width: usize, device: &Device) -> Tensor<2, Int> {
    let mut flat = Vec::with_capacity(rows.len() * width);
    for r in rows {
        flat.extend(r.iter().map(|&t| i64::from(t)));
        flat.extend(std::iter::repeat_n(0i64, width - r.len()));
    }
    Tensor::<2, Int>::from_data(TensorData::new(flat, [rows.len(), width]), device)
}

/// A logits tensor on the host, row-major.
fn host_f32(t: Tensor<3>) -> Result<Vec<f32>, TrainError> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::input("task logits", format!("{e:?}")))
}

/// The log-probability of `tok` under one row of logits (log-sum-exp in
/// f64) and whether `tok` is the row's first largest logit.
fn row_score(row: &[f32], tok: u32) -> (f64, bool) {
    let (mut best, mut max) = (0usize, f32::NEG_INFINITY);
    for (k, &v) in row.iter().enumerate() {
        if v > max {
            max = v;
            best = k;
        }
    }
    let m = f64::from(max);
    let lse = m + row
        .iter()
        .map(|&v| (f64::from(v) - m).exp())
        .sum::<f64>()
        .ln();
    (f64::from(row[tok as usize]) - lse, best == tok as usize)
}
