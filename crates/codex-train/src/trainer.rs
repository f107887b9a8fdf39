//! The training loop: AdamW with a no-decay group, gradient accumulation,
//! global-norm clipping, scheduled learning rate, periodic evaluation and
//! checkpoints, a NaN guard, and a stop flag checked between steps.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{DType, Device, FloatDType, Int, Tensor, TensorData};
use codex_core::config::{Precision, TrainSection};
use codex_core::{MetricRecord, MetricSink};
use codex_data::{
    Batch, ExampleBatches, ExampleStore, RandomState, RandomWindows, Sequential, TokenStore,
};
use codex_model::burn;
use codex_model::{AdamW, ForwardOptions, LossOutput, Transformer, squared_norm};

use crate::checkpoint::{self, TrainState};
use crate::error::TrainError;
use crate::schedule::lr_at;

/// What the loop needs besides the model.
pub struct TrainInputs<'a> {
    /// The `train` section.
    pub train: &'a TrainSection,
    /// Training split.
    pub data: &'a TokenStore,
    /// Validation split, if any.
    pub validation: Option<&'a TokenStore>,
    /// Seed of the batch sampler (`Seeds::derive("data.sampler")`).
    pub sampler_seed: u64,
    /// Seed of dropout (`Seeds::derive("train.dropout")`); reseeded per step.
    pub dropout_seed: u64,
    /// The run's `checkpoints/` directory.
    pub checkpoints: &'a Path,
    /// BLAKE3 of the resolved configuration.
    pub config_hash: String,
    /// The base model under LoRA adapters loaded from elsewhere: checkpoints
    /// then hold the adapters alone and name it. `None` saves whole models.
    pub base: Option<checkpoint::BaseRef>,
    /// Where metrics go.
    pub sink: &'a mut dyn MetricSink,
    /// Called after every optimizer step.
    pub on_step: &'a mut dyn FnMut(&StepReport),
    /// Set (by a SIGINT/SIGTERM handler) to stop after the current step, saving first.
    pub stop: Option<&'a AtomicBool>,
    /// Chat data: the examples to train and validate on instead of windows
    /// of `data` and `validation`.
    pub examples: Option<ExampleInputs<'a>>,
    /// Benchmark tasks scored at every evaluation (`train.eval_tasks`).
    pub tasks: Option<crate::tasks::TrainingTasks<'a>>,
}

/// Chat examples for the training loop.
#[derive(Debug, Clone, Copy)]
pub struct ExampleInputs<'a> {
    /// Training examples.
    pub train: &'a ExampleStore,
    /// Validation examples, if any.
    pub validation: Option<&'a ExampleStore>,
    /// Pack several examples into each row.
    pub packing: bool,
}

/// What validation reads.
#[derive(Clone, Copy)]
enum Validation<'a> {
    Windows(&'a TokenStore),
    Examples(&'a ExampleStore, bool),
}

impl Validation<'_> {
    fn evaluate(
        self,
        model: &Transformer,
        batch_size: usize,
        batches: usize,
    ) -> Result<EvalMetrics, TrainError> {
        match self {
            Self::Windows(store) => evaluate(model, store, batch_size, batches),
            Self::Examples(store, packing) => {
                evaluate_examples(model, store, batch_size, batches, packing)
            }
        }
    }
}

/// Where the loop's batches come from.
enum Sampler<'a> {
    Windows(RandomWindows<'a>),
    Examples(ExampleBatches<'a>),
}

impl Sampler<'_> {
    fn next_batch(&mut self) -> Batch {
        match self {
            Self::Windows(s) => s.next_batch(),
            Self::Examples(s) => s.next_batch(),
        }
    }

    fn state(&self) -> RandomState {
        match self {
            Self::Windows(s) => s.state(),
            Self::Examples(s) => s.state(),
        }
    }
}

