//! The harness's metric arithmetic: exact match with its options, the
//! aggregations (mean, perplexity, weighted perplexity, bits per byte), the
//! standard errors (the sample standard error of a mean; 100,000 bootstrap
//! resamples, drawn as Python draws them, for perplexity), filters, and
//! groups' size-weighted means with pooled standard errors.

use serde::Serialize;
use serde_json::{Map, Value};

use super::config::{FilterSpec, FilterStep};
use super::pyrandom::PyRandom;

/// A per-document metric value: a number, or a (log-likelihood, weight) pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SampleValue {
    /// acc, acc_norm, exact_match, a perplexity item.
    Number(f64),
    /// word/byte perplexity and bits per byte: log-likelihood and words or bytes.
    Pair(f64, f64),
}

/// `len(re.split(r"\s+", text))`.
pub(crate) fn count_words(text: &str) -> usize {
    static WS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    WS.get_or_init(|| regex::Regex::new(r"\s+").expect("valid"))
        .split(text)
        .count()
}

/// `exact_match`'s options.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExactMatch {
    regexes: Vec<regex::Regex>,
    ignore_case: bool,
    ignore_punctuation: bool,
    ignore_numbers: bool,
}

impl ExactMatch {
    pub(crate) fn from_kwargs(kwargs: &Map<String, Value>) -> Result<Self, String> {
        let flag = |k: &str| kwargs.get(k).and_then(Value::as_bool).unwrap_or(false);
        let regexes = match kwargs.get("regexes_to_ignore") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|p| {
                    let p = p.as_str().ok_or("`regexes_to_ignore` must be strings")?;
                    regex::Regex::new(p).map_err(|e| format!("regexes_to_ignore `{p}`: {e}"))
                })
                .collect::<Result<_, String>>()?,
            Some(_) => return Err("`regexes_to_ignore` must be a list".into()),
        };
        Ok(Self {
            regexes,
            ignore_case: flag("ignore_case"),
            ignore_punctuation: flag("ignore_punctuation"),
            ignore_numbers: flag("ignore_numbers"),
        })
    }

    fn normalize(&self, s: &str) -> String {
        let mut s = s.to_owned();
        for re in &self.regexes {
            s = re.replace_all(&s, "").into_owned();
        }
        if self.ignore_case {
            s = s.to_lowercase();
        }
        if self.ignore_punctuation {
            s.retain(|c| !c.is_ascii_punctuation());
        }
        if self.ignore_numbers {
            s.retain(|c| !c.is_ascii_digit());
        }
        s
    }

    pub(crate) fn matches(&self, prediction: &str, reference: &str) -> bool {
        self.normalize(prediction) == self.normalize(reference)
    }
}

/// Python's `re.findall` semantics for the `regex` filter: whole matches
/// without groups, group 1 with one, the first non-empty group with several.
fn regex_extract(re: &regex::Regex, text: &str, group_select: i64, fallback: &str) -> String {
    let groups = re.captures_len() - 1;
    let matches: Vec<String> = re
        .captures_iter(text)
        .map(|c| match groups {
            0 => c.get(0).map_or("", |m| m.as_str()).to_owned(),
            1 => c.get(1).map_or("", |m| m.as_str()).to_owned(),
            _ => (1..=groups)
                .filter_map(|g| c.get(g).map(|m| m.as_str()))
                .find(|s| !s.is_empty())
                .unwrap_or(fallback)
                .to_owned(),
        })
        .collect();
    if matches.is_empty() {
        return fallback.to_owned();
    }
    let n = matches.len() as i64;
    let i = if group_select < 0 {
        n + group_select
    } else {
        group_select
    };
    match usize::try_from(i).ok().and_then(|i| matches.get(i)) {
        Some(m) => m.trim().to_owned(),
        // Python raises IndexError here; the harness would stop.
        None => fallback.to_owned(),
    }
}

/// A filter pipeline compiled.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) name: String,
    steps: Vec<(FilterStep, Option<regex::Regex>)>,
}

