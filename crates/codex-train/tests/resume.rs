//! Exact resume and checkpoint safety of the training loop, on a tiny model.

use std::path::Path;

use codex_model::burn::module::Module as _;

use codex_core::config::{ConfigLoader, TrainSection};
use codex_core::{PassThrough, Seeds, Tokenizer, TokenizerError};
use codex_data::{PrepareInputs, TokenStore};
use codex_model::burn::tensor::Device;
use codex_model::{DeviceSpec, ModelConfig, Transformer};
use codex_train::{TrainInputs, TrainOutcome, checkpoint, train};

/// Bytes as tokens, 256 = end of document: enough to make real shards.
struct Bytes;

impl Tokenizer for Bytes {
    fn encode(&self, text: &str, _special: bool) -> Result<Vec<u32>, TokenizerError> {
        Ok(text.bytes().map(u32::from).collect())
    }
    fn decode(&self, ids: &[u32], _skip: bool) -> Result<String, TokenizerError> {
        Ok(ids
            .iter()
            .filter(|&&i| i < 256)
            .map(|&i| i as u8 as char)
            .collect())
    }
    fn vocab_size(&self) -> usize {
        257
    }
    fn token_to_id(&self, token: &str) -> Option<u32> {
        (token == "<eos>").then_some(256)
    }
    fn id_to_token(&self, id: u32) -> Option<String> {
        (id < 257).then(|| id.to_string())
    }
}

fn config(overrides: &[&str]) -> codex_core::config::AppConfig {
    let mut all = vec![
        "data.synthetic_bytes=60000",
        "model.n_layer=2",
        "model.d_model=32",
        "model.n_head=4",
        "model.n_kv_head=2",
        "model.d_ff=64",
        "model.context_length=16",
        "train.batch_size=4",
        "train.grad_accum=2",
        "train.max_steps=8",
        "train.warmup_steps=2",
        "train.eval_every=4",
        "train.eval_batches=2",
        "train.checkpoint_every=3",
        "train.keep_last=10",
    ];
    all.extend_from_slice(overrides);
    ConfigLoader::new().overrides(all).load().unwrap().config
}

fn data(dir: &Path, cfg: &codex_core::config::AppConfig) -> (TokenStore, TokenStore) {
    let out = dir.join("data");
    let prepared = codex_data::prepare(&PrepareInputs {
        data: &cfg.data,
        seeds: Seeds::new(cfg.run.seed),
        tokenizer: &Bytes,
        tokenizer_blake3: codex_core::Hasher::new().update(b"bytes").finalize(),
        eos_id: 256,
        filter: &PassThrough,
        out: &out,
        on_documents: &|_| {},
        chat: None,
    })
    .unwrap();
    let m = prepared.manifest;
    (
        TokenStore::open(&out, &m.split("train").shards, true).unwrap(),
        TokenStore::open(&out, &m.split("validation").shards, true).unwrap(),
    )
}

/// For checkpoints that hold the whole model.
fn no_base(_: &checkpoint::BaseRef) -> Result<Transformer, codex_train::TrainError> {
    unreachable!("a whole-model checkpoint needs no base")
}

fn device() -> Device {
    DeviceSpec::Auto.device().unwrap().autodiff()
}

fn run(
    cfg: &codex_core::config::AppConfig,
    train_cfg: &TrainSection,
    stores: &(TokenStore, TokenStore),
    checkpoints: &Path,
    resume: Option<checkpoint::Loaded>,
) -> Result<TrainOutcome, codex_train::TrainError> {
    run_on(&device(), cfg, train_cfg, stores, checkpoints, resume)
}

/// [`run`] on a given (autodiff) device: the model starts there, and a resumed
/// checkpoint's model moves there.
fn run_on(
    device: &Device,
    cfg: &codex_core::config::AppConfig,
    train_cfg: &TrainSection,
    stores: &(TokenStore, TokenStore),
    checkpoints: &Path,
    resume: Option<checkpoint::Loaded>,
) -> Result<TrainOutcome, codex_train::TrainError> {
    let seeds = Seeds::new(cfg.run.seed);
    let model = base_model_on(cfg, seeds.derive("model.init"), device);
    run_model(cfg, train_cfg, stores, checkpoints, resume, model, None)
}

