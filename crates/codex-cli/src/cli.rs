//! The `codex` command tree (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Version string shown by `--version`: crate version, commit and build date.
pub(crate) const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("CODEX_GIT_DESCRIBE"),
    ", ",
    env!("CODEX_RUSTC_VERSION"),
    ")"
);

/// Offline-first, reproducible training, evaluation and auditing of decoder-only language models.
#[derive(Debug, Parser)]
#[command(name = "codex", version = LONG_VERSION, disable_version_flag = true)]
#[command(
    after_help = "Run `codex train` with no arguments for the embedded default job.\n\
Configuration layers, later wins: embedded default → --config FILE → CODEX_<SECTION>__<KEY> → key.path=value."
)]
pub(crate) struct Cli {
    /// More log output on stderr (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub(crate) verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Colour in log lines: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, global = true, default_value_t = Color::Auto)]
    pub(crate) color: Color,
    /// Print the version; with --verbose, the build: commit, compiler, target,
    /// profile, compiled backends and features.
    #[arg(short = 'V', long)]
    pub(crate) version: bool,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// When log lines are coloured.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `--config FILE` and `key.path=value` overrides, shared by every command that resolves a config.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ConfigArgs {
    /// YAML (.yaml, .yml) or TOML (.toml) file layered over the embedded default.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Overrides such as `train.lr=3e-4` or `eval.metrics=[bleu,chrf]`; values are YAML.
    #[arg(value_name = "KEY=VALUE")]
    pub(crate) overrides: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Train a model; with no arguments, the embedded default job end to end.
    #[command(
        after_help = "Example:\n  codex train --config configs/default.yaml train.max_steps=200"
    )]
    Train {
        #[command(flatten)]
        config: ConfigArgs,
        /// Resume from the latest valid checkpoint of a run, or from a given checkpoint.
        #[arg(long, value_name = "RUN_OR_CHECKPOINT", num_args = 0..=1, default_missing_value = "latest")]
        resume: Option<String>,
    },
    /// Run a grid of overrides one after another and write a comparison table.
    #[command(
        after_help = "Example:\n  codex sweep --grid train.lr=1e-3,3e-4 --grid model.n_layer=2,4"
    )]
    Sweep {
        #[command(flatten)]
        config: ConfigArgs,
        /// One axis of the grid: KEY=V1,V2,…
        #[arg(long, value_name = "KEY=V1,V2")]
        grid: Vec<String>,
        /// Metric to sort the comparison table by.
        #[arg(long, default_value = "validation/loss")]
        metric: String,
    },
    /// Generate text from a run, a checkpoint or a model.
    #[command(
        after_help = "Example:\n  codex generate runs/20261121-090000-default --prompt 'The river'\n  codex generate hf-gpt2/ --prompt 'The river' --temperature 0"
    )]
    Generate(GenerateArgs),
    /// Talk to a model in its chat format: interactively, or once with --messages.
    #[command(
        after_help = "Examples:\n  codex chat runs/20261121-090000-sft\n  codex chat hf-qwen/ --messages chat.json --json\n  codex chat render hf-qwen/ --messages chat.json --add-generation-prompt --json"
    )]
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Chat {
        #[command(subcommand)]
        command: Option<ChatCommand>,
        #[command(flatten)]
        args: ChatArgs,
    },
    /// Evaluate generated text against references, or a language model on a dataset.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Train, apply and inspect tokenizers.
    #[command(subcommand)]
    Tokenizer(TokenizerCommand),
    /// Generate, prepare, inspect and verify datasets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Import, export and inspect model weights.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Scan for secrets, PII and prompt injection; redact text.
    #[command(subcommand)]
    Safety(SafetyCommand),
    /// Audit a repository: inventory, README summary, placeholders, complexity.
    #[command(after_help = "Example:\n  codex audit . --out reports --fail-on placeholders")]
    #[command(args_conflicts_with_subcommands = true)]
    Audit {
        #[command(subcommand)]
        command: Option<AuditCommand>,
        /// Repository to audit.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Directory for the reports.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Report formats, comma-separated: json, md.
        #[arg(long, value_delimiter = ',', default_value = "json,md")]
        format: Vec<String>,
        /// Files up to this many bytes get a SHA-256.
        #[arg(long, default_value_t = 5 << 20)]
        max_hash_bytes: u64,
        /// Also record each file's BLAKE3.
        #[arg(long)]
        blake3: bool,
        /// Files up to this many bytes are parsed for complexity; 0 skips the
        /// complexity part (an inventory-only audit).
        #[arg(long, default_value_t = 1 << 20)]
        max_parse_bytes: u64,
        /// The report's one time field (RFC 3339); default SOURCE_DATE_EPOCH, else now.
        #[arg(long)]
        timestamp: Option<String>,
        /// Exit 1 on `placeholders` (any found) or `complexity>N`.
        #[arg(long)]
        fail_on: Vec<String>,
        /// The incremental cache: per-file results with each file's stat and
        /// content hash, so a repeat audit reads only files whose size,
        /// times or inode changed and parses only files whose content
        /// changed (default: OUT/.cache).
        #[arg(long, conflicts_with = "no_cache")]
        cache: Option<PathBuf>,
        /// Parse every file, reading and writing no cache.
        #[arg(long)]
        no_cache: bool,
    },
    /// List, show, compare and sync run directories.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// List registered components (backends, filters, metrics, architectures, …).
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Show, validate and describe configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Show this machine: CPU, memory, compiled backends and visible devices.
    #[command(after_help = "Example:\n  codex system --json")]
    System {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  codex completions bash > ~/.local/share/bash-completion/completions/codex"
    )]
    Completions {
        /// Shell to generate for.
        shell: clap_complete::Shell,
    },
    /// Write man pages for codex and every subcommand into a directory.
    #[command(hide = true)]
    Man {
        /// Output directory.
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum EvalCommand {
    /// Score hypotheses against references: BLEU, chrF, ROUGE, EM, F1, with bootstrap intervals.
    #[command(
        after_help = "Examples:\n  codex eval text --hyp hyp.txt --ref ref.txt --metrics bleu,chrf --bootstrap 1000\n  codex eval text --hyp pairs.jsonl --metrics rouge,em,f1 eval.rouge.stemmer=true\n  codex eval text --hyp new.txt --baseline old.txt --ref ref.txt"
    )]
    Text(EvalTextArgs),
    /// Corpus perplexity from per-document NLL records (`{"nll": f, "tokens": n}` per line).
    #[command(after_help = "Example:\n  codex eval ppl --nll nll.jsonl --bootstrap 1000")]
    Ppl {
        /// JSONL with the summed NLL (nats) and token count of each document.
        #[arg(long)]
        nll: PathBuf,
        /// Bootstrap resamples (overrides eval.bootstrap).
        #[arg(long)]
        bootstrap: Option<u32>,
        /// Directory for the outputs; default: a new run directory named `eval`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Dataset name in the rows (default: the file's stem).
        #[arg(long)]
        dataset: Option<String>,
        /// Split name in the rows.
        #[arg(long, default_value = "test")]
        split: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Benchmark tasks in lm-evaluation-harness's YAML format: multiple choice,
    /// log-likelihood, rolling perplexity and generation, with its scores.
    #[command(
        after_help = "Examples:\n  codex eval tasks runs/20261121-090000-default --tasks tasks/\n  codex eval tasks exported/ --tasks my_task.yaml,other.yaml --num-fewshot 3 --limit 100 --out results/"
    )]
    Tasks {
        #[command(flatten)]
        model: ModelArg,
        /// Task or group files, or directories of them (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        tasks: Vec<PathBuf>,
        /// Few-shot examples per question (overrides each task's num_fewshot).
        #[arg(long)]
        num_fewshot: Option<u32>,
        /// Documents per task at most.
        #[arg(long)]
        limit: Option<u32>,
        /// Sequences per forward pass.
        #[arg(long, default_value_t = 16)]
        batch_size: u32,
        /// Directory for results.json and samples_<task>.jsonl; default:
        /// <run>/eval/tasks for a run's model, else eval-tasks.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Perplexity and token accuracy of a model on a dataset.
    #[command(
        after_help = "Example:\n  codex eval lm runs/20261121-090000-default --data valid.txt"
    )]
    Lm {
        #[command(flatten)]
        model: ModelArg,
        /// A prepared dataset (directory with manifest.json) or a text file.
        #[arg(long)]
        data: PathBuf,
        /// Split of a prepared dataset (a text file is evaluated whole).
        #[arg(long, default_value = "validation")]
        split: String,
        /// Batches of the training batch size to evaluate at most.
        #[arg(long, default_value_t = 50)]
        batches: u32,
    },
}

