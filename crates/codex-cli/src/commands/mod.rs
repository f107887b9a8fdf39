//! Command dispatch: each command returns its standard output as text.

mod audit;
mod completions;
mod config;
mod data;
mod eval;
mod inference;
mod model;
mod progress;
mod registry;
mod safety;
mod sweep;
mod system;
mod tokenizer;
mod track;
mod train;

use std::fmt;

use anyhow::Result;

use crate::cli::{Command, EvalCommand};

/// A check that ran and found problems (e.g. `codex tokenizer validate`): exit 1.
#[derive(Debug)]
pub(crate) struct CheckFailed(pub(crate) String);

impl fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CheckFailed {}

/// A check that found problems and also has a report for stdout (e.g.
/// `codex safety scan --fail-on high`): the report is printed, then the
/// message, and the exit status is 1.
#[derive(Debug)]
pub(crate) struct FoundWithOutput {
    pub(crate) stdout: String,
    pub(crate) message: String,
}

impl fmt::Display for FoundWithOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FoundWithOutput {}

/// A job stopped by a signal after saving its state: its report goes to
/// stdout and the exit status is the shell's 128 + signal number.
#[derive(Debug)]
pub(crate) struct Interrupted {
    pub(crate) stdout: String,
    pub(crate) code: u8,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stopped by a signal; the checkpoint above resumes it")
    }
}

impl std::error::Error for Interrupted {}

/// `run.runs_dir` as the environment configures it (default `runs`).
pub(crate) fn runs_dir() -> Result<std::path::PathBuf> {
    Ok(codex_core::config::ConfigLoader::new()
        .process_env()
        .load()?
        .config
        .run
        .runs_dir)
}

/// The model a MODEL argument names: the path itself when it exists, else a
/// run of that name (or the one run whose name contains it) in
/// `run.runs_dir`; otherwise the path as given, for the loader to refuse or
/// to read as a named architecture.
pub(crate) fn model_path(given: std::path::PathBuf) -> std::path::PathBuf {
    if given.exists() {
        return given;
    }
    runs_dir()
        .ok()
        .and_then(|dir| codex_track::runs::resolve(&given, &dir).ok())
        .unwrap_or(given)
}

/// An error and its causes on one line, `a: b: c`, leaving out a cause
/// whose text the message before it already holds (many errors print their
/// source themselves).
pub(crate) fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Exit status for an error: 2 for bad input, 1 for other failures and
/// findings, 130/143 after SIGINT/SIGTERM.
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(i) = err.downcast_ref::<Interrupted>() {
        return i.code;
    }
    for cause in err.chain() {
        if cause.is::<codex_eval::EvalError>()
            || cause
                .downcast_ref::<codex_audit::AuditError>()
                .is_some_and(codex_audit::AuditError::is_bad_input)
            || matches!(
                cause.downcast_ref::<codex_safety::SafetyError>(),
                Some(
                    codex_safety::SafetyError::Policy { .. }
                        | codex_safety::SafetyError::Rule { .. }
                )
            )
        {
            return 2;
        }
        if cause
            .downcast_ref::<codex_core::Error>()
            .is_some_and(codex_core::Error::is_bad_input)
            || cause
                .downcast_ref::<codex_train::TrainError>()
                .is_some_and(codex_train::TrainError::is_bad_input)
            || cause
                .downcast_ref::<codex_model::ModelError>()
                .is_some_and(codex_model::ModelError::is_bad_input)
            || cause
                .downcast_ref::<codex_track::TrackError>()
                .is_some_and(codex_track::TrackError::is_bad_input)
            || cause
                .downcast_ref::<codex_data::DataError>()
                .is_some_and(codex_data::DataError::is_bad_input)
            || cause
                .downcast_ref::<codex_tokenize::TokenizeError>()
                .is_some_and(codex_tokenize::TokenizeError::is_bad_input)
        {
            return 2;
        }
    }
    1
}

