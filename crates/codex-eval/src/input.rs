//! Reading evaluation inputs: parallel plain-text files, JSONL, TSV, and
//! per-document NLL records for perplexity.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::metric::Corpus;

/// How hypotheses and references are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// By extension: `.jsonl`/`.json` are JSONL, `.tsv` is TSV, anything else plain text.
    #[default]
    Auto,
    /// One segment per line; each `--ref` file is one reference set, line-parallel.
    Lines,
    /// One JSON object per line with a hypothesis field and a references field
    /// (a string or a list of strings).
    Jsonl,
    /// `hypothesis<TAB>reference[<TAB>reference…]` per line.
    Tsv,
}

impl FromStr for InputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "lines" => Ok(Self::Lines),
            "jsonl" => Ok(Self::Jsonl),
            "tsv" => Ok(Self::Tsv),
            _ => Err(format!(
                "unknown input format `{s}`: expected auto, lines, jsonl or tsv"
            )),
        }
    }
}

impl InputFormat {
    /// The concrete format of `path`.
    pub fn resolve(self, path: &Path) -> Self {
        if self != Self::Auto {
            return self;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "json" | "ndjson") => Self::Jsonl,
            Some("tsv") => Self::Tsv,
            _ => Self::Lines,
        }
    }
}

/// Where hypotheses and references are found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Layout.
    pub format: InputFormat,
    /// JSONL field with the hypothesis.
    pub hyp_field: String,
    /// JSONL field with the reference or references.
    pub ref_field: String,
}

impl Default for InputSpec {
    fn default() -> Self {
        Self {
            format: InputFormat::Auto,
            hyp_field: "hypothesis".into(),
            ref_field: "references".into(),
        }
    }
}

/// The lines of a UTF-8 text file, without their `\n` or `\r\n`; invalid UTF-8
/// is an error naming the line.
pub fn read_lines(path: &Path) -> Result<Vec<String>, EvalError> {
    let bytes = std::fs::read(path).map_err(|e| EvalError::io(path, e))?;
    let mut body = bytes.as_slice();
    if let Some(rest) = body.strip_suffix(b"\n") {
        body = rest;
    } else if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            std::str::from_utf8(line)
                .map(str::to_owned)
                .map_err(|source| EvalError::Utf8 {
                    path: path.to_owned(),
                    line: i + 1,
                    source,
                })
        })
        .collect()
}

/// Reads a corpus: with `Lines`, `hyp` and every file of `refs` are parallel;
/// JSONL and TSV carry the references themselves.
pub fn read_corpus(hyp: &Path, refs: &[PathBuf], spec: &InputSpec) -> Result<Corpus, EvalError> {
    let format = spec.format.resolve(hyp);
    let corpus = match format {
        InputFormat::Lines | InputFormat::Auto => {
            if refs.is_empty() {
                return Err(EvalError::Settings(format!(
                    "{} is plain text: give at least one --ref file",
                    hyp.display()
                )));
            }
            let hyps = read_lines(hyp)?;
            let mut all: Vec<Vec<String>> = vec![Vec::with_capacity(refs.len()); hyps.len()];
            for path in refs {
                let lines = read_lines(path)?;
                if lines.len() != hyps.len() {
                    return Err(EvalError::LengthMismatch {
                        hyp_path: hyp.to_owned(),
                        hyp_count: hyps.len(),
                        ref_path: path.clone(),
                        ref_count: lines.len(),
                    });
                }
                for (slot, line) in all.iter_mut().zip(lines) {
                    slot.push(line);
                }
            }
            Corpus { hyps, refs: all }
        }
        InputFormat::Jsonl | InputFormat::Tsv => {
            if !refs.is_empty() {
                return Err(EvalError::Settings(format!(
                    "{} carries its own references ({format:?}); --ref files are only for plain-text input",
                    hyp.display()
                )));
            }
            let mut corpus = Corpus::default();
            for (i, line) in read_lines(hyp)?.into_iter().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let (h, r) = if format == InputFormat::Tsv {
                    parse_tsv(hyp, i + 1, &line)?
                } else {
                    parse_jsonl(hyp, i + 1, &line, spec)?
                };
                corpus.hyps.push(h);
                corpus.refs.push(r);
            }
            corpus
        }
    };
    if corpus.is_empty() {
        return Err(EvalError::Empty {
            path: hyp.to_owned(),
        });
    }
    Ok(corpus)
}

fn parse_tsv(path: &Path, line_no: usize, line: &str) -> Result<(String, Vec<String>), EvalError> {
    let mut cols = line.split('\t');
    let hyp = cols.next().unwrap_or_default().to_owned();
    let refs: Vec<String> = cols.map(str::to_owned).collect();
    if refs.is_empty() {
        return Err(EvalError::malformed(
            path,
            line_no,
            "expected `hypothesis<TAB>reference`, found no tab",
        ));
    }
    Ok((hyp, refs))
}