/// `codex eval text`.
#[derive(Debug, Args, Clone)]
pub(crate) struct EvalTextArgs {
    /// Hypotheses: plain text (one per line), JSONL or TSV (see eval.input).
    #[arg(long)]
    pub(crate) hyp: PathBuf,
    /// References for plain-text input, one file per reference set, line-parallel.
    #[arg(long = "ref")]
    pub(crate) refs: Vec<PathBuf>,
    /// Metrics, comma-separated registry names (overrides eval.metrics).
    #[arg(long, value_delimiter = ',')]
    pub(crate) metrics: Option<Vec<String>>,
    /// Bootstrap resamples (overrides eval.bootstrap); 0 disables intervals.
    #[arg(long)]
    pub(crate) bootstrap: Option<u32>,
    /// A baseline system's hypotheses, same layout: adds sacreBLEU's paired bootstrap test.
    #[arg(long)]
    pub(crate) baseline: Option<PathBuf>,
    /// Directory for the outputs; default: a new run directory named `eval`.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Dataset name in the rows (default: the hypothesis file's stem).
    #[arg(long)]
    pub(crate) dataset: Option<String>,
    /// Split name in the rows.
    #[arg(long, default_value = "test")]
    pub(crate) split: String,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
}

/// Output format of tokenizer commands.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum IdsFormat {
    /// One JSON document.
    Json,
    /// One JSON object per input line.
    Ndjson,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenizerCommand {
    /// Train a tokenizer from text, JSONL or directories (settings from the `tokenizer` section).
    #[command(
        after_help = "Example:\n  codex tokenizer train corpus.txt --out tok/ tokenizer.vocab_size=8000 tokenizer.kind=unigram"
    )]
    Train {
        /// Input files or directories, and `key.path=value` overrides (anything with `=`).
        #[arg(value_name = "INPUT|KEY=VALUE")]
        args: Vec<String>,
        /// Output directory for tokenizer.json and manifest.json.
        #[arg(long)]
        out: PathBuf,
        /// YAML or TOML config file layered over the embedded default.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Encode text to ids: an argument, a file (one document per line) or stdin.
    #[command(
        after_help = "Example:\n  codex tokenizer encode --tokenizer tok/tokenizer.json 'Hello world'\n  codex tokenizer encode --tokenizer tok.model --file docs.txt --format ndjson"
    )]
    Encode {
        /// tokenizer.json or SentencePiece .model.
        #[arg(long, short = 't')]
        tokenizer: PathBuf,
        /// Text to encode; without it, lines of --file or of stdin.
        text: Option<String>,
        /// Encode each line of this file.
        #[arg(long, conflicts_with = "text")]
        file: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = IdsFormat::Json)]
        format: IdsFormat,
        /// Add the tokenizer's special tokens (bos/eos and the like).
        #[arg(long)]
        special: bool,
    },
    /// Decode ids to text: arguments, or stdin (JSON array or whitespace/comma separated).
    #[command(
        after_help = "Example:\n  codex tokenizer decode --tokenizer tok/tokenizer.json 15496 995"
    )]
    Decode {
        /// tokenizer.json or SentencePiece .model.
        #[arg(long, short = 't')]
        tokenizer: PathBuf,
        /// Ids to decode; stdin when absent.
        ids: Vec<u32>,
        /// Keep special tokens in the output.
        #[arg(long)]
        keep_special: bool,
    },
    /// Vocabulary size, bytes and characters per token, unknown rate, length histogram.
    #[command(
        after_help = "Example:\n  codex tokenizer stats --tokenizer tok/tokenizer.json corpus.txt"
    )]
    Stats {
        /// tokenizer.json or SentencePiece .model.
        #[arg(long, short = 't')]
        tokenizer: PathBuf,
        /// Corpus files or directories.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// JSONL field holding the text.
        #[arg(long, default_value = "text")]
        text_field: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check decode(encode(x)) == x on a sample; exit 1 and show the first differences if not.
    #[command(
        after_help = "Example:\n  codex tokenizer validate --tokenizer tok/tokenizer.json corpus.txt --sample 5000"
    )]
    Validate {
        /// tokenizer.json or SentencePiece .model.
        #[arg(long, short = 't')]
        tokenizer: PathBuf,
        /// Corpus files or directories.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Documents to check.
        #[arg(long, default_value_t = 10_000)]
        sample: u64,
        /// Mismatches to show.
        #[arg(long, default_value_t = 5)]
        show: usize,
        /// JSONL field holding the text.
        #[arg(long, default_value = "text")]
        text_field: String,
    },
    /// Model type, vocabulary size, special tokens and the normalizer/pre-tokenizer chain.
    #[command(after_help = "Example:\n  codex tokenizer inspect tok/tokenizer.json")]
    Inspect {
        /// tokenizer.json or SentencePiece .model.
        tokenizer: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DataCommand {
    /// Write a deterministic synthetic corpus: English-like text (one
    /// document per line), or a chat instruction set (JSONL) whose answers
    /// follow from the questions.
    #[command(
        after_help = "Examples:\n  codex data synth --size 10MB --seed 0 --out corpus.txt\n  codex data synth --kind chat --examples 20000 --out chat.jsonl\n  codex data synth --kind chat --examples 300 --heldout --out heldout.jsonl"
    )]
    Synth {
        /// What to write: text or chat.
        #[arg(long, default_value = "text", value_parser = ["text", "chat"])]
        kind: String,
        /// Size of a text corpus, e.g. 10MB, 1.5GB or 512KiB.
        #[arg(long, required_if_eq("kind", "text"))]
        size: Option<String>,
        /// Chat records to write.
        #[arg(long, required_if_eq("kind", "chat"))]
        examples: Option<u64>,
        /// Chat: draw from the held-out questions (one in eight, never in a
        /// training set) for scoring.
        #[arg(long)]
        heldout: bool,
        /// Generator seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Filter, deduplicate, split and tokenize sources into hashed shards with
    /// a manifest. Files and directories given as arguments are the sources
    /// (else `data.sources`).
    #[command(
        after_help = "Example:\n  codex data prepare corpus.txt notes/ --tokenizer tok/tokenizer.json --out data/\n  codex data prepare --out data/ data.sources=[corpus.txt] tokenizer.path=tok/tokenizer.json"
    )]
    Prepare {
        #[command(flatten)]
        config: ConfigArgs,
        /// Output directory (an unchanged earlier preparation there is reused).
        #[arg(long)]
        out: PathBuf,
        /// tokenizer.json or SentencePiece .model; defaults to tokenizer.path.
        #[arg(long, short = 't')]
        tokenizer: Option<PathBuf>,
    },
    /// Counts, document-length histogram and decoded samples of a prepared dataset.
    #[command(after_help = "Example:\n  codex data inspect data/ --tokenizer tok/tokenizer.json")]
    Inspect {
        /// Prepared dataset directory.
        dir: PathBuf,
        /// Tokenizer to decode samples with.
        #[arg(long, short = 't')]
        tokenizer: Option<PathBuf>,
        /// Sample documents to show.
        #[arg(long, default_value_t = 3)]
        samples: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check every shard against the manifest (size, header, BLAKE3).
    #[command(after_help = "Example:\n  codex data verify data/")]
    Verify {
        /// Prepared dataset directory.
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ModelCommand {
    /// Import Hugging Face config.json + safetensors (GPT-2, Llama).
    #[command(after_help = "Example:\n  codex model import hf-gpt2/ --out model/")]
    Import {
        /// Directory with config.json and model.safetensors (or shards and their index).
        dir: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Export to config.json + model.safetensors that transformers loads.
    #[command(after_help = "Example:\n  codex model export runs/20261121-090000-default --out hf/")]
    Export {
        /// A run (its newest checkpoint), a checkpoint, a native model
        /// (model.bpk or its directory) or a Hugging Face directory.
        #[arg(value_name = "MODEL")]
        checkpoint: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Architecture, parameter count by module, dtype, file hashes.
    #[command(
        after_help = "Example:\n  codex model inspect runs/<run>\n  codex model inspect hf-gpt2/ --json\n  codex model inspect gpt2-small"
    )]
    Inspect {
        /// A run (its newest checkpoint), a checkpoint, a native model
        /// (model.bpk or its directory), a Hugging Face directory, or a named
        /// architecture (`codex registry list`).
        path: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SafetyCommand {
    /// Scan files and directories for secrets, personal data and prompt injection.
    #[command(
        after_help = "Examples:\n  codex safety scan src/ --format sarif --fail-on high > codex.sarif\n  codex safety scan notes.txt --policy my-rules.toml"
    )]
    Scan {
        /// Files or directories (directories recursively; .git, target, node_modules skipped).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: ScanFormat,
        /// Exit with status 1 when a finding reaches this severity
        /// (info, low, medium, high, critical; default: safety.fail_on).
        #[arg(long)]
        fail_on: Option<String>,
        /// Policy file, YAML or gitleaks TOML (default: CODEX_SAFETY_POLICY, safety.policy, the built-in policy).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Configuration file layered over the embedded default (for the safety section).
        #[arg(long, short = 'c', value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Redact files (or stdin) to stdout with the policy's redact and block rules.
    #[command(
        after_help = "Example:\n  codex safety redact notes.txt > notes.redacted.txt\n  codex safety redact --stage prompt < prompt.txt"
    )]
    Redact {
        /// Stage whose rules apply: data, prompt or output.
        #[arg(long, default_value = "output")]
        stage: String,
        /// Policy file, YAML or gitleaks TOML.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// YAML (.yaml, .yml) or TOML (.toml) file layered over the embedded default.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: Option<PathBuf>,
        /// Files to redact, in order (stdin when none, or `-`), and overrides
        /// such as `safety.policy=strict.yaml`.
        #[arg(value_name = "FILE|KEY=VALUE")]
        inputs: Vec<String>,
    },
}

/// Output of `codex safety scan`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum ScanFormat {
    /// One line per finding.
    Table,
    /// The full report as JSON.
    Json,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Top-level folders, key files and entry points.
    #[command(after_help = "Example:\n  codex audit repo-map .")]
    RepoMap {
        /// Repository to map.
        #[arg(default_value = ".")]
        path: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RunsCommand {
    /// A table of runs with their key metrics.
    #[command(after_help = "Example:\n  codex runs list\n  codex runs list other-runs/")]
    List {
        /// Directory holding run directories (default: run.runs_dir).
        dir: Option<PathBuf>,
    },
    /// Provenance, summary, last values, checkpoints and configuration of one run.
    #[command(
        after_help = "Example:\n  codex runs show 20261121-090000-default\n  codex runs show default   # the one run whose name contains it"
    )]
    Show {
        /// A run directory, or a run's name (or part of it) in run.runs_dir.
        run: PathBuf,
    },
    /// Aligned table, differing configuration and overlaid curves of several runs.
    #[command(after_help = "Example:\n  codex runs compare lr-0.001 lr-0.003 --out cmp/")]
    Compare {
        /// Run directories or names in run.runs_dir.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Directory for the overlaid curves (default: the first run's directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Replay a finished run into an MLflow server.
    #[command(
        after_help = "Example:\n  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 codex runs sync-mlflow runs/a"
    )]
    SyncMlflow {
        /// A run directory, or a run's name in run.runs_dir.
        run: PathBuf,
        /// Tracking server (default: MLFLOW_TRACKING_URI).
        #[arg(long)]
        uri: Option<String>,
        /// Experiment, created if missing.
        #[arg(long, default_value = "codex")]
        experiment: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// Every registered component with a one-line description.
    #[command(after_help = "Example:\n  codex registry list --json")]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ShowFormat {
    Yaml,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the resolved configuration; with --origin, which layer set each value.
    #[command(
        after_help = "Example:\n  CODEX_TRAIN__LR=0.5 codex config show --origin train.max_steps=10"
    )]
    Show {
        #[command(flatten)]
        config: ConfigArgs,
        /// Show the layer that set each value.
        #[arg(long)]
        origin: bool,
        /// Output format (ignored with --origin).
        #[arg(long, value_enum, default_value_t = ShowFormat::Yaml)]
        format: ShowFormat,
    },
    /// Check a config file; exit 0 when valid, 2 when not.
    #[command(after_help = "Example:\n  codex config validate job.yaml")]
    Validate {
        /// The file to check, layered over the embedded default.
        file: PathBuf,
        /// Overrides applied on top, as in `codex train`.
        #[arg(value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Print the JSON Schema of configuration files.
    #[command(after_help = "Example:\n  codex config schema > docs/config.schema.json")]
    Schema,
}