fn base_model(cfg: &codex_core::config::AppConfig, seed: u64) -> Transformer {
    base_model_on(cfg, seed, &device())
}

fn base_model_on(cfg: &codex_core::config::AppConfig, seed: u64, device: &Device) -> Transformer {
    let mc = ModelConfig::from_section(&cfg.model, 257).unwrap();
    Transformer::init(&mc, seed, device).unwrap()
}

fn run_model(
    cfg: &codex_core::config::AppConfig,
    train_cfg: &TrainSection,
    stores: &(TokenStore, TokenStore),
    checkpoints: &Path,
    resume: Option<checkpoint::Loaded>,
    model: Transformer,
    base: Option<checkpoint::BaseRef>,
) -> Result<TrainOutcome, codex_train::TrainError> {
    let seeds = Seeds::new(cfg.run.seed);
    let mut sink = codex_track::NdjsonSink::create(&checkpoints.with_extension("ndjson")).unwrap();
    train(
        model,
        resume,
        TrainInputs {
            train: train_cfg,
            data: &stores.0,
            validation: Some(&stores.1),
            sampler_seed: seeds.derive("data.sampler"),
            dropout_seed: seeds.derive("train.dropout"),
            checkpoints,
            config_hash: "test".into(),
            base,
            sink: &mut sink,
            on_step: &mut |_| {},
            stop: None,
            examples: None,
            tasks: None,
        },
    )
}

/// The trained values alone (burnpack records also carry parameter ids, which
/// are fresh in every process).
fn weights(dir: &Path, outcome: &TrainOutcome) -> Vec<u8> {
    let out = dir.join("final");
    codex_model::export_hf(&outcome.model, &out).unwrap();
    std::fs::read(out.join("model.safetensors")).unwrap()
}

/// burn-flex keeps one random generator per process, so runs that use dropout
/// must not interleave: the tests that train take this lock.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_resumed_run_ends_bit_identical_to_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cfg = config(&["model.dropout=0.1"]);
    let stores = data(tmp.path(), &cfg);
    let straight = run(&cfg, &cfg.train, &stores, &tmp.path().join("a"), None).unwrap();
    assert_eq!(straight.steps, 8);
    let straight_weights = weights(tmp.path(), &straight);

    // Stop after 5 steps (checkpoints at 3 and 5), then resume the step-3 one.
    let mut short = cfg.train.clone();
    short.max_steps = 5;
    run(&cfg, &short, &stores, &tmp.path().join("b"), None).unwrap();
    let loaded = checkpoint::load(&tmp.path().join("b/step-00000003"), &device(), no_base).unwrap();
    assert_eq!(loaded.state.step, 3);
    let resumed = run(
        &cfg,
        &cfg.train,
        &stores,
        &tmp.path().join("b"),
        Some(loaded),
    )
    .unwrap();
    assert_eq!(resumed.steps, 8);
    assert_eq!(resumed.train_loss.to_bits(), straight.train_loss.to_bits());
    assert!(
        weights(tmp.path(), &resumed) == straight_weights,
        "final weights differ"
    );
}

#[test]
fn corrupt_latest_checkpoint_falls_back_to_the_previous_one() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(&[]);
    let stores = data(tmp.path(), &cfg);
    let dir = tmp.path().join("ck");
    run(&cfg, &cfg.train, &stores, &dir, None).unwrap();
    let index = checkpoint::read_index(&dir).unwrap();
    assert_eq!(index.latest.as_deref(), Some("step-00000008"));
    let names: Vec<_> = index.checkpoints.iter().map(|e| e.step).collect();
    assert_eq!(names, [3, 6, 8]);
    // Flip a byte of the latest model.
    let model = dir.join("step-00000008/model.bpk");
    let mut bytes = std::fs::read(&model).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&model, bytes).unwrap();
    let (found, warnings) = checkpoint::latest_valid(&dir).unwrap();
    assert_eq!(found.unwrap(), dir.join("step-00000006"));
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("model.bpk does not match its checksum"),
        "{}",
        warnings[0]
    );
    let err = checkpoint::load(&dir.join("step-00000008"), &device(), no_base).unwrap_err();
    assert!(err.to_string().contains("step-00000008"), "{err}");
}

