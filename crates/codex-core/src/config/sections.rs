//! The sections of [`AppConfig`](super::AppConfig), one per crate that consumes them.
//!
//! Invariant: no field has a serde default. `configs/default.yaml`, compiled into
//! the binary, is the only place defaults live, and it must name every key.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Identity and placement of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Human name, used in the run directory's name.
    pub name: String,
    /// Master seed; every component seed is derived from it.
    pub seed: u64,
    /// Directory under which run directories are created.
    pub runs_dir: PathBuf,
    /// `auto`, `cpu`, `wgpu`, `wgpu:N`, `cuda` or `cuda:N`.
    pub device: String,
}

/// Tokenizer model families that codex trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    /// Byte-level BPE (GPT-2 style).
    Bpe,
    /// Unigram language model (SentencePiece style).
    Unigram,
    /// WordPiece (BERT style).
    Wordpiece,
    /// Whole-word vocabulary.
    Wordlevel,
}

/// How text becomes ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSection {
    /// Which model to train when `path` is not set.
    pub kind: TokenizerKind,
    /// Target vocabulary size, special tokens included.
    pub vocab_size: u32,
    /// Minimum pair or token frequency kept during training.
    pub min_frequency: u32,
    /// Special tokens, added first in this order.
    pub special_tokens: Vec<String>,
    /// An existing `tokenizer.json` or SentencePiece `.model` to use instead of training.
    pub path: Option<PathBuf>,
    /// Training inputs; empty means the data section's corpus.
    pub inputs: Vec<PathBuf>,
}

/// What to do with a malformed input record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Report it with file and line, and go on.
    Skip,
    /// Stop with an error naming file and line.
    Fail,
}

/// How source files hold documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// By extension: `.jsonl`/`.json` as JSONL, `.csv` as CSV, anything else as lines.
    Auto,
    /// One document per line.
    Lines,
    /// Whole files, split into documents by `data.separator` (each file is read
    /// into memory whole; the other formats stream).
    Blocks,
    /// One JSON object per line.
    Jsonl,
    /// A CSV file with a header row.
    Csv,
    /// Chat or instruction JSONL: each record one example (a `messages`
    /// list, `prompt`/`completion`, or `instruction`/`input`/`output`),
    /// rendered by the chat template and never joined with its neighbours.
    Chat,
}

/// What to do with a chat example longer than `data.max_length` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Overlong {
    /// Keep its first `data.max_length` tokens.
    Truncate,
    /// Leave it out.
    Drop,
}

/// Which tokens of a chat example training learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LossOn {
    /// The assistant's turns (their text and end-of-turn tokens).
    Assistant,
    /// Every token.
    All,
    /// The last assistant turn only.
    Completion,
}

/// Where training text comes from and how it is split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Files, directories or globs (`.gz` and `.zst` are decompressed); empty
    /// means the built-in synthetic corpus.
    pub sources: Vec<PathBuf>,
    /// A dataset `codex data prepare` wrote (a directory with
    /// `manifest.json`) to train on as it is, instead of preparing `sources`;
    /// its tokenizer must be the run's.
    pub prepared: Option<PathBuf>,
    /// How the source files hold documents.
    pub format: DataFormat,
    /// Document separator for the `blocks` format.
    pub separator: String,
    /// Size of the synthetic corpus in bytes, when it is used.
    pub synthetic_bytes: u64,
    /// JSONL field or CSV column holding the text; several comma-separated
    /// fields are joined with a newline. A JSONL `messages` list (chat) is
    /// rendered one `role: content` line per message.
    pub text_field: String,
    /// Fraction of documents held out for validation.
    pub validation_fraction: f64,
    /// Fraction of documents held out for test.
    pub test_fraction: f64,
    /// Drop exact duplicate documents.
    pub dedup: bool,
    /// Maximum tokens per shard file.
    pub shard_tokens: u64,
    /// Policy for malformed records.
    pub on_error: OnError,
    /// The chat template of `format: chat`: a built-in name (`chatml`) or a
    /// `.jinja` file; null takes the tokenizer's own (`chat_template.jinja`
    /// or `tokenizer_config.json` beside `tokenizer.json`).
    pub chat_template: Option<String>,
    /// Record fields of `format: chat` under other names, e.g.
    /// `{instruction: question, output: answer}`; the names codex reads are
    /// `messages`, `prompt`, `completion`, `system`, `instruction`, `input`
    /// and `output`.
    pub chat_fields: std::collections::BTreeMap<String, String>,
    /// Longest chat example in tokens; null: `model.context_length` + 1 (a
    /// sequence of n tokens trains n − 1 positions).
    pub max_length: Option<u32>,
    /// What to do with a longer chat example.
    pub overlong: Overlong,
}

