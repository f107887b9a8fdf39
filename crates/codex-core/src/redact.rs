//! Secrets never written: the one place that decides what a secret looks like
//! in a key, a URI or a command line, and replaces it with [`REDACTED`].
//!
//! Provenance, config dumps, summaries, reports, error records, log lines and
//! tracking parameters all pass through these functions before they are
//! written, so a credential given on the command line, in a config file or in
//! a URI (`http://user:pass@host/?token=…`) never reaches a file or a server
//! it was not meant for.
//!
//! A key is secret when one of its *words* is a secret word: keys are split at
//! anything that is not a letter or digit and at lower-to-upper case changes,
//! so `hf_token`, `MLFLOW_TRACKING_PASSWORD`, `apiKey` and `--api-key` are
//! secret while `tokenizer.vocab_size` and `special_tokens` are not.

use std::borrow::Cow;

/// What replaces a redacted value.
pub const REDACTED: &str = "«REDACTED»";

/// Words that make a key secret on their own.
const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "credential",
    "credentials",
    "apikey",
    "privatekey",
    "authorization",
    "cookie",
    "sig",
    "signature",
];

/// Adjacent word pairs that make a key secret (`api_key`, `ACCESS_KEY`).
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("private", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("client", "secret"),
    ("account", "key"),
    ("session", "key"),
];

/// The lower-case words of a key.
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Whether values under `key` are secret (see the module documentation).
pub fn is_secret_key(key: &str) -> bool {
    let w = words(key);
    w.iter().any(|x| SECRET_WORDS.contains(&x.as_str()))
        || w.windows(2)
            .any(|p| SECRET_PAIRS.contains(&(p[0].as_str(), p[1].as_str())))
}

/// `name=value` pairs separated by `&` or `;` with secret-named values replaced.
fn redact_pairs(s: &str) -> Cow<'_, str> {
    if !s.split(['&', ';']).any(|kv| {
        kv.split_once('=')
            .is_some_and(|(k, v)| !v.is_empty() && is_secret_key(k))
    }) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let end = rest.find(['&', ';']).unwrap_or(rest.len());
        let kv = &rest[..end];
        match kv.split_once('=') {
            Some((k, v)) if !v.is_empty() && is_secret_key(k) => {
                out.push_str(k);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(kv),
        }
        if end == rest.len() {
            break;
        }
        out.push_str(&rest[end..end + 1]);
        rest = &rest[end + 1..];
    }
    Cow::Owned(out)
}

/// Redacts one URI: its userinfo (`user:password@`) and the values of query
/// and fragment parameters with secret-looking names. Anything else is kept.
pub fn redact_uri(uri: &str) -> Cow<'_, str> {
    let Some(scheme_end) = uri.find("://") else {
        return Cow::Borrowed(uri);
    };
    let after = scheme_end + 3;
    let authority_end = uri[after..]
        .find(['/', '?', '#'])
        .map_or(uri.len(), |i| after + i);
    let mut out = String::with_capacity(uri.len());
    out.push_str(&uri[..after]);
    let authority = &uri[after..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(REDACTED);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let rest = &uri[authority_end..];
    let (before_fragment, fragment) = match rest.find('#') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    match before_fragment.find('?') {
        Some(q) => {
            out.push_str(&before_fragment[..=q]);
            out.push_str(&redact_pairs(&before_fragment[q + 1..]));
        }
        None => out.push_str(before_fragment),
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(&redact_pairs(f));
    }
    if out == uri {
        Cow::Borrowed(uri)
    } else {
        Cow::Owned(out)
    }
}

/// Whether `c` can end a URI found in free text.
fn ends_uri(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | '`' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}' | ','
        )
}

/// Redacts every URI in free text (log lines, error messages, reports), and
/// the value of every `key=value` or `key: value` pair whose key is secret.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut last = 0;
    let mut search = 0;
    while let Some(i) = text[search..].find("://") {
        let at = search + i;
        // The scheme: letters, digits, `+`, `-`, `.` back to a letter.
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(at, |(j, _)| j);
        let end = text[at + 3..]
            .find(ends_uri)
            .map_or(text.len(), |j| at + 3 + j);
        if start < at {
            let uri = &text[start..end];
            if let Cow::Owned(r) = redact_uri(uri) {
                out.push_str(&text[last..start]);
                out.push_str(&r);
                last = end;
            }
        }
        search = end.max(at + 3);
    }
    let text = if last == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[last..]);
        Cow::Owned(out)
    };
    match redact_assignments(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => Cow::Owned(s),
    }
}

/// `key=value` and `key: value` pairs in free text with secret keys.
fn redact_assignments(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut last = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let sep = bytes[i];
        if sep != b'=' && sep != b':' {
            i += 1;
            continue;
        }
        // The key: the word characters (and `.`, `-`, `_`) just before.
        let key_start = text[..i]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .last()
            .map_or(i, |(j, _)| j);
        let key = &text[key_start..i];
        let mut v = i + 1;
        if sep == b':' {
            // `scheme://` is a URI, handled by the caller.
            if text[v..].starts_with("//") {
                i += 1;
                continue;
            }
            while v < bytes.len() && bytes[v] == b' ' {
                v += 1;
            }
        }
        let value_end = text[v..]
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '&' | ';' | ')' | '}')
            })
            .map_or(text.len(), |j| v + j);
        if !key.is_empty() && value_end > v && is_secret_key(key) && &text[v..value_end] != REDACTED
        {
            out.push_str(&text[last..v]);
            out.push_str(REDACTED);
            last = value_end;
            i = value_end;
            continue;
        }
        i += 1;
    }
    if last == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }
}

