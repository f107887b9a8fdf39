//! Exact match and token F1 as the SQuAD v1.1 evaluation defines them.
//!
//! Answers are normalized by lowercasing, deleting ASCII punctuation, deleting
//! the whole words `a`, `an` and `the`, and collapsing whitespace; a
//! prediction's score is its best over the references.

use rustc_hash::FxHashMap;

use crate::text::{is_py_word, py_lower, py_normalize_space};

/// SQuAD's `normalize_answer`.
pub fn normalize_answer(s: &str) -> String {
    let lower = py_lower(s);
    let no_punct: String = lower
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    py_normalize_space(&remove_articles(&no_punct))
}

/// `re.sub(r"\b(a|an|the)\b", " ", s)` with Python's Unicode word boundaries.
fn remove_articles(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let word_at = |i: usize| i < chars.len() && is_py_word(chars[i]);
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let at_boundary = !(i > 0 && is_py_word(chars[i - 1]));
        let mut matched = None;
        if at_boundary {
            for article in ["a", "an", "the"] {
                let len = article.len();
                let candidate = chars
                    .get(i..i + len)
                    .is_some_and(|w| w.iter().copied().eq(article.chars()));
                if candidate && !word_at(i + len) {
                    matched = Some(len);
                    break;
                }
            }
        }
        if let Some(len) = matched {
            out.push(' ');
            i += len;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// 1.0 when the normalized prediction equals the normalized reference.
pub fn exact_match(prediction: &str, reference: &str) -> f64 {
    f64::from(u8::from(
        normalize_answer(prediction) == normalize_answer(reference),
    ))
}

/// Token-level F1 between the normalized answers.
pub fn token_f1(prediction: &str, reference: &str) -> f64 {
    let p = normalize_answer(prediction);
    let r = normalize_answer(reference);
    let p_tokens: Vec<&str> = p.split(' ').filter(|t| !t.is_empty()).collect();
    let r_tokens: Vec<&str> = r.split(' ').filter(|t| !t.is_empty()).collect();
    let mut counts: FxHashMap<&str, i64> = FxHashMap::default();
    for t in &r_tokens {
        *counts.entry(t).or_insert(0) += 1;
    }
    let mut same = 0usize;
    for t in &p_tokens {
        if let Some(c) = counts.get_mut(t)
            && *c > 0
        {
            *c -= 1;
            same += 1;
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / p_tokens.len() as f64;
    let recall = same as f64 / r_tokens.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// The best of `f` over the references; 0 when there are none.
pub fn max_over<R: AsRef<str>>(
    f: fn(&str, &str) -> f64,
    prediction: &str,
    references: &[R],
) -> f64 {
    references
        .iter()
        .map(|r| f(prediction, r.as_ref()))
        .fold(None, |best: Option<f64>, x| {
            Some(best.map_or(x, |b| b.max(x)))
        })
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_matches_squad() {
        assert_eq!(normalize_answer("The  Eiffel-Tower!"), "eiffeltower");
        assert_eq!(
            normalize_answer("an apple, a pear and the plum"),
            "apple pear and plum"
        );
        assert_eq!(normalize_answer("theatre anagram"), "theatre anagram");
        assert_eq!(normalize_answer("Ànother a"), "ànother");
    }

    #[test]
    fn f1_counts_shared_tokens() {
        assert_eq!(
            token_f1("the cat sat", "a cat sat down"),
            2.0 * (1.0 * (2.0 / 3.0)) / (1.0 + 2.0 / 3.0)
        );
        assert_eq!(token_f1("dog", "cat"), 0.0);
        assert_eq!(max_over(exact_match, "Paris", &["paris.", "London"]), 1.0);
    }
}
