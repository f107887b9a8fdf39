//! `codex config show | validate | schema`.

use anyhow::{Context, Result};
use codex_core::config::{AppConfig, ConfigLoader};

use crate::cli::{ConfigArgs, ConfigCommand, ShowFormat};

/// The layers a command's `--config` and overrides name, with the process environment.
pub(crate) fn source(args: &ConfigArgs) -> codex_train::ConfigSource {
    codex_train::ConfigSource {
        file: args.config.clone(),
        overrides: args.overrides.clone(),
        env: true,
    }
}

/// The loader for a command's `--config` and overrides, with the process environment.
pub(crate) fn loader(args: &ConfigArgs) -> ConfigLoader {
    let mut loader = ConfigLoader::new().process_env();
    if let Some(file) = &args.config {
        loader = loader.file(file);
    }
    loader.overrides(args.overrides.iter().cloned())
}

pub(super) fn run(cmd: ConfigCommand) -> Result<String> {
    match cmd {
        ConfigCommand::Show {
            config,
            origin,
            format,
        } => {
            let loaded = loader(&config).load()?;
            for a in loaded.adjustments() {
                tracing::warn!("{a}");
            }
            if origin {
                Ok(loaded.origin_table())
            } else {
                Ok(match format {
                    ShowFormat::Yaml => loaded.config.to_yaml(),
                    ShowFormat::Json => {
                        let mut s = serde_json::to_string_pretty(&loaded.config.redacted())?;
                        s.push('\n');
                        s
                    }
                })
            }
        }
        ConfigCommand::Validate { file, overrides } => {
            let loaded = ConfigLoader::new()
                .file(&file)
                .overrides(overrides)
                .load()
                .with_context(|| {
                    format!("`{}` is not a valid codex configuration", file.display())
                })?;
            for a in loaded.adjustments() {
                tracing::warn!("{a}");
            }
            Ok(format!(
                "`{}` is a valid codex configuration\n",
                file.display()
            ))
        }
        ConfigCommand::Schema => {
            let mut s = serde_json::to_string_pretty(&AppConfig::json_schema())?;
            s.push('\n');
            Ok(s)
        }
    }
}