/// A command line with secrets redacted: values of `key=value`, `--key=value`
/// and `--key value` arguments whose key is secret, and credentials in any URI.
pub fn redact_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut redact_next = false;
    for arg in args {
        if redact_next {
            out.push(REDACTED.to_owned());
            redact_next = false;
            continue;
        }
        if let Some((key, _)) = arg.split_once('=')
            && !key.contains("://")
            && is_secret_key(key)
        {
            out.push(format!("{key}={REDACTED}"));
            continue;
        }
        if arg.starts_with("--") && !arg.contains('=') && is_secret_key(&arg) {
            redact_next = true;
        }
        out.push(redact_text(&arg).into_owned());
    }
    out
}

/// Redacts a JSON tree in place: the value of every secret key (whatever its
/// type) and URIs and assignments inside every string.
pub fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && !v.is_null() {
                    *v = serde_json::Value::String(REDACTED.to_owned());
                } else {
                    redact_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::String(s) => {
            if let Cow::Owned(r) = redact_text(s) {
                *s = r;
            }
        }
        _ => {}
    }
}

/// Whether `text` holds a value that [`redact_text`] removed (for a caller
/// that must not use a redacted credential as if it were real).
pub fn is_redacted(text: &str) -> bool {
    text.contains(REDACTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_key(key: &str, secret: bool) {
        assert_eq!(is_secret_key(key), secret, "{key}");
    }

    #[test]
    fn secret_keys_are_told_by_their_words() {
        for k in [
            "hf_token",
            "MLFLOW_TRACKING_TOKEN",
            "MLFLOW_TRACKING_PASSWORD",
            "--hf-token",
            "apiKey",
            "api_key",
            "AWS_SECRET_ACCESS_KEY",
            "track.mlflow.password",
            "X-Amz-Signature",
            "sig",
            "client_secret",
            "private_key",
        ] {
            check_key(k, true);
        }
        for k in [
            "tokenizer.vocab_size",
            "--tokenizer",
            "tokenizer.special_tokens",
            "max_new_tokens",
            "train.max_tokens",
            "model.d_model",
            "keep_every",
            "design",
            "signal",
        ] {
            check_key(k, false);
        }
    }

    #[track_caller]
    fn check_uri(uri: &str, expect: &str) {
        assert_eq!(redact_uri(uri), expect);
    }

    #[test]
    fn uris_lose_userinfo_and_secret_parameters() {
        check_uri(
            "http://alice:hunter2@host:5000/?token=abc&x=1",
            "http://«REDACTED»@host:5000/?token=«REDACTED»&x=1",
        );
        check_uri("http://127.0.0.1:5000", "http://127.0.0.1:5000");
        check_uri(
            "https://h/p?X-Amz-Credential=a&X-Amz-Signature=b#access_token=c",
            "https://h/p?X-Amz-Credential=«REDACTED»&X-Amz-Signature=«REDACTED»#access_token=«REDACTED»",
        );
        check_uri(
            "https://ghp_x@github.com/o/r",
            "https://«REDACTED»@github.com/o/r",
        );
        check_uri("file:///tmp/a?b", "file:///tmp/a?b");
    }

    #[track_caller]
    fn check_text(text: &str, expect: &str) {
        assert_eq!(redact_text(text), expect);
    }

    #[test]
    fn free_text_loses_uri_credentials_and_secret_assignments() {
        check_text(
            "MLflow at http://alice:hunter2@h/?token=abc is unreachable",
            "MLflow at http://«REDACTED»@h/?token=«REDACTED» is unreachable",
        );
        check_text("uri `http://a:b@h`", "uri `http://«REDACTED»@h`");
        check_text(
            "password=hunter2 lr=3e-4 hf_token: abc",
            "password=«REDACTED» lr=3e-4 hf_token: «REDACTED»",
        );
        check_text("nothing here: at all", "nothing here: at all");
        check_text("tokenizer.vocab_size=320", "tokenizer.vocab_size=320");
    }

    #[test]
    fn command_lines_keep_tokenizer_settings_and_lose_secrets() {
        let args = [
            "codex",
            "train",
            "tokenizer.vocab_size=320",
            "--tokenizer",
            "tok.json",
            "track.mlflow.uri=http://alice:hunter2@host/?token=abc",
            "--hf-token",
            "hf_abc",
            "--api-key=xyz",
            "train.password=p",
        ]
        .map(String::from);
        assert_eq!(
            redact_args(args),
            [
                "codex",
                "train",
                "tokenizer.vocab_size=320",
                "--tokenizer",
                "tok.json",
                "track.mlflow.uri=http://«REDACTED»@host/?token=«REDACTED»",
                "--hf-token",
                "«REDACTED»",
                "--api-key=«REDACTED»",
                "train.password=«REDACTED»",
            ]
        );
    }

    #[test]
    fn json_trees_are_redacted_by_key_and_by_uri() {
        let mut v = serde_json::json!({
            "track": {"mlflow": {"uri": "http://a:b@h/?token=t", "token": "x"}},
            "tokenizer": {"special_tokens": ["<s>"]},
            "list": ["https://u:p@h"],
        });
        redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "track": {"mlflow": {"uri": "http://«REDACTED»@h/?token=«REDACTED»", "token": "«REDACTED»"}},
                "tokenizer": {"special_tokens": ["<s>"]},
                "list": ["https://«REDACTED»@h"],
            })
        );
    }
}