/// Architecture family of the decoder-only transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelFamily {
    /// Learned positions, LayerNorm, GELU MLP, biases.
    Gpt2,
    /// Rotary positions, RMSNorm, SwiGLU MLP, grouped-query attention.
    Llama,
    /// Llama with biases on the query, key and value projections (Qwen2, Qwen2.5).
    Qwen2,
    /// Llama with an RMSNorm over each query and key head before the rotation (Qwen3).
    Qwen3,
    /// Llama with sliding-window attention when a window is set (Mistral).
    Mistral,
    /// Llama with fused q/k/v and gate/up projections and partial rotation (Phi-3).
    Phi3,
    /// Scaled embeddings, `(1 + w)` RMSNorms around both sublayers, GeGLU,
    /// soft-capped scores and logits, alternating sliding windows (Gemma 2).
    Gemma2,
}

impl ModelFamily {
    /// Every family, in the order `codex registry list` names them.
    pub const ALL: [ModelFamily; 7] = [
        ModelFamily::Gpt2,
        ModelFamily::Llama,
        ModelFamily::Qwen2,
        ModelFamily::Qwen3,
        ModelFamily::Mistral,
        ModelFamily::Phi3,
        ModelFamily::Gemma2,
    ];

    /// The name configurations and Hugging Face's `model_type` use.
    pub fn name(self) -> &'static str {
        match self {
            ModelFamily::Gpt2 => "gpt2",
            ModelFamily::Llama => "llama",
            ModelFamily::Qwen2 => "qwen2",
            ModelFamily::Qwen3 => "qwen3",
            ModelFamily::Mistral => "mistral",
            ModelFamily::Phi3 => "phi3",
            ModelFamily::Gemma2 => "gemma2",
        }
    }

    /// Whether positions are rotary (every family but GPT-2, whose positions
    /// are learned); rotary families share RMSNorm, SwiGLU and grouped-query
    /// attention.
    pub fn is_rotary(self) -> bool {
        self != ModelFamily::Gpt2
    }
}

/// Shape of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Architecture family.
    pub family: ModelFamily,
    /// Transformer blocks.
    pub n_layer: u32,
    /// Attention heads.
    pub n_head: u32,
    /// Key/value heads (grouped-query attention); equal to `n_head` for plain multi-head.
    pub n_kv_head: u32,
    /// Residual stream width.
    pub d_model: u32,
    /// Hidden width of the MLP.
    pub d_ff: u32,
    /// Maximum sequence length.
    pub context_length: u32,
    /// Dropout probability during training.
    pub dropout: f64,
    /// Rotary embedding base (Llama family).
    pub rope_theta: f64,
    /// Share the input embedding with the output projection.
    pub tie_embeddings: bool,
    /// Sliding-window attention: each position sees this many keys, its own
    /// included (rotary families; Mistral's `sliding_window`). `null` for
    /// full causal attention.
    #[serde(default)]
    pub sliding_window: Option<u32>,
}

/// Learning-rate schedule shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Warmup, then constant.
    Constant,
    /// Warmup, then cosine decay to `min_lr`.
    Cosine,
    /// Warmup, then linear decay to `min_lr`.
    Linear,
}

/// Whether a smaller or a larger metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricMode {
    /// Smaller is better (loss, perplexity).
    Min,
    /// Larger is better (accuracy).
    Max,
}

/// The dtype of the training computation; parameters and optimizer state stay f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    F32,
    /// Forward and backward in bfloat16 from f32 master weights.
    Bf16,
    /// Forward and backward in float16 from f32 master weights (needs loss scaling).
    F16,
}

