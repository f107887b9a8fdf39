//! The README summary: title, outline, first paragraph, commands from code
//! blocks, relative links to missing files, and TODO markers.

use std::path::Path;

use serde::Serialize;

/// What a README says about its repository.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReadmeSummary {
    /// The README's path, relative to the root.
    pub path: String,
    /// The first level-one heading.
    pub title: Option<String>,
    /// Every heading as `(level, text)`.
    pub outline: Vec<(usize, String)>,
    /// The first paragraph of prose.
    pub first_paragraph: Option<String>,
    /// Command lines from shell code blocks (prompts `$ ` removed).
    pub commands: Vec<String>,
    /// Relative links whose target does not exist.
    pub missing_links: Vec<String>,
    /// Lines with TODO, FIXME or XXX.
    pub todos: Vec<(usize, String)>,
}

/// Summarizes the README at `root` (README.md, README.rst, README.txt, README).
pub fn summarize(root: &Path) -> Option<ReadmeSummary> {
    let name = [
        "README.md",
        "README.markdown",
        "README.rst",
        "README.txt",
        "README",
        "readme.md",
    ]
    .into_iter()
    .find(|n| root.join(n).is_file())?;
    let path = root.join(name);
    let bytes = std::fs::read(&path).ok()?;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4 << 20)]).into_owned();
    let mut s = ReadmeSummary {
        path: name.to_owned(),
        title: None,
        outline: Vec::new(),
        first_paragraph: None,
        commands: Vec::new(),
        missing_links: Vec::new(),
        todos: Vec::new(),
    };
    let mut in_code: Option<String> = None;
    let mut paragraph: Vec<&str> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(fence) = t.strip_prefix("```") {
            in_code = match in_code {
                Some(_) => None,
                None => Some(fence.trim().to_lowercase()),
            };
            continue;
        }
        if let Some(lang) = &in_code {
            if [
                "",
                "sh",
                "bash",
                "shell",
                "console",
                "zsh",
                "powershell",
                "cmd",
            ]
            .contains(&lang.as_str())
                && !t.is_empty()
                && !t.starts_with('#')
            {
                s.commands.push(t.trim_start_matches("$ ").to_owned());
            }
            continue;
        }
        if t.contains("TODO") || t.contains("FIXME") || t.contains("XXX") {
            s.todos.push((i + 1, t.to_owned()));
        }
        let hashes = t.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            let heading = t[hashes..].trim().to_owned();
            if hashes == 1 && s.title.is_none() {
                s.title = Some(heading.clone());
            }
            s.outline.push((hashes, heading));
            if !paragraph.is_empty() && s.first_paragraph.is_none() {
                s.first_paragraph = Some(paragraph.join(" "));
            }
            paragraph.clear();
            continue;
        }
        if s.first_paragraph.is_none() {
            let prose = !t.is_empty()
                && !t.starts_with('|')
                && !t.starts_with('<')
                && !t.starts_with("![")
                && !t.starts_with('[');
            if prose {
                paragraph.push(t);
            } else if !paragraph.is_empty() {
                s.first_paragraph = Some(paragraph.join(" "));
                paragraph.clear();
            }
        }
        let mut rest = line;
        while let Some(p) = rest.find("](") {
            let after = &rest[p + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            let target = target.split('#').next().unwrap_or("");
            let external =
                target.contains("://") || target.starts_with("mailto:") || target.is_empty();
            if !external && !root.join(target).exists() {
                s.missing_links.push(target.to_owned());
            }
            rest = &after[end..];
        }
    }
    if s.first_paragraph.is_none() && !paragraph.is_empty() {
        s.first_paragraph = Some(paragraph.join(" "));
    }
    Some(s)
}