/// The model a command reads: positional, or `--checkpoint` as earlier
/// versions spelled it.
#[derive(Debug, clap::Args)]
pub(crate) struct ModelArg {
    /// A run (its newest checkpoint), a checkpoint, a native model
    /// (model.bpk or its directory) or a Hugging Face directory.
    #[arg(value_name = "MODEL", required_unless_present = "checkpoint")]
    model: Option<PathBuf>,
    /// The same as MODEL.
    #[arg(long, value_name = "PATH", hide = true, conflicts_with = "model")]
    checkpoint: Option<PathBuf>,
}

impl ModelArg {
    /// The path given, whichever way.
    pub(crate) fn into_path(self) -> PathBuf {
        self.model
            .or(self.checkpoint)
            .expect("clap requires MODEL or --checkpoint")
    }
}

/// Options of `codex chat`.
#[derive(Debug, clap::Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    pub(crate) model: ModelArg,
    /// Answer the conversation in this JSON file once (a list of
    /// {"role", "content"} messages, or {"messages": [...]}) instead of
    /// talking interactively.
    #[arg(long, value_name = "FILE.json", conflicts_with = "batch")]
    pub(crate) messages: Option<PathBuf>,
    /// Answer every record of a chat JSONL file (the formats of
    /// data.format: chat) without its last reply, writing
    /// {"hypothesis", "references"} lines to --out for `codex eval text`.
    #[arg(long, value_name = "FILE.jsonl", requires = "out")]
    pub(crate) batch: Option<PathBuf>,
    /// Where --batch writes its predictions.
    #[arg(long, value_name = "FILE.jsonl")]
    pub(crate) out: Option<PathBuf>,
    /// Print the reply as JSON (role, content, stop reason, tokens).
    #[arg(long, requires = "messages")]
    pub(crate) json: bool,
    /// System prompt of an interactive session.
    #[arg(long, conflicts_with = "messages")]
    pub(crate) system: Option<String>,
    /// Chat template: a built-in name (chatml) or a .jinja file [default:
    /// the model's own].
    #[arg(long, value_name = "NAME_OR_FILE")]
    pub(crate) chat_template: Option<String>,
    /// Maximum new tokens per reply [default: the model's
    /// generation_config.json, else 256].
    #[arg(long)]
    pub(crate) max_new_tokens: Option<u32>,
    #[command(flatten)]
    pub(crate) sampling: SamplingArgs,
}