/// Stop when a validation metric has not improved for a number of evaluations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// `loss`, `perplexity` or `token_accuracy` (of the validation split).
    pub metric: String,
    /// Whether smaller or larger is better.
    pub mode: MetricMode,
    /// Evaluations without improvement before stopping.
    pub patience: u32,
    /// Smallest change that counts as an improvement.
    pub min_delta: f64,
}

/// Benchmark tasks run at every evaluation step of training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvalTasks {
    /// Task or group files in lm-evaluation-harness's YAML format, or
    /// directories of them.
    pub tasks: Vec<PathBuf>,
    /// Documents per task at most, at each evaluation (null: all).
    #[serde(default)]
    pub limit: Option<u64>,
    /// Few-shot examples per question (null: each task's num_fewshot).
    #[serde(default)]
    pub num_fewshot: Option<u64>,
    /// Sequences per forward pass.
    #[serde(default = "default_task_batch")]
    pub batch_size: u64,
}

fn default_task_batch() -> u64 {
    16
}

/// Low-rank adapters for fine-tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoraSection {
    /// Rank of the adapters.
    pub rank: u32,
    /// Scale numerator: updates are scaled by `alpha / rank`.
    pub alpha: f64,
    /// Dropout on the adapters' input.
    pub dropout: f64,
    /// Projections that receive adapters: any of q, k, v, o, mlp.
    pub targets: Vec<String>,
}

/// The optimisation loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Peak learning rate.
    pub lr: f64,
    /// Floor the schedule decays to.
    pub min_lr: f64,
    /// Schedule after warmup.
    pub schedule: Schedule,
    /// Linear warmup steps.
    pub warmup_steps: u64,
    /// Optimizer steps to run.
    pub max_steps: u64,
    /// Stop after this many seconds of training, if set.
    pub max_seconds: Option<f64>,
    /// Stop once this many training tokens are consumed, if set.
    pub max_tokens: Option<u64>,
    /// Stop after this many passes over the training split (in tokens), if set.
    pub max_epochs: Option<f64>,
    /// Stop when a validation metric stops improving, if set.
    pub early_stopping: Option<EarlyStopping>,
    /// Start from these weights instead of a fresh initialization: a Hugging Face
    /// directory (config.json + safetensors), a native model, a run or a checkpoint.
    pub init_from: Option<PathBuf>,
    /// Fine-tune low-rank adapters only, with the base frozen, if set.
    pub lora: Option<LoraSection>,
    /// Sequences per micro-batch.
    pub batch_size: u32,
    /// Micro-batches accumulated per optimizer step.
    pub grad_accum: u32,
    /// AdamW decoupled weight decay (not applied to norms, biases, embeddings).
    pub weight_decay: f64,
    /// AdamW first-moment decay.
    pub beta1: f64,
    /// AdamW second-moment decay.
    pub beta2: f64,
    /// AdamW epsilon.
    pub eps: f64,
    /// Global gradient-norm clip; 0 disables clipping.
    pub grad_clip: f64,
    /// Evaluate on the validation split every N steps.
    pub eval_every: u64,
    /// Validation batches per evaluation.
    pub eval_batches: u32,
    /// Save a checkpoint every N steps.
    pub checkpoint_every: u64,
    /// Keep the last N checkpoints.
    pub keep_last: u32,
    /// Also keep the best K checkpoints by `best_metric`.
    pub keep_best: u32,
    /// Also keep every checkpoint whose step is a multiple of this; 0 keeps none extra.
    pub keep_every: u64,
    /// Validation metric that ranks checkpoints: loss, perplexity or token_accuracy.
    pub best_metric: String,
    /// Whether a smaller or larger `best_metric` is better.
    pub best_mode: MetricMode,
    /// Peak FLOP/s of the device, for model FLOPs utilization (MFU); unset logs
    /// achieved FLOP/s only.
    pub peak_flops: Option<f64>,
    /// Compute dtype: f32, or bf16/f16 mixed precision with f32 master weights.
    pub precision: Precision,
    /// Chat data (`data.format: chat`): which tokens the loss counts.
    pub loss_on: LossOn,
    /// Chat data: pack several examples into each row, each attending only
    /// to itself with positions restarting; otherwise one example per row,
    /// rows of similar lengths batched together and padded.
    pub packing: bool,
    /// Benchmark tasks scored at every evaluation, if set; their metrics go to
    /// the metric sinks as `tasks/<task>/<metric>` and into the report.
    pub eval_tasks: Option<EvalTasks>,
}

