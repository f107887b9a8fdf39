//! Training throughput of codex on one device, for `cargo xtask bench train`.
//!
//! Measures (1) the bare step — forward, backward and AdamW — on random tokens,
//! (2) the same steps through `codex_train::train` without clipping (sampler over
//! memory-mapped shards, metrics, grad-norm logging), so the loop's own per-step
//! overhead is the difference, plus the time of the checkpoint it writes at the
//! end and that time's share of a step at one checkpoint every 200 steps, and
//! (3) the loop with global-norm clipping, as the PyTorch reference steps.
//! Step times are medians over the steps. Prints JSON lines. The process uses
//! mimalloc, as the `codex` binary does.
//!
//! `cargo run --release -p codex-train --example bench_train -- --steps 20`
//!
//! It trains on the device `run.device=auto` picks (CUDA when compiled in and
//! a GPU is visible), or on `--device SPEC` (`cpu`, `wgpu[:N]`, `cuda[:N]`);
//! `--precision bf16|f16` sets `train.precision` for the loop rows, and
//! `--peak-gflops` the peak MFU is computed against. `--loop-only` runs (3)
//! alone, which is what the GPU check profiles.
//!
//! With `--families`, only the bare step of every family's small shape
//! (`gpt2-tiny`, `llama-tiny`, `llama3-tiny`, `qwen2-tiny`, `qwen3-tiny`,
//! `mistral-tiny`, `phi3-tiny`, `gemma2-tiny`: the same width, depth and
//! context), each as a JSON line with its GFLOP/s: the fastest of
//! `--rounds` (3) interleaved rounds.
//!
//! With `--chat`, chat fine-tuning against pretraining on the same model
//! (`llama-tiny`'s shape with the chat test tokenizer's vocabulary), batch
//! and context: the bare step on random windows, on packed rows of chat
//! examples (`codex data synth --kind chat`, rendered with ChatML, prepared
//! as `codex train data.format=chat` prepares them) and on padded,
//! length-bucketed rows; tokens/s counts the positions that hold tokens, and
//! each mode's padding fraction is over one epoch of batches.
//!
//! With `--conformance`, it runs codex-model's transformers conformance
//! checks instead (`crates/codex-model/tests/conformance/mod.rs`, on the
//! backends `CODEX_TEST_BACKEND` picks, fixtures from `CODEX_MODEL_FIXTURES`)
//! and prints `{"conformance":"passed"}`: the GPU check carries this program
//! and `codex`, not a third one linking the same GPU stack.
//!
//! Like the binary, it keeps freed memory mapped (mimalloc's purge delay -1).
#![allow(clippy::print_stdout, reason = "a benchmark prints its results")]

use std::time::Instant;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// As the `codex` binary does: never return freed memory to the kernel
/// (mimalloc's `purge_delay`, option 15, set to -1).
fn keep_freed_memory() {
    #[allow(unsafe_code, reason = "mimalloc's option setter is a C function")]
    // SAFETY: called first in `main`, before other threads; -1 is documented.
    unsafe {
        libmimalloc_sys::mi_option_set(15, -1);
    }
}

use codex_core::config::{ConfigLoader, ModelFamily};
use codex_core::{PassThrough, Rng, Seeds, Tokenizer, TokenizerError};
use codex_data::{PrepareInputs, TokenStore};
use codex_model::burn::optim::GradientsParams;
use codex_model::burn::tensor::{Int, Tensor, TensorData};
use codex_model::{DeviceSpec, ForwardOptions, ModelConfig, Transformer};
use codex_train::{TrainInputs, optimizer, train};

/// Words hashed into a fixed vocabulary: real text shape, any vocabulary size.
struct HashWords(u32);

impl Tokenizer for HashWords {
    fn encode(&self, text: &str, _special: bool) -> Result<Vec<u32>, TokenizerError> {
        Ok(text
            .split_whitespace()
            .map(|w| {
                let h = w.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
                (h % u64::from(self.0 - 1)) as u32
            })
            .collect())
    }
    fn decode(&self, _ids: &[u32], _skip: bool) -> Result<String, TokenizerError> {
        Ok(String::new())
    }
    fn vocab_size(&self) -> usize {
        self.0 as usize
    }
    fn token_to_id(&self, _token: &str) -> Option<u32> {
        None
    }
    fn id_to_token(&self, _id: u32) -> Option<String> {
        None
    }
}