/// Subcommands of `codex chat`.
#[derive(Debug, Subcommand)]
pub(crate) enum ChatCommand {
    /// Print a conversation as the model's chat template renders it, with its
    /// token ids and the mask of the tokens a fine-tune learns from.
    #[command(
        after_help = "Example:\n  codex chat render hf-qwen/ --messages chat.json --add-generation-prompt --json"
    )]
    Render {
        #[command(flatten)]
        model: ModelArg,
        /// The conversation: a JSON list of {"role", "content"} messages, or
        /// {"messages": [...]}.
        #[arg(long, value_name = "FILE.json")]
        messages: PathBuf,
        /// End with the header of an assistant turn, as for generation.
        #[arg(long)]
        add_generation_prompt: bool,
        /// Which tokens the mask marks: assistant, all or completion (the last reply).
        #[arg(long, default_value = "assistant", value_parser = ["assistant", "all", "completion"])]
        loss_on: String,
        /// Chat template: a built-in name (chatml) or a .jinja file [default:
        /// the model's own].
        #[arg(long, value_name = "NAME_OR_FILE")]
        chat_template: Option<String>,
        /// Print text, ids and mask as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Options of `codex generate`.
#[derive(Debug, clap::Args)]
pub(crate) struct GenerateArgs {
    #[command(flatten)]
    pub(crate) model: ModelArg,
    /// Prompt text; read from stdin when absent.
    #[arg(long)]
    pub(crate) prompt: Option<String>,
    /// Maximum new tokens [default: the model's generation_config.json, else 128].
    #[arg(long)]
    pub(crate) max_new_tokens: Option<u32>,
    #[command(flatten)]
    pub(crate) sampling: SamplingArgs,
}

/// How `codex generate` and `codex chat` sample.
#[derive(Debug, clap::Args)]
pub(crate) struct SamplingArgs {
    /// Sampling temperature; 0 is greedy [default: the model's
    /// generation_config.json (do_sample false: 0), else 1].
    #[arg(long)]
    pub(crate) temperature: Option<f64>,
    /// Keep only the k most likely tokens (0: all, as in transformers).
    #[arg(long)]
    pub(crate) top_k: Option<u32>,
    /// Keep the smallest set of tokens whose probability reaches p.
    #[arg(long)]
    pub(crate) top_p: Option<f64>,
    /// Penalize tokens already in the text (1 disables; as transformers)
    /// [default: the model's generation_config.json, else 1].
    #[arg(long)]
    pub(crate) repetition_penalty: Option<f64>,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
}

impl SamplingArgs {
    /// The library's sampling settings (`top_k` 0 disables it, as in transformers).
    pub(crate) fn sampling(&self) -> codex_train::Sampling {
        codex_train::Sampling {
            temperature: self.temperature,
            top_k: self.top_k.map(|k| k as usize),
            top_p: self.top_p,
            repetition_penalty: self.repetition_penalty,
            seed: self.seed,
        }
    }
}
