//! Atomic file writes: temporary file in the same directory, fsync, rename,
//! directory fsync; and whole directories replaced in one step ([`replace_dir`]).
//!
//! Invariant: a reader of the destination path sees either the complete previous
//! content or the complete new content, never a mix, and a failed write leaves no
//! temporary file behind.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static NEXT_TMP: AtomicU64 = AtomicU64::new(0);

/// A file being written atomically to `dest`.
///
/// Writes go to a hidden temporary file beside `dest`; [`AtomicFile::commit`] makes
/// them visible. Dropping without committing discards them.
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `dest`. The parent directory must exist.
    pub fn create(dest: impl AsRef<Path>) -> Result<Self> {
        let dest = dest.as_ref().to_path_buf();
        let dir = parent_dir(&dest);
        let name = dest
            .file_name()
            .ok_or_else(|| {
                Error::io(
                    "cannot write",
                    &dest,
                    io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"),
                )
            })?
            .to_string_lossy()
            .into_owned();
        let tmp = dir.join(format!(
            ".{name}.tmp.{}.{}",
            std::process::id(),
            NEXT_TMP.fetch_add(1, Ordering::Relaxed)
        ));
        // `create_new`: never through a link or over a file someone put there.
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io("cannot create", &tmp, e))?;
        Ok(Self {
            dest,
            tmp,
            file: Some(BufWriter::new(file)),
        })
    }

    /// The path that [`commit`](Self::commit) will replace.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Flushes, fsyncs, renames over the destination and fsyncs the directory.
    /// On any failure the temporary file is removed and the destination keeps
    /// its previous content.
    pub fn commit(mut self) -> Result<()> {
        let writer = self.file.take().expect("file present until commit or drop");
        let result = (|| {
            let file = writer
                .into_inner()
                .map_err(|e| Error::io("cannot write", &self.tmp, e.into_error()))?;
            file.sync_all()
                .map_err(|e| Error::io("cannot fsync", &self.tmp, e))?;
            drop(file);
            fs::rename(&self.tmp, &self.dest)
                .map_err(|e| Error::io("cannot rename into", &self.dest, e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result?;
        sync_dir(parent_dir(&self.dest));
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Not committed: the destination keeps its previous content.
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `dest` atomically with whatever `fill` writes; an error from `fill`
/// leaves `dest` untouched.
pub fn write_atomic<E>(
    dest: impl AsRef<Path>,
    fill: impl FnOnce(&mut AtomicFile) -> std::result::Result<(), E>,
) -> std::result::Result<(), E>
where
    E: From<Error>,
{
    let mut file = AtomicFile::create(dest)?;
    fill(&mut file)?;
    file.commit()?;
    Ok(())
}

/// Writes `bytes` to `dest` atomically.
pub fn write_bytes_atomic(dest: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let dest = dest.as_ref();
    write_atomic(dest, |f| {
        f.write_all(bytes)
            .map_err(|e| Error::io("cannot write", dest, e))
    })
}

/// Puts the complete directory `new` at `dest`, replacing what is there in
/// one step: readers see the old directory or the new one, never neither and
/// never a mix. On Linux the two are exchanged atomically
/// (`renameat2(RENAME_EXCHANGE)`) and the old one, now at `new`, is removed;
/// elsewhere the old one is first moved aside to a hidden name beside it.
/// `new` and `dest` must be on the same filesystem (siblings, in practice).
pub fn replace_dir(new: &Path, dest: &Path) -> Result<()> {
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::rename(new, dest).map_err(|e| Error::io("cannot rename into", dest, e))?;
            sync_dir(parent_dir(dest));
            return Ok(());
        }
        Err(e) => return Err(Error::io("cannot inspect", dest, e)),
        Ok(_) => {}
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, new, CWD, dest, RenameFlags::EXCHANGE) {
            Ok(()) => {
                sync_dir(parent_dir(dest));
                // `new` now holds the old directory.
                return fs::remove_dir_all(new).map_err(|e| Error::io("cannot remove", new, e));
            }
            // Filesystems without RENAME_EXCHANGE fall through to the two-step way.
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(Error::io("cannot exchange into", dest, e.into())),
        }
    }
    let name = dest
        .file_name()
        .map_or_else(|| "dir".into(), |n| n.to_string_lossy().into_owned());
    let aside = parent_dir(dest).join(format!(".{name}.replaced.{}", std::process::id()));
    fs::rename(dest, &aside).map_err(|e| Error::io("cannot move aside", dest, e))?;
    if let Err(e) = fs::rename(new, dest) {
        // Put the old one back rather than leave nothing at `dest`.
        let _ = fs::rename(&aside, dest);
        return Err(Error::io("cannot rename into", dest, e));
    }
    sync_dir(parent_dir(dest));
    fs::remove_dir_all(&aside).map_err(|e| Error::io("cannot remove", &aside, e))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(dir: &Path) {
    // Directory fsync makes the rename durable; platforms that cannot open a
    // directory for syncing still get the rename's atomicity.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp."))
            .collect()
    }

    #[test]
    fn commit_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        write_bytes_atomic(&path, b"old").unwrap();
        write_bytes_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn failure_before_rename_keeps_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.json");
        write_bytes_atomic(&path, b"{\"complete\": true}").unwrap();

        // The writer fails halfway through, after part of the new content is out.
        let err = write_atomic(&path, |f| {
            f.write_all(b"{\"compl")
                .map_err(|e| Error::io("cannot write", &path, e))?;
            Err(Error::io(
                "cannot write",
                &path,
                io::Error::other("injected failure"),
            ))
        })
        .unwrap_err();

        assert!(std::error::Error::source(&err).unwrap().to_string() == "injected failure");
        assert_eq!(fs::read(&path).unwrap(), b"{\"complete\": true}");
        assert!(
            leftovers(dir.path()).is_empty(),
            "temporary file left behind"
        );
    }

    #[test]
    fn dropped_writer_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("never.txt");
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert!(!path.exists());
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn failed_rename_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory at the destination makes the rename fail
        // after the temporary file was written and synced.
        let dest = dir.path().join("taken");
        fs::create_dir(&dest).unwrap();
        fs::write(dest.join("inside"), b"x").unwrap();
        let err = write_bytes_atomic(&dest, b"new").unwrap_err().to_string();
        assert!(err.contains("cannot rename into"), "{err}");
        assert!(
            leftovers(dir.path()).is_empty(),
            "temporary file left behind: {:?}",
            leftovers(dir.path())
        );
        assert_eq!(fs::read(dest.join("inside")).unwrap(), b"x");
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_at_the_temporary_name_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"keep").unwrap();
        let dest = dir.path().join("report.json");
        let next = NEXT_TMP.load(Ordering::Relaxed);
        // Plant links at the next few temporary names this process will use.
        for k in next..next + 64 {
            let tmp = dir
                .path()
                .join(format!(".report.json.tmp.{}.{k}", std::process::id()));
            std::os::unix::fs::symlink(&outside, tmp).unwrap();
        }
        let _ = write_bytes_atomic(&dest, b"new");
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
    }

    #[test]
    fn replace_dir_swaps_whole_directories() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("step-00000004");
        let new = dir.path().join(".step-00000004.partial");
        fs::create_dir(&new).unwrap();
        fs::write(new.join("state.json"), b"first").unwrap();
        replace_dir(&new, &dest).unwrap();
        assert_eq!(fs::read(dest.join("state.json")).unwrap(), b"first");
        fs::create_dir(&new).unwrap();
        fs::write(new.join("state.json"), b"second").unwrap();
        fs::write(new.join("extra"), b"x").unwrap();
        replace_dir(&new, &dest).unwrap();
        assert_eq!(fs::read(dest.join("state.json")).unwrap(), b"second");
        assert!(dest.join("extra").is_file());
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["step-00000004"]);
    }

    #[test]
    fn missing_parent_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/file.txt");
        let err = write_bytes_atomic(&path, b"x").unwrap_err().to_string();
        assert!(err.contains("no/such/dir"), "{err}");
    }
}