#[test]
fn resuming_with_another_model_shape_names_the_keys() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(&["train.max_steps=3", "train.warmup_steps=1"]);
    let stores = data(tmp.path(), &cfg);
    run(&cfg, &cfg.train, &stores, &tmp.path().join("ck"), None).unwrap();
    let loaded =
        checkpoint::load(&tmp.path().join("ck/step-00000003"), &device(), no_base).unwrap();
    let wider = config(&["train.max_steps=3", "train.warmup_steps=1", "model.d_ff=96"]);
    let err = run(
        &wider,
        &wider.train,
        &stores,
        &tmp.path().join("ck"),
        Some(loaded),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("model.d_ff (64 in the checkpoint, 96 now)"),
        "{msg}"
    );
}

#[test]
fn retention_keeps_the_last_the_best_and_every_mth() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(&[
        "train.max_steps=12",
        "train.checkpoint_every=2",
        "train.eval_every=2",
        "train.keep_last=2",
        "train.keep_best=1",
        "train.keep_every=4",
    ]);
    let stores = data(tmp.path(), &cfg);
    let dir = tmp.path().join("ck");
    run(&cfg, &cfg.train, &stores, &dir, None).unwrap();
    let index = checkpoint::read_index(&dir).unwrap();
    let best = index.best.clone().unwrap();
    let best_entry = index.checkpoints.iter().find(|e| e.name == best).unwrap();
    let lowest = index
        .checkpoints
        .iter()
        .filter_map(|e| e.metric)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best_entry.metric, Some(lowest));
    let mut kept: Vec<u64> = index.checkpoints.iter().map(|e| e.step).collect();
    let mut expected = vec![4, 8, 10, 12, best_entry.step];
    expected.sort_unstable();
    expected.dedup();
    kept.sort_unstable();
    assert_eq!(kept, expected);
    let on_disk = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("step-")
        })
        .count();
    assert_eq!(on_disk, expected.len());
}

/// Resuming from an earlier checkpoint starts a branch: the checkpoint it
/// writes is kept and is the latest, and the abandoned later ones move aside
/// where they can neither outrank it nor be resumed by mistake.
#[test]
fn resuming_an_earlier_checkpoint_starts_a_branch_that_retention_keeps() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(&[
        "train.max_steps=6",
        "train.checkpoint_every=1",
        "train.eval_every=2",
        "train.keep_last=1",
        "train.keep_best=1",
        "train.keep_every=2",
    ]);
    let stores = data(tmp.path(), &cfg);
    let dir = tmp.path().join("ck");
    let first = run(&cfg, &cfg.train, &stores, &dir, None).unwrap();
    assert_eq!(first.abandoned, None);
    let steps = |i: &checkpoint::Index| i.checkpoints.iter().map(|e| e.step).collect::<Vec<_>>();
    assert_eq!(steps(&checkpoint::read_index(&dir).unwrap()), [2, 4, 6]);

    let loaded = checkpoint::load(&dir.join("step-00000002"), &device(), no_base).unwrap();
    let mut short = cfg.train.clone();
    short.max_steps = 3;
    let branch = run(&cfg, &short, &stores, &dir, Some(loaded)).unwrap();
    assert!(
        dir.join("step-00000003/state.json").is_file(),
        "the new checkpoint was deleted"
    );
    let index = checkpoint::read_index(&dir).unwrap();
    assert_eq!(index.latest.as_deref(), Some("step-00000003"));
    assert_eq!(steps(&index), [2, 3]);
    let best = index.best.clone().unwrap();
    assert!(
        index.checkpoints.iter().any(|e| e.name == best),
        "best {best} is not on the branch"
    );
    let aside = dir.join("abandoned/after-step-00000002");
    assert_eq!(branch.abandoned.as_deref(), Some(aside.as_path()));
    for s in ["step-00000004", "step-00000006"] {
        assert!(
            aside.join(s).join("state.json").is_file(),
            "{s} was not kept aside"
        );
        assert!(!dir.join(s).exists(), "{s} is still on the main line");
    }
    assert_eq!(steps(&checkpoint::read_index(&aside).unwrap()), [4, 6]);
    let (latest, _) = checkpoint::latest_valid(&dir).unwrap();
    assert_eq!(latest.unwrap(), dir.join("step-00000003"));

    // Resuming the newest checkpoint is not a branch.
    let loaded = checkpoint::load(&dir.join("step-00000003"), &device(), no_base).unwrap();
    short.max_steps = 4;
    let on = run(&cfg, &short, &stores, &dir, Some(loaded)).unwrap();
    assert_eq!(on.abandoned, None);
    let index = checkpoint::read_index(&dir).unwrap();
    assert_eq!(index.latest.as_deref(), Some("step-00000004"));
    assert!(steps(&index).starts_with(&[2]) && steps(&index).ends_with(&[4]));
}

