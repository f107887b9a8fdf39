//! One call, every sink: the NDJSON file first (its errors stop the caller,
//! since it is the source of truth), then the others, whose failures are
//! reported once and counted but never stop training.

use std::collections::BTreeMap;

use codex_core::{MetricRecord, MetricSink, SinkError};
use serde::Serialize;

use crate::mlflow::{MlflowReport, MlflowSink};

/// How one secondary sink fared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkHealth {
    /// Sink name.
    pub sink: String,
    /// Calls that failed.
    pub failures: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// The last failure's message.
    pub last_error: Option<String>,
}

struct Secondary {
    sink: Box<dyn MetricSink>,
    health: SinkHealth,
}

/// Fans every call out to a primary sink and any number of secondary ones
/// (an MLflow sink among them also takes artifacts).
pub struct FanOut {
    primary: Box<dyn MetricSink>,
    others: Vec<Secondary>,
    mlflow: Option<(MlflowSink, SinkHealth)>,
    mlflow_report: Option<MlflowReport>,
}

impl std::fmt::Debug for FanOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanOut")
            .field("primary", &self.primary.name())
            .field(
                "others",
                &self
                    .others
                    .iter()
                    .map(|s| s.sink.name())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl FanOut {
    /// Fans out to `primary` (errors propagate) and `others` (errors are recorded).
    pub fn new(primary: Box<dyn MetricSink>, others: Vec<Box<dyn MetricSink>>) -> Self {
        let others = others
            .into_iter()
            .map(|sink| {
                let health = SinkHealth {
                    sink: sink.name().to_owned(),
                    failures: 0,
                    first_error: None,
                    last_error: None,
                };
                Secondary { sink, health }
            })
            .collect();
        Self {
            primary,
            others,
            mlflow: None,
            mlflow_report: None,
        }
    }

    /// Adds an MLflow sink as a secondary that also receives artifacts.
    pub fn with_mlflow(mut self, sink: MlflowSink) -> Self {
        let health = SinkHealth {
            sink: "mlflow".into(),
            failures: 0,
            first_error: None,
            last_error: None,
        };
        self.mlflow = Some((sink, health));
        self
    }

    /// Queues an artifact for MLflow (ignored without an MLflow sink).
    pub fn log_artifact(&mut self, path: &str, bytes: Vec<u8>) {
        if let Some((sink, _)) = &mut self.mlflow {
            sink.log_artifact(path, bytes);
        }
    }

    /// What the MLflow sink did, after [`MetricSink::close`].
    pub fn mlflow_report(&self) -> Option<&MlflowReport> {
        self.mlflow_report.as_ref()
    }

    /// Records for the secondary sinks only (system samples, which have their
    /// own `system.ndjson`).
    pub fn log_secondary(&mut self, records: &[MetricRecord]) {
        self.each(|s| s.log_metrics(records));
    }

    /// The health of every secondary sink, for the run summary.
    pub fn health(&self) -> Vec<SinkHealth> {
        self.others
            .iter()
            .map(|s| &s.health)
            .chain(self.mlflow.iter().map(|m| &m.1))
            .cloned()
            .collect()
    }

    fn each(&mut self, mut f: impl FnMut(&mut dyn MetricSink) -> Result<(), SinkError>) {
        for s in &mut self.others {
            note(&mut s.health, f(s.sink.as_mut()));
        }
        if let Some((sink, health)) = &mut self.mlflow {
            note(health, f(sink));
        }
    }
}

/// Counts a secondary sink's failure; the first is reported loudly.
fn note(health: &mut SinkHealth, result: Result<(), SinkError>) {
    if let Err(e) = result {
        let msg = e.to_string();
        if health.failures == 0 {
            tracing::warn!(
                "metric sink `{}` failed: {msg}; the run goes on and metrics.ndjson stays complete",
                health.sink
            );
        }
        health.failures += 1;
        health.first_error.get_or_insert_with(|| msg.clone());
        health.last_error = Some(msg);
    }
}

impl MetricSink for FanOut {
    fn name(&self) -> &str {
        "fan-out"
    }

    fn log_params(&mut self, params: &BTreeMap<String, String>) -> Result<(), SinkError> {
        self.primary.log_params(params)?;
        self.each(|s| s.log_params(params));
        Ok(())
    }

    fn log_metrics(&mut self, records: &[MetricRecord]) -> Result<(), SinkError> {
        self.primary.log_metrics(records)?;
        self.each(|s| s.log_metrics(records));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.primary.flush()?;
        self.each(|s| s.flush());
        Ok(())
    }

    fn close(&mut self, status: &str) -> Result<(), SinkError> {
        let primary = self.primary.close(status);
        self.each(|s| s.close(status));
        if let Some((sink, _)) = &self.mlflow {
            self.mlflow_report = sink.report().cloned();
        }
        primary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Counting(usize, bool);

    impl MetricSink for Counting {
        fn name(&self) -> &str {
            if self.1 { "broken" } else { "counting" }
        }
        fn log_params(&mut self, _: &BTreeMap<String, String>) -> Result<(), SinkError> {
            Ok(())
        }
        fn log_metrics(&mut self, r: &[MetricRecord]) -> Result<(), SinkError> {
            if self.1 {
                return Err("HTTP 503 Service Unavailable".into());
            }
            self.0 += r.len();
            Ok(())
        }
        fn flush(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
        fn close(&mut self, _: &str) -> Result<(), SinkError> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_secondary_is_counted_and_never_stops_the_primary() {
        let mut f = FanOut::new(
            Box::new(Counting::default()),
            vec![Box::new(Counting(0, true))],
        );
        let r = MetricRecord {
            step: 1,
            epoch: 0,
            split: "train".into(),
            name: "loss".into(),
            value: 1.0,
            wall_time: 0.0,
        };
        for _ in 0..3 {
            f.log_metrics(std::slice::from_ref(&r)).unwrap();
        }
        f.close("finished").unwrap();
        let h = f.health();
        assert_eq!((h[0].sink.as_str(), h[0].failures), ("broken", 3));
        assert!(h[0].first_error.as_deref().unwrap().contains("503"));
    }
}