/// Seconds per bare step (forward, backward, AdamW) of `config` on random
/// tokens: the median over `steps` after one warm-up step.
fn bare_step_seconds(
    config: &ModelConfig,
    train: &codex_core::config::TrainSection,
    batch: usize,
    steps: usize,
    device: &codex_model::burn::tensor::Device,
) -> Result<f64, Box<dyn std::error::Error>> {
    let (ctx, vocab) = (config.context_length, config.vocab_size);
    let mut model = Transformer::init(config, 0, device)?;
    let mut optim = optimizer(train, &model);
    let mut rng = Rng::new(0, 0);
    let mut step = |model: Transformer| {
        let v: Vec<u32> = (0..batch * (ctx + 1))
            .map(|_| rng.below(vocab) as u32)
            .collect();
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        for row in v.chunks(ctx + 1) {
            inputs.extend_from_slice(&row[..ctx]);
            targets.extend_from_slice(&row[1..]);
        }
        let b = codex_data::Batch::windows(batch, ctx, inputs, targets);
        batch_step(model, &mut optim, &b, device)
    };
    model = step(model);
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps {
        let start = Instant::now();
        model = step(model);
        times.push(start.elapsed().as_secs_f64());
    }
    drop(model);
    Ok(median(times))
}

/// `--families`: the bare step of each family's small shape. The shapes are
/// measured in turn, `--rounds` times over (default 3), and each keeps its
/// fastest round: on a machine shared with noisy neighbours the rounds of
/// one shape vary by more than the shapes differ, and interleaving them
/// spreads a slow spell over all.
fn families(
    train: &codex_core::config::TrainSection,
    batch: usize,
    steps: usize,
    rounds: usize,
    device: &codex_model::burn::tensor::Device,
) -> Result<(), Box<dyn std::error::Error>> {
    let names = [
        "gpt2-tiny",
        "llama-tiny",
        "llama3-tiny",
        "qwen2-tiny",
        "qwen3-tiny",
        "mistral-tiny",
        "phi3-tiny",
        "gemma2-tiny",
    ];
    let mut best = vec![f64::INFINITY; names.len()];
    for _ in 0..rounds.max(1) {
        for (i, name) in names.iter().enumerate() {
            let config = codex_model::architectures().get(name)?.value.clone();
            let seconds = bare_step_seconds(&config, train, batch, steps, device)?;
            best[i] = best[i].min(seconds);
        }
    }
    for (name, seconds) in names.iter().zip(best) {
        let config = codex_model::architectures().get(name)?.value.clone();
        let tokens = (batch * config.context_length) as f64;
        println!(
            "{}",
            serde_json::json!({
                "arch": name, "family": config.family_name(),
                "tokens_per_second": tokens / seconds, "step_ms": seconds * 1e3,
                "gflops": tokens / seconds * config.flops_per_token() / 1e9,
                "params": config.param_counts().total(),
            })
        );
    }
    Ok(())
}

/// One training step on `batch` (a [`codex_data::Batch`] of any kind): the
/// trainer's arithmetic (ignored targets, positions and segment starts).
fn batch_step(
    model: Transformer,
    optim: &mut codex_model::burn::optim::ModuleOptimizer,
    b: &codex_data::Batch,
    device: &codex_model::burn::tensor::Device,
) -> Transformer {
    let shape = [b.batch, b.seq_len];
    let to = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, shape), device);
    let ints = |v: &[u32]| v.iter().map(|&t| i64::from(t)).collect::<Vec<_>>();
    let targets: Vec<i64> = if b.loss_mask.is_empty() {
        ints(&b.targets)
    } else {
        b.targets
            .iter()
            .zip(&b.loss_mask)
            .map(|(&t, &m)| if m == 1 { i64::from(t) } else { -100 })
            .collect()
    };
    let options = ForwardOptions {
        positions: (!b.positions.is_empty()).then(|| to(ints(&b.positions))),
        segment_starts: (!b.segment_starts.is_empty()).then(|| to(ints(&b.segment_starts))),
        ..ForwardOptions::default()
    };
    let ignore = (!b.loss_mask.is_empty()).then_some(-100);
    let out = model
        .loss(to(ints(&b.inputs)), to(targets), ignore, options)
        .expect("fits");
    let _ = out.loss.clone().into_data();
    let grads = GradientsParams::from_grads(out.loss.backward(), &model);
    optim.step(3e-4, model, grads)
}

