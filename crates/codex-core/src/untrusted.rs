//! Reading a tree codex does not trust (an audited repository, scanned files):
//! no link followed, nothing but regular files opened, every read capped; and
//! one directory walk ([`walk`]) that never loops, never recurses on the stack
//! and never hands out a FIFO or device as a file.
//!
//! A path given by the user is the user's choice; a path found *inside* such a
//! tree is not. Opening one here refuses symbolic links (`O_NOFOLLOW`), never
//! blocks on a FIFO or device (`O_NONBLOCK`), and checks the opened handle
//! (not the path, which may change between the check and the open) is a
//! regular file before a byte is read.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Directories that walks over a user's tree do not enter: version control
/// metadata, build outputs, virtual environments, dependency and tool caches.
/// Every walk lists the directories it skipped for this reason.
pub const SKIP_DIRS: [&str; 10] = [
    ".git",
    "target",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".tox",
    ".pytest_cache",
    "dist",
];

/// What an entry of a tree is, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// A FIFO, socket, or block or character device.
    Special,
}

impl EntryKind {
    /// The kind of an entry's file type, as `symlink_metadata` reports it.
    pub fn of(t: std::fs::FileType) -> Self {
        if t.is_symlink() {
            Self::Symlink
        } else if t.is_dir() {
            Self::Dir
        } else if t.is_file() {
            Self::File
        } else {
            Self::Special
        }
    }

    /// A short noun for reports: `file`, `directory`, `symbolic link`, `special file`.
    pub fn noun(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Dir => "directory",
            Self::Symlink => "symbolic link",
            Self::Special => "special file",
        }
    }
}

fn refused(kind: EntryKind) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("a {}, not read (only regular files are)", kind.noun()),
    )
}

/// Opens `path` for reading only if it is a regular file and not a symbolic
/// link; a FIFO, socket or device is refused without blocking.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    #[cfg(not(unix))]
    {
        // Without O_NOFOLLOW, look first; the handle is checked again below.
        let t = std::fs::symlink_metadata(path)?.file_type();
        if !t.is_file() {
            return Err(refused(EntryKind::of(t)));
        }
    }
    let file = match options.open(path) {
        Ok(f) => f,
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(refused(EntryKind::Symlink)),
        Err(e) => return Err(e),
    };
    let t = file.metadata()?.file_type();
    if !t.is_file() {
        return Err(refused(EntryKind::of(t)));
    }
    Ok(file)
}

/// How [`walk`] treats what it meets.
#[derive(Debug, Clone, Copy, Default)]
pub struct WalkOptions {
    /// Follow symbolic links (a user's own data, where links into a cache are
    /// common); each directory is entered once, so a link loop ends. When
    /// false (untrusted trees), links are listed as skipped.
    pub follow_links: bool,
    /// Skip entries whose name starts with `.`.
    pub skip_hidden: bool,
    /// Skip (and list) directories named in [`SKIP_DIRS`].
    pub skip_tool_dirs: bool,
}

/// What [`walk`] found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Regular files (reached through links too, when followed), sorted.
    pub files: Vec<std::path::PathBuf>,
    /// Entries not walked, with why: `symbolic link`, `special file`,
    /// `tool directory` or `link loop`; sorted by path.
    pub skipped: Vec<(std::path::PathBuf, &'static str)>,
    /// Directories or links that could not be read.
    pub errors: Vec<(std::path::PathBuf, io::Error)>,
}

/// Every regular file under `root` (which is followed if it is a link: the
/// caller named it), iteratively, with what was skipped and why.
pub fn walk(root: &Path, options: WalkOptions) -> Walk {
    let mut out = Walk::default();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root.to_owned()];
    #[cfg(unix)]
    let id = |m: &std::fs::Metadata| {
        use std::os::unix::fs::MetadataExt as _;
        Some((m.dev(), m.ino()))
    };
    #[cfg(not(unix))]
    let id = |_: &std::fs::Metadata| None::<(u64, u64)>;
    if let Ok(m) = std::fs::metadata(root)
        && let Some(i) = id(&m)
    {
        seen.insert(i);
    }
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                out.errors.push((dir, e));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    out.errors.push((dir.clone(), e));
                    continue;
                }
            };
            let path = entry.path();
            if options.skip_hidden && entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let mut kind = match entry.file_type() {
                Ok(t) => EntryKind::of(t),
                Err(e) => {
                    out.errors.push((path, e));
                    continue;
                }
            };
            let mut meta = None;
            if kind == EntryKind::Symlink {
                if !options.follow_links {
                    out.skipped.push((path, kind.noun()));
                    continue;
                }
                match std::fs::metadata(&path) {
                    Ok(m) => {
                        kind = EntryKind::of(m.file_type());
                        meta = Some(m);
                    }
                    Err(e) => {
                        out.errors.push((path, e));
                        continue;
                    }
                }
            }
            match kind {
                EntryKind::File => out.files.push(path),
                EntryKind::Dir => {
                    if options.skip_tool_dirs && SKIP_DIRS.iter().any(|s| entry.file_name() == *s) {
                        out.skipped.push((path, "tool directory"));
                        continue;
                    }
                    let m = match meta {
                        Some(m) => Ok(m),
                        None => entry.metadata(),
                    };
                    match m.ok().and_then(|m| id(&m)) {
                        Some(i) if !seen.insert(i) => out.skipped.push((path, "link loop")),
                        _ => stack.push(path),
                    }
                }
                EntryKind::Symlink | EntryKind::Special => out.skipped.push((path, kind.noun())),
            }
        }
    }
    out.files.sort();
    out.skipped.sort();
    out
}