fn lora() -> codex_model::LoraConfig {
    codex_model::LoraConfig {
        rank: 2,
        alpha: 4.0,
        dropout: 0.1,
        targets: vec![codex_model::LoraTarget::Q, codex_model::LoraTarget::Mlp],
    }
}

/// LoRA on a base loaded from elsewhere: checkpoints hold the adapters and
/// their optimizer state alone, resume exactly on the recorded base, and refuse
/// a base whose weights changed.
#[test]
fn lora_checkpoints_hold_adapters_alone_and_resume_on_their_base() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(&[]);
    let stores = data(tmp.path(), &cfg);
    let base = || base_model(&cfg, 11);
    let reference = checkpoint::BaseRef {
        source: tmp.path().join("base"),
        fingerprint: base().base_fingerprint(),
    };
    let adapted = || base().attach_lora(&lora(), 5).unwrap();
    let straight = run_model(
        &cfg,
        &cfg.train,
        &stores,
        &tmp.path().join("a"),
        None,
        adapted(),
        Some(reference.clone()),
    )
    .unwrap();
    let straight_weights = weights(tmp.path(), &straight);
    let ck = tmp.path().join("a/step-00000006");
    assert!(checkpoint::holds_adapters(&ck));
    assert!(!ck.join("model.bpk").exists());
    let adapter = std::fs::metadata(ck.join("adapter.safetensors"))
        .unwrap()
        .len();
    let optimizer = std::fs::metadata(ck.join("optimizer.bpk")).unwrap().len();
    let full = 4 * base().num_params() as u64;
    assert!(
        (adapter + optimizer) * 4 < full,
        "adapter {adapter} + optimizer {optimizer} bytes vs {full} bytes of base weights"
    );
    assert_eq!(
        checkpoint::read_state(&ck).unwrap().base.as_ref(),
        Some(&reference)
    );

    // Stop after 5 steps, resume the step-3 checkpoint on a freshly built base.
    let mut short = cfg.train.clone();
    short.max_steps = 5;
    run_model(
        &cfg,
        &short,
        &stores,
        &tmp.path().join("b"),
        None,
        adapted(),
        Some(reference.clone()),
    )
    .unwrap();
    let step3 = tmp.path().join("b/step-00000003");
    let mut asked = None;
    let loaded = checkpoint::load(&step3, &device(), |r| {
        asked = Some(r.clone());
        Ok::<_, codex_train::TrainError>(base())
    })
    .unwrap();
    assert_eq!(asked.as_ref(), Some(&reference));
    let resumed = run_model(
        &cfg,
        &cfg.train,
        &stores,
        &tmp.path().join("b"),
        Some(loaded),
        adapted(),
        Some(reference.clone()),
    )
    .unwrap();
    assert_eq!(resumed.train_loss.to_bits(), straight.train_loss.to_bits());
    assert!(
        weights(tmp.path(), &resumed) == straight_weights,
        "merged weights differ after resuming the adapters"
    );

    // Another base: refused, naming the source and both fingerprints.
    let err = checkpoint::load(&step3, &device(), |_| {
        Ok::<_, codex_train::TrainError>(base_model(&cfg, 12))
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("base weights changed"), "{err}");
    assert!(err.contains(&reference.fingerprint), "{err}");
    assert!(err.contains("step-00000003"), "{err}");
}