/// `--chat`: pretraining windows against packed and padded chat examples.
fn chat(
    train: &codex_core::config::TrainSection,
    batch: usize,
    steps: usize,
    rounds: usize,
    device: &codex_model::burn::tensor::Device,
) -> Result<(), Box<dyn std::error::Error>> {
    let chat_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/chat");
    let tok_path = chat_dir.join("tokenizer.json");
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("chat.jsonl");
    let mut out = std::fs::File::create(&file)?;
    codex_data::synth::write_chat(&mut out, 6000, 1, false)?;
    drop(out);
    let mut config = codex_model::architectures()
        .get("llama-tiny")?
        .value
        .clone();
    config.vocab_size = 640;
    let ctx = config.context_length;
    let mut app = ConfigLoader::new()
        .overrides([
            "data.format=chat",
            "data.validation_fraction=0",
            &format!("data.sources=[{}]", file.display()),
        ])
        .load()?
        .config;
    app.model.context_length = ctx as u32;
    let tok = codex_tokenize::AnyTokenizer::from_file(&tok_path)?;
    let hf = codex_tokenize::HfTokenizer::from_file(&tok_path)?;
    let template = codex_tokenize::ChatTemplate::builtin("chatml")?;
    let (digest, _) = codex_core::hash_file(&tok_path)?;
    let data_dir = tmp.path().join("data");
    let prepared = codex_data::prepare(&PrepareInputs {
        data: &app.data,
        seeds: Seeds::new(1),
        tokenizer: &tok,
        tokenizer_blake3: digest,
        eos_id: 0,
        filter: &PassThrough,
        out: &data_dir,
        on_documents: &|_| {},
        chat: Some(codex_data::ChatInputs {
            template: &template,
            tokenizer: &hf,
            special: codex_tokenize::SpecialTokens::default(),
            loss_on: codex_core::config::LossOn::Assistant,
            max_length: ctx + 1,
            overlong: codex_core::config::Overlong::Truncate,
        }),
    })?;
    let store = codex_data::ExampleStore::open(&data_dir, &prepared.manifest.split("train"), true)?;
    let state = codex_data::RandomState {
        seed: 3,
        batches: 0,
    };
    // One epoch of each kind of batch: the padding and the batches measured.
    let epoch =
        |packing: bool| -> Result<(f64, Vec<codex_data::Batch>), Box<dyn std::error::Error>> {
            let mut s = codex_data::ExampleBatches::resume(&store, batch, ctx, packing, state)?;
            let n = s.batches_per_epoch();
            let all: Vec<codex_data::Batch> = (0..n).map(|_| s.next_batch()).collect();
            let padding: usize = all.iter().map(|b| b.padding).sum();
            let positions: usize = all.iter().map(|b| b.inputs.len()).sum();
            Ok((padding as f64 / positions as f64, all))
        };
    let (packed_padding, packed) = epoch(true)?;
    let (padded_padding, padded) = epoch(false)?;
    let time = |batches: &[codex_data::Batch]| -> f64 {
        let mut model = Transformer::init(&config, 0, device).expect("a valid shape");
        let mut optim = optimizer(train, &model);
        model = batch_step(model, &mut optim, &batches[0], device);
        // Seconds per token of each step; tokens/s from their median.
        let mut per_token = Vec::with_capacity(steps);
        for b in batches.iter().cycle().skip(1).take(steps) {
            let start = Instant::now();
            model = batch_step(model, &mut optim, b, device);
            per_token.push(start.elapsed().as_secs_f64() / (b.inputs.len() - b.padding) as f64);
        }
        1.0 / median(per_token)
    };
    let mut best = [0.0f64; 3];
    for _ in 0..rounds.max(1) {
        let pretrain = bare_step_seconds(&config, train, batch, steps, device)?;
        best[0] = best[0].max((batch * ctx) as f64 / pretrain);
        best[1] = best[1].max(time(&packed));
        best[2] = best[2].max(time(&padded));
    }
    for (mode, tps, padding) in [
        ("pretrain", best[0], 0.0),
        ("sft-packed", best[1], packed_padding),
        ("sft-padded", best[2], padded_padding),
    ] {
        println!(
            "{}",
            serde_json::json!({
                "mode": mode, "tokens_per_second": tps, "padding_fraction": padding,
                "vs_pretrain": tps / best[0], "examples": store.len(),
                "batch": batch, "context": ctx,
            })
        );
    }
    Ok(())
}

