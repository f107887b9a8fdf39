//! `codex runs list | show | compare | sync-mlflow`: tables over
//! `codex_track::runs`.

use std::path::Path;

use anyhow::{Context, Result};
use codex_track::runs::{compare, run_details, sync_mlflow};

use crate::cli::RunsCommand;

pub(super) fn run(cmd: RunsCommand) -> Result<String> {
    let runs_dir = super::runs_dir()?;
    let find = |name: &Path| codex_track::runs::resolve(name, &runs_dir);
    match cmd {
        RunsCommand::List { dir } => Ok(codex_track::runs::list_text(
            dir.as_deref().unwrap_or(&runs_dir),
        )?),
        RunsCommand::Show { run } => Ok(run_details(&find(&run)?)?.to_text()),
        RunsCommand::Compare { runs, out } => {
            let runs = runs
                .iter()
                .map(|r| find(r))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(compare(&runs, out.as_deref())?.to_text())
        }
        RunsCommand::SyncMlflow {
            run,
            uri,
            experiment,
        } => {
            let run = find(&run)?;
            let uri = uri
                .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok())
                .context("no MLflow server: set MLFLOW_TRACKING_URI or pass --uri")?;
            let s = sync_mlflow(&run, &uri, &experiment)?;
            Ok(format!(
                "synced {} into MLflow {}: experiment {}, run {}: {} params, {} metrics, {} artifacts\n",
                run.display(),
                s.uri,
                s.experiment_id,
                s.run_id,
                s.params,
                s.metrics,
                s.artifacts
            ))
        }
    }
}
