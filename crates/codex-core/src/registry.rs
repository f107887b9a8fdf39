//! Named registries: case-insensitive names, duplicate-name errors, listings with descriptions.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// One registered item: its display name, a one-line description and the value.
#[derive(Debug, Clone)]
pub struct Entry<T> {
    /// The name as registered (its case is kept for display).
    pub name: String,
    /// A one-line description for listings.
    pub description: String,
    /// The registered value: a constructor, a config, a descriptor.
    pub value: T,
}

/// A registry of one kind of component, e.g. metrics or model architectures.
///
/// Lookups ignore case; listing order is by lowercase name, so it is stable.
pub struct Registry<T> {
    kind: String,
    entries: BTreeMap<String, Entry<T>>,
}

impl<T> fmt::Debug for Registry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("kind", &self.kind)
            .field("names", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<T> Registry<T> {
    /// An empty registry for components of `kind` (used in messages: "unknown metric `blue`").
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            entries: BTreeMap::new(),
        }
    }

    /// The kind of component this registry holds.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Adds an entry; a name already present in any case is an error.
    pub fn register(
        &mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        value: T,
    ) -> Result<()> {
        let name = name.into();
        let key = name.to_lowercase();
        if self.entries.contains_key(&key) {
            return Err(Error::DuplicateName {
                kind: self.kind.clone(),
                name,
            });
        }
        self.entries.insert(
            key,
            Entry {
                name,
                description: description.into(),
                value,
            },
        );
        Ok(())
    }

    /// Looks a name up, ignoring case; an unknown name suggests the nearest one.
    pub fn get(&self, name: &str) -> Result<&Entry<T>> {
        self.entries
            .get(&name.to_lowercase())
            .ok_or_else(|| Error::UnknownName {
                kind: self.kind.clone(),
                name: name.to_owned(),
                suggestion: nearest(name, self.entries.values().map(|e| e.name.as_str())),
            })
    }

    /// All entries, sorted by lowercase name.
    pub fn iter(&self) -> impl Iterator<Item = &Entry<T>> {
        self.entries.values()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The closest candidate to `name` by normalized Damerau–Levenshtein similarity,
/// if it is close enough to be a plausible typo (similarity at least 0.6).
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::normalized_damerau_levenshtein(&lower, &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_owned())
}

/// Several registries as one aligned `KIND NAME DESCRIPTION` table.
pub fn catalog_text<T>(registries: &[Registry<T>]) -> String {
    let kind_w = registries.iter().map(|r| r.kind().len()).max().unwrap_or(0);
    let name_w = registries
        .iter()
        .flat_map(|r| r.iter().map(|e| e.name.len()))
        .max()
        .unwrap_or(0);
    let mut out = format!("{:kind_w$}  {:name_w$}  DESCRIPTION\n", "KIND", "NAME");
    for r in registries {
        for e in r.iter() {
            out.push_str(&format!(
                "{:kind_w$}  {:name_w$}  {}\n",
                r.kind(),
                e.name,
                e.description
            ));
        }
    }
    out
}

/// Several registries as JSON rows `{kind, name, description}`.
pub fn catalog_json<T>(registries: &[Registry<T>]) -> serde_json::Value {
    registries
        .iter()
        .flat_map(|r| {
            r.iter().map(|e| {
                serde_json::json!({"kind": r.kind(), "name": e.name, "description": e.description})
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_nearest(name: &str, candidates: &[&str], expect: Option<&str>) {
        assert_eq!(nearest(name, candidates.iter().copied()).as_deref(), expect);
    }

    #[test]
    fn nearest_cases() {
        let sections = [
            "tokenizer",
            "data",
            "model",
            "train",
            "eval",
            "safety",
            "track",
        ];
        check_nearest("trian", &sections, Some("train"));
        check_nearest("modle", &sections, Some("model"));
        check_nearest("Tokeniser", &sections, Some("tokenizer"));
        check_nearest("zzzzzz", &sections, None);
        check_nearest("lr", &["lr", "min_lr"], Some("lr"));
    }

    #[test]
    fn case_insensitive_lookup_and_duplicates() {
        let mut r = Registry::new("metric");
        r.register("BLEU", "corpus BLEU", 1).unwrap();
        r.register("chrF", "character F-score", 2).unwrap();
        assert_eq!(r.get("bleu").unwrap().value, 1);
        assert_eq!(r.get("CHRF").unwrap().name, "chrF");
        let dup = r.register("Bleu", "again", 3).unwrap_err();
        assert_eq!(
            dup.to_string(),
            "duplicate metric name `Bleu`: a metric with this name is already registered"
        );
        let unknown = r.get("blue").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown metric `blue` (did you mean `BLEU`?)"
        );
        let names: Vec<_> = r.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["BLEU", "chrF"]);
    }
}