impl std::fmt::Debug for TrainInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainInputs")
            .field("checkpoints", &self.checkpoints)
            .finish_non_exhaustive()
    }
}

/// One optimizer step, for progress displays.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Steps completed.
    pub step: u64,
    /// Of the configured maximum.
    pub max_steps: u64,
    /// Training loss of this step.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Training tokens per second since the start of this invocation.
    pub tokens_per_second: f64,
    /// Validation metrics, when this step evaluated.
    pub eval: Option<EvalMetrics>,
}

/// Validation metrics over a number of windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalMetrics {
    /// Mean cross-entropy per token (nats).
    pub loss: f64,
    /// `exp(loss)`.
    pub perplexity: f64,
    /// Fraction of tokens predicted exactly by the argmax.
    pub token_accuracy: f64,
    /// Tokens evaluated.
    pub tokens: u64,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// `train.max_steps` reached.
    MaxSteps,
    /// `train.max_seconds` reached.
    MaxSeconds,
    /// `train.max_tokens` reached.
    MaxTokens,
    /// `train.max_epochs` reached.
    MaxEpochs,
    /// The early-stopping metric stopped improving.
    EarlyStopped,
    /// The stop flag was set.
    Interrupted,
}

impl StopCause {
    /// The cause as `summary.json` records it: `max_steps`, `max_seconds`,
    /// `max_tokens`, `max_epochs`, `early_stopping` or `interrupted`.
    pub fn name(self) -> &'static str {
        match self {
            Self::MaxSteps => "max_steps",
            Self::MaxSeconds => "max_seconds",
            Self::MaxTokens => "max_tokens",
            Self::MaxEpochs => "max_epochs",
            Self::EarlyStopped => "early_stopping",
            Self::Interrupted => "interrupted",
        }
    }

    /// The cause in words, with the limit that was reached.
    pub fn describe(self, train: &TrainSection) -> String {
        let limit = |key: &str, value: Option<String>| match value {
            Some(v) => format!("reached train.{key} = {v}"),
            None => format!("reached train.{key}"),
        };
        match self {
            Self::MaxSteps => limit("max_steps", Some(train.max_steps.to_string())),
            Self::MaxSeconds => limit("max_seconds", train.max_seconds.map(|s| s.to_string())),
            Self::MaxTokens => limit("max_tokens", train.max_tokens.map(|t| t.to_string())),
            Self::MaxEpochs => limit("max_epochs", train.max_epochs.map(|e| e.to_string())),
            Self::EarlyStopped => match &train.early_stopping {
                Some(e) => format!(
                    "early stopping: validation {} did not improve for {} evaluation{}",
                    e.metric,
                    e.patience,
                    if e.patience == 1 { "" } else { "s" }
                ),
                None => "early stopping".to_owned(),
            },
            Self::Interrupted => "stopped by a signal".to_owned(),
        }
    }
}

/// The result of [`train`].
#[derive(Debug)]
pub struct TrainOutcome {
    /// The trained model.
    pub model: Transformer,
    /// Steps completed in total (including before a resume).
    pub steps: u64,
    /// Tokens consumed in total.
    pub tokens: u64,
    /// Training loss of the last step.
    pub train_loss: f64,
    /// Validation metrics at the end, if a validation split exists.
    pub eval: Option<EvalMetrics>,
    /// Seconds spent in this invocation.
    pub seconds: f64,
    /// Training tokens per second in this invocation.
    pub tokens_per_second: f64,
    /// Achieved model FLOP/s (`flops_per_token × tokens_per_second`).
    pub flops_per_second: f64,
    /// Why it stopped.
    pub stop: StopCause,
    /// The last checkpoint written.
    pub checkpoint: Option<PathBuf>,
    /// Where the checkpoints after the resumed one went, when resuming from
    /// an earlier checkpoint started a branch ([`checkpoint::branch_from`]).
    pub abandoned: Option<PathBuf>,
}