impl Filter {
    pub(crate) fn compile(spec: &FilterSpec) -> Result<Self, String> {
        let steps = spec
            .steps
            .iter()
            .map(|s| {
                let re = match s {
                    FilterStep::Regex { pattern, .. } => {
                        Some(regex::Regex::new(pattern).map_err(|e| {
                            format!("filter `{}`: regex `{pattern}`: {e}", spec.name)
                        })?)
                    }
                    _ => None,
                };
                Ok((s.clone(), re))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            name: spec.name.clone(),
            steps,
        })
    }

    /// One document's generated text through the pipeline.
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut s = text.to_owned();
        for (step, re) in &self.steps {
            s = match step {
                FilterStep::Regex {
                    group_select,
                    fallback,
                    ..
                } => regex_extract(re.as_ref().expect("compiled"), &s, *group_select, fallback),
                FilterStep::TakeFirst => s,
                FilterStep::Lowercase => s.to_lowercase(),
                FilterStep::Uppercase => s.to_uppercase(),
                FilterStep::RemoveWhitespace => s.trim_start().to_owned(),
            };
        }
        s
    }
}

/// How a metric's per-document values become one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregation {
    Mean,
    Perplexity,
    WeightedPerplexity,
    BitsPerByte,
}

impl Aggregation {
    pub(crate) fn default_for(metric: &str) -> Self {
        match metric {
            "perplexity" => Self::Perplexity,
            "word_perplexity" | "byte_perplexity" => Self::WeightedPerplexity,
            "bits_per_byte" => Self::BitsPerByte,
            _ => Self::Mean,
        }
    }

    pub(crate) fn named(name: &str) -> Self {
        match name {
            "perplexity" => Self::Perplexity,
            "weighted_perplexity" => Self::WeightedPerplexity,
            "bits_per_byte" => Self::BitsPerByte,
            _ => Self::Mean,
        }
    }

    fn numbers(items: &[SampleValue]) -> Vec<f64> {
        items
            .iter()
            .map(|v| match v {
                SampleValue::Number(x) | SampleValue::Pair(x, _) => *x,
            })
            .collect()
    }

    pub(crate) fn aggregate(self, items: &[SampleValue]) -> f64 {
        match self {
            Self::Mean => mean(&Self::numbers(items)),
            Self::Perplexity => (-mean(&Self::numbers(items))).exp(),
            Self::WeightedPerplexity => (-weighted_mean(items)).exp(),
            Self::BitsPerByte => -weighted_mean(items) / std::f64::consts::LN_2,
        }
    }

    /// The standard error the harness reports (`None` is its `"N/A"`).
    pub(crate) fn stderr(self, items: &[SampleValue], bootstrap_iters: usize) -> Option<f64> {
        if items.len() <= 1 || bootstrap_iters == 0 {
            return None;
        }
        match self {
            Self::Mean => Some(mean_stderr(&Self::numbers(items))),
            Self::Perplexity => Some(bootstrap_perplexity(&Self::numbers(items), bootstrap_iters)),
            Self::WeightedPerplexity | Self::BitsPerByte => None,
        }
    }
}

/// `sum(arr) / len(arr)`, summed in order as Python does.
pub(crate) fn mean(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0, |a, &x| a + x) / xs.len() as f64
}

fn weighted_mean(items: &[SampleValue]) -> f64 {
    let (mut a, mut b) = (0.0, 0.0);
    for v in items {
        if let SampleValue::Pair(x, w) = v {
            a += x;
            b += w;
        }
    }
    a / b
}

fn sample_stddev(xs: &[f64]) -> f64 {
    let mu = mean(xs);
    (xs.iter().map(|x| (x - mu).powi(2)).fold(0.0, |a, x| a + x) / (xs.len() - 1) as f64).sqrt()
}

fn mean_stderr(xs: &[f64]) -> f64 {
    sample_stddev(xs) / (xs.len() as f64).sqrt()
}

