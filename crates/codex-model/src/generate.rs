//! Autoregressive generation: greedy or sampled, batched, with or without the KV cache.

use burn::tensor::{Bool, Int, Tensor, TensorData};
use codex_core::Rng;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::model::{ForwardOptions, KvCache, Transformer};

/// How tokens are chosen and when generation ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateOptions {
    /// Tokens to generate at most, per prompt.
    pub max_new_tokens: usize,
    /// Softmax temperature; `0` picks the most likely token (greedy).
    pub temperature: f64,
    /// Keep only the `k` most likely tokens before sampling.
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability reaches `p`.
    pub top_p: Option<f64>,
    /// Divide positive (multiply negative) logits of tokens already in the
    /// sequence by this; `1` disables it (as in transformers).
    pub repetition_penalty: f64,
    /// Tokens that end a sequence; the stop token itself is not returned.
    pub stop_tokens: Vec<u32>,
    /// Seed of the sampling stream (derive it from `generate.sampling`).
    pub seed: u64,
    /// Decode incrementally with the key/value cache (the result is the same
    /// either way; the cache makes each step cost one position, not the whole prefix).
    pub use_cache: bool,
    /// Token fed to sequences that already stopped and used to left-pad prompts.
    pub pad_token: u32,
    /// Ids at or above this are never chosen: a tokenizer smaller than the
    /// embedding (checkpoints often round their vocabulary up) cannot decode
    /// them. `None` lets every row of the logits compete, as transformers does.
    pub vocab_limit: Option<usize>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_new_tokens: 64,
            temperature: 0.0,
            top_k: None,
            top_p: None,
            repetition_penalty: 1.0,
            stop_tokens: Vec::new(),
            seed: 0,
            use_cache: true,
            pad_token: 0,
            vocab_limit: None,
        }
    }
}

impl GenerateOptions {
    /// Check the sampling settings, naming the offending one.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |key: &str, message: String| {
            Err(ModelError::InvalidConfig {
                key: format!("generate.{key}"),
                message,
            })
        };
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return bad(
                "temperature",
                format!("must be 0 or positive, got {}", self.temperature),
            );
        }
        if self.top_k == Some(0) {
            return bad("top_k", "must be at least 1".into());
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return bad("top_p", format!("must be in (0, 1], got {p}"));
        }
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return bad(
                "repetition_penalty",
                format!("must be positive, got {}", self.repetition_penalty),
            );
        }
        Ok(())
    }
}

/// Why a sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `max_new_tokens` were generated.
    MaxTokens,
    /// A stop token was chosen.
    StopToken(u32),
}

/// The continuation of one prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generation {
    /// Generated tokens, without the prompt and without the stop token.
    pub tokens: Vec<u32>,
    /// Why generation ended.
    pub stop: StopReason,
}

/// Continue every prompt of the batch. Prompts of different lengths are
/// left-padded; each sequence keeps its own positions, so a prompt gives the
/// same continuation alone or in a batch.
pub fn generate(
    model: &Transformer,
    prompts: &[Vec<u32>],
    options: &GenerateOptions,
) -> Result<Vec<Generation>, ModelError> {
    options.validate()?;
    let config = model.config();
    if prompts.is_empty() {
        return Ok(Vec::new());
    }
    for (i, p) in prompts.iter().enumerate() {
        if p.is_empty() {
            return Err(ModelError::InvalidConfig {
                key: format!("prompt {i}"),
                message: "is empty; give at least one token".into(),
            });
        }
        if let Some(&t) = p.iter().find(|&&t| t as usize >= config.vocab_size) {
            return Err(ModelError::InvalidConfig {
                key: format!("prompt {i}"),
                message: format!(
                    "token {t} is outside the vocabulary of {}",
                    config.vocab_size
                ),
            });
        }
    }
    let b = prompts.len();
    let width = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if width + options.max_new_tokens > config.context_length {
        return Err(ModelError::SequenceTooLong {
            len: width + options.max_new_tokens,
            max: config.context_length,
        });
    }
    let device = model.wte.weight.val().device();
    let padded = prompts.iter().any(|p| p.len() != width);
    // Row-major host copies of the whole (padded) sequences so far.
    let mut tokens: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| {
            let mut row = vec![options.pad_token; width - p.len()];
            row.extend_from_slice(p);
            row
        })
        .collect();
    let mut pads: Vec<Vec<bool>> = prompts
        .iter()
        .map(|p| (0..width).map(|j| j < width - p.len()).collect())
        .collect();
    let mut positions: Vec<Vec<i64>> = prompts
        .iter()
        .map(|p| {
            let start = width - p.len();
            (0..width).map(|j| j.saturating_sub(start) as i64).collect()
        })
        .collect();
    let int2 = |rows: &[Vec<i64>], from: usize| {
        let t = rows[0].len() - from;
        let flat: Vec<i64> = rows
            .iter()
            .flat_map(|r| r[from..].iter().copied())
            .collect();
        Tensor::<2, Int>::from_data(TensorData::new(flat, [rows.len(), t]), &device)
    };
    let bool2 = |rows: &[Vec<bool>]| {
        let t = rows[0].len();
        let flat: Vec<bool> = rows.iter().flatten().copied().collect();
        Tensor::<2, Bool>::from_data(TensorData::new(flat, [rows.len(), t]), &device)
    };
    let as_i64 = |rows: &[Vec<u32>]| -> Vec<Vec<i64>> {
        rows.iter()
            .map(|r| r.iter().map(|&t| i64::from(t)).collect())
            .collect()
    };

    let mut rng = Rng::new(options.seed, 0);
    let mut out: Vec<Option<Generation>> = vec![None; b];
    let mut generated: Vec<Vec<u32>> = vec![Vec::new(); b];
    let mut cache = KvCache::new();
    let mut fed = 0; // positions already in the cache
    for _step in 0..options.max_new_tokens {
        let from = if options.use_cache { fed } else { 0 };
        let logits = model.forward_with(
            int2(&as_i64(&tokens), from),
            ForwardOptions {
                positions: Some(int2(&positions, from)),
                key_padding: padded.then(|| bool2(&pads)),
                cache: options.use_cache.then_some(&mut cache),
                segment_starts: None,
            },
        )?;
        fed = tokens[0].len();
        let [_, t, v] = logits.dims();
        let last: Vec<f32> = logits
            .narrow(1, t - 1, 1)
            .reshape([b, v])
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 logits");
        for r in 0..b {
            let next = if out[r].is_some() {
                options.pad_token
            } else {
                let limit = options.vocab_limit.map_or(v, |l| l.clamp(1, v));
                let mut row = last[r * v..r * v + limit].to_vec();
                let history = prompts[r].iter().chain(&generated[r]);
                let token = choose(&mut row, history, options, &mut rng);
                if options.stop_tokens.contains(&token) {
                    out[r] = Some(Generation {
                        tokens: std::mem::take(&mut generated[r]),
                        stop: StopReason::StopToken(token),
                    });
                } else {
                    generated[r].push(token);
                }
                token
            };
            let pos = positions[r].last().copied().unwrap_or(-1) + 1;
            tokens[r].push(next);
            pads[r].push(false);
            positions[r].push(pos);
        }
        if out.iter().all(Option::is_some) {
            break;
        }
    }
    Ok(out
        .into_iter()
        .zip(generated)
        .map(|(done, tokens)| {
            done.unwrap_or(Generation {
                tokens,
                stop: StopReason::MaxTokens,
            })
        })
        .collect())
}