/// Evaluation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// Text metrics of `codex eval text`, by registry name (`codex registry list`).
    pub metrics: Vec<String>,
    /// Bootstrap resamples for confidence intervals; 0 disables them.
    pub bootstrap: u32,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Seed of the bootstrap resampling.
    pub seed: u64,
    /// Where hypotheses and references are read from.
    pub input: EvalInputSection,
    /// BLEU (sacreBLEU semantics).
    pub bleu: BleuSection,
    /// chrF (sacreBLEU semantics); `chrf++` uses word order 2.
    pub chrf: ChrfSection,
    /// ROUGE (rouge-score semantics).
    pub rouge: RougeSection,
    /// Orders of distinct-n.
    pub distinct_orders: Vec<u32>,
}

/// Layout of evaluation inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvalInputSection {
    /// `auto` (by extension), `lines`, `jsonl` or `tsv`.
    pub format: String,
    /// JSONL field holding the hypothesis.
    pub hyp_field: String,
    /// JSONL field holding the reference (a string) or references (a list).
    pub ref_field: String,
}

/// BLEU settings; the defaults are sacreBLEU's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BleuSection {
    /// Tokenizer: `13a`, `intl`, `char` or `none`.
    pub tokenize: String,
    /// Smoothing: `exp`, `floor`, `add-k` or `none`.
    pub smooth: String,
    /// Value for `floor` (default 0.1) and `add-k` (default 1).
    pub smooth_value: Option<f64>,
    /// Lowercase first.
    pub lowercase: bool,
    /// Leave out n-gram orders with no hypothesis n-grams.
    pub effective_order: bool,
}

/// chrF settings; the defaults are sacreBLEU's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChrfSection {
    /// Highest character n-gram order.
    pub char_order: u32,
    /// Highest word n-gram order (0 is chrF, 2 is chrF++).
    pub word_order: u32,
    /// Recall weight.
    pub beta: u32,
    /// Lowercase first.
    pub lowercase: bool,
    /// Keep whitespace in character n-grams.
    pub whitespace: bool,
    /// Average F-scores with epsilon smoothing (chrF++.py) instead of the effective order.
    pub eps_smoothing: bool,
}

/// ROUGE settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RougeSection {
    /// Variants of the `rouge` metric: `rouge1`..`rouge9`, `rougeL`, `rougeLsum`.
    pub types: Vec<String>,
    /// Porter-stem tokens longer than three characters, as `use_stemmer=True`.
    pub stemmer: bool,
}

/// Safety filtering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SafetySection {
    /// Apply the policy to data, prompts and outputs.
    pub enabled: bool,
    /// Policy file (YAML, or gitleaks TOML); unset means the built-in
    /// `configs/safety/default.yaml`. `CODEX_SAFETY_POLICY` overrides it.
    pub policy: Option<PathBuf>,
    /// `codex safety scan` exits with status 1 when a finding reaches this
    /// severity: info, low, medium, high or critical.
    pub fail_on: String,
}

/// MLflow tracking server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MlflowSection {
    /// Server URI; unset means MLflow logging is off (credentials come only from the environment).
    pub uri: Option<String>,
    /// Experiment name, created if missing.
    pub experiment: String,
    /// Seconds the end of a run keeps trying to send what is queued.
    pub close_timeout_secs: f64,
}

/// Experiment tracking and system monitoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackSection {
    /// Also write `metrics.csv`.
    pub csv: bool,
    /// Also write TensorBoard event files.
    pub tensorboard: bool,
    /// Seconds between system-metric samples.
    pub system_interval_secs: f64,
    /// MLflow settings.
    pub mlflow: MlflowSection,
}