/// The harness's `bootstrap_stderr(perplexity, xs, iters)`: chunks of 1,000
/// resamples, chunk `i` drawn by `random.Random(i).choices`.
fn bootstrap_perplexity(xs: &[f64], iters: usize) -> f64 {
    use rayon::prelude::*;
    let chunk = iters.min(1000);
    let res: Vec<f64> = (0..iters / chunk)
        .into_par_iter()
        .flat_map_iter(|i| {
            let mut rnd = PyRandom::new(i as u64);
            let mut idx = Vec::with_capacity(xs.len());
            (0..chunk)
                .map(|_| {
                    rnd.choices_indices(xs.len(), xs.len(), &mut idx);
                    let s = idx.iter().fold(0.0, |a, &j| a + xs[j]);
                    (-(s / xs.len() as f64)).exp()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    sample_stddev(&res)
}

/// A group's standard error from its tasks' (the harness's `pooled_sample_stderr`).
pub(crate) fn pooled_stderr(stderrs: &[f64], sizes: &[usize]) -> f64 {
    let num: f64 = sizes
        .iter()
        .zip(stderrs)
        .map(|(&n, &s)| (n as f64 - 1.0) * s * s * n as f64)
        .sum();
    let total: usize = sizes.iter().sum();
    let var = num / (total as f64 - sizes.len() as f64);
    (var / total as f64).sqrt()
}

/// A group's value from its tasks' (the harness's `aggregate_subtask_metrics`).
pub(crate) fn weighted_group_mean(values: &[f64], sizes: &[usize], by_size: bool) -> f64 {
    let w: Vec<f64> = sizes
        .iter()
        .map(|&n| if by_size { n as f64 } else { 1.0 })
        .collect();
    values.iter().zip(&w).map(|(v, w)| v * w).sum::<f64>() / w.iter().sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_options() {
        let mut kw = Map::new();
        kw.insert("ignore_case".into(), Value::Bool(true));
        kw.insert("ignore_punctuation".into(), Value::Bool(true));
        kw.insert("regexes_to_ignore".into(), serde_json::json!([",", "\\$"]));
        let em = ExactMatch::from_kwargs(&kw).unwrap();
        assert!(em.matches("The answer: $1,000!", "the answer 1000"));
        assert!(!ExactMatch::default().matches("A", "a"));
    }

    #[test]
    fn regex_filter_follows_findall() {
        let f = Filter::compile(&FilterSpec {
            name: "strict".into(),
            steps: vec![
                FilterStep::Regex {
                    pattern: r"#### (\-?[0-9\.\,]+)".into(),
                    group_select: 0,
                    fallback: "[invalid]".into(),
                },
                FilterStep::TakeFirst,
            ],
        })
        .unwrap();
        assert_eq!(f.apply("so #### 42 and #### 7"), "42");
        assert_eq!(f.apply("no number"), "[invalid]");
        let last = Filter::compile(&FilterSpec {
            name: "flex".into(),
            steps: vec![FilterStep::Regex {
                pattern: r"(-?[$0-9.,]{2,})|(-?[0-9]+)".into(),
                group_select: -1,
                fallback: "[invalid]".into(),
            }],
        })
        .unwrap();
        assert_eq!(last.apply("3 apples and 12 pears, 5"), "5");
    }

    // Values printed by lm-eval 0.4.13 (Python 3.11):
    // bootstrap_stderr(perplexity, xs, 100000) and mean_stderr(...).
    #[test]
    fn standard_errors_match_the_harness() {
        let xs = [
            -1.5, -2.25, -0.75, -3.0, -1.0, -2.0, -0.5, -4.25, -1.25, -2.5,
        ];
        let items: Vec<SampleValue> = xs.iter().map(|&x| SampleValue::Number(x)).collect();
        let boot = Aggregation::Perplexity.stderr(&items, 100_000).unwrap();
        assert!((boot - 2.621_411_768_630_204_5).abs() < 1e-12, "{boot}");
        let acc: Vec<SampleValue> = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
            .iter()
            .map(|&x| SampleValue::Number(x))
            .collect();
        let se = Aggregation::Mean.stderr(&acc, 100_000).unwrap();
        assert!((se - 0.182_981_263_677_849_95).abs() < 1e-15, "{se}");
        assert_eq!(
            Aggregation::WeightedPerplexity.stderr(&items, 100_000),
            None
        );
    }

    #[test]
    fn words_split_like_python() {
        assert_eq!(count_words("a b  c"), 3);
        assert_eq!(count_words(" a"), 2);
        assert_eq!(count_words(""), 1);
    }
}