fn parse_jsonl(
    path: &Path,
    line_no: usize,
    line: &str,
    spec: &InputSpec,
) -> Result<(String, Vec<String>), EvalError> {
    let value: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| EvalError::malformed(path, line_no, format!("not JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| EvalError::malformed(path, line_no, "expected a JSON object"))?;
    let hyp = match obj.get(&spec.hyp_field) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(EvalError::malformed(
                path,
                line_no,
                format!("field `{}` must be a string, found {other}", spec.hyp_field),
            ));
        }
        None => {
            return Err(EvalError::malformed(
                path,
                line_no,
                format!("missing field `{}`", spec.hyp_field),
            ));
        }
    };
    let refs = match obj.get(&spec.ref_field) {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                EvalError::malformed(
                    path,
                    line_no,
                    format!("field `{}` must hold only strings", spec.ref_field),
                )
            })?,
        Some(_) => {
            return Err(EvalError::malformed(
                path,
                line_no,
                format!(
                    "field `{}` must be a string or a non-empty list of strings",
                    spec.ref_field
                ),
            ));
        }
        None => {
            return Err(EvalError::malformed(
                path,
                line_no,
                format!("missing field `{}`", spec.ref_field),
            ));
        }
    };
    Ok((hyp, refs))
}

/// One document's negative log-likelihood (natural log, summed over its tokens).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NllRecord {
    /// Total NLL in nats.
    pub nll: f64,
    /// Tokens scored.
    pub tokens: u64,
}

/// Reads JSONL `{"nll": f, "tokens": n}` records; a NaN, infinite or negative
/// NLL or a zero token count is an error naming the line.
pub fn read_nll(path: &Path) -> Result<Vec<NllRecord>, EvalError> {
    let mut out = Vec::new();
    for (i, line) in read_lines(path)?.into_iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| EvalError::malformed(path, i + 1, format!("not JSON: {e}")))?;
        let nll = match value.get("nll") {
            Some(serde_json::Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            // JSON has no NaN; a string "NaN" or "inf" is how such values arrive.
            Some(serde_json::Value::String(s)) => s.parse::<f64>().unwrap_or(f64::NAN),
            _ => {
                return Err(EvalError::malformed(
                    path,
                    i + 1,
                    "missing numeric field `nll`",
                ));
            }
        };
        let tokens = value
            .get("tokens")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| EvalError::malformed(path, i + 1, "missing integer field `tokens`"))?;
        let record = NllRecord { nll, tokens };
        validate_nll(&record).map_err(|m| EvalError::malformed(path, i + 1, m))?;
        out.push(record);
    }
    if out.is_empty() {
        return Err(EvalError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(out)
}

/// Checks one record: finite, non-negative NLL over at least one token.
pub fn validate_nll(r: &NllRecord) -> Result<(), String> {
    if !r.nll.is_finite() {
        return Err(format!("nll is {}, not a finite number", r.nll));
    }
    if r.nll < 0.0 {
        return Err(format!(
            "nll is {}, but a negative log-likelihood cannot be negative",
            r.nll
        ));
    }
    if r.tokens == 0 {
        return Err("tokens is 0: a record must score at least one token".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn different_lengths_name_both_files_and_counts() {
        let d = tempfile::tempdir().unwrap();
        let h = write(d.path(), "hyp.txt", b"a\nb\nc\n");
        let r = write(d.path(), "ref.txt", b"a\nb\n");
        let e = read_corpus(&h, &[r], &InputSpec::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hyp.txt has 3 lines") && e.contains("ref.txt has 2"),
            "{e}"
        );
    }

    #[test]
    fn invalid_utf8_names_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let h = write(d.path(), "hyp.txt", b"ok\nbad \xff here\n");
        let r = write(d.path(), "ref.txt", b"ok\nfine\n");
        let e = read_corpus(&h, &[r], &InputSpec::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("hyp.txt:2: invalid UTF-8"), "{e}");
    }

    #[test]
    fn jsonl_and_tsv_carry_several_references() {
        let d = tempfile::tempdir().unwrap();
        let j = write(
            d.path(),
            "x.jsonl",
            br#"{"hypothesis": "a b", "references": ["a b", "a c"]}
{"hypothesis": "c", "references": "c"}
"#,
        );
        let c = read_corpus(&j, &[], &InputSpec::default()).unwrap();
        assert_eq!(
            c.refs,
            vec![
                vec!["a b".to_owned(), "a c".to_owned()],
                vec!["c".to_owned()]
            ]
        );
        let t = write(d.path(), "x.tsv", b"h1\tr1\tr2\r\nh2\tr3\n");
        let c = read_corpus(&t, &[], &InputSpec::default()).unwrap();
        assert_eq!(c.hyps, ["h1", "h2"]);
        assert_eq!(c.refs[0], ["r1", "r2"]);
        let bad = write(d.path(), "bad.jsonl", b"{\"hypothesis\": \"a\"}\n");
        let e = read_corpus(&bad, &[], &InputSpec::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.jsonl:1: missing field `references`"), "{e}");
    }

    #[test]
    fn nan_and_negative_nll_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "nll.jsonl",
            b"{\"nll\": 3.5, \"tokens\": 2}\n{\"nll\": \"NaN\", \"tokens\": 4}\n",
        );
        let e = read_nll(&p).unwrap_err().to_string();
        assert!(e.contains("nll.jsonl:2: nll is NaN"), "{e}");
        let p = write(d.path(), "neg.jsonl", b"{\"nll\": -1.0, \"tokens\": 2}\n");
        let e = read_nll(&p).unwrap_err().to_string();
        assert!(e.contains("neg.jsonl:1: nll is -1"), "{e}");
    }
}