#[cfg(feature = "wgpu")]
fn embedding(model: &Transformer) -> (Device, Vec<f32>) {
    let w = model.wte.weight.val();
    (
        w.device(),
        w.into_data().convert::<f32>().try_to_vec::<f32>().unwrap(),
    )
}

#[cfg(feature = "wgpu")]
fn max_gap(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A checkpoint written on one device resumes on another (flex on the CPU and
/// wgpu, on Mesa's software Vulkan in CI) and the run carries on: the step
/// count, sampler position and optimizer moments come along, and the resumed run
/// ends where an uninterrupted run on the first device ends, up to the backends'
/// different summation orders. Run with `--features wgpu`.
#[cfg(feature = "wgpu")]
#[test]
#[allow(
    clippy::print_stderr,
    reason = "the test reports the distances it checks"
)]
fn a_checkpoint_resumes_on_another_device() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cpu = DeviceSpec::Cpu.device().unwrap().autodiff();
    let gpu = DeviceSpec::Wgpu(None).device().unwrap().autodiff();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(&[]);
    let stores = data(tmp.path(), &cfg);
    let mut short = cfg.train.clone();
    short.max_steps = 5;
    for (name, first, second) in [("cpu-to-wgpu", &cpu, &gpu), ("wgpu-to-cpu", &gpu, &cpu)] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let straight = run_on(first, &cfg, &cfg.train, &stores, &dir.join("a"), None).unwrap();
        run_on(first, &cfg, &short, &stores, &dir.join("b"), None).unwrap();
        let loaded = checkpoint::load(&dir.join("b/step-00000003"), second, no_base).unwrap();
        assert_eq!(loaded.state.step, 3, "{name}");
        let at_step_3 = embedding(&loaded.model).1;
        let resumed = run_on(
            second,
            &cfg,
            &cfg.train,
            &stores,
            &dir.join("b"),
            Some(loaded),
        )
        .unwrap();
        assert_eq!(resumed.steps, 8, "{name}");
        assert_eq!(resumed.tokens, straight.tokens, "{name}");
        let (device_after, ours) = embedding(&resumed.model);
        assert_eq!(
            &device_after, second,
            "{name}: the resumed run trains on the new device"
        );
        let (_, theirs) = embedding(&straight.model);
        let worst = max_gap(&ours, &theirs);
        // The five resumed steps move the embedding by orders of magnitude more
        // than the tolerance, so a resume that lost the optimizer moments or the
        // sampler position (or did not train) cannot pass.
        let moved = max_gap(&ours, &at_step_3);
        eprintln!(
            "{name}: embedding within {worst:e} of the uninterrupted run; moved {moved:e} since step 3"
        );
        assert!(
            moved > 1e-3,
            "{name}: the resumed steps moved the embedding only {moved}"
        );
        assert!(worst < 1e-4, "{name}: embedding differs by {worst}");
        let loss_gap = (resumed.train_loss - straight.train_loss).abs();
        assert!(
            loss_gap < 1e-3 * straight.train_loss.abs(),
            "{name}: final train loss {} vs {} uninterrupted",
            resumed.train_loss,
            straight.train_loss
        );
    }
}
