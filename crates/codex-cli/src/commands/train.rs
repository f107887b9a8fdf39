//! `codex train`: the main job. With no arguments it runs the embedded default end
//! to end: synthetic corpus → tokenizer → token shards → model → evaluation →
//! sample generation → summary, all inside one run directory.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use std::sync::atomic::{AtomicBool, Ordering};

use codex_core::config::{AppConfig, ConfigLoader};
use codex_core::{RunDir, Seeds};
use codex_data::{Manifest, PrepareInputs, TokenStore};
use codex_model::{DeviceSpec, GenerateOptions, ModelConfig, Transformer};
use codex_tokenize::AnyTokenizer;
use codex_tokenize::train::train_with_progress;
use codex_train::{StepReport, StopCause, TrainInputs, checkpoint};

use super::config::loader;
use crate::cli::ConfigArgs;

/// Unigram entropy (nats per token) of the training split: the loss of a model
/// that ignores context, which the trained model must beat.
fn unigram_entropy(store: &TokenStore, vocab: usize) -> f64 {
    let mut counts = vec![0u64; vocab];
    let mut buf = Vec::new();
    for shard in 0..store.shards() {
        let total = store.shard_tokens(shard);
        let mut at = 0;
        while at < total {
            let n = (total - at).min(1 << 20) as usize;
            buf.clear();
            store.read(shard, at, n, &mut buf);
            for &t in &buf {
                if let Some(c) = counts.get_mut(t as usize) {
                    *c += 1;
                }
            }
            at += n as u64;
        }
    }
    let sum: u64 = counts.iter().sum();
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / sum as f64;
            -p * p.ln()
        })
        .sum()
}

fn progress_bar(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(len)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
    bar
}

fn tokenizer(cfg: &AppConfig, run: &RunDir, seeds: &Seeds) -> Result<(AnyTokenizer, PathBuf)> {
    if let Some(path) = &cfg.tokenizer.path {
        return Ok((AnyTokenizer::from_file(path)?, path.clone()));
    }
    let trained = run.root().join("tokenizer/tokenizer.json");
    if trained.is_file() {
        // A resumed run keeps the tokenizer it started with.
        return Ok((AnyTokenizer::from_file(&trained)?, trained));
    }
    if let Some(base) = &cfg.train.init_from {
        // Fine-tuning keeps the base model's tokenizer.
        let candidates = [
            base.join("tokenizer.json"),
            base.join("tokenizer/tokenizer.json"),
            base.join("../../tokenizer/tokenizer.json"),
            base.with_file_name("tokenizer.json"),
        ];
        let found = candidates
            .into_iter()
            .find(|p| p.is_file())
            .with_context(|| {
                format!(
                    "train.init_from `{}` has no tokenizer.json beside it; set tokenizer.path",
                    base.display()
                )
            })?;
        // A copy travels with the run, so generation and resume find it.
        std::fs::create_dir_all(run.root().join("tokenizer"))?;
        let bytes =
            std::fs::read(&found).with_context(|| format!("cannot read `{}`", found.display()))?;
        codex_core::write_bytes_atomic(&trained, &bytes)?;
        return Ok((AnyTokenizer::from_file(&trained)?, trained));
    }
    let inputs: Vec<PathBuf> = if !cfg.tokenizer.inputs.is_empty() {
        cfg.tokenizer.inputs.clone()
    } else if !cfg.data.sources.is_empty() {
        cfg.data.sources.iter().map(PathBuf::from).collect()
    } else {
        // The same synthetic corpus data preparation will use (same size and seed).
        let dir = run.root().join("data");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("synthetic.txt");
        let seed = seeds.derive("data.synth");
        codex_core::write_atomic(&path, |f| {
            codex_data::synth::write_corpus(f, cfg.data.synthetic_bytes, seed)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            anyhow::Ok(())
        })?;
        std::fs::write(
            dir.join("synthetic.json"),
            serde_json::to_string(&(cfg.data.synthetic_bytes, seed))?,
        )?;
        vec![path]
    };
    let trained = train_with_progress(&super::tokenizer::train_config(cfg), &inputs, &|_| {})?;
    let out = run.root().join("tokenizer");
    trained.write(&out)?;
    let path = out.join("tokenizer.json");
    Ok((AnyTokenizer::from_file(&path)?, path))
}