/// Parameter ids and ranks, and which ones take weight decay.
struct ParamInfo {
    params: Vec<(ParamId, usize)>,
    no_decay: Vec<ParamId>,
}

fn param_info(model: &Transformer) -> ParamInfo {
    struct V(ParamInfo);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.params.push((param.id, D));
            // Norm scales and biases are 1-D; embeddings are decided below.
            if D == 1 {
                self.0.no_decay.push(param.id);
            }
        }
    }
    let mut v = V(ParamInfo {
        params: Vec::new(),
        no_decay: Vec::new(),
    });
    model.visit(&mut v);
    let mut info = v.0;
    info.no_decay.push(model.wte.weight.id);
    if let Some(wpe) = &model.wpe {
        info.no_decay.push(wpe.weight.id);
    }
    info
}

/// AdamW for matrices, AdamW without weight decay for norms, biases and embeddings.
/// codex-model's [`AdamW`] computes what Burn's does (same bits, same records),
/// in one pass per parameter on the CPU backend.
pub fn optimizer(train: &TrainSection, model: &Transformer) -> ModuleOptimizer {
    let adamw = |weight_decay: f64| {
        AdamW::new(
            train.beta1 as f32,
            train.beta2 as f32,
            train.eps as f32,
            weight_decay as f32,
        )
    };
    let info = param_info(model);
    ModuleOptimizer::from(adamw(train.weight_decay)).with_group(
        ParamGroup::from_ids(info.no_decay),
        adamw(0.0),
        None,
    )
}

/// Scale the gradients so their global L2 norm is at most `max_norm`; returns the
/// norm before clipping.
fn clip_global_norm(
    grads: &mut GradientsParams,
    params: &[(ParamId, usize)],
    max_norm: f64,
) -> f64 {
    let mut total: Option<Tensor<1>> = None;
    for &(id, rank) in params {
        let sq = match rank {
            1 => grads.get::<1>(id).map(squared_norm),
            2 => grads.get::<2>(id).map(squared_norm),
            _ => None,
        };
        if let Some(sq) = sq {
            total = Some(match total {
                Some(t) => t + sq,
                None => sq,
            });
        }
    }
    let Some(total) = total else {
        return 0.0;
    };
    let norm = f64::from(scalar(total)).sqrt();
    if max_norm > 0.0 && norm > max_norm {
        scale_grads(grads, params, max_norm / (norm + 1e-6));
    }
    norm
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 scalar")[0]
}

fn int_scalar(t: Tensor<1, Int>) -> i64 {
    t.into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("int scalar")[0]
}

/// Ignored targets (chat prompts and padding) carry this id.
const IGNORE: i64 = -100;

/// A batch as model inputs: ids, targets (ignored ones [`IGNORE`]) and the
/// positions and segment starts of chat examples.
struct BatchTensors {
    x: Tensor<2, Int>,
    y: Tensor<2, Int>,
    ignore: Option<i64>,
    positions: Option<Tensor<2, Int>>,
    starts: Option<Tensor<2, Int>>,
}

impl BatchTensors {
    fn options(&self) -> ForwardOptions<'static> {
        ForwardOptions {
            positions: self.positions.clone(),
            segment_starts: self.starts.clone(),
            ..ForwardOptions::default()
        }
    }
}

fn tensors(batch: &Batch, device: &Device) -> BatchTensors {
    let shape = [batch.batch, batch.seq_len];
    let to = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, shape), device);
    let ints = |v: &[u32]| v.iter().map(|&t| i64::from(t)).collect::<Vec<_>>();
    let masked = !batch.loss_mask.is_empty();
    let targets: Vec<i64> = if masked {
        batch
            .targets
            .iter()
            .zip(&batch.loss_mask)
            .map(|(&t, &m)| if m == 1 { i64::from(t) } else { IGNORE })
            .collect()
    } else {
        ints(&batch.targets)
    };
    BatchTensors {
        x: to(ints(&batch.inputs)),
        y: to(targets),
        ignore: masked.then_some(IGNORE),
        positions: (!batch.positions.is_empty()).then(|| to(ints(&batch.positions))),
        starts: (!batch.segment_starts.is_empty()).then(|| to(ints(&batch.segment_starts))),
    }
}

