//! Aligned `key value` reports, the shape of most commands' output.

use std::fmt::{Display, Write as _};

/// A report built line by line; keys are padded to one width.
#[derive(Debug, Default)]
pub(crate) struct Report {
    out: String,
    width: usize,
}

impl Report {
    /// A report whose keys are padded to `width` characters.
    pub(crate) fn new(width: usize) -> Self {
        Self {
            out: String::new(),
            width,
        }
    }

    /// `key value`.
    pub(crate) fn kv(&mut self, key: &str, value: impl Display) -> &mut Self {
        let _ = writeln!(self.out, "{key:<w$} {value}", w = self.width);
        self
    }

    /// `key value` when there is a value.
    pub(crate) fn opt(&mut self, key: &str, value: Option<impl Display>) -> &mut Self {
        if let Some(v) = value {
            self.kv(key, v);
        }
        self
    }

    /// A line as it is.
    pub(crate) fn line(&mut self, text: impl Display) -> &mut Self {
        let _ = writeln!(self.out, "{text}");
        self
    }

    /// The text.
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.out)
    }
}
