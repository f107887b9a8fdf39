//! Semantic rules on a type-correct [`AppConfig`]; each failure names its key path.

use super::issue::ConfigIssue;
use super::{AppConfig, ModelFamily};

struct Checker(Vec<ConfigIssue>);

impl Checker {
    fn rule(&mut self, ok: bool, path: &str, message: impl FnOnce() -> String) {
        if !ok {
            self.0.push(ConfigIssue::invalid(path, message()));
        }
    }

    fn positive(&mut self, path: &str, v: f64) {
        self.rule(v.is_finite() && v > 0.0, path, || {
            format!("must be > 0, got {v}")
        });
    }

    fn at_least_one(&mut self, path: &str, v: u64) {
        self.rule(v >= 1, path, || format!("must be >= 1, got {v}"));
    }

    fn fraction(&mut self, path: &str, v: f64) {
        self.rule((0.0..1.0).contains(&v), path, || {
            format!("must be in [0, 1), got {v}")
        });
    }
}

/// Whether `device` is `auto`, `cpu`, `wgpu`, `wgpu:N`, `cuda` or `cuda:N`.
pub(crate) fn device_syntax_ok(device: &str) -> bool {
    match device.split_once(':') {
        None => matches!(device, "auto" | "cpu" | "wgpu" | "cuda"),
        Some((kind, index)) => {
            matches!(kind, "wgpu" | "cuda") && !index.is_empty() && index.parse::<u32>().is_ok()
        }
    }
}

