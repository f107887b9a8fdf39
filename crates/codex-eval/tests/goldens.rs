//! codex-eval against values computed by sacreBLEU 2.6.0, rouge-score 0.1.2,
//! NLTK's Porter stemmer and the SQuAD v1.1 definitions
//! (`scripts/goldens/eval_goldens.py`, committed output; no Python needed here).

use codex_eval::bleu::{Bleu, BleuConfig, RefCount, Smoothing};
use codex_eval::chrf::{Chrf, ChrfConfig};
use codex_eval::rouge::{Rouge, RougeConfig, RougeType};
use codex_eval::{porter, squad};
use serde_json::Value;

const TOL: f64 = 1e-9;

fn goldens() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/eval/goldens.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("goldens.json")).expect("valid JSON")
}

/// The segments of a fixture set with at most `nrefs` references each.
fn set(g: &Value, name: &str, nrefs: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let s = &g["sets"][name];
    let hyps = s["hyps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect();
    let refs = s["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .take(nrefs)
                .map(|x| x.as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    (hyps, refs)
}

fn case(g: &Value, entry: &Value) -> (Vec<String>, Vec<Vec<String>>) {
    set(
        g,
        entry["set"].as_str().unwrap(),
        entry["nrefs"].as_u64().unwrap() as usize,
    )
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOL
}

fn flag(c: &Value, key: &str) -> bool {
    c.get(key).is_some_and(|v| v.as_bool().unwrap())
}

fn bleu_config(c: &Value) -> BleuConfig {
    let mut cfg = BleuConfig::default();
    if let Some(t) = c.get("tokenize") {
        cfg.tokenize = t.as_str().unwrap().parse().unwrap();
    }
    if let Some(s) = c.get("smooth_method") {
        cfg.smooth = s.as_str().unwrap().parse::<Smoothing>().unwrap();
    }
    cfg.smooth_value = c.get("smooth_value").map(f);
    cfg.lowercase = flag(c, "lowercase");
    cfg.effective_order = flag(c, "effective_order");
    cfg
}

#[test]
fn corpus_bleu_and_signatures_equal_sacrebleu() {
    let g = goldens();
    let mut failures = Vec::new();
    for e in g["bleu_corpus"].as_array().unwrap() {
        let (hyps, refs) = case(&g, e);
        let bleu = Bleu::new(bleu_config(&e["config"]));
        let s = bleu.corpus(&hyps, &refs);
        let sig = bleu.signature(RefCount::of(&refs), None);
        if !close(s.score, f(&e["score"]))
            || sig != e["signature"].as_str().unwrap()
            || s.sys_len != f(&e["sys_len"])
            || s.ref_len != f(&e["ref_len"])
        {
            failures.push(format!(
                "{} nrefs={} {}: {} vs {} / {sig} vs {} / len {} {} vs {} {}",
                e["set"],
                e["nrefs"],
                e["config"],
                s.score,
                e["score"],
                e["signature"],
                s.sys_len,
                s.ref_len,
                e["sys_len"],
                e["ref_len"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn sentence_bleu_equals_sacrebleu() {
    let g = goldens();
    let bleu = Bleu::new(BleuConfig::sentence());
    for e in g["bleu_sentence"].as_array().unwrap() {
        let (hyps, refs) = case(&g, e);
        for (i, want) in e["scores"].as_array().unwrap().iter().enumerate() {
            let got = bleu
                .score_stats(&bleu.segment_stats(&hyps[i], &refs[i]))
                .score;
            assert!(
                close(got, f(want)),
                "{} #{i} {:?}: {got} vs {want}",
                e["set"],
                hyps[i]
            );
        }
    }
}

fn chrf_config(c: &Value) -> ChrfConfig {
    let mut cfg = ChrfConfig::default();
    if let Some(v) = c.get("char_order") {
        cfg.char_order = v.as_u64().unwrap() as usize;
    }
    if let Some(v) = c.get("word_order") {
        cfg.word_order = v.as_u64().unwrap() as usize;
    }
    if let Some(v) = c.get("beta") {
        cfg.beta = v.as_u64().unwrap() as u32;
    }
    cfg.lowercase = flag(c, "lowercase");
    cfg.whitespace = flag(c, "whitespace");
    cfg.eps_smoothing = flag(c, "eps_smoothing");
    cfg
}

#[test]
fn corpus_chrf_and_signatures_equal_sacrebleu() {
    let g = goldens();
    for e in g["chrf_corpus"].as_array().unwrap() {
        let (hyps, refs) = case(&g, e);
        let chrf = Chrf::new(chrf_config(&e["config"]));
        let got = chrf.corpus(&hyps, &refs);
        assert!(
            close(got, f(&e["score"])),
            "{} {}: {got} vs {}",
            e["set"],
            e["config"],
            e["score"]
        );
        assert_eq!(
            chrf.signature(RefCount::of(&refs), None),
            e["signature"].as_str().unwrap()
        );
        assert_eq!(chrf.display_name(), e["name"].as_str().unwrap());
    }
}

#[test]
fn sentence_chrf_equals_sacrebleu() {
    let g = goldens();
    for e in g["chrf_sentence"].as_array().unwrap() {
        let (hyps, refs) = case(&g, e);
        let chrf = Chrf::new(chrf_config(&e["config"]));
        for (i, want) in e["scores"].as_array().unwrap().iter().enumerate() {
            let got = chrf.f_score(&chrf.segment_stats(&hyps[i], &refs[i]));
            assert!(
                close(got, f(want)),
                "{} {} #{i} {:?}: {got} vs {want}",
                e["set"],
                e["config"],
                hyps[i]
            );
        }
    }
}

#[test]
fn rouge_equals_rouge_score() {
    let g = goldens();
    for e in g["rouge"].as_array().unwrap() {
        let (hyps, refs) = case(&g, e);
        let types: Vec<RougeType> = e["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().parse().unwrap())
            .collect();
        let rouge = Rouge::new(RougeConfig {
            types: types.clone(),
            stemmer: e["stemmer"].as_bool().unwrap(),
        });
        for (i, want) in e["scores"].as_array().unwrap().iter().enumerate() {
            let got = rouge.score_multi(&refs[i], &hyps[i]);
            for (k, t) in types.iter().enumerate() {
                let w = &want[k];
                let (p, r, fm) = (f(&w[0]), f(&w[1]), f(&w[2]));
                assert!(
                    close(got[k].precision, p)
                        && close(got[k].recall, r)
                        && close(got[k].fmeasure, fm),
                    "{} stem={} #{i} {t}: {:?} vs {w} ({:?} / {:?})",
                    e["set"],
                    e["stemmer"],
                    got[k],
                    hyps[i],
                    refs[i]
                );
            }
        }
    }
}

#[test]
fn squad_em_and_f1_equal_the_reference_definitions() {
    let g = goldens();
    for e in g["squad"].as_array().unwrap() {
        let (hyps, refs) = case(&g, e);
        for i in 0..hyps.len() {
            let em = squad::max_over(squad::exact_match, &hyps[i], &refs[i]);
            let f1 = squad::max_over(squad::token_f1, &hyps[i], &refs[i]);
            assert_eq!(em, f(&e["em"][i]), "EM #{i} {:?}", hyps[i]);
            assert!(
                close(f1, f(&e["f1"][i])),
                "F1 #{i} {:?}: {f1} vs {}",
                hyps[i],
                e["f1"][i]
            );
        }
    }
}

#[test]
fn porter_stems_equal_nltk() {
    let g = goldens();
    let words = g["porter"]["words"].as_array().unwrap();
    let stems = g["porter"]["stems"].as_array().unwrap();
    let wrong: Vec<String> = words
        .iter()
        .zip(stems)
        .filter_map(|(w, s)| {
            let got = porter::stem(w.as_str().unwrap());
            (got != s.as_str().unwrap()).then(|| format!("{w} -> {got}, NLTK {s}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        words.len(),
        wrong.join("\n")
    );
}