/// The files of a user's input directory (data sources, corpora): links
/// followed, each directory once, hidden entries skipped when asked; the
/// first unreadable entry or special file (a FIFO, socket or device, which
/// would block or never end) is an error with its path.
pub fn input_files(
    dir: &Path,
    skip_hidden: bool,
) -> Result<Vec<std::path::PathBuf>, (std::path::PathBuf, io::Error)> {
    let w = walk(
        dir,
        WalkOptions {
            follow_links: true,
            skip_hidden,
            skip_tool_dirs: false,
        },
    );
    if let Some(e) = w.errors.into_iter().next() {
        return Err(e);
    }
    if let Some((path, _)) = w.skipped.into_iter().find(|(_, r)| *r == "special file") {
        return Err((
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a FIFO, socket or device, not a file to read",
            ),
        ));
    }
    Ok(w.files)
}

/// The first bytes of a regular file, read by [`read_regular`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped {
    /// The bytes read: the whole file, or its first `limit` bytes.
    pub bytes: Vec<u8>,
    /// Whether the file holds more than was read.
    pub truncated: bool,
}

/// Reads at most `limit` bytes of the regular file at `path` (see
/// [`open_regular`]). Memory is bounded by `limit` whatever the file claims
/// its size is.
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Capped> {
    let file = open_regular(path)?;
    let size = file.metadata()?.len();
    let mut bytes = Vec::with_capacity(size.min(limit).min(1 << 26) as usize);
    // One byte past the limit tells whether there is more.
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    let truncated = bytes.len() as u64 > limit;
    bytes.truncate(limit.min(bytes.len() as u64) as usize);
    Ok(Capped { bytes, truncated })
}

/// [`read_regular`] as text (invalid UTF-8 replaced), refusing a file larger
/// than `limit` with an error that says so.
pub fn read_regular_text(path: &Path, limit: u64) -> io::Result<String> {
    let c = read_regular(path, limit)?;
    if c.truncated {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes, not read"),
        ));
    }
    Ok(match String::from_utf8(c.bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"0123456789").unwrap();
        let c = read_regular(&p, 4).unwrap();
        assert_eq!((c.bytes.as_slice(), c.truncated), (&b"0123"[..], true));
        let c = read_regular(&p, 10).unwrap();
        assert_eq!(
            (c.bytes.as_slice(), c.truncated),
            (&b"0123456789"[..], false)
        );
        let err = read_regular_text(&p, 3).unwrap_err().to_string();
        assert!(err.contains("larger than 3 bytes"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn walks_end_on_link_loops_and_never_hand_out_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/doc.txt"), b"x").unwrap();
        std::fs::write(root.join(".hidden"), b"x").unwrap();
        std::os::unix::fs::symlink(&root, root.join("a/b/loop")).unwrap();
        std::os::unix::fs::symlink(root.join("a/b/doc.txt"), root.join("alias.txt")).unwrap();
        std::fs::create_dir(root.join("target")).unwrap();
        let fifo = root.join("pipe");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let names = |w: &Walk| -> (Vec<String>, Vec<(String, &'static str)>) {
            let rel = |p: &Path| p.strip_prefix(&root).unwrap().display().to_string();
            (
                w.files.iter().map(|p| rel(p)).collect(),
                w.skipped.iter().map(|(p, r)| (rel(p), *r)).collect(),
            )
        };
        let followed = walk(
            &root,
            WalkOptions {
                follow_links: true,
                skip_hidden: true,
                skip_tool_dirs: false,
            },
        );
        assert_eq!(
            names(&followed),
            (
                vec!["a/b/doc.txt".into(), "alias.txt".into()],
                vec![
                    ("a/b/loop".into(), "link loop"),
                    ("pipe".into(), "special file")
                ]
            )
        );
        let strict = walk(
            &root,
            WalkOptions {
                follow_links: false,
                skip_hidden: false,
                skip_tool_dirs: true,
            },
        );
        assert_eq!(
            names(&strict),
            (
                vec![".hidden".into(), "a/b/doc.txt".into()],
                vec![
                    ("a/b/loop".into(), "symbolic link"),
                    ("alias.txt".into(), "symbolic link"),
                    ("pipe".into(), "special file"),
                    ("target".into(), "tool directory"),
                ]
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn links_devices_and_fifos_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = read_regular(&link, 100).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let err = read_regular(Path::new("/dev/zero"), 100)
            .unwrap_err()
            .to_string();
        assert!(err.contains("special file"), "{err}");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let err = read_regular(&fifo, 100).unwrap_err().to_string();
        assert!(err.contains("special file"), "{err}");
        let err = read_regular(dir.path(), 100).unwrap_err().to_string();
        assert!(err.contains("directory"), "{err}");
    }
}