/// The median of step times: robust to the odd step a busy machine slows.
fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    let n = times.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2.0
    }
}

/// The f32 peak of this CPU in GFLOP/s for MFU: cores × clock (`cpu MHz` of
/// /proc/cpuinfo) × FLOP per cycle and core, counted as two fused
/// multiply-add units of 16 lanes with AVX-512 and of 8 lanes with AVX2.
/// `--peak-gflops` overrides it (CPUs with one AVX-512 unit have half).
fn cpu_peak_gflops() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz: f64 = info
        .lines()
        .find(|l| l.starts_with("cpu MHz"))?
        .split(':')
        .nth(1)?
        .trim()
        .parse()
        .ok()?;
    let cores = std::thread::available_parallelism().ok()?.get() as f64;
    #[cfg(target_arch = "x86_64")]
    let per_cycle = if std::arch::is_x86_feature_detected!("avx512f") {
        64.0
    } else if std::arch::is_x86_feature_detected!("fma") {
        32.0
    } else {
        8.0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let per_cycle = 16.0;
    Some(cores * mhz / 1e3 * per_cycle)
}

#[path = "../../codex-model/tests/conformance/mod.rs"]
mod conformance;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    keep_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--conformance") {
        conformance::check_compiled_backends();
        println!("{}", serde_json::json!({ "conformance": "passed" }));
        return Ok(());
    }
    let get = |flag: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let steps = get("--steps", 20);
    let (layers, d, heads, d_ff, vocab, ctx, batch) = (
        get("--layers", 4),
        get("--d-model", 256),
        get("--heads", 8),
        get("--d-ff", 688),
        get("--vocab", 8192),
        get("--context", 256),
        get("--batch", 8),
    );
    let config = ModelConfig {
        family: ModelFamily::Llama,
        vocab_size: vocab,
        n_layer: layers,
        n_head: heads,
        n_kv_head: heads,
        d_model: d,
        d_ff,
        context_length: ctx,
        dropout: 0.0,
        rope_theta: 10_000.0,
        tie_embeddings: false,
        norm_eps: 1e-5,
        variant: Default::default(),
    };
    let spec = match args.iter().position(|a| a == "--device") {
        Some(i) => args
            .get(i + 1)
            .ok_or("--device needs a value")?
            .parse::<DeviceSpec>()?,
        None => DeviceSpec::Auto,
    }
    .resolve_auto();
    let loop_only = args.iter().any(|a| a == "--loop-only");
    let device = spec.device()?.autodiff();
    // `--precision bf16|f16` sets `train.precision` for the loop rows; the bare
    // step is always f32.
    let precision = args
        .iter()
        .position(|a| a == "--precision")
        .and_then(|i| args.get(i + 1))
        .map_or("f32", String::as_str);
    let mut app = ConfigLoader::new()
        .overrides([format!("train.precision={precision}")])
        .load()?
        .config;
    app.train.batch_size = batch as u32;
    app.train.grad_accum = 1;
    app.train.max_steps = steps as u64 + 1;
    app.train.warmup_steps = 1;
    app.train.eval_every = 1_000_000;
    app.train.checkpoint_every = 1_000_000;
    if args.iter().any(|a| a == "--families") {
        return families(&app.train, batch, steps, get("--rounds", 3), &device);
    }
    if args.iter().any(|a| a == "--chat") {
        return chat(&app.train, batch, steps, get("--rounds", 3), &device);
    }

    let tokens = (batch * ctx) as f64;
    let peak = match args.iter().position(|a| a == "--peak-gflops") {
        Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()),
        None => cpu_peak_gflops(),
    };
    let mfu = |seconds_per_step: f64| {
        peak.map(|p| tokens / seconds_per_step * config.flops_per_token() / 1e9 / p)
    };
    // (1) The bare step.
    let bare = if loop_only {
        None
    } else {
        let bare = bare_step_seconds(&config, &app.train, batch, steps, &device)?;
        println!(
            "{}",
            serde_json::json!({
                "impl": "codex-step", "device": spec.to_string(), "precision": "f32",
                "tokens_per_second": tokens / bare, "step_ms": bare * 1e3,
                "gflops": tokens / bare * config.flops_per_token() / 1e9,
                "mfu": mfu(bare), "peak_gflops": peak,
                "flops_per_token": config.flops_per_token(),
                "params": config.param_counts().total(),
            })
        );
        Some(bare)
    };

    // (2) The whole loop over prepared shards.
    let tmp = std::env::temp_dir().join(format!("codex-bench-train-{}", std::process::id()));
    app.data.synthetic_bytes = 8_000_000;
    app.data.validation_fraction = 0.0;
    let tok = HashWords(vocab as u32);
    let prepared = codex_data::prepare(&PrepareInputs {
        data: &app.data,
        seeds: Seeds::new(0),
        tokenizer: &tok,
        tokenizer_blake3: codex_core::Hasher::new().update(b"hash-words").finalize(),
        eos_id: vocab as u32 - 1,
        filter: &PassThrough,
        out: &tmp.join("data"),
        on_documents: &|_| {},
        chat: None,
    })?;
    let store = TokenStore::open(
        &tmp.join("data"),
        &prepared.manifest.split("train").shards,
        true,
    )?;
    // Without clipping the loop does exactly the bare step's work, so the
    // difference is the loop's own overhead; with clipping (as the PyTorch
    // reference does) it is the number to compare.
    // The clipped run goes first and absorbs the warm-up of shards and allocator.
    let clips: &[f64] = if loop_only { &[1.0] } else { &[1.0, 0.0] };
    for &clip in clips {
        app.train.grad_clip = clip;
        let mut sink = codex_track::NdjsonSink::create(&tmp.join("metrics.ndjson"))
            .map_err(|e| e.to_string())?;
        let model = Transformer::init(&config, 0, &device)?;
        let mut last: Option<Instant> = None;
        let mut gaps = Vec::with_capacity(steps);
        let outcome = train(
            model,
            None,
            TrainInputs {
                train: &app.train,
                data: &store,
                validation: None,
                sampler_seed: 0,
                dropout_seed: 0,
                checkpoints: &tmp.join(format!("checkpoints-{clip}")),
                config_hash: "bench".into(),
                base: None,
                sink: &mut sink,
                on_step: &mut |_| {
                    let now = Instant::now();
                    // The gaps between step callbacks are the steps 2..=N.
                    if let Some(previous) = last {
                        gaps.push((now - previous).as_secs_f64());
                    }
                    last = Some(now);
                },
                stop: None,
                examples: None,
                tasks: None,
            },
        )?;
        let end = Instant::now();
        let last = last.expect("a last step");
        // Steps 2..=N: data, forward, backward, update, metrics; the final
        // checkpoint (model and AdamW state, checksummed, fsynced) comes after.
        let looped = median(gaps);
        let checkpoint_ms = (end - last).as_secs_f64() * 1e3;
        let every = 200.0;
        let row = if clip == 0.0 {
            serde_json::json!({
                "impl": "codex-loop (no clipping)", "device": spec.to_string(),
                "precision": precision, "tokens_per_second": tokens / looped,
                "step_ms": looped * 1e3, "overhead_vs_bare_step": bare.map(|b| (looped - b) / b),
                "checkpoint_ms": checkpoint_ms,
                "checkpoint_share": checkpoint_ms / 1e3 / every / looped, "checkpoint_every": every,
                "steps": outcome.steps,
            })
        } else {
            serde_json::json!({
                "impl": "codex-loop (clip 1.0, as PyTorch)", "device": spec.to_string(),
                "precision": precision, "tokens_per_second": tokens / looped,
                "step_ms": looped * 1e3, "gflops": tokens / looped * config.flops_per_token() / 1e9,
                "mfu": mfu(looped),
                "steps": outcome.steps,
            })
        };
        println!("{row}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