/// Pick the next token from one row of logits (modified in place).
fn choose<'a>(
    logits: &mut [f32],
    history: impl Iterator<Item = &'a u32>,
    options: &GenerateOptions,
    rng: &mut Rng,
) -> u32 {
    if options.repetition_penalty != 1.0 {
        let p = options.repetition_penalty as f32;
        let mut seen = vec![false; logits.len()];
        for &t in history {
            let t = t as usize;
            if t < seen.len() && !seen[t] {
                seen[t] = true;
                let l = logits[t];
                logits[t] = if l > 0.0 { l / p } else { l * p };
            }
        }
    }
    if options.temperature == 0.0 {
        return argmax(logits);
    }
    let inv_t = 1.0 / options.temperature;
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    let mut keep = order.len();
    if let Some(k) = options.top_k {
        // As transformers: every token at least as likely as the k-th stays.
        let kth = logits[order[k.min(order.len()) - 1]];
        keep = order.iter().take_while(|&&i| logits[i] >= kth).count();
    }
    let max = f64::from(logits[order[0]]) * inv_t;
    let weights: Vec<f64> = order[..keep]
        .iter()
        .map(|&i| (f64::from(logits[i]) * inv_t - max).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut keep_p = keep;
    if let Some(p) = options.top_p {
        let mut before = 0.0;
        keep_p = 0;
        for w in &weights {
            if before >= p && keep_p > 0 {
                break;
            }
            before += w / total;
            keep_p += 1;
        }
    }
    let total: f64 = weights[..keep_p].iter().sum();
    let mut u = rng.next_f64() * total;
    for (j, w) in weights[..keep_p].iter().enumerate() {
        if u < *w {
            return order[j] as u32;
        }
        u -= w;
    }
    order[keep_p - 1] as u32
}

/// Index of the largest value; the first on ties (as `torch.argmax`).
pub(crate) fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> GenerateOptions {
        GenerateOptions {
            temperature: 1.0,
            ..GenerateOptions::default()
        }
    }

    #[test]
    fn top_k_and_top_p_restrict_the_support() {
        let logits = [0.0f32, 3.0, 2.0, 1.0, -1.0];
        let mut seen = [false; 5];
        let mut rng = Rng::new(1, 0);
        let o = GenerateOptions {
            top_k: Some(2),
            ..opts()
        };
        for _ in 0..500 {
            seen[choose(&mut logits.clone(), [].iter(), &o, &mut rng) as usize] = true;
        }
        assert_eq!(seen, [false, true, true, false, false]);
        // p(3.0) ≈ 0.64 < 0.7, so top-p 0.7 keeps exactly the two best.
        let o = GenerateOptions {
            top_p: Some(0.7),
            ..opts()
        };
        let mut seen = [false; 5];
        for _ in 0..500 {
            seen[choose(&mut logits.clone(), [].iter(), &o, &mut rng) as usize] = true;
        }
        assert_eq!(seen, [false, true, true, false, false]);
    }

    #[test]
    fn repetition_penalty_follows_transformers() {
        let mut logits = [2.0f32, -2.0, 1.0];
        let o = GenerateOptions {
            repetition_penalty: 2.0,
            ..GenerateOptions::default()
        };
        let pick = choose(&mut logits, [0u32, 1, 0].iter(), &o, &mut Rng::new(0, 0));
        assert_eq!(logits, [1.0, -4.0, 1.0]);
        assert_eq!(pick, 0, "ties go to the first index");
    }

    #[test]
    fn sampling_is_seeded() {
        let logits: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin()).collect();
        let draw = |seed| {
            let mut rng = Rng::new(seed, 0);
            (0..20)
                .map(|_| choose(&mut logits.clone(), [].iter(), &opts(), &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }
}
