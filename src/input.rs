//! Reading files the user or another process handed over — scenarios, profiles, credentials,
//! certificates, and report files read back by `merge`, `compare` and `run --processes` —
//! with the bounds every reader keeps (docs/reliability.md, "Bounds"):
//!
//! - only a regular file is read: a FIFO would block forever and `/dev/zero` never ends, so
//!   both are refused by name (the file is opened non-blocking, then its type checked on the
//!   open descriptor, so nothing can be swapped in between);
//! - report files are never followed through a symbolic link: a report directory's files are
//!   its own, and a link to another shard's file would count that shard twice;
//! - at most `max` bytes are read, and a larger file is refused, not cut.

use std::io::Read;
use std::path::Path;

/// What a scenario, a protocol profile or a credentials file may weigh.
pub const MAX_CONFIG: u64 = 64 << 20;
/// What a PEM file (certificate, key, CA bundle) may weigh.
pub const MAX_PEM: u64 = 16 << 20;
/// What `run.json` may weigh (the resolved scenario and a few figures).
pub const MAX_RUN_JSON: u64 = 64 << 20;
/// What a report's CSV table, `latency.hlog`, `intervals.jsonl` or `accounts.jsonl` may weigh.
pub const MAX_REPORT_FILE: u64 = 4 << 30;

/// Whether a symbolic link at the path itself is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Inputs the user names (a ConfigMap mount is made of links).
    Follow,
    /// A report directory's own files.
    Refuse,
}

/// Why a file was not read. The message says what is wrong, without the path (the callers
/// name it their own way).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("it is a symbolic link; a report's files must be its own")]
    Link,
    #[error("it is not a regular file ({0}); give a file")]
    NotAFile(&'static str),
    #[error("it is {len} bytes, over the {max}-byte bound for such a file")]
    TooBig { len: u64, max: u64 },
    #[error("it grew past the {0}-byte bound for such a file")]
    Grew(u64),
}

/// Open `path` for reading if it is a regular file, without blocking on a FIFO.
fn open_file(path: &Path, links: Links) -> Result<std::fs::File, Refused> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if links == Links::Refuse {
            libc::O_NOFOLLOW
        } else {
            0
        };
        o.custom_flags(libc::O_NONBLOCK | nofollow);
    }
    let f = o.open(path).map_err(|e| {
        if links == Links::Refuse && e.raw_os_error() == Some(libc::ELOOP) {
            Refused::Link
        } else {
            Refused::Io(e)
        }
    })?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(Refused::NotAFile(kind(&meta)));
    }
    Ok(f)
}

/// Open `path` for reading if it is a regular file, without blocking on a FIFO.
pub fn open(path: &Path, links: Links) -> anyhow::Result<std::fs::File> {
    open_file(path, links).map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))
}

fn kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

fn read_bytes(path: &Path, links: Links, max: u64, from: u64) -> Result<Vec<u8>, Refused> {
    use std::io::{Seek, SeekFrom};
    let mut f = open_file(path, links)?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max {
        return Err(Refused::TooBig { len, max });
    }
    f.seek(SeekFrom::Start(from))?;
    let mut out = Vec::new();
    // A file still growing (a shard's intervals) is read to the bound and no further.
    (&mut f)
        .take(max.saturating_sub(from).saturating_add(1))
        .read_to_end(&mut out)?;
    if from + out.len() as u64 > max {
        return Err(Refused::Grew(max));
    }
    Ok(out)
}

/// The whole of a regular file of at most `max` bytes, read from byte `from` on.
pub fn read_from(path: &Path, links: Links, max: u64, from: u64) -> anyhow::Result<Vec<u8>> {
    read_bytes(path, links, max, from).map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))
}

/// The whole of a regular file of at most `max` bytes.
pub fn read(path: &Path, links: Links, max: u64) -> anyhow::Result<Vec<u8>> {
    read_from(path, links, max, 0)
}

/// The whole of a regular UTF-8 text file of at most `max` bytes.
pub fn read_text(path: &Path, links: Links, max: u64) -> anyhow::Result<String> {
    String::from_utf8(read(path, links, max)?)
        .map_err(|e| anyhow::anyhow!("{} is not UTF-8 text: {e}", path.display()))
}

/// [`read`] for callers that name the path themselves: the error says only what is wrong.
pub fn read_io(path: &Path, links: Links, max: u64) -> std::io::Result<Vec<u8>> {
    read_bytes(path, links, max, 0).map_err(|e| match e {
        Refused::Io(e) => e,
        other => std::io::Error::other(other),
    })
}

/// [`read_text`] for callers that name the path themselves.
pub fn read_text_io(path: &Path, links: Links, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_io(path, links, max)?)
        .map_err(|e| std::io::Error::other(format!("not UTF-8 text: {e}")))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "ls-input-{}-{}-{name}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_at_once() {
        let e = read(Path::new("/dev/zero"), Links::Follow, 1 << 20).unwrap_err();
        assert!(format!("{e:#}").contains("character device"), "{e:#}");
        let d = tmp("fifo");
        let fifo = d.join("f");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Refused from its type, before any open: opening a FIFO no one writes to would block
        // here for good rather than return.
        let e = read(&fifo, Links::Follow, 1 << 20).unwrap_err();
        assert!(format!("{e:#}").contains("FIFO"), "{e:#}");
        let e = read(&d, Links::Follow, 1 << 20).unwrap_err();
        assert!(format!("{e:#}").contains("directory"), "{e:#}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn report_files_are_not_followed_through_links_and_sizes_are_bounded() {
        let d = tmp("links");
        std::fs::write(d.join("real"), b"0123456789").unwrap();
        std::os::unix::fs::symlink(d.join("real"), d.join("link")).unwrap();
        assert_eq!(read(&d.join("link"), Links::Follow, 100).unwrap().len(), 10);
        let e = read(&d.join("link"), Links::Refuse, 100).unwrap_err();
        assert!(format!("{e:#}").contains("symbolic link"), "{e:#}");
        let e = read(&d.join("real"), Links::Refuse, 9).unwrap_err();
        assert!(format!("{e:#}").contains("9-byte bound"), "{e:#}");
        assert_eq!(read(&d.join("real"), Links::Refuse, 10).unwrap().len(), 10);
        assert_eq!(
            read_from(&d.join("real"), Links::Refuse, 10, 4).unwrap(),
            b"456789"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
