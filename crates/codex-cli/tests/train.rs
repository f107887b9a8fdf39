//! `codex train` as a process: exact resume after SIGKILL, clean stop on SIGTERM,
//! and a checkpoint write that fails midway.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TINY: &[&str] = &[
    "run.name=tiny",
    "data.synthetic_bytes=150000",
    "tokenizer.vocab_size=320",
    "model.n_layer=1",
    "model.d_model=64",
    "model.n_head=2",
    "model.n_kv_head=1",
    "model.d_ff=64",
    "model.context_length=64",
    "model.dropout=0.1",
    "train.batch_size=8",
    "train.max_steps=80",
    "train.warmup_steps=4",
    "train.eval_every=10",
    "train.eval_batches=2",
    "train.checkpoint_every=4",
    "train.keep_last=3",
];

fn codex(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_codex"));
    cmd.current_dir(dir).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("CODEX_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn train(dir: &Path, extra: &[&str]) -> Output {
    codex(dir)
        .arg("train")
        .args(TINY)
        .args(extra)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn only_run(dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// The final weights as values (exported safetensors carry no parameter ids).
fn final_weights(dir: &Path, run: &Path) -> Vec<u8> {
    weights_at(dir, run, 80)
}

fn weights_at(dir: &Path, run: &Path, step: u64) -> Vec<u8> {
    let out = dir.join("exported");
    let o = codex(dir)
        .args(["model", "export"])
        .arg(run.join(format!("checkpoints/step-{step:08}")))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::read(out.join("model.safetensors")).unwrap()
}

/// Training and validation rows of metrics.ndjson without wall times.
fn metric_values(run: &Path) -> Vec<(u64, String, String, u64)> {
    std::fs::read_to_string(run.join("metrics.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["split"] != "system")
        .map(|v| {
            (
                v["step"].as_u64().unwrap(),
                v["split"].as_str().unwrap().to_owned(),
                v["name"].as_str().unwrap().to_owned(),
                v["value"].as_f64().unwrap().to_bits(),
            )
        })
        .collect()
}

fn latest_step(run: &Path) -> u64 {
    std::fs::read_to_string(run.join("checkpoints/index.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["latest"].as_str().map(str::to_owned))
        .and_then(|n| n.trim_start_matches("step-").parse().ok())
        .unwrap_or(0)
}

#[test]
fn sigkill_then_resume_ends_bit_identical() {
    let a = tempfile::tempdir().unwrap();
    let o = train(a.path(), &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let straight_run = only_run(a.path());
    let straight = final_weights(a.path(), &straight_run);

    // Kill at a step that varies from run to run, after at least one checkpoint.
    let b = tempfile::tempdir().unwrap();
    let wanted = 4 + (std::process::id() as u64 % 5) * 4;
    let mut child = codex(b.path())
        .arg("train")
        .args(TINY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let run = loop {
        if let Ok(mut entries) = std::fs::read_dir(b.path().join("runs"))
            && let Some(Ok(e)) = entries.next()
            && latest_step(&e.path()) >= wanted
        {
            break e.path();
        }
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "training ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed_at = latest_step(&run);
    assert!(killed_at < 80, "killed at {killed_at}");

    let o = codex(b.path())
        .args(["train", "--resume", "latest"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(only_run(b.path()), run, "resume continues the same run");
    assert!(
        final_weights(b.path(), &run) == straight,
        "weights differ after resuming at {killed_at}"
    );
    assert_eq!(metric_values(&run), metric_values(&straight_run));
}

#[test]
fn sigterm_finishes_the_step_and_checkpoints() {
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        stop_by_signal(signal, code);
    }
}

/// A signal stops the run after its step with a checkpoint; the exit status
/// is the shell's 128 + signal number.
fn stop_by_signal(signal: &str, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let child = codex(dir.path())
        .arg("train")
        .args(TINY)
        .arg("train.checkpoint_every=1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    // Wait for training to have started (the first metrics are written).
    loop {
        let started = std::fs::read_dir(dir.path().join("runs"))
            .ok()
            .and_then(|mut e| e.next())
            .and_then(|e| e.ok())
            .and_then(|e| std::fs::metadata(e.path().join("metrics.ndjson")).ok())
            .is_some_and(|m| m.len() > 0);
        if started {
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(code),
        "SIG{signal}: {}",
        text(&o.stderr)
    );
    let out = text(&o.stdout);
    assert!(
        out.contains("interrupted after step") && out.contains("--resume"),
        "{out}"
    );
    let run = only_run(dir.path());
    let step = latest_step(&run);
    assert!(step > 0 && step < 80, "checkpoint at {step}");
    // The checkpoint written on the interrupt records what was measured at
    // its step: a validation loss only if that step evaluated (every 10th).
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("checkpoints/index.json")).unwrap())
            .unwrap();
    let entry = index["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["step"] == step)
        .unwrap();
    assert_eq!(
        entry["val_loss"].is_null(),
        !step.is_multiple_of(10),
        "step {step}: {entry}"
    );
}

#[test]
fn a_failed_checkpoint_write_keeps_the_previous_one() {
    // Each file a checkpoint writes, failing as on a full disk at step 8:
    // an error naming its path, no partial directory, the step-4 checkpoint
    // still the latest and valid, and the run resumable to the end.
    for file in [
        "model.bpk",
        "optimizer.bpk",
        "state.json",
        "checksums.json",
        "index.json",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let o = codex(dir.path())
            .arg("train")
            .args(TINY)
            .env("CODEX_TEST_FAIL_CHECKPOINT_FILE", format!("{file}@8"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{file}");
        let err = text(&o.stderr);
        let run = only_run(dir.path());
        assert!(
            err.contains(file) && err.contains("injected failure") && err.contains("checkpoints"),
            "{file}: {err}"
        );
        assert_eq!(latest_step(&run), 4, "{file}");
        let leftovers: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{file}: {leftovers:?}");
        // The previous checkpoint still verifies and resumes to the end.
        let o = codex(dir.path())
            .args(["train", "--resume", "latest"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{file}: {}", text(&o.stderr));
        assert_eq!(latest_step(&run), 80, "{file}");
    }
}

#[test]
fn generate_and_eval_lm_read_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let o = train(dir.path(), &["train.max_steps=8", "train.warmup_steps=2"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = only_run(dir.path());
    let generate = |seed: &str| {
        codex(dir.path())
            .arg("generate")
            .arg(&run)
            .args([
                "--prompt",
                "The river",
                "--max-new-tokens",
                "12",
                "--seed",
                seed,
            ])
            .output()
            .unwrap()
    };
    let a = generate("1");
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert!(
        text(&a.stdout).starts_with("The river"),
        "{}",
        text(&a.stdout)
    );
    assert_eq!(a.stdout, generate("1").stdout, "seeded sampling repeats");

    let o = codex(dir.path())
        .args(["eval", "lm"])
        .arg(&run)
        .arg("--data")
        .arg(run.join("data"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("perplexity"),
        "{}",
        text(&o.stdout)
    );
    let rows = std::fs::read_to_string(run.join("eval/lm.ndjson")).unwrap();
    let names: Vec<String> = rows
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["loss", "perplexity", "token_accuracy", "tokens"]);
    // Each row says what it measured: the checkpoint and its step, the
    // dataset and its hash, the split.
    let first: serde_json::Value = serde_json::from_str(rows.lines().next().unwrap()).unwrap();
    assert_eq!(first["step"], 8, "{first}");
    assert_eq!(first["split"], "validation", "{first}");
    assert!(
        first["checkpoint"]
            .as_str()
            .unwrap()
            .ends_with("checkpoints/step-00000008"),
        "{first}"
    );
    assert!(
        first["dataset"].as_str().unwrap().ends_with("data"),
        "{first}"
    );
    assert_eq!(
        first["dataset_blake3"].as_str().unwrap().len(),
        64,
        "{first}"
    );
    // A text file is evaluated whole, and says so.
    std::fs::write(
        dir.path().join("held-out.txt"),
        "The river ran past the old mill and down to the sea.\n".repeat(20),
    )
    .unwrap();
    let o = codex(dir.path())
        .args(["eval", "lm"])
        .arg(&run)
        .args(["--data", "held-out.txt"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rows = std::fs::read_to_string(run.join("eval/lm.ndjson")).unwrap();
    let last: serde_json::Value = serde_json::from_str(rows.lines().last().unwrap()).unwrap();
    assert_eq!(last["split"], "all", "{last}");
    assert!(
        last["dataset"].as_str().unwrap().ends_with("held-out.txt"),
        "{last}"
    );

    // Every command that reads a model takes the run, its checkpoint and a
    // Hugging Face directory exported from it, the same way.
    let o = codex(dir.path())
        .args(["model", "export"])
        .arg(&run)
        .args(["--out", "hf"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let checkpoint = run.join("checkpoints/step-00000008");
    let greedy = |model: &Path| {
        let o = codex(dir.path())
            .arg("generate")
            .arg(model)
            .args([
                "--prompt",
                "The",
                "--max-new-tokens",
                "6",
                "--temperature",
                "0",
            ])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            model.display(),
            text(&o.stderr)
        );
        o.stdout
    };
    let hf = dir.path().join("hf");
    assert_eq!(greedy(&run), greedy(&hf));
    assert_eq!(greedy(&checkpoint), greedy(&hf));
    for model in [&run, &checkpoint, &hf] {
        let o = codex(dir.path())
            .args(["model", "inspect"])
            .arg(model)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            model.display(),
            text(&o.stderr)
        );
        assert!(
            text(&o.stdout).contains("family      llama"),
            "{}",
            text(&o.stdout)
        );
        let o = codex(dir.path())
            .args(["eval", "lm"])
            .arg(model)
            .args(["--data", "held-out.txt"])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            model.display(),
            text(&o.stderr)
        );
    }
    let o = codex(dir.path())
        .args(["model", "inspect", "no-such-model"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));

    // A model without a tokenizer beside it is refused with the place looked
    // for, as bad input (exit 2).
    std::fs::create_dir(dir.path().join("bare")).unwrap();
    for f in ["model.bpk", "model.bpk.json"] {
        std::fs::copy(
            run.join("checkpoints/step-00000008").join(f),
            dir.path().join("bare").join(f),
        )
        .unwrap();
    }
    let o = codex(dir.path())
        .args(["generate", "bare", "--prompt", "x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("no tokenizer found"),
        "{}",
        text(&o.stderr)
    );
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn early_stopping_and_token_limits_end_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing counts as an improvement, so the second evaluation stops the run.
    let o = train(
        dir.path(),
        &["train.early_stopping={metric: loss, mode: min, patience: 1, min_delta: 100}"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = summary(&only_run(dir.path()));
    assert_eq!(
        (s["stop"].as_str(), s["steps"].as_u64()),
        (Some("early_stopping"), Some(20))
    );
    assert_eq!(
        s["stopped_because"],
        "early stopping: validation loss did not improve for 1 evaluation"
    );

    let dir = tempfile::tempdir().unwrap();
    // 8 rows × 64 tokens a step: 2048 tokens is four steps.
    let o = train(dir.path(), &["train.max_tokens=2048"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = only_run(dir.path());
    let s = summary(&run);
    assert_eq!(
        (s["stop"].as_str(), s["steps"].as_u64()),
        (Some("max_tokens"), Some(4))
    );
    assert_eq!(s["stopped_because"], "reached train.max_tokens = 2048");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        report.contains("| stopped | reached train.max_tokens = 2048 |"),
        "{report}"
    );
    assert_eq!(latest_step(&run), 4, "a run ending on a limit checkpoints");
}

#[test]
fn lora_fine_tuning_trains_and_saves_only_the_adapters() {
    let dir = tempfile::tempdir().unwrap();
    let o = train(
        dir.path(),
        &["train.max_steps=8", "train.warmup_steps=2", "run.name=base"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let base = only_run(dir.path());
    let init = format!("train.init_from={}", base.display());
    let o = train(
        dir.path(),
        &[
            "run.name=lora",
            &init,
            "train.max_steps=6",
            "train.warmup_steps=1",
            "train.lora={rank: 2, alpha: 4, dropout: 0.0, targets: [q, v, mlp]}",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("LoRA adapters alone"),
        "{}",
        text(&o.stdout)
    );
    // What trains is said, on the console and in the summary.
    assert!(
        text(&o.stdout).contains("(trainable "),
        "{}",
        text(&o.stdout)
    );
    let lora_run = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-lora"))
        .unwrap();
    let adapter = std::fs::metadata(lora_run.join("adapter.safetensors"))
        .unwrap()
        .len();
    let full = std::fs::metadata(base.join("checkpoints/step-00000008/model.bpk"))
        .unwrap()
        .len();
    assert!(adapter * 4 < full, "adapter {adapter} bytes, model {full}");
    // Checkpoints hold the adapters and their optimizer state, not the base.
    let ck = lora_run.join("checkpoints/step-00000006");
    assert!(!ck.join("model.bpk").exists());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lora_run.join("summary.json")).unwrap()).unwrap();
    let (total, trainable) = (
        summary["parameters"].as_u64().unwrap(),
        summary["trainable_parameters"].as_u64().unwrap(),
    );
    assert!(
        trainable > 0 && trainable * 10 < total,
        "{trainable} of {total}"
    );
    let stored: u64 = std::fs::read_dir(&ck)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(stored * 2 < full, "checkpoint {stored} bytes, model {full}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ck.join("state.json")).unwrap()).unwrap();
    assert_eq!(
        Path::new(state["base"]["source"].as_str().unwrap()),
        std::path::absolute(&base).unwrap()
    );

    // Resuming the adapters from step 4 ends where the uninterrupted run ended.
    let straight = weights_at(dir.path(), &lora_run, 6);
    let other = tempfile::tempdir().unwrap();
    let copy = other
        .path()
        .join("runs")
        .join(lora_run.file_name().unwrap());
    copy_dir(&lora_run, &copy);
    std::fs::remove_dir_all(copy.join("checkpoints/step-00000006")).unwrap();
    let o = codex(other.path())
        .args(["train", "--resume"])
        .arg(copy.join("checkpoints/step-00000004"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        weights_at(other.path(), &copy, 6) == straight,
        "LoRA weights differ after resuming at step 4"
    );
    // Fine-tuning keeps the base run's tokenizer rather than training a new one
    // (that the base weights stay frozen is tested in codex-model).
    assert_eq!(
        std::fs::read(lora_run.join("tokenizer/tokenizer.json")).unwrap(),
        std::fs::read(base.join("tokenizer/tokenizer.json")).unwrap()
    );
    let o = codex(dir.path())
        .args([
            "generate",
            "--prompt",
            "The",
            "--max-new-tokens",
            "4",
            // The earlier spelling still works.
            "--checkpoint",
        ])
        .arg(&lora_run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));

    // Training the base further changes the weights the adapters were trained
    // on: loading them onto it is refused.
    let o = codex(dir.path())
        .args(["train", "--resume"])
        .arg(&base)
        .arg("train.max_steps=10")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = codex(dir.path())
        .args(["generate", "--prompt", "The", "--checkpoint"])
        .arg(&lora_run)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("the base weights changed"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn sweep_runs_the_grid_and_ranks_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(dir.path())
        .arg("sweep")
        .args(TINY)
        .args([
            "train.max_steps=10",
            "train.warmup_steps=2",
            "train.min_lr=1e-6",
        ])
        .args([
            "--grid",
            "train.lr=3e-3,1e-5",
            "--grid",
            "model.n_layer=1,2",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let sweep = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("sweep-")
        })
        .unwrap();
    let csv = std::fs::read_to_string(sweep.join("comparison.csv")).unwrap();
    let rows: Vec<Vec<String>> = csv
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(
        rows[0][..4],
        ["rank", "train.lr", "model.n_layer", "validation/loss"]
    );
    assert_eq!(rows.len(), 5, "{csv}");
    let losses: Vec<f64> = rows[1..].iter().map(|r| r[3].parse().unwrap()).collect();
    assert!(
        losses.windows(2).all(|w| w[0] <= w[1]),
        "sorted best first: {losses:?}"
    );
    // The tiny learning rate barely moves from the initial loss, so it ranks last.
    assert_eq!(rows[4][1], "1e-5");
    assert!(
        std::fs::read_to_string(sweep.join("comparison.md"))
            .unwrap()
            .contains("| 1 |")
    );

    // Two points compared by name: the numbers, the configuration keys that
    // differ and the curves, written into the first run's directory.
    let o = codex(dir.path())
        .args(["runs", "compare", "sweep1", "sweep4"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let table = text(&o.stdout);
    let differs = table
        .split("configuration that differs")
        .nth(1)
        .expect(&table);
    assert!(
        differs.contains("model.n_layer  1  |  2") && differs.contains("train.lr"),
        "{table}"
    );
    assert!(!differs.contains("run.name"), "{table}");
    let first = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-sweep1"))
        .unwrap();
    assert!(first.join("compare-loss.svg").is_file(), "{table}");
    assert!(!dir.path().join("compare-loss.svg").exists());
    // One speed figure: the list and the comparison print the same.
    let list = text(
        &codex(dir.path())
            .args(["runs", "list"])
            .output()
            .unwrap()
            .stdout,
    );
    let speed = |t: &str| {
        t.lines()
            .find(|l| l.contains("-sweep1 "))
            .and_then(|l| l.split_whitespace().nth(4).map(str::to_owned))
            .unwrap()
    };
    let row = table.lines().find(|l| l.contains("-sweep1 ")).unwrap();
    assert_eq!(
        row.split_whitespace().last().unwrap(),
        speed(&list),
        "{table}\n{list}"
    );
}

#[test]
fn sweep_checks_every_point_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(dir.path())
        .arg("sweep")
        .args(TINY)
        .args(["--grid", "model.n_head=2,3"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("model.n_head=3"),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.path().join("runs").exists(), "no run started");
}

#[test]
fn one_thread_or_many_give_the_same_run() {
    let runs: Vec<(tempfile::TempDir, PathBuf)> = ["1", "2"]
        .into_iter()
        .map(|threads| {
            let dir = tempfile::tempdir().unwrap();
            let o = codex(dir.path())
                .arg("train")
                .args(TINY)
                .args(["train.max_steps=12", "train.warmup_steps=2"])
                .env("RAYON_NUM_THREADS", threads)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", text(&o.stderr));
            let run = only_run(dir.path());
            (dir, run)
        })
        .collect();
    let w: Vec<Vec<u8>> = runs
        .iter()
        .map(|(d, r)| weights_at(d.path(), r, 12))
        .collect();
    assert!(w[0] == w[1], "weights differ between 1 and 2 threads");
    assert_eq!(metric_values(&runs[0].1), metric_values(&runs[1].1));
}

#[test]
fn a_diverging_run_stops_with_an_error_record_and_keeps_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    // A learning rate this large turns the weights into infinities after one step.
    let o = train(
        dir.path(),
        &[
            "train.lr=1e9",
            "train.min_lr=0",
            "train.grad_clip=0",
            "train.warmup_steps=1",
            "train.checkpoint_every=1",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("the loss is NaN") || err.contains("the loss is inf"),
        "{err}"
    );
    let run = only_run(dir.path());
    let record: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(run.join("errors.ndjson"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["kind"], "non_finite_loss");
    // A run that fails after writing checkpoints keeps them and shows as failed.
    let o = codex(dir.path())
        .args(["runs", "list", "runs"])
        .output()
        .unwrap();
    assert!(text(&o.stdout).contains("failed"), "{}", text(&o.stdout));
    let failed_at = record["step"].as_u64().unwrap();
    assert!(failed_at >= 2, "{record}");
    // Every step before the failure was checkpointed and the latest still verifies.
    assert_eq!(latest_step(&run), failed_at - 1);
    assert!(
        record["last_checkpoint"]
            .as_str()
            .unwrap()
            .ends_with(&format!("step-{:08}", failed_at - 1))
    );
    let o = codex(dir.path())
        .args(["model", "inspect"])
        .arg(run.join(format!("checkpoints/step-{:08}", failed_at - 1)))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// The safety policy acts on training documents (counts in the data manifest,
/// decisions in the audit trail) and on generated text: a secret the model
/// learned to emit is redacted, and bypassing the filter is recorded.
#[test]
fn safety_policy_filters_data_and_redacts_what_the_model_emits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("policy.yaml"),
        r#"version: 1
rules:
  - id: test-secret
    kind: test-secret
    regex: 'SECRET\d+'
    keywords: [secret]
    action: redact
    stages: [output]
    severity: high
  - id: corp-email
    kind: email
    regex: '[a-z]+@corp\.io'
    keywords: ['@']
    action: redact
    stages: [data]
    severity: medium
  - id: banned
    kind: banned
    literal: DROPME
    keywords: [dropme]
    action: block
    stages: [data]
    severity: high
  - id: noted
    kind: noted
    literal: FLAGME
    keywords: [flagme]
    action: flag
    stages: [data]
    severity: low
"#,
    )
    .unwrap();
    let mut corpus = String::new();
    for i in 0..1500 {
        corpus.push_str(match i % 50 {
            0 => "write to bob@corp.io now\n",
            1 => "DROPME this line\n",
            2 => "FLAGME this line\n",
            3 => "write to docs@corp.io (codex:allow)\n",
            _ => "the key is SECRET4242 .\n",
        });
    }
    std::fs::write(d.join("corpus.txt"), corpus).unwrap();
    let o = train(
        d,
        &[
            "data.sources=[corpus.txt]",
            "data.dedup=false",
            "data.format=lines",
            "safety.policy=policy.yaml",
            "train.max_steps=60",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = only_run(d);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("data/manifest.json")).unwrap())
            .unwrap();
    let f = &manifest["filter"];
    assert_eq!(
        (
            f["dropped"].as_u64(),
            f["redacted"].as_u64(),
            f["flagged"].as_u64()
        ),
        (Some(30), Some(30), Some(30)),
        "{f}"
    );
    assert_eq!(f["rules"]["banned"]["dropped"], 30, "{f}");
    // What the policy let through is counted, logged and said.
    assert_eq!(f["allowlisted"], 30, "{f}");
    assert!(
        text(&o.stderr).contains("30 matches allowlisted by the policy"),
        "{}",
        text(&o.stderr)
    );
    let events = std::fs::read_to_string(run.join("safety/events.ndjson")).unwrap();
    assert_eq!(
        events
            .lines()
            .filter(|l| l.contains("\"event\":\"allowlisted\""))
            .count(),
        30
    );
    assert!(
        !events.contains("docs@corp.io"),
        "the audit trail leaks a match"
    );
    assert!(events.lines().count() >= 90, "{events}");
    assert!(
        !events.contains("bob@corp.io"),
        "the audit trail leaks a match"
    );
    // Each data event names the file and line it came from.
    for line in events.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["stage"] == "data" {
            let source = e["source"].as_str().unwrap_or("");
            assert!(
                source.contains("corpus.txt:")
                    && source.rsplit(':').next().unwrap().parse::<u64>().is_ok(),
                "{e}"
            );
        }
    }

    let generate = |env: &[(&str, &str)]| {
        codex(d)
            .arg("generate")
            .arg(&run)
            .args([
                "--prompt",
                "the key is",
                "--max-new-tokens",
                "12",
                "--temperature",
                "0",
            ])
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let o = generate(&[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("«REDACTED:test-secret»") && !out.contains("SECRET4242"),
        "{out}"
    );
    let events = std::fs::read_to_string(run.join("safety/events.ndjson")).unwrap();
    assert!(
        events.contains("\"stage\":\"output\"") && !events.contains("SECRET4242"),
        "{events}"
    );

    // The bypass switch turns filtering off and says so in the audit trail.
    let o = generate(&[("CODEX_SAFETY_BYPASS", "1")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("SECRET4242"),
        "{}",
        text(&o.stdout)
    );
    let events = std::fs::read_to_string(run.join("safety/events.ndjson")).unwrap();
    assert!(
        events
            .lines()
            .last()
            .unwrap()
            .contains("\"event\":\"bypass\""),
        "{events}"
    );
}

/// Mixed precision: forward and backward in bfloat16 or float16 from f32
/// master weights; the loss falls in both, and f16 logs its dynamic loss scale.
#[test]
fn mixed_precision_trains_in_bf16_and_f16_with_loss_scaling() {
    for precision in ["bf16", "f16"] {
        let dir = tempfile::tempdir().unwrap();
        let o = train(
            dir.path(),
            &[
                "train.max_steps=40",
                &format!("train.precision={precision}"),
            ],
        );
        assert!(o.status.success(), "{precision}: {}", text(&o.stderr));
        let run = only_run(dir.path());
        let rows: Vec<serde_json::Value> = std::fs::read_to_string(run.join("metrics.ndjson"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect();
        let losses: Vec<f64> = rows
            .iter()
            .filter(|r| r["split"] == "train" && r["name"] == "loss")
            .map(|r| r["value"].as_f64().unwrap())
            .collect();
        assert_eq!(losses.len(), 40);
        let head: f64 = losses[..5].iter().sum::<f64>() / 5.0;
        let tail: f64 = losses[35..].iter().sum::<f64>() / 5.0;
        assert!(
            tail < head - 0.3,
            "{precision} loss did not fall: {head} -> {tail}"
        );
        let scales = rows.iter().filter(|r| r["name"] == "loss_scale").count();
        assert_eq!(
            scales,
            if precision == "f16" { 40 } else { 0 },
            "{precision}"
        );
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["precision"], precision);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The f16 loss scale is part of the checkpoint: resuming from the middle of a
/// run ends with the weights of the run that was never stopped.
#[test]
fn f16_loss_scaling_resumes_exactly() {
    let common = [
        "train.max_steps=40",
        "train.precision=f16",
        "train.keep_every=10",
        "train.keep_last=1",
    ];
    let a = tempfile::tempdir().unwrap();
    let o = train(a.path(), &common);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run_a = only_run(a.path());
    let straight = weights_at(a.path(), &run_a, 40);

    let b = tempfile::tempdir().unwrap();
    let run_b = b.path().join("runs").join(run_a.file_name().unwrap());
    copy_dir(&run_a, &run_b);
    // Checkpoints every 4 steps, every 10th step kept: 20 and 40 exist.
    std::fs::remove_dir_all(run_b.join("checkpoints/step-00000040")).unwrap();
    let o = codex(b.path())
        .args(["train", "--resume"])
        .arg(run_b.join("checkpoints/step-00000020"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        weights_at(b.path(), &run_b, 40) == straight,
        "f16 weights differ after resuming at step 20"
    );
}

/// Every file of a run directory, recursively, with its bytes.
fn every_file(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// Credentials given on the command line (in an MLflow URI's userinfo and
/// query) and in the environment reach no file of the run and no line of
/// stderr; settings whose names merely contain "token" are not blanked.
#[test]
fn no_planted_secret_reaches_a_run_directory_or_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        "hunter2-planted",
        "abc-planted-token",
        "pw-planted-secret",
        "hf_planted_value",
    ];
    let o = codex(dir.path())
        .arg("train")
        .args(TINY)
        .args([
            "train.max_steps=6",
            "train.eval_every=3",
            "track.tensorboard=true",
            "track.mlflow.close_timeout_secs=1",
            "track.mlflow.uri=http://alice:hunter2-planted@127.0.0.1:9/?token=abc-planted-token",
        ])
        .env("MLFLOW_TRACKING_PASSWORD", "pw-planted-secret")
        .env("MLFLOW_TRACKING_USERNAME", "bob")
        .env("HF_TOKEN", "hf_planted_value")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = only_run(dir.path());
    let files = every_file(&run);
    assert!(files.len() > 10, "{files:?}");
    for (path, bytes) in &files {
        let body = String::from_utf8_lossy(bytes);
        for s in secrets {
            assert!(!body.contains(s), "{s} leaked into {}", path.display());
        }
    }
    for s in secrets {
        assert!(!text(&o.stderr).contains(s), "{s} leaked into stderr");
        assert!(!text(&o.stdout).contains(s), "{s} leaked into stdout");
    }
    // Redaction is by key and by URI part, not by substring.
    let provenance = std::fs::read_to_string(run.join("provenance.json")).unwrap();
    assert!(
        provenance.contains("tokenizer.vocab_size=320"),
        "{provenance}"
    );
    let config = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    assert!(
        config.contains("uri: http://«REDACTED»@127.0.0.1:9/?token=«REDACTED»"),
        "{config}"
    );
}

/// Resuming a run that already reached its limits changes nothing and says so.
#[test]
fn resuming_a_complete_run_is_a_no_op_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let o = train(dir.path(), &["train.max_steps=8", "train.warmup_steps=2"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = only_run(dir.path());
    let before: Vec<(PathBuf, Vec<u8>)> = every_file(&run);
    let o = codex(dir.path())
        .args(["train", "--resume"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("is complete: step 8"),
        "{}",
        text(&o.stdout)
    );
    let mut after = every_file(&run);
    let mut before = before;
    before.sort();
    after.sort();
    assert!(before == after, "resuming a complete run changed its files");
    // A larger limit continues it, and the report tells the invocation apart.
    let o = codex(dir.path())
        .args(["train", "--resume"])
        .arg(&run)
        .arg("train.max_steps=12")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = summary(&run);
    assert_eq!(
        (s["steps"].as_u64(), s["invocation_steps"].as_u64()),
        (Some(12), Some(4))
    );
    assert_eq!(s["started_at_step"], 8);
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        report.contains("| resumed at step | 8 |")
            && report.contains("| steps since resuming | 4 |"),
        "{report}"
    );
}

/// A Hugging Face directory with a tokenizer whose `tokenizer_config.json`
/// names its own end-of-sequence token (not codex's default separator).
fn hf_base(dir: &Path) -> PathBuf {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/model/llama-gqa-tied");
    let base = dir.join("base");
    std::fs::create_dir_all(&base).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture.join(f), base.join(f)).unwrap();
    }
    let corpus = dir.join("corpus.txt");
    let o = codex(dir)
        .args(["data", "synth", "--size", "60KB", "--out"])
        .arg(&corpus)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = codex(dir)
        .args(["tokenizer", "train"])
        .arg(&corpus)
        .arg("--out")
        .arg(dir.join("tok"))
        .args([
            "tokenizer.kind=wordlevel",
            "tokenizer.vocab_size=90",
            "tokenizer.min_frequency=1",
            "tokenizer.special_tokens=[\"</s>\", \"<pad>\", \"[UNK]\"]",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::copy(dir.join("tok/tokenizer.json"), base.join("tokenizer.json")).unwrap();
    std::fs::write(
        base.join("tokenizer_config.json"),
        r#"{"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "[UNK]"}"#,
    )
    .unwrap();
    base
}

/// Fine-tuning an imported model records the model and separator that ran,
/// refuses settings that contradict them, and exports what transformers needs.
#[test]
fn an_imported_model_is_recorded_used_and_exported_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let base = hf_base(dir.path());
    let init = format!("train.init_from={}", base.display());
    let common = [
        init.as_str(),
        "data.synthetic_bytes=60000",
        "train.batch_size=4",
        "train.max_steps=4",
        "train.warmup_steps=1",
        "train.eval_every=2",
        "train.eval_batches=1",
        "train.lora={rank: 2, alpha: 4, dropout: 0.0, targets: [q, v]}",
    ];
    // A setting that contradicts the loaded model is an error naming both.
    let o = codex(dir.path())
        .arg("train")
        .args(common)
        .arg("model.d_model=64")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("model.d_model: is 64") && text(&o.stderr).contains("has 32"),
        "{}",
        text(&o.stderr)
    );
    // So is a separator the tokenizer does not declare.
    let o = codex(dir.path())
        .arg("train")
        .args(common)
        .arg("tokenizer.special_tokens=[\"<pad>\"]")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("eos_token `</s>`"),
        "{}",
        text(&o.stderr)
    );

    for run in std::fs::read_dir(dir.path().join("runs"))
        .into_iter()
        .flatten()
    {
        std::fs::remove_dir_all(run.unwrap().path()).unwrap();
    }
    let o = codex(dir.path())
        .arg("train")
        .args(common)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = only_run(dir.path());
    let config = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    for line in [
        "d_model: 32",
        "n_layer: 2",
        "context_length: 32",
        "n_kv_head: 2",
    ] {
        assert!(config.contains(line), "{line}: {config}");
    }
    assert!(config.contains("- </s>"), "{config}");
    let provenance: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("provenance.json")).unwrap()).unwrap();
    assert_eq!(provenance["model"]["config"]["d_model"], 32, "{provenance}");
    assert_eq!(
        provenance["model"]["config"]["vocab_size"], 96,
        "{provenance}"
    );
    // The tokenizer files travel unchanged.
    assert_eq!(
        std::fs::read(run.join("tokenizer/tokenizer_config.json")).unwrap(),
        std::fs::read(base.join("tokenizer_config.json")).unwrap()
    );

    let out = dir.path().join("export");
    let o = codex(dir.path())
        .args(["model", "export"])
        .arg(&run)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(base.join("tokenizer.json")).unwrap()).unwrap();
    let id_of = |t: &str| tokens["model"]["vocab"][t].as_u64().unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["eos_token_id"].as_u64(),
        Some(id_of("</s>")),
        "{config}"
    );
    assert_eq!(
        config["pad_token_id"].as_u64(),
        Some(id_of("<pad>")),
        "{config}"
    );
    let generation: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("generation_config.json")).unwrap())
            .unwrap();
    assert_eq!(generation["eos_token_id"].as_u64(), Some(id_of("</s>")));
    assert_eq!(
        std::fs::read(out.join("tokenizer_config.json")).unwrap(),
        std::fs::read(base.join("tokenizer_config.json")).unwrap()
    );
}

/// `data.prepared` trains on a dataset `codex data prepare` wrote, checked
/// against the run's tokenizer; given as a source it says where it belongs.
#[test]
fn a_prepared_dataset_is_trained_on_with_data_prepared() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = codex(d)
        .args(["data", "synth", "--size", "150KB", "--out", "corpus.txt"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = codex(d)
        .args([
            "tokenizer",
            "train",
            "corpus.txt",
            "--out",
            "tok",
            "tokenizer.vocab_size=320",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = codex(d)
        .args([
            "data",
            "prepare",
            "--tokenizer",
            "tok/tokenizer.json",
            "--out",
            "ds",
            "data.sources=[corpus.txt]",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = train(
        d,
        &[
            "data.prepared=ds",
            "tokenizer.path=tok/tokenizer.json",
            "train.max_steps=4",
            "train.warmup_steps=1",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = only_run(d);
    assert!(
        !run.join("data/manifest.json").exists(),
        "the dataset was prepared again"
    );
    assert_eq!(summary(&run)["steps"], 4);
    // As a source: an error that names the right key.
    let o = train(
        d,
        &["data.sources=[ds]", "tokenizer.path=tok/tokenizer.json"],
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("data.prepared"),
        "{}",
        text(&o.stderr)
    );
    // With another tokenizer: refused by key.
    let o = train(
        d,
        &[
            "data.prepared=ds",
            "train.max_steps=4",
            "train.warmup_steps=1",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("data.prepared"),
        "{}",
        text(&o.stderr)
    );
}

/// A run that fails before writing anything leaves no directory behind.
#[test]
fn a_run_that_fails_early_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let o = train(dir.path(), &["data.sources=[missing.txt]"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("missing.txt"),
        "{}",
        text(&o.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("runs"))
        .map(|e| e.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// Through a pipe: plain log lines (no escape codes), one every twentieth of
/// the run and one per validation. On a terminal (a pty from `script`):
/// colour, unless NO_COLOR says otherwise.
#[test]
fn log_lines_follow_where_they_go() {
    let dir = tempfile::tempdir().unwrap();
    let o = train(dir.path(), &["run.name=pipe"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        !err.contains('\u{1b}'),
        "escape codes in piped output: {err:?}"
    );
    assert!(err.contains("step 4/80  loss "), "{err}");
    assert!(err.contains("step 80/80  loss "), "{err}");
    assert!(err.contains("step 10  validation loss "), "{err}");
    assert!(
        !err.contains("libnvidia"),
        "a missing GPU driver is not news: {err}"
    );

    let script = |extra_env: &str| {
        let cmd = format!(
            "{extra_env} {} train run.name=pty {}",
            env!("CARGO_BIN_EXE_codex"),
            TINY.join(" ")
        );
        Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let o = script("");
    assert!(o.status.success(), "{}", text(&o.stdout));
    assert!(
        text(&o.stdout).contains("\u{1b}[32m"),
        "no colour on a terminal"
    );
    let o = script("NO_COLOR=1");
    assert!(o.status.success(), "{}", text(&o.stdout));
    assert!(
        !text(&o.stdout).contains("\u{1b}[32m"),
        "colour despite NO_COLOR"
    );
}

#[test]
fn chat_fine_tuning_trains_on_replies_and_answers_held_out_questions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let synth = |args: &[&str]| {
        let out = codex(dir)
            .args(["data", "synth", "--kind", "chat"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    synth(&["--examples", "300", "--out", "chat.jsonl"]);
    synth(&["--examples", "12", "--heldout", "--out", "held.jsonl"]);
    // A base model whose tokenizer knows ChatML's tokens.
    let base = train(
        dir,
        &[
            "run.name=base",
            "train.max_steps=6",
            "train.checkpoint_every=6",
            "tokenizer.special_tokens=[<|endoftext|>,<|im_start|>,<|im_end|>]",
        ],
    );
    assert!(base.status.success(), "{}", text(&base.stderr));
    let base_run = only_run(dir);
    for (name, packing) in [("sft-packed", "true"), ("sft-padded", "false")] {
        let init = format!("train.init_from={}", base_run.display());
        let packing = format!("train.packing={packing}");
        let name = format!("run.name={name}");
        let out = codex(dir)
            .args(["train", "data.format=chat", "data.sources=[chat.jsonl]"])
            .args(["data.chat_template=chatml", "data.validation_fraction=0.1"])
            .args([init.as_str(), packing.as_str(), name.as_str()])
            .args([
                "train.max_steps=8",
                "train.batch_size=4",
                "train.eval_every=4",
            ])
            .args(["train.eval_batches=2", "train.warmup_steps=2"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("sft"))
        .collect();
    assert_eq!(runs.len(), 2);
    for run in &runs {
        let metrics = std::fs::read_to_string(run.join("metrics.ndjson")).unwrap();
        assert!(
            metrics.contains("\"padding_fraction\""),
            "{}",
            run.display()
        );
        assert!(metrics.contains("\"validation\""), "{}", run.display());
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("data/manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["chat"]["loss_on"], "assistant");
        assert!(run.join("tokenizer/chat_template.jinja").is_file());
    }
    // The fine-tuned model answers the held-out questions; exact match scores it.
    let run = &runs[0];
    let out = codex(dir)
        .args([
            "chat",
            run.to_str().unwrap(),
            "--batch",
            "held.jsonl",
            "--out",
            "preds.jsonl",
        ])
        .args(["--temperature", "0", "--max-new-tokens", "6"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let preds = std::fs::read_to_string(dir.join("preds.jsonl")).unwrap();
    assert_eq!(preds.lines().count(), 12);
    let out = codex(dir)
        .args([
            "eval",
            "text",
            "--hyp",
            "preds.jsonl",
            "--metrics",
            "em",
            "--json",
        ])
        .args(["--bootstrap", "0", "--out", "scores"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("em"), "{}", text(&out.stdout));

    // Resuming a chat run ends where the uninterrupted one did, bit for bit
    // (runs[0] is packed, runs[1] padded: each is checked).
    for run in &runs {
        let name = run.file_name().unwrap().to_string_lossy().into_owned();
        let packing = if name.contains("packed") {
            "train.packing=true"
        } else {
            "train.packing=false"
        };
        let init = format!("train.init_from={}", base_run.display());
        let short = format!(
            "run.name=short-{}",
            if packing.ends_with("true") { "p" } else { "u" }
        );
        let out = codex(dir)
            .args(["train", "data.format=chat", "data.sources=[chat.jsonl]"])
            .args(["data.chat_template=chatml", "data.validation_fraction=0.1"])
            .args([init.as_str(), packing, short.as_str()])
            // Stopped early by a token limit: the schedule stays the 8-step one.
            .args([
                "train.max_steps=8",
                "train.batch_size=4",
                "train.eval_every=4",
            ])
            .args([
                "train.eval_batches=2",
                "train.warmup_steps=2",
                "train.max_tokens=300",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let short_run = std::fs::read_dir(dir.join("runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(&short[9..]))
            .unwrap();
        let out = codex(dir)
            .arg("train")
            .arg("--resume")
            .arg(&short_run)
            .args(["train.max_tokens=null"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            weights_at(dir, &short_run, 8),
            weights_at(dir, run, 8),
            "{name}: stopped by a token limit and resumed, the weights at step 8 differ"
        );
    }
}

#[test]
fn two_identical_runs_write_byte_identical_checkpoints() {
    // Parameter ids follow from module paths and the optimizer record is
    // written in name order, so nothing random reaches a checkpoint.
    let files = |dir: &Path| {
        let run = only_run(dir);
        let ck = run.join("checkpoints/step-00000004");
        [
            "model.bpk",
            "model.bpk.json",
            "optimizer.bpk",
            "state.json",
            "checksums.json",
        ]
        .map(|f| (f, std::fs::read(ck.join(f)).unwrap()))
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for d in [a.path(), b.path()] {
        let out = train(d, &["train.max_steps=4", "train.checkpoint_every=4"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    for ((name, x), (_, y)) in files(a.path()).iter().zip(&files(b.path())) {
        assert!(x == y, "{name} differs between two identical runs");
    }
}

/// Every file of a run directory, relative path → bytes.
fn run_files(run: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![run.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(run).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A JSON document without the keys named (at any depth).
fn without(mut v: serde_json::Value, keys: &[&str]) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value, keys: &[&str]) {
        match v {
            serde_json::Value::Object(m) => {
                for k in keys {
                    m.remove(*k);
                }
                m.values_mut().for_each(|x| strip(x, keys));
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| strip(x, keys)),
            _ => {}
        }
    }
    strip(&mut v, keys);
    v
}

#[test]
fn two_identical_runs_differ_only_in_the_documented_wall_clock_fields() {
    // The documented list (docs/ARCHITECTURE.md, "Reproducibility"): the run
    // directory's name and the working directory (both in paths), the
    // `system` rows and `wall_time` of the metrics, `system.ndjson`, the
    // timings of summary.json, provenance.json, report.md and the
    // manifests, and the throughput chart. Everything else is byte-identical.
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut runs = Vec::new();
    for d in [a.path(), b.path()] {
        let out = train(
            d,
            &[
                "train.max_steps=8",
                "train.eval_every=4",
                "train.checkpoint_every=4",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        runs.push(only_run(d));
    }
    let name = |r: &Path| r.file_name().unwrap().to_string_lossy().into_owned();
    let normal = |bytes: &[u8], run: &Path, cwd: &Path| {
        String::from_utf8_lossy(bytes)
            .replace(&cwd.display().to_string(), "CWD")
            .replace(&name(run), "RUN")
    };
    let (fa, fb) = (run_files(&runs[0]), run_files(&runs[1]));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    let timings = [
        "tokens_per_second",
        "flops_per_second",
        "train_seconds",
        "wall_seconds",
        "started_at",
        "finished_at",
        "duration_secs",
        "wall_time",
    ];
    for (path, x) in &fa {
        let y = &fb[path];
        if x == y || path == "system.ndjson" || path == "report/throughput.svg" {
            continue;
        }
        let (x, y) = (normal(x, &runs[0], a.path()), normal(y, &runs[1], b.path()));
        let same = if path.ends_with(".ndjson") {
            let rows = |t: &str| -> Vec<serde_json::Value> {
                t.lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .filter(|v: &serde_json::Value| v["split"] != "system")
                    .map(|v| without(v, &timings))
                    .collect()
            };
            rows(&x) == rows(&y)
        } else if path.ends_with(".json") {
            let doc = |t: &str| without(serde_json::from_str(t).unwrap(), &timings);
            doc(&x) == doc(&y)
        } else if path.ends_with(".csv") {
            // Rows of the system split and the last column (wall_time) aside.
            let rows = |t: &str| -> Vec<String> {
                t.lines()
                    .filter(|l| !l.contains(",system,"))
                    .map(|l| l.rsplit_once(',').map_or(l, |(head, _)| head).to_owned())
                    .collect()
            };
            rows(&x) == rows(&y)
        } else if path == "report.md" {
            let lines = |t: &str| -> Vec<String> {
                t.lines()
                    .filter(|l| !l.contains("time |") && !l.contains("per second |"))
                    .map(str::to_owned)
                    .collect()
            };
            lines(&x) == lines(&y)
        } else {
            x == y
        };
        assert!(
            same,
            "{path} differs between two identical runs beyond the documented fields"
        );
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn eval_tasks_score_during_training_into_every_sink_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let task = repo().join("tasks/synth_completion/synth_completion.yaml");
    let setting = format!(
        "train.eval_tasks={{tasks: [{}], limit: 12, batch_size: 8}}",
        task.display()
    );
    let o = train(
        dir.path(),
        &[
            "train.max_steps=20",
            "train.checkpoint_every=20",
            "track.tensorboard=true",
            &setting,
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = only_run(dir.path());
    let rows = std::fs::read_to_string(run.join("metrics.ndjson")).unwrap();
    let steps: Vec<u64> = rows
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["split"] == "tasks" && r["name"] == "synth_completion/acc_norm")
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [10, 20], "task scores at every evaluation");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("## Benchmark tasks"), "{report}");
    assert!(report.contains("| synth_completion/acc |"), "{report}");
    assert!(run.join("report/tasks.svg").is_file());
    let events = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("events.out.tfevents")
        })
        .expect("a TensorBoard event file");
    let bytes = std::fs::read(events).unwrap();
    let tag = b"tasks/synth_completion/acc_norm";
    assert!(
        bytes.windows(tag.len()).any(|w| w == tag),
        "TensorBoard has the task scores"
    );
}

#[test]
fn a_bad_task_file_stops_training_before_the_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.yaml"),
        "task: t\ndataset_path: missing.jsonl\ntest_split: train\ndoc_to_text: q\n",
    )
    .unwrap();
    let o = train(dir.path(), &["train.eval_tasks={tasks: [t.yaml]}"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("missing.jsonl"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        !dir.path().join("runs").exists(),
        "no run directory for a bad task file"
    );
}

/// Runs `script` in a private mount namespace with a `size` tmpfs at `$MNT`
/// (a real full disk: writes fail with ENOSPC). `$CODEX` is the binary and
/// `$OUT` a directory outside the namespace for what the script records.
fn on_small_disk(size: &str, script: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (mnt, out) = (dir.join("mnt"), dir.join("out"));
    std::fs::create_dir_all(&mnt).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let full = format!(
        "set -u\nmount -t tmpfs -o size={size} none \"$MNT\" || exit 90\ncd \"$MNT\"\n{script}"
    );
    let status = Command::new("unshare")
        .args(["-rm", "sh", "-c", &full])
        .env("MNT", &mnt)
        .env("OUT", &out)
        .env("CODEX", env!("CARGO_BIN_EXE_codex"))
        .env_remove("RUST_LOG")
        .status()
        .expect("unshare runs (util-linux)");
    assert_eq!(
        status.code(),
        Some(0),
        "the namespace script failed ({status}); see {}",
        out.display()
    );
    (tmp, out)
}

fn read(out: &Path, name: &str) -> String {
    std::fs::read_to_string(out.join(name)).unwrap_or_default()
}

#[test]
fn a_full_disk_fails_the_checkpoint_cleanly_and_keeps_the_previous_one() {
    // The run's data, tokenizer and first checkpoint fit; the second does not.
    let args = TINY
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let (_tmp, out) = on_small_disk(
        "1200k",
        &format!(
            "\"$CODEX\" train {args} train.max_steps=40 run.runs_dir=\"$MNT/runs\" > \"$OUT/train.out\" 2> \"$OUT/train.err\"; echo $? > \"$OUT/train.rc\"\n\
             find \"$MNT/runs\" \\( -name '*.partial*' -o -name '.tmp*' -o -name '*.tmp' \\) > \"$OUT/leftovers\"\n\
             cat \"$MNT\"/runs/*/checkpoints/index.json > \"$OUT/index.json\"\n\
             \"$CODEX\" model inspect \"$MNT\"/runs/* > \"$OUT/inspect.out\" 2> \"$OUT/inspect.err\"; echo $? > \"$OUT/inspect.rc\"\n\
             exit 0\n"
        ),
    );
    let rc: i32 = read(&out, "train.rc").trim().parse().unwrap();
    let err = read(&out, "train.err");
    assert!(
        rc != 0 && rc != 101,
        "training must fail cleanly, not panic (exit {rc}): {err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        read(&out, "leftovers").trim().is_empty(),
        "half-written files: {}",
        read(&out, "leftovers")
    );
    let index: serde_json::Value =
        serde_json::from_str(&read(&out, "index.json")).expect("index.json is intact");
    assert!(
        index["latest"].is_string() || index["latest"].is_object(),
        "{index}"
    );
    assert_eq!(
        read(&out, "inspect.rc").trim(),
        "0",
        "the kept checkpoint loads: {}",
        read(&out, "inspect.err")
    );
}

#[test]
fn a_full_disk_while_preparing_data_names_the_file_and_leaves_no_shard() {
    let (_tmp, out) = on_small_disk(
        "96k",
        &format!(
            "\"$CODEX\" data synth --size 400KB --out \"$OUT/corpus.txt\" > /dev/null\n\
         \"$CODEX\" data prepare --out \"$MNT/prepared\" --tokenizer '{}' data.sources=\"[$OUT/corpus.txt]\" > \"$OUT/prep.out\" 2> \"$OUT/prep.err\"; echo $? > \"$OUT/prep.rc\"\n\
         find \"$MNT\" \\( -name '*.partial*' -o -name '.tmp*' -o -name '*.tmp' \\) > \"$OUT/leftovers\"\n\
         exit 0\n",
            repo()
                .join("crates/codex-train/tests/data/tasks/model/tokenizer.json")
                .display()
        ),
    );
    let rc: i32 = read(&out, "prep.rc").trim().parse().unwrap();
    let err = read(&out, "prep.err");
    assert!(
        rc != 0 && rc != 101,
        "preparation must fail cleanly (exit {rc}): {err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("/mnt/"), "the error names the file: {err}");
    assert!(
        read(&out, "leftovers").trim().is_empty(),
        "half-written files: {}",
        read(&out, "leftovers")
    );
}