/// `codex --version`, and with `--verbose` the whole build.
pub(crate) fn version(verbose: bool) -> String {
    if !verbose {
        return format!("codex {}\n", crate::cli::LONG_VERSION);
    }
    let features: Vec<&str> = [
        ("flex", cfg!(feature = "flex")),
        ("ndarray", cfg!(feature = "ndarray")),
        ("wgpu", cfg!(feature = "wgpu")),
        ("cuda", cfg!(feature = "cuda")),
    ]
    .into_iter()
    .filter_map(|(f, on)| on.then_some(f))
    .collect();
    build_info().to_text(&features)
}

/// Facts about this binary, for `--version`, `codex system` and provenance.
pub(crate) fn build_info() -> codex_core::BuildInfo {
    let non_empty = |s: &'static str| (!s.is_empty()).then(|| s.to_owned());
    codex_core::BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        git_commit: non_empty(env!("CODEX_GIT_COMMIT")),
        git_dirty: non_empty(env!("CODEX_GIT_DIRTY")).map(|d| d == "true"),
        rustc: env!("CODEX_RUSTC_VERSION").to_owned(),
        cargo_lock_blake3: non_empty(env!("CODEX_CARGO_LOCK_BLAKE3")),
        target: env!("CODEX_TARGET").to_owned(),
        profile: env!("CODEX_PROFILE").to_owned(),
        backends: codex_model::compiled_backends()
            .iter()
            .map(|b| b.feature().to_owned())
            .collect(),
    }
}

pub(crate) fn run(command: Command) -> Result<String> {
    match command {
        Command::Config(cmd) => config::run(cmd),
        Command::Registry(cmd) => registry::run(cmd),
        Command::System { json } => system::run(json),
        Command::Completions { shell } => completions::run(shell),
        Command::Man { out } => completions::man(&out),
        Command::Train { config, resume } => train::run(&config, resume),
        Command::Sweep {
            config,
            grid,
            metric,
        } => sweep::run(&config, &grid, &metric),
        Command::Generate(args) => inference::generate(args),
        Command::Chat { command, args } => match command {
            Some(c) => inference::chat_render(c),
            None => inference::chat(args),
        },
        Command::Eval(EvalCommand::Text(args)) => eval::text(&args),
        Command::Eval(EvalCommand::Ppl {
            nll,
            bootstrap,
            out,
            dataset,
            split,
            config,
        }) => eval::ppl(&nll, bootstrap, out, dataset, split, &config),
        Command::Eval(EvalCommand::Tasks {
            model,
            tasks,
            num_fewshot,
            limit,
            batch_size,
            out,
        }) => inference::eval_tasks(codex_train::tasks::TasksRequest {
            model: model_path(model.into_path()),
            tasks,
            num_fewshot: num_fewshot.map(|n| n as usize),
            limit: limit.map(|n| n as usize),
            batch_size: batch_size as usize,
            out,
        }),
        Command::Eval(EvalCommand::Lm {
            model,
            data,
            split,
            batches,
        }) => inference::eval_lm(&model_path(model.into_path()), &data, &split, batches),
        Command::Tokenizer(cmd) => tokenizer::run(cmd),
        Command::Data(cmd) => data::run(cmd),
        Command::Model(cmd) => model::run(cmd),
        Command::Safety(cmd) => safety::run(cmd),
        Command::Audit {
            command,
            path,
            out,
            format,
            max_hash_bytes,
            blake3,
            max_parse_bytes,
            timestamp,
            fail_on,
            cache,
            no_cache,
        } => audit::run(
            command,
            &path,
            &out,
            &format,
            (max_hash_bytes, max_parse_bytes),
            blake3,
            timestamp,
            &fail_on,
            (!no_cache).then(|| cache.unwrap_or_else(|| out.join(".cache"))),
        ),
        Command::Runs(cmd) => track::run(cmd),
    }
}