/// The starting weights `train.init_from` names: a Hugging Face directory, a run
/// (its latest valid checkpoint), a checkpoint, or a native model; with the base
/// a checkpoint of LoRA adapters was trained on.
fn load_base(
    base: &Path,
    device: &codex_model::burn::tensor::Device,
) -> Result<(Transformer, Option<checkpoint::BaseRef>)> {
    super::inference::load_any_with_base(base, device).with_context(|| {
        format!(
            "train.init_from `{}`: not a Hugging Face directory (config.json), a run, a checkpoint or a native model",
            base.display()
        )
    })
}

/// The run directory and checkpoint `--resume` names: `latest` (the newest run
/// under `run.runs_dir` with a valid checkpoint), a run directory, or a checkpoint.
fn resolve_resume(target: &str, runs_dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let checkpoint_of = super::inference::latest_checkpoint;
    if target == "latest" {
        let mut runs: Vec<PathBuf> = std::fs::read_dir(runs_dir)
            .with_context(|| format!("cannot list runs in `{}`", runs_dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("checkpoints").is_dir())
            .collect();
        runs.sort();
        for run in runs.iter().rev() {
            if let Some(ck) = checkpoint_of(run)? {
                return Ok((run.clone(), ck));
            }
        }
        bail!(
            "no run under `{}` has a valid checkpoint to resume",
            runs_dir.display()
        );
    }
    let path = PathBuf::from(target);
    if path.join("state.json").is_file() {
        checkpoint::verify(&path)?;
        let run = path
            .parent()
            .and_then(Path::parent)
            .context("a checkpoint lives in <run>/checkpoints/")?;
        return Ok((run.to_owned(), path));
    }
    if path.join("checkpoints").is_dir() {
        let ck = checkpoint_of(&path)?
            .with_context(|| format!("`{}` has no valid checkpoint", path.display()))?;
        return Ok((path, ck));
    }
    bail!(
        "`{target}` is neither a run directory nor a checkpoint (give `latest`, <run> or <run>/checkpoints/step-N)"
    )
}

/// Set by SIGINT or SIGTERM: training finishes its step, checkpoints and returns.
pub(super) static STOP: AtomicBool = AtomicBool::new(false);

fn install_signal_handler() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        if let Err(e) = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)) {
            tracing::warn!("cannot handle SIGINT/SIGTERM ({e}); an interrupt will kill the run");
        }
    });
}

pub(super) fn run(config: &ConfigArgs, resume: Option<String>) -> Result<String> {
    Ok(run_job(config, resume)?.0)
}

