//! The metric-sink seam: `codex-train` writes through it, `codex-track` implements the sinks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Error type for sinks, whose failures come from many libraries (I/O, HTTP, encoders).
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One scalar measurement: the row format of `metrics.ndjson` and `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    /// Optimizer step at which the value was measured.
    pub step: u64,
    /// Epoch (full passes over the training split) at that step.
    pub epoch: u64,
    /// `train`, `validation`, `test` or `system`.
    pub split: String,
    /// Metric name, e.g. `loss`, `lr`, `tokens_per_second`.
    pub name: String,
    /// The value; non-finite values are kept so that a NaN guard can see them.
    /// JSON has no NaN or infinity: they are written as `null` and read back as NaN.
    #[serde(deserialize_with = "nan_from_null")]
    pub value: f64,
    /// Seconds since the Unix epoch when the value was recorded.
    pub wall_time: f64,
}

/// A number, or `null` (how JSON writers spell a non-finite value) as NaN.
fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A destination for metrics and run parameters.
///
/// Invariant: a sink that fails must not lose records the caller already handed
/// over without saying so in its error; retrying and buffering are the sink's job.
pub trait MetricSink: Send {
    /// Short name for messages, e.g. `ndjson` or `mlflow`.
    fn name(&self) -> &str;

    /// Records the run's flattened parameters (config keys to values), once at the start.
    fn log_params(&mut self, params: &BTreeMap<String, String>) -> Result<(), SinkError>;

    /// Records a batch of scalars.
    fn log_metrics(&mut self, records: &[MetricRecord]) -> Result<(), SinkError>;

    /// Makes everything recorded so far durable or visible.
    fn flush(&mut self) -> Result<(), SinkError>;

    /// Flushes and releases resources; `status` is `finished`, `failed` or `killed`.
    fn close(&mut self, status: &str) -> Result<(), SinkError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_finite_value_round_trips_as_null_then_nan() {
        let r = MetricRecord {
            step: 1,
            epoch: 0,
            split: "train".into(),
            name: "grad_norm".into(),
            value: f64::NAN,
            wall_time: 1.0,
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(line.contains("\"value\":null"), "{line}");
        let back: MetricRecord = serde_json::from_str(&line).unwrap();
        assert!(back.value.is_nan());
    }

    #[test]
    fn record_serializes_with_the_documented_fields() {
        let r = MetricRecord {
            step: 10,
            epoch: 0,
            split: "train".into(),
            name: "loss".into(),
            value: 2.5,
            wall_time: 1.0e9,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"step":10,"epoch":0,"split":"train","name":"loss","value":2.5,"wall_time":1000000000.0}"#
        );
    }
}
