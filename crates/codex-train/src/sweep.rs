//! `codex sweep`: a grid of overrides expanded into training jobs, run one
//! after another, ranked by a metric in one comparison table.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use codex_core::BuildInfo;

use crate::error::TrainError;
use crate::job::{ConfigSource, FilterMaker, Observer, TrainJob};

/// One axis of a grid: a key and the values it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    /// The configuration key, e.g. `train.lr`.
    pub key: String,
    /// Its values, as override text.
    pub values: Vec<String>,
}

impl std::str::FromStr for Axis {
    type Err = TrainError;

    /// `KEY=V1,V2,…`.
    fn from_str(spec: &str) -> Result<Self, TrainError> {
        let bad = || TrainError::input(format!("--grid `{spec}`"), "must look like KEY=V1,V2");
        let (key, values) = spec.split_once('=').ok_or_else(bad)?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if key.trim().is_empty() || values.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            key: key.trim().to_owned(),
            values,
        })
    }
}

/// Every combination of the axes as overrides, the first axis varying slowest.
pub fn combinations(axes: &[Axis]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push(format!("{}={v}", axis.key));
                    c
                })
            })
            .collect();
    }
    out
}

/// A metric a sweep ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepMetric {
    /// Validation loss (lower is better).
    ValidationLoss,
    /// Validation perplexity (lower is better).
    ValidationPerplexity,
    /// Validation token accuracy (higher is better).
    ValidationTokenAccuracy,
    /// Final training loss (lower is better).
    TrainLoss,
    /// Training throughput (higher is better).
    TokensPerSecond,
}

impl std::str::FromStr for SweepMetric {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self, TrainError> {
        Ok(match s {
            "validation/loss" => Self::ValidationLoss,
            "validation/perplexity" => Self::ValidationPerplexity,
            "validation/token_accuracy" => Self::ValidationTokenAccuracy,
            "train/loss" => Self::TrainLoss,
            "tokens_per_second" => Self::TokensPerSecond,
            other => {
                return Err(TrainError::input(
                    format!("metric `{other}`"),
                    "expected validation/loss, validation/perplexity, validation/token_accuracy, train/loss or tokens_per_second",
                ));
            }
        })
    }
}

impl SweepMetric {
    /// Whether a larger value ranks higher.
    pub fn larger_is_better(self) -> bool {
        matches!(self, Self::ValidationTokenAccuracy | Self::TokensPerSecond)
    }

    fn name(self) -> &'static str {
        match self {
            Self::ValidationLoss => "validation/loss",
            Self::ValidationPerplexity => "validation/perplexity",
            Self::ValidationTokenAccuracy => "validation/token_accuracy",
            Self::TrainLoss => "train/loss",
            Self::TokensPerSecond => "tokens_per_second",
        }
    }

    fn of(self, s: &crate::job::Summary) -> Option<f64> {
        match self {
            Self::ValidationLoss => s.validation.map(|v| v.loss),
            Self::ValidationPerplexity => s.validation.map(|v| v.perplexity),
            Self::ValidationTokenAccuracy => s.validation.map(|v| v.token_accuracy),
            Self::TrainLoss => Some(s.train_loss),
            Self::TokensPerSecond => Some(s.tokens_per_second),
        }
    }
}

/// One point of a sweep and how it went.
#[derive(Debug, Clone)]
pub struct SweepRow {
    /// The point's overrides.
    pub overrides: Vec<String>,
    /// Its run directory, when it ran.
    pub run: Option<PathBuf>,
    /// The metric.
    pub value: Option<f64>,
    /// Steps trained.
    pub steps: Option<u64>,
    /// Throughput.
    pub tokens_per_second: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// What a sweep did.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    /// The sweep's directory (`comparison.csv`, `comparison.md`).
    pub dir: PathBuf,
    /// The rows, best first; failed points last.
    pub rows: Vec<SweepRow>,
    /// The comparison table in Markdown.
    pub table: String,
    /// Points in the grid.
    pub points: usize,
}

/// A sweep: the base configuration's layers, the grid and the ranking metric.
pub struct Sweep<'a> {
    /// The layers every point starts from.
    pub source: ConfigSource,
    /// The grid.
    pub axes: Vec<Axis>,
    /// What ranks the runs.
    pub metric: SweepMetric,
    /// Build facts for each run's provenance.
    pub build: BuildInfo,
    /// The command line, for provenance.
    pub command_line: Vec<String>,
    /// The safety filter of every run.
    pub filter: Option<&'a FilterMaker<'a>>,
    /// Set to stop after the current point's current step.
    pub stop: Option<&'a AtomicBool>,
}

impl std::fmt::Debug for Sweep<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweep")
            .field("axes", &self.axes)
            .field("metric", &self.metric)
            .finish_non_exhaustive()
    }
}