pub(super) fn check(c: &AppConfig) -> Vec<ConfigIssue> {
    let mut k = Checker(Vec::new());

    k.rule(!c.run.name.trim().is_empty(), "run.name", || {
        "must not be empty".into()
    });
    k.rule(device_syntax_ok(&c.run.device), "run.device", || {
        format!(
            "must be auto, cpu, wgpu, wgpu:N, cuda or cuda:N, got `{}`",
            c.run.device
        )
    });

    let t = &c.tokenizer;
    let n_special = t.special_tokens.len() as u64;
    k.rule(
        u64::from(t.vocab_size) > n_special,
        "tokenizer.vocab_size",
        || {
            format!(
                "must exceed the number of special tokens ({n_special}), got {}",
                t.vocab_size
            )
        },
    );
    k.rule(
        t.special_tokens.iter().all(|s| !s.is_empty()),
        "tokenizer.special_tokens",
        || "must not contain an empty token".into(),
    );

    if let Some(path) = &t.path {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        k.rule(matches!(ext, "json" | "model"), "tokenizer.path", || {
            format!(
                "must name a tokenizer.json or SentencePiece .model file, got `{}`",
                path.display()
            )
        });
    }

    let d = &c.data;
    k.at_least_one("data.synthetic_bytes", d.synthetic_bytes);
    k.at_least_one("data.shard_tokens", d.shard_tokens);
    k.rule(
        d.format != super::DataFormat::Blocks || !d.separator.is_empty(),
        "data.separator",
        || "must not be empty when data.format is blocks".into(),
    );
    k.rule(!d.text_field.is_empty(), "data.text_field", || {
        "must not be empty".into()
    });
    k.fraction("data.validation_fraction", d.validation_fraction);
    k.fraction("data.test_fraction", d.test_fraction);
    k.rule(
        d.validation_fraction + d.test_fraction < 1.0,
        "data.test_fraction",
        || {
            format!(
                "plus data.validation_fraction must be < 1, got {}",
                d.validation_fraction + d.test_fraction
            )
        },
    );

    let m = &c.model;
    for (path, v) in [
        ("model.n_layer", m.n_layer),
        ("model.n_head", m.n_head),
        ("model.n_kv_head", m.n_kv_head),
        ("model.d_model", m.d_model),
        ("model.d_ff", m.d_ff),
        ("model.context_length", m.context_length),
    ] {
        k.at_least_one(path, u64::from(v));
    }
    if m.n_head > 0 && m.n_kv_head > 0 {
        k.rule(m.d_model.is_multiple_of(m.n_head), "model.d_model", || {
            format!(
                "must be divisible by model.n_head ({}), got {}",
                m.n_head, m.d_model
            )
        });
        k.rule(m.n_head.is_multiple_of(m.n_kv_head), "model.n_head", || {
            format!(
                "must be divisible by model.n_kv_head ({}), got {}",
                m.n_kv_head, m.n_head
            )
        });
        if m.family == ModelFamily::Gpt2 {
            k.rule(m.n_kv_head == m.n_head, "model.n_kv_head", || {
                format!(
                    "must equal model.n_head ({}) for the gpt2 family, which has no grouped-query attention; got {}",
                    m.n_head, m.n_kv_head
                )
            });
        }
        if m.family.is_rotary() {
            let head_dim = m.d_model / m.n_head;
            k.rule(head_dim.is_multiple_of(2), "model.d_model", || {
                format!("divided by model.n_head must be even for rotary embeddings, got head size {head_dim}")
            });
        }
    }
    k.rule((0.0..1.0).contains(&m.dropout), "model.dropout", || {
        format!("must be in [0, 1), got {}", m.dropout)
    });
    k.positive("model.rope_theta", m.rope_theta);
    if let Some(w) = m.sliding_window {
        k.rule(w >= 1, "model.sliding_window", || {
            format!("must be at least 1 (or null for full attention), got {w}")
        });
        k.rule(m.family.is_rotary(), "model.sliding_window", || {
            "must be null for the gpt2 family, which has no sliding-window attention".to_owned()
        });
    }

    let tr = &c.train;
    k.positive("train.lr", tr.lr);
    k.rule(
        tr.min_lr.is_finite() && tr.min_lr >= 0.0 && tr.min_lr <= tr.lr,
        "train.min_lr",
        || format!("must be in [0, train.lr], got {}", tr.min_lr),
    );
    k.at_least_one("train.max_steps", tr.max_steps);
    k.rule(
        tr.warmup_steps <= tr.max_steps,
        "train.warmup_steps",
        || {
            format!(
                "must not exceed train.max_steps ({}), got {}",
                tr.max_steps, tr.warmup_steps
            )
        },
    );
    if let Some(s) = tr.max_seconds {
        k.positive("train.max_seconds", s);
    }
    if let Some(t) = tr.max_tokens {
        k.at_least_one("train.max_tokens", t);
    }
    if let Some(e) = tr.max_epochs {
        k.positive("train.max_epochs", e);
    }
    if let Some(et) = &tr.eval_tasks {
        k.rule(!et.tasks.is_empty(), "train.eval_tasks.tasks", || {
            "names no task: give task files or directories".into()
        });
        k.at_least_one("train.eval_tasks.batch_size", et.batch_size);
        if let Some(l) = et.limit {
            k.at_least_one("train.eval_tasks.limit", l);
        }
    }
    if let Some(es) = &tr.early_stopping {
        k.rule(
            matches!(es.metric.as_str(), "loss" | "perplexity" | "token_accuracy"),
            "train.early_stopping.metric",
            || {
                format!(
                    "must be loss, perplexity or token_accuracy, got `{}`",
                    es.metric
                )
            },
        );
        k.at_least_one("train.early_stopping.patience", u64::from(es.patience));
        k.rule(
            es.min_delta.is_finite() && es.min_delta >= 0.0,
            "train.early_stopping.min_delta",
            || format!("must be >= 0, got {}", es.min_delta),
        );
    }
    if let Some(l) = &tr.lora {
        k.at_least_one("train.lora.rank", u64::from(l.rank));
        k.positive("train.lora.alpha", l.alpha);
        k.rule(
            (0.0..1.0).contains(&l.dropout),
            "train.lora.dropout",
            || format!("must be in [0, 1), got {}", l.dropout),
        );
        // codex's names, Hugging Face's projection names and Phi-3's fused
        // ones (codex_model::LoraTarget::parse_names reads them).
        const TARGETS: [&str; 14] = [
            "q",
            "k",
            "v",
            "o",
            "mlp",
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
            "qkv_proj",
            "gate_up_proj",
        ];
        k.rule(!l.targets.is_empty(), "train.lora.targets", || {
            "must name at least one of q, k, v, o, mlp (or a projection: q_proj … down_proj)".into()
        });
        for t in &l.targets {
            k.rule(
                TARGETS.contains(&t.to_ascii_lowercase().as_str()),
                "train.lora.targets",
                || {
                    format!(
                        "unknown target `{t}`; expected one of {}",
                        TARGETS.join(", ")
                    )
                },
            );
        }
    }
    k.at_least_one("train.batch_size", u64::from(tr.batch_size));
    k.at_least_one("train.grad_accum", u64::from(tr.grad_accum));
    k.rule(
        tr.weight_decay.is_finite() && tr.weight_decay >= 0.0,
        "train.weight_decay",
        || format!("must be >= 0, got {}", tr.weight_decay),
    );
    k.fraction("train.beta1", tr.beta1);
    k.fraction("train.beta2", tr.beta2);
    k.positive("train.eps", tr.eps);
    k.rule(
        tr.grad_clip.is_finite() && tr.grad_clip >= 0.0,
        "train.grad_clip",
        || format!("must be >= 0 (0 disables clipping), got {}", tr.grad_clip),
    );
    k.at_least_one("train.eval_every", tr.eval_every);
    k.at_least_one("train.eval_batches", u64::from(tr.eval_batches));
    k.at_least_one("train.checkpoint_every", tr.checkpoint_every);
    k.at_least_one("train.keep_last", u64::from(tr.keep_last));
    k.rule(
        matches!(
            tr.best_metric.as_str(),
            "loss" | "perplexity" | "token_accuracy"
        ),
        "train.best_metric",
        || {
            format!(
                "must be loss, perplexity or token_accuracy, got `{}`",
                tr.best_metric
            )
        },
    );
    if let Some(p) = tr.peak_flops {
        k.positive("train.peak_flops", p);
    }

    let e = &c.eval;
    k.rule(
        e.confidence > 0.0 && e.confidence < 1.0,
        "eval.confidence",
        || format!("must be in (0, 1), got {}", e.confidence),
    );
    k.rule(!e.metrics.is_empty(), "eval.metrics", || {
        "must name at least one metric".into()
    });
    k.rule(
        ["auto", "lines", "jsonl", "tsv"].contains(&e.input.format.as_str()),
        "eval.input.format",
        || {
            format!(
                "must be auto, lines, jsonl or tsv, got `{}`",
                e.input.format
            )
        },
    );
    k.rule(
        ["13a", "intl", "char", "none"].contains(&e.bleu.tokenize.as_str()),
        "eval.bleu.tokenize",
        || format!("must be 13a, intl, char or none, got `{}`", e.bleu.tokenize),
    );
    k.rule(
        ["exp", "floor", "add-k", "none"].contains(&e.bleu.smooth.as_str()),
        "eval.bleu.smooth",
        || format!("must be exp, floor, add-k or none, got `{}`", e.bleu.smooth),
    );
    if let Some(v) = e.bleu.smooth_value {
        k.positive("eval.bleu.smooth_value", v);
    }
    k.at_least_one("eval.chrf.char_order", u64::from(e.chrf.char_order));
    k.at_least_one("eval.chrf.beta", u64::from(e.chrf.beta));
    for t in &e.rouge.types {
        let ok = t == "rougeL"
            || t == "rougeLsum"
            || (t.len() == 6 && t.starts_with("rouge") && matches!(t.as_bytes()[5], b'1'..=b'9'));
        k.rule(ok, "eval.rouge.types", || {
            format!("`{t}` is not a ROUGE type: expected rouge1..rouge9, rougeL or rougeLsum")
        });
    }
    k.rule(!e.rouge.types.is_empty(), "eval.rouge.types", || {
        "must name at least one type".into()
    });
    for &n in &e.distinct_orders {
        k.at_least_one("eval.distinct_orders", u64::from(n));
    }

    k.rule(
        ["info", "low", "medium", "high", "critical"].contains(&c.safety.fail_on.as_str()),
        "safety.fail_on",
        || {
            format!(
                "must be info, low, medium, high or critical, got `{}`",
                c.safety.fail_on
            )
        },
    );
    if let Some(p) = &c.safety.policy {
        k.rule(
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "toml"),
            "safety.policy",
            || {
                format!(
                    "must be a .yaml, .yml or .toml policy file, got `{}`",
                    p.display()
                )
            },
        );
    }

    k.positive("track.system_interval_secs", c.track.system_interval_secs);
    k.rule(
        c.track.mlflow.close_timeout_secs.is_finite() && c.track.mlflow.close_timeout_secs >= 0.0,
        "track.mlflow.close_timeout_secs",
        || {
            format!(
                "must be a non-negative number, got {}",
                c.track.mlflow.close_timeout_secs
            )
        },
    );
    if let Some(uri) = &c.track.mlflow.uri {
        k.rule(
            uri.starts_with("http://") || uri.starts_with("https://"),
            "track.mlflow.uri",
            || format!("must be an http:// or https:// URL of a tracking server, got `{uri}`"),
        );
    }
    k.rule(
        !c.track.mlflow.experiment.trim().is_empty(),
        "track.mlflow.experiment",
        || "must not be empty".into(),
    );

    k.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_device(device: &str, ok: bool) {
        assert_eq!(device_syntax_ok(device), ok, "{device}");
    }

    #[test]
    fn device_strings() {
        for d in ["auto", "cpu", "wgpu", "cuda", "cuda:0", "cuda:7", "wgpu:1"] {
            check_device(d, true);
        }
        for d in ["", "gpu", "cuda:", "cuda:x", "cpu:0", "cuda:-1", "CUDA"] {
            check_device(d, false);
        }
    }
}