/// Loss, perplexity and token accuracy over up to `batches` batches of chat
/// examples of `store`, in order, counting the tokens the masks select.
pub fn evaluate_examples(
    model: &Transformer,
    store: &ExampleStore,
    batch_size: usize,
    batches: usize,
    packing: bool,
) -> Result<EvalMetrics, TrainError> {
    let model = model.valid();
    let seq_len = model.config().context_length;
    let mut sampler = ExampleBatches::in_order(store, batch_size, seq_len, packing)?;
    let n = sampler.batches_per_epoch().clamp(1, batches.max(1));
    let device = model.wte.weight.val().device();
    let (mut nll, mut count, mut correct) = (0.0f64, 0i64, 0i64);
    for _ in 0..n {
        let b = tensors(&sampler.next_batch(), &device);
        let options = b.options();
        let out = model.loss(b.x, b.y, b.ignore, options)?;
        nll += f64::from(scalar(out.nll_sum));
        count += int_scalar(out.count);
        correct += int_scalar(out.correct);
    }
    Ok(metrics(nll, count, correct))
}

/// Loss, perplexity and token accuracy over up to `batches` consecutive windows
/// of `store`, always the same ones.
pub fn evaluate(
    model: &Transformer,
    store: &TokenStore,
    batch_size: usize,
    batches: usize,
) -> Result<EvalMetrics, TrainError> {
    let model = model.valid();
    let seq_len = model.config().context_length;
    let mut sampler = Sequential::new(store, batch_size, seq_len)?;
    let device = model.wte.weight.val().device();
    let n = (sampler.windows_per_epoch() as usize)
        .div_ceil(batch_size)
        .clamp(1, batches.max(1));
    let (mut nll, mut count, mut correct) = (0.0f64, 0i64, 0i64);
    for _ in 0..n {
        let b = tensors(&sampler.next_batch(), &device);
        let out = model.loss(b.x, b.y, None, ForwardOptions::default())?;
        nll += f64::from(scalar(out.nll_sum));
        count += int_scalar(out.count);
        correct += int_scalar(out.correct);
    }
    Ok(metrics(nll, count, correct))
}

