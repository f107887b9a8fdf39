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
    /// Relative links whose target does not exist in the repository.
    pub missing_links: Vec<String>,
    /// Links to absolute paths or above the repository's root: not checked,
    /// since whether they exist says something about the auditor's machine,
    /// not the repository.
    pub outside_links: Vec<String>,
    /// Lines with TODO, FIXME or XXX.
    pub todos: Vec<(usize, String)>,
}

/// README files looked for at the root, in this order.
const NAMES: [&str; 6] = [
    "README.md",
    "README.markdown",
    "README.rst",
    "README.txt",
    "README",
    "readme.md",
];

/// READMEs are read up to this size.
const MAX_README_BYTES: u64 = 4 << 20;

/// `target`, a link in a file at the root, as a path inside the repository;
/// `None` when it is absolute or climbs above the root.
fn inside(target: &str) -> Option<std::path::PathBuf> {
    use std::path::Component;
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in Path::new(target).components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// Whether `rel` names an entry of the tree at `root`. No link is followed on
/// the way: a path through a link counts as present (it is not checked, since
/// where the link leads says nothing about the repository).
fn exists_inside(root: &Path, rel: &Path) -> bool {
    let mut at = root.to_owned();
    let mut parts = rel.components().peekable();
    while let Some(c) = parts.next() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => return true,
            Ok(_) => return parts.peek().is_none(),
            Err(_) => return false,
        }
    }
    true
}

/// Summarizes the README at `root` (README.md, README.rst, README.txt, README).
/// The README is read as untrusted input: a link or special file at its name
/// is not read (an error for the caller to record), and reading stops at 4 MiB.
pub fn summarize(root: &Path) -> Result<Option<ReadmeSummary>, crate::StepError> {
    let Some(name) = NAMES
        .into_iter()
        .find(|n| std::fs::symlink_metadata(root.join(n)).is_ok())
    else {
        return Ok(None);
    };
    let path = root.join(name);
    let bytes = codex_core::untrusted::read_regular(&path, MAX_README_BYTES)
        .map_err(|e| crate::StepError {
            step: "readme".into(),
            error: e.to_string(),
            context: name.to_owned(),
        })?
        .bytes;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut s = ReadmeSummary {
        path: name.to_owned(),
        title: None,
        outline: Vec::new(),
        first_paragraph: None,
        commands: Vec::new(),
        missing_links: Vec::new(),
        outside_links: Vec::new(),
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
            if !external {
                match inside(target) {
                    None => s.outside_links.push(target.to_owned()),
                    Some(rel) if !exists_inside(root, &rel) => {
                        s.missing_links.push(target.to_owned())
                    }
                    Some(_) => {}
                }
            }
            rest = &after[end..];
        }
    }
    if s.first_paragraph.is_none() && !paragraph.is_empty() {
        s.first_paragraph = Some(paragraph.join(" "));
    }
    Ok(Some(s))
}