impl Sweep<'_> {
    fn point(&self, overrides: &[String], extra: Option<String>) -> ConfigSource {
        let mut all = self.source.overrides.clone();
        all.extend(overrides.iter().cloned());
        all.extend(extra);
        ConfigSource {
            overrides: all,
            ..self.source.clone()
        }
    }

    /// Runs every point (after checking every point's configuration, so a
    /// typo in the last one fails before any training), ranks them and writes
    /// `comparison.csv` and `comparison.md` into `<runs_dir>/sweep-<time>-<name>/`.
    /// `on_point(i, n, overrides)` is called before each point.
    pub fn run(
        &self,
        observer: &mut dyn Observer,
        on_point: &mut dyn FnMut(usize, usize, &[String]),
    ) -> Result<SweepOutcome, TrainError> {
        if self.axes.is_empty() {
            return Err(TrainError::input("--grid", "give at least one KEY=V1,V2"));
        }
        let base = self.source.load()?;
        let combos = combinations(&self.axes);
        for c in &combos {
            self.point(c, None).load().map_err(|e| {
                TrainError::input(format!("sweep point {}", c.join(" ")), e.to_string())
            })?;
        }
        let started = chrono::Local::now();
        let dir = base.run.runs_dir.join(format!(
            "sweep-{}-{}",
            started.format("%Y%m%d-%H%M%S"),
            base.run.name
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| codex_core::Error::io("cannot create", &dir, e))?;
        let mut rows = Vec::new();
        for (i, c) in combos.iter().enumerate() {
            if self.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                break;
            }
            on_point(i + 1, combos.len(), c);
            let name = format!("run.name={}-sweep{}", base.run.name, i + 1);
            let result = crate::job::plan(&self.point(c, Some(name)), None).and_then(|plan| {
                let mut job = TrainJob::new(plan, self.build.clone());
                job.command_line = self.command_line.clone();
                job.filter = self.filter;
                job.stop = self.stop;
                job.run(observer)
            });
            rows.push(match result {
                Ok(out) => SweepRow {
                    overrides: c.clone(),
                    run: Some(out.run_dir),
                    value: out.summary.as_ref().and_then(|s| self.metric.of(s)),
                    steps: out.summary.as_ref().map(|s| s.steps),
                    tokens_per_second: out.summary.as_ref().map(|s| s.tokens_per_second),
                    error: None,
                },
                Err(e) => SweepRow {
                    overrides: c.clone(),
                    run: None,
                    value: None,
                    steps: None,
                    tokens_per_second: None,
                    error: Some(e.to_string()),
                },
            });
        }
        let larger = self.metric.larger_is_better();
        rows.sort_by(|a, b| match (a.value, b.value) {
            (Some(x), Some(y)) if larger => y.total_cmp(&x),
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        let table = write_tables(&dir, &self.axes, self.metric, &rows)?;
        Ok(SweepOutcome {
            dir,
            rows,
            table,
            points: combos.len(),
        })
    }
}

/// Writes `comparison.csv` and `comparison.md`; returns the Markdown.
fn write_tables(
    dir: &std::path::Path,
    axes: &[Axis],
    metric: SweepMetric,
    rows: &[SweepRow],
) -> Result<String, TrainError> {
    let mut header: Vec<String> = vec!["rank".into()];
    header.extend(axes.iter().map(|a| a.key.clone()));
    header.extend([
        metric.name().to_owned(),
        "steps".into(),
        "tokens_per_second".into(),
        "run".into(),
        "error".into(),
    ]);
    let mut csv = String::new();
    let mut md = String::new();
    let csv_cell = |c: &str| {
        if c.contains([',', '"', '\n']) {
            format!("\"{}\"", c.replace('"', "\"\""))
        } else {
            c.to_owned()
        }
    };
    let line = |cells: &[String], md: &mut String, csv: &mut String| {
        let _ = writeln!(
            csv,
            "{}",
            cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(",")
        );
        let _ = writeln!(
            md,
            "| {} |",
            cells
                .iter()
                .map(|c| c.replace('|', "\\|").replace('\n', " "))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    };
    line(&header, &mut md, &mut csv);
    let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
    for (rank, r) in rows.iter().enumerate() {
        let mut cells = vec![(rank + 1).to_string()];
        cells.extend(
            r.overrides
                .iter()
                .map(|o| o.split_once('=').map_or("", |x| x.1).to_owned()),
        );
        cells.push(r.value.map_or_else(String::new, |v| format!("{v:.6}")));
        cells.push(r.steps.map_or_else(String::new, |v| v.to_string()));
        cells.push(
            r.tokens_per_second
                .map_or_else(String::new, |v| format!("{v:.0}")),
        );
        cells.push(
            r.run
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
        );
        cells.push(r.error.clone().unwrap_or_default());
        line(&cells, &mut md, &mut csv);
    }
    codex_core::write_bytes_atomic(dir.join("comparison.csv"), csv.as_bytes())?;
    codex_core::write_bytes_atomic(dir.join("comparison.md"), md.as_bytes())?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_expands_first_axis_slowest() {
        let axes: Vec<Axis> = ["train.lr=1e-3,3e-4", "model.n_layer=2,4"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let c = combinations(&axes);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0], ["train.lr=1e-3", "model.n_layer=2"]);
        assert_eq!(c[1], ["train.lr=1e-3", "model.n_layer=4"]);
        assert_eq!(c[3], ["train.lr=3e-4", "model.n_layer=4"]);
        assert!("train.lr".parse::<Axis>().is_err());
        assert!("train.lr=".parse::<Axis>().is_err());
    }
}