fn metrics(nll: f64, count: i64, correct: i64) -> EvalMetrics {
    let loss = nll / count.max(1) as f64;
    EvalMetrics {
        loss,
        perplexity: loss.exp(),
        token_accuracy: correct as f64 / count.max(1) as f64,
        tokens: count as u64,
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Dynamic loss scaling for f16: the loss is multiplied by the scale before
/// the backward pass so that small gradients survive float16's range, and the
/// gradients are divided by it again in f32. A step whose gradients overflow is
/// skipped and halves the scale; 2,000 finite steps in a row double it. The
/// state is two numbers, saved in checkpoints so that resuming is exact.
#[derive(Debug, Clone, Copy)]
struct LossScaler {
    scale: f64,
    good: u64,
}

impl LossScaler {
    const INITIAL: f64 = 65_536.0;
    const GROWTH_INTERVAL: u64 = 2_000;

    fn after_step(&mut self, finite: bool) {
        if finite {
            self.good += 1;
            if self.good >= Self::GROWTH_INTERVAL {
                self.scale *= 2.0;
                self.good = 0;
            }
        } else {
            self.scale = (self.scale / 2.0).max(1.0);
            self.good = 0;
        }
    }
}

/// Multiplies every gradient by `factor`.
fn scale_grads(grads: &mut GradientsParams, params: &[(ParamId, usize)], factor: f64) {
    for &(id, rank) in params {
        match rank {
            1 => {
                if let Some(g) = grads.remove::<1>(id) {
                    grads.register(id, g * factor);
                }
            }
            2 => {
                if let Some(g) = grads.remove::<2>(id) {
                    grads.register(id, g * factor);
                }
            }
            _ => {}
        }
    }
}

/// The dtype the forward and backward passes run in, `None` for plain f32; a
/// device without the dtype is an error naming both.
fn compute_dtype(precision: Precision, device: &Device) -> Result<Option<FloatDType>, TrainError> {
    let dtype = match precision {
        Precision::F32 => return Ok(None),
        Precision::Bf16 => FloatDType::BF16,
        Precision::F16 => FloatDType::F16,
    };
    if !device.supports_dtype(DType::from(dtype)) {
        return Err(TrainError::Precision {
            precision: format!("{dtype:?}").to_lowercase(),
            message: format!("the device {device:?} cannot compute in it; use train.precision=f32"),
        });
    }
    Ok(Some(dtype))
}

/// Logits in f32: computed by a copy of the model cast to `compute` when set.
/// The cast is part of the autodiff graph, so gradients reach the f32 master
/// parameters in f32 and the optimizer state stays f32.
/// The batch's loss with the model cast to `compute` (mixed precision) or as
/// it is; the cross-entropy itself is f32 either way.
fn loss_in(
    model: &Transformer,
    b: BatchTensors,
    compute: Option<FloatDType>,
) -> Result<LossOutput, TrainError> {
    let options = b.options();
    Ok(match compute {
        None => model.loss(b.x, b.y, b.ignore, options)?,
        Some(dtype) => model
            .clone()
            .cast(dtype)?
            .loss(b.x, b.y, b.ignore, options)?,
    })
}

fn sink_err(sink: &dyn MetricSink, e: codex_core::SinkError) -> TrainError {
    TrainError::Sink {
        sink: sink.name().to_owned(),
        message: e.to_string(),
    }
}

/// Train `model` (on an autodiff device) from `resume` or from step 0.
pub fn train(
    mut model: Transformer,
    resume: Option<checkpoint::Loaded>,
    inputs: TrainInputs<'_>,
) -> Result<TrainOutcome, TrainError> {
    let t = inputs.train;
    if t.batch_size == 0 || t.grad_accum == 0 {
        return Err(TrainError::Invalid {
            key: "train.batch_size".into(),
            message: "batch_size and grad_accum must be at least 1".into(),
        });
    }
    let device = model.wte.weight.val().device();
    let seq_len = model.config().context_length;
    let batch_size = t.batch_size as usize;
    let mut optimizer_record = None;
    let mut early = None;
    let mut resumed_scale = None;
    let larger_is_better = t.best_mode == codex_core::config::MetricMode::Max;
    let mut abandoned = None;
    let (mut step, mut tokens, mut sampler_state, mut train_loss) = match resume {
        Some(loaded) => {
            let s = loaded.state;
            if s.model != *model.config() {
                return Err(TrainError::ShapeChanged {
                    path: loaded.path,
                    keys: diff_keys(&s.model, model.config()),
                });
            }
            // Checkpoints after this one belong to an abandoned future.
            abandoned = checkpoint::branch_from(inputs.checkpoints, s.step, larger_is_better)?;
            model = loaded.model.fork(&device);
            optimizer_record = Some(loaded.optimizer);
            early = s.early_stopping;
            resumed_scale = s.loss_scale;
            (s.step, s.tokens, s.sampler, s.train_loss)
        }
        None => (
            0,
            0,
            RandomState {
                seed: inputs.sampler_seed,
                batches: 0,
            },
            f64::NAN,
        ),
    };
    // Parameter ids come from the model actually trained (a loaded checkpoint
    // restores its own), so groups and clipping are built only now.
    let info = param_info(&model);
    let mut optim = optimizer(t, &model);
    if let Some(record) = optimizer_record {
        optim = optim.load_record(record);
    }
    let compute = compute_dtype(t.precision, &device)?;
    let mut scaler = (compute == Some(FloatDType::F16)).then(|| {
        let (scale, good) = resumed_scale.unwrap_or((LossScaler::INITIAL, 0));
        LossScaler { scale, good }
    });
    let mut sampler = match &inputs.examples {
        None => Sampler::Windows(RandomWindows::resume(
            inputs.data,
            batch_size,
            seq_len,
            sampler_state,
        )?),
        Some(e) => Sampler::Examples(ExampleBatches::resume(
            e.train,
            batch_size,
            seq_len,
            e.packing,
            sampler_state,
        )?),
    };
    let flops_per_token = model.config().flops_per_token();
    let validation = match &inputs.examples {
        None => inputs.validation.map(Validation::Windows),
        Some(e) => e.validation.map(|v| Validation::Examples(v, e.packing)),
    };
    let start = Instant::now();
    let start_tokens = tokens;
    let mut last_checkpoint = None;
    let mut time_up = t.max_seconds.is_some_and(|l| l <= 0.0);
    let mut eval = None;
    let stop_cause;
    let sink = inputs.sink;
    loop {
        if step >= t.max_steps {
            stop_cause = StopCause::MaxSteps;
            break;
        }
        // Time is measured once per step, at its end (below), so the step
        // that stops the run is the one that wrote the last checkpoint.
        if time_up {
            stop_cause = StopCause::MaxSeconds;
            break;
        }
        if inputs.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            stop_cause = StopCause::Interrupted;
            break;
        }
        if let Some(cause) = limit_reached(t, tokens, inputs.data.total_tokens(), early) {
            stop_cause = cause;
            break;
        }
        let lr = lr_at(step, t);
        device.seed(inputs.dropout_seed ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut accumulator = GradientsAccumulator::<Transformer>::new();
        let mut loss_sum = 0.0;
        // Positions that hold tokens (padding aside), and all positions.
        let (mut step_tokens, mut step_positions) = (0u64, 0u64);
        for _ in 0..t.grad_accum {
            let batch = sampler.next_batch();
            step_positions += batch.inputs.len() as u64;
            step_tokens += (batch.inputs.len() - batch.padding) as u64;
            let out = loss_in(&model, tensors(&batch, &device), compute)?;
            let loss = out.loss / f64::from(t.grad_accum);
            loss_sum += f64::from(scalar(loss.clone().detach()));
            let loss = match scaler {
                Some(s) => loss * s.scale,
                None => loss,
            };
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            accumulator.accumulate(&model, grads);
        }
        if !loss_sum.is_finite() {
            let record = serde_json::json!({
                "time": now(), "step": step + 1, "kind": "non_finite_loss", "value": loss_sum.to_string(),
                "last_checkpoint": last_checkpoint.as_ref().map(|p: &PathBuf| p.display().to_string()),
            });
            let errors = inputs
                .checkpoints
                .parent()
                .unwrap_or(Path::new("."))
                .join("errors.ndjson");
            let mut text = std::fs::read_to_string(&errors).unwrap_or_default();
            text.push_str(&format!("{record}\n"));
            codex_core::write_bytes_atomic(&errors, text.as_bytes())?;
            return Err(TrainError::NonFinite {
                step: step + 1,
                value: loss_sum,
            });
        }
        let mut grads = accumulator.grads();
        if let Some(s) = scaler {
            scale_grads(&mut grads, &info.params, 1.0 / s.scale);
        }
        let grad_norm = clip_global_norm(&mut grads, &info.params, t.grad_clip);
        let overflow = scaler.is_some() && !grad_norm.is_finite();
        if let Some(s) = &mut scaler {
            s.after_step(!overflow);
        }
        if !overflow {
            model = optim.step(lr, model, grads);
        }
        step += 1;
        tokens += step_tokens;
        train_loss = loss_sum;
        sampler_state = sampler.state();
        let elapsed = start.elapsed().as_secs_f64();
        let tps = (tokens - start_tokens) as f64 / elapsed.max(1e-9);
        let flops_ps = tps * flops_per_token;
        let wall = now();
        let epoch = tokens / inputs.data.total_tokens().max(1);
        let row = |split: &str, name: &str, value: f64| MetricRecord {
            step,
            epoch,
            split: split.into(),
            name: name.into(),
            value,
            wall_time: wall,
        };
        let mut rows = vec![
            row("train", "loss", train_loss),
            row("train", "lr", lr),
            row(
                "train",
                "grad_norm",
                if grad_norm.is_finite() {
                    grad_norm
                } else {
                    f64::NAN
                },
            ),
            row("train", "tokens", tokens as f64),
            // Timing is the one thing two identical runs do not share, so it is
            // kept apart from the training values.
            row("system", "tokens_per_second", tps),
            row("system", "flops_per_second", flops_ps),
        ];
        if inputs.examples.is_some() {
            rows.push(row(
                "train",
                "padding_fraction",
                (step_positions - step_tokens) as f64 / step_positions.max(1) as f64,
            ));
        }
        if let Some(sc) = scaler {
            rows.push(row("train", "loss_scale", sc.scale));
            rows.push(row("train", "skipped_step", f64::from(u8::from(overflow))));
        }
        if let Some(peak) = t.peak_flops {
            rows.push(row("system", "mfu", flops_ps / peak));
        }
        eval = None;
        time_up = t
            .max_seconds
            .is_some_and(|l| start.elapsed().as_secs_f64() >= l);
        // Whether this is the run's last step: by steps, time, tokens or epochs.
        let total = inputs.data.total_tokens();
        let last =
            step >= t.max_steps || time_up || limit_reached(t, tokens, total, None).is_some();
        if let Some(val) = validation
            && (last || (t.eval_every > 0 && step.is_multiple_of(t.eval_every)))
        {
            let m = val.evaluate(&model, batch_size, t.eval_batches as usize)?;
            rows.push(row("validation", "loss", m.loss));
            rows.push(row("validation", "perplexity", m.perplexity));
            rows.push(row("validation", "token_accuracy", m.token_accuracy));
            eval = Some(m);
            if let Some(es) = &t.early_stopping {
                early = Some(early_update(es, early, &m));
            }
        }
        if let Some(tasks) = &inputs.tasks
            && (last || (t.eval_every > 0 && step.is_multiple_of(t.eval_every)))
        {
            for (name, value) in tasks.score(&model.valid())? {
                rows.push(row("tasks", &name, value));
            }
        }
        sink.log_metrics(&rows).map_err(|e| sink_err(sink, e))?;
        (inputs.on_step)(&StepReport {
            step,
            max_steps: t.max_steps,
            loss: train_loss,
            lr,
            tokens_per_second: tps,
            eval,
        });
        let interrupted = inputs.stop.is_some_and(|s| s.load(Ordering::SeqCst));
        // Early stopping decided by this step's validation ends the run too:
        // every run ends on a checkpoint of its last step.
        let stopping = last || limit_reached(t, tokens, total, early).is_some();
        if stopping
            || interrupted
            || (t.checkpoint_every > 0 && step.is_multiple_of(t.checkpoint_every))
        {
            sink.flush().map_err(|e| sink_err(sink, e))?;
            let state = TrainState {
                step,
                tokens,
                sampler: sampler_state,
                config_hash: inputs.config_hash.clone(),
                model: model.config().clone(),
                train_loss,
                // Only what was measured at this step: a checkpoint written
                // between evaluations (an interrupt, say) records none, and
                // so is never ranked on an older step's loss.
                val_loss: eval.map(|m| m.loss),
                metric: eval.map(|m| metric_value(&t.best_metric, &m)),
                early_stopping: early,
                loss_scale: scaler.map(|s| (s.scale, s.good)),
                base: inputs.base.clone(),
                codex_version: env!("CARGO_PKG_VERSION").to_owned(),
            };
            last_checkpoint = Some(checkpoint::save(
                inputs.checkpoints,
                &model,
                &optim,
                &state,
                checkpoint::Retention {
                    keep_last: t.keep_last as usize,
                    keep_best: t.keep_best as usize,
                    keep_every: t.keep_every,
                    larger_is_better,
                },
            )?);
        }
    }
    sink.flush().map_err(|e| sink_err(sink, e))?;
    let seconds = start.elapsed().as_secs_f64();
    if eval.is_none()
        && let Some(val) = validation
    {
        eval = Some(val.evaluate(&model, batch_size, t.eval_batches as usize)?);
    }
    Ok(TrainOutcome {
        model,
        steps: step,
        tokens,
        train_loss,
        eval,
        seconds,
        tokens_per_second: (tokens - start_tokens) as f64 / seconds.max(1e-9),
        flops_per_second: flops_per_token * (tokens - start_tokens) as f64 / seconds.max(1e-9),
        stop: stop_cause,
        checkpoint: last_checkpoint,
        abandoned,
    })
}

/// Whether a run whose checkpoint holds `state` has nothing left to do under
/// `t`: its step, token or early-stopping limit is already reached (epoch
/// limits need the data and are checked by the loop).
pub fn already_finished(t: &TrainSection, state: &TrainState) -> Option<StopCause> {
    if state.step >= t.max_steps {
        return Some(StopCause::MaxSteps);
    }
    limit_reached(t, state.tokens, u64::MAX, state.early_stopping)
        .filter(|c| *c != StopCause::MaxEpochs)
}

/// The stop condition other than steps, time and signals that holds, if any.
fn limit_reached(
    t: &TrainSection,
    tokens: u64,
    split_tokens: u64,
    early: Option<(f64, u32)>,
) -> Option<StopCause> {
    if t.max_tokens.is_some_and(|m| tokens >= m) {
        return Some(StopCause::MaxTokens);
    }
    if t.max_epochs
        .is_some_and(|e| tokens as f64 >= e * split_tokens.max(1) as f64)
    {
        return Some(StopCause::MaxEpochs);
    }
    if let (Some(es), Some((_, bad))) = (&t.early_stopping, early)
        && bad >= es.patience
    {
        return Some(StopCause::EarlyStopped);
    }
    None
}

/// A validation metric by name (validated in the configuration).
fn metric_value(name: &str, m: &EvalMetrics) -> f64 {
    match name {
        "perplexity" => m.perplexity,
        "token_accuracy" => m.token_accuracy,
        _ => m.loss,
    }
}

/// `(best, evaluations without improvement)` after evaluation `m`.
fn early_update(
    es: &codex_core::config::EarlyStopping,
    state: Option<(f64, u32)>,
    m: &EvalMetrics,
) -> (f64, u32) {
    let value = metric_value(&es.metric, m);
    match state {
        None => (value, 0),
        Some((best, bad)) => {
            let better = match es.mode {
                codex_core::config::MetricMode::Min => value < best - es.min_delta,
                codex_core::config::MetricMode::Max => value > best + es.min_delta,
            };
            if better { (value, 0) } else { (best, bad + 1) }
        }
    }
}

/// `key: old → new` for every model setting that differs.
fn diff_keys(old: &codex_model::ModelConfig, new: &codex_model::ModelConfig) -> String {
    let a = serde_json::to_value(old).expect("config serializes");
    let b = serde_json::to_value(new).expect("config serializes");
    let mut out = Vec::new();
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (k, va) in a {
            let vb = &b[k];
            if va != vb {
                out.push(format!("model.{k} ({va} in the checkpoint, {vb} now)"));
            }
        }
    }
    out.join(", ")
}