/// Run one training job; returns the summary text and the run directory.
pub(super) fn run_job(config: &ConfigArgs, resume: Option<String>) -> Result<(String, PathBuf)> {
    let started = std::time::Instant::now();
    install_signal_handler();
    let stop = &STOP;
    let (cfg, run, resume_from) = match resume {
        None => {
            let requested = loader(config).load()?.config;
            let run = RunDir::create(
                &requested.run.runs_dir,
                &requested.run.name,
                chrono::Local::now(),
            )?;
            codex_core::write_bytes_atomic(run.config(), requested.to_yaml().as_bytes())?;
            (requested, run, None)
        }
        Some(target) => {
            // Overrides apply on top of the run's own configuration (below), so
            // alone they need not make a valid one (`train.max_steps=10` under
            // the default warmup); `latest` only needs where runs live.
            let runs_dir = if target == "latest" {
                let mut l = ConfigLoader::new().process_env();
                if let Some(file) = &config.config {
                    l = l.file(file);
                }
                l.overrides(
                    config
                        .overrides
                        .iter()
                        .filter(|o| o.starts_with("run."))
                        .cloned(),
                )
                .load()?
                .config
                .run
                .runs_dir
            } else {
                PathBuf::new()
            };
            let (root, ck) = resolve_resume(&target, &runs_dir)?;
            // The run's own configuration, with this command's file, environment
            // and overrides on top (e.g. a larger train.max_steps).
            let mut l = ConfigLoader::new()
                .file(root.join("config.yaml"))
                .process_env();
            if let Some(file) = &config.config {
                l = l.file(file);
            }
            let cfg = l.overrides(config.overrides.iter().cloned()).load()?.config;
            (cfg, RunDir::open(root)?, Some(ck))
        }
    };
    let seeds = Seeds::new(cfg.run.seed);
    let config_hash = codex_core::Hasher::new()
        .update(cfg.to_yaml().as_bytes())
        .finalize();
    let provenance = match &resume_from {
        None => run.provenance(),
        Some(ck) => run.root().join(format!(
            "provenance.resume-{}.json",
            ck.file_name().unwrap_or_default().to_string_lossy()
        )),
    };
    codex_core::Provenance::capture_current(super::build_info(), seeds).write(provenance)?;
    let note = |line: String| tracing::info!("{line}");
    note(format!("run directory {}", run.root().display()));

    // Tokenizer.
    let (tok, tok_path) = tokenizer(&cfg, &run, &seeds)?;
    let vocab = tok.vocab_size();
    note(format!("tokenizer {} ({vocab} tokens)", tok_path.display()));

    // Token shards.
    let eos = cfg
        .tokenizer
        .special_tokens
        .first()
        .context("tokenizer.special_tokens is empty: the first one separates documents")?;
    let eos_id = tok
        .token_to_id(eos)
        .with_context(|| format!("the document separator `{eos}` is not in the tokenizer"))?;
    let (tokenizer_blake3, _) = codex_core::hash_file(&tok_path)?;
    let data_dir = run.root().join("data");
    let filter = super::safety::filter_for(&cfg, Some(&super::safety::events_path(run.root())))?;
    let prepared = codex_data::prepare(&PrepareInputs {
        data: &cfg.data,
        seeds,
        tokenizer: &tok,
        tokenizer_blake3,
        eos_id,
        filter: &*filter,
        out: &data_dir,
        on_documents: &|_| {},
    })?;
    for d in &prepared.diagnostics {
        tracing::warn!("{d}");
    }
    let manifest: Manifest = prepared.manifest;
    let train_split = manifest.split("train");
    let val_split = manifest.split("validation");
    let train_store = TokenStore::open(&data_dir, &train_split.shards, true)?;
    let val_store = if val_split.tokens > 0 {
        Some(TokenStore::open(&data_dir, &val_split.shards, true)?)
    } else {
        None
    };
    note(format!(
        "data {} train tokens, {} validation tokens",
        train_split.tokens, val_split.tokens
    ));

    // Model.
    let model_config = ModelConfig::from_section(&cfg.model, vocab)?;
    let spec: DeviceSpec = cfg.run.device.parse()?;
    let device = spec.device()?;
    let train_device = device.clone().autodiff();
    let (mut model, inherited_base) = match &cfg.train.init_from {
        None => (
            Transformer::init(&model_config, seeds.derive("model.init"), &train_device)?,
            None,
        ),
        Some(base) => {
            let loaded = load_base(base, &train_device)?;
            note(format!("fine-tuning from {}", base.display()));
            loaded
        }
    };
    // What a checkpoint of adapters alone goes back onto.
    let base_model = model.clone();
    if vocab > model.config().vocab_size {
        bail!(
            "the tokenizer has {vocab} tokens but the model's vocabulary is {}",
            model.config().vocab_size
        );
    }
    if let Some(l) = &cfg.train.lora
        && model.lora_config().is_none()
    {
        let targets = l
            .targets
            .iter()
            .map(|t| t.parse())
            .collect::<Result<Vec<codex_model::LoraTarget>, _>>()?;
        let lora = codex_model::LoraConfig {
            rank: l.rank as usize,
            alpha: l.alpha,
            dropout: l.dropout,
            targets,
        };
        model = model.attach_lora(&lora, seeds.derive("model.init") ^ 0x4c6f_5241)?;
        note(format!(
            "LoRA rank {} on {:?}: only the adapters train",
            l.rank, l.targets
        ));
    }
    // Adapters on a base loaded from elsewhere are checkpointed alone, naming
    // the base (the first one, when fine-tuning further from adapters).
    let base_ref = match (&cfg.train.init_from, model.lora_config()) {
        (Some(init), Some(_)) => Some(match inherited_base {
            Some(inherited) => inherited,
            None => checkpoint::BaseRef {
                source: std::path::absolute(init)
                    .with_context(|| format!("train.init_from `{}`", init.display()))?,
                fingerprint: base_model.base_fingerprint(),
            },
        }),
        _ => None,
    };
    let model_config = model.config().clone();
    let resume_from = match resume_from {
        Some(ck) => {
            let loaded = checkpoint::load(&ck, &train_device, |_| anyhow::Ok(base_model))?;
            note(format!(
                "resuming from {} (step {})",
                ck.display(),
                loaded.state.step
            ));
            Some(loaded)
        }
        None => None,
    };
    note(format!(
        "model {} parameters on {}",
        model_config.param_counts().total(),
        spec.resolve_auto()
    ));

    // Train.
    let mut sink = super::track::Tracking::start(
        &cfg,
        run.root(),
        resume_from.as_ref().map(|l| l.state.step),
    )?;

    let bar = progress_bar(
        cfg.train.max_steps,
        "{spinner} step {pos}/{len} {wide_bar} {msg} eta {eta}",
    );
    let mut on_step = |r: &StepReport| {
        bar.set_position(r.step);
        let mut msg = format!("loss {:.3} {:.0} tok/s", r.loss, r.tokens_per_second);
        if let Some(e) = r.eval {
            let _ = write!(msg, " val {:.3}", e.loss);
        }
        bar.set_message(msg);
    };
    let outcome = codex_train::train(
        model,
        resume_from,
        TrainInputs {
            train: &cfg.train,
            data: &train_store,
            validation: val_store.as_ref(),
            sampler_seed: seeds.derive("data.sampler"),
            dropout_seed: seeds.derive("train.dropout"),
            checkpoints: &run.root().join("checkpoints"),
            config_hash: config_hash.to_string(),
            base: base_ref,
            sink: &mut sink,
            on_step: &mut on_step,
            stop: Some(stop),
        },
    )?;
    bar.finish_and_clear();
    let status = match outcome.stop {
        StopCause::Interrupted => "killed",
        _ => "finished",
    };
    if outcome.stop == StopCause::Interrupted {
        sink.finish(run.root(), status)?;
        let text = format!(
            "interrupted after step {}; checkpoint {}\nresume with: codex train --resume {}\n",
            outcome.steps,
            outcome
                .checkpoint
                .as_ref()
                .map_or_else(|| "none".into(), |p| p.display().to_string()),
            run.root().display()
        );
        return Ok((text, run.root().to_owned()));
    }

    // Sample.
    let baseline = unigram_entropy(&train_store, vocab);
    let model = outcome.model;
    let prompt_text = "The";
    let prompt = tok.encode(prompt_text, false)?;
    let sample_len = 48.min(model_config.context_length.saturating_sub(prompt.len()));
    let generation = codex_model::generate(
        &codex_model::burn::module::Module::valid(&model),
        std::slice::from_ref(&prompt),
        &GenerateOptions {
            max_new_tokens: sample_len,
            temperature: 0.8,
            top_k: Some(50),
            stop_tokens: vec![eos_id],
            seed: seeds.derive("generate.sampling"),
            ..GenerateOptions::default()
        },
    )?;
    let mut all = prompt;
    all.extend(&generation[0].tokens);
    let sample = match filter
        .filter(&tok.decode(&all, true)?, codex_core::Stage::Output)
        .verdict
    {
        codex_core::Verdict::Keep => tok.decode(&all, true)?,
        codex_core::Verdict::Redact(text) => text,
        codex_core::Verdict::Drop => "«BLOCKED by the safety policy»".to_owned(),
    };
    let mut model = model;
    let adapter = if model.lora_config().is_some() {
        let path = run.root().join("adapter.safetensors");
        model.save_lora(&path)?;
        Some(path)
    } else {
        None
    };

    let summary = serde_json::json!({
        "run_dir": run.root(),
        "steps": outcome.steps,
        "tokens": outcome.tokens,
        "train_loss": outcome.train_loss,
        "validation": outcome.eval.map(|e| serde_json::json!({
            "loss": e.loss, "perplexity": e.perplexity, "token_accuracy": e.token_accuracy, "tokens": e.tokens,
        })),
        "unigram_entropy": baseline,
        "unigram_perplexity": baseline.exp(),
        "tokens_per_second": outcome.tokens_per_second,
        "flops_per_second": outcome.flops_per_second,
        "mfu": cfg.train.peak_flops.map(|p| outcome.flops_per_second / p),
        "train_seconds": outcome.seconds,
        "wall_seconds": started.elapsed().as_secs_f64(),
        "parameters": model_config.param_counts().total(),
        "checkpoint": outcome.checkpoint,
        "adapter": adapter,
        "stop": format!("{:?}", outcome.stop),
        "precision": cfg.train.precision,
        "gpu_metrics": sink.gpu_note().map_or_else(|| "sampled through NVML".to_owned(), str::to_owned),
        "sample": sample,
    });
    codex_core::write_bytes_atomic(
        run.root().join("summary.json"),
        (serde_json::to_string_pretty(&summary)? + "\n").as_bytes(),
    )?;
    // Close the sinks (MLflow gets the summary and report as artifacts), then
    // record how they fared in the summary and the report.
    let (health, mlflow) = sink.finish(run.root(), status)?;
    let mut summary = summary;
    summary["sinks"] = serde_json::to_value(&health)?;
    summary["mlflow"] = serde_json::to_value(&mlflow)?;
    codex_core::write_bytes_atomic(
        run.root().join("summary.json"),
        (serde_json::to_string_pretty(&summary)? + "\n").as_bytes(),
    )?;
    codex_track::report::write_report(run.root())?;

    let mut out = String::new();
    writeln!(out, "run        {}", run.root().display())?;
    writeln!(
        out,
        "trained    {} steps, {} tokens in {:.1}s ({:.0} tokens/s, {:.2} GFLOP/s{})",
        outcome.steps,
        outcome.tokens,
        outcome.seconds,
        outcome.tokens_per_second,
        outcome.flops_per_second / 1e9,
        cfg.train.peak_flops.map_or_else(String::new, |p| format!(
            ", MFU {:.1}%",
            100.0 * outcome.flops_per_second / p
        ))
    )?;
    if let Some(e) = outcome.eval {
        writeln!(
            out,
            "validation loss {:.4} (perplexity {:.2}), token accuracy {:.1}%",
            e.loss,
            e.perplexity,
            100.0 * e.token_accuracy
        )?;
    }
    writeln!(
        out,
        "baseline   unigram entropy {:.4} (perplexity {:.2})",
        baseline,
        baseline.exp()
    )?;
    if let Some(p) = &outcome.checkpoint {
        writeln!(out, "checkpoint {}", p.display())?;
    }
    if let Some(p) = &adapter {
        writeln!(out, "adapter    {} (LoRA adapters alone)", p.display())?;
    }
    writeln!(out, "sample     {sample}")?;
    writeln!(out, "report     {}", run.root().join("report.md").display())?;
    if let Some(m) = &mlflow {
        writeln!(
            out,
            "mlflow     {} run {} ({} metrics sent{})",
            m.uri,
            m.run_id.as_deref().unwrap_or("not created"),
            m.metrics_sent,
            if m.metrics_unsent > 0 {
                format!(
                    ", {} unsent: replay with `codex runs sync-mlflow {}`",
                    m.metrics_unsent,
                    run.root().display()
                )
            } else {
                String::new()
            }
        )?;
    }
    for h in health.iter().filter(|h| h.failures > 0) {
        writeln!(
            out,
            "warning    sink {} failed {} times: {}",
            h.sink,
            h.failures,
            h.last_error.as_deref().unwrap_or("")
        )?;
    }
    writeln!(out, "wall time  {:.1}s", started.elapsed().as_secs_f64())?;
    Ok((out, run.root().to_owned()))
}
