//! One owner per outbox directory: an OS advisory lock on `serve.lock`, held for the owner's
//! life and let go by the OS when the process ends, however it ends.
//!
//! Only the owner (`lorafield serve`) takes it; the `lorafield outbox` commands and readers
//! open the database without it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::OutboxError;

/// The lock file in the outbox directory.
pub const LOCK_FILE: &str = "serve.lock";

/// The lock on an outbox directory; dropping it lets go.
#[derive(Debug)]
pub struct Lock {
    _file: File,
    path: PathBuf,
}

impl Lock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the lock on the outbox in `dir` (creating the directory if need be), or says who
/// holds it: [`OutboxError::InUse`] with the holder's process id as it wrote it.
pub fn lock(dir: &Path) -> Result<Lock, OutboxError> {
    std::fs::create_dir_all(dir).map_err(OutboxError::Io)?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(OutboxError::Io)?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(OutboxError::InUse {
                dir: dir.to_path_buf(),
                holder: holder.trim().parse().ok(),
            });
        }
        Err(fs4::TryLockError::Error(e)) => return Err(OutboxError::Io(e)),
    }
    // Who holds it, for the message another process shows.
    file.set_len(0).map_err(OutboxError::Io)?;
    file.rewind().map_err(OutboxError::Io)?;
    writeln!(file, "{}", std::process::id()).map_err(OutboxError::Io)?;
    Ok(Lock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        assert!(first.path().ends_with(LOCK_FILE));
        let e = lock(dir.path()).unwrap_err();
        match &e {
            OutboxError::InUse { holder, .. } => {
                assert_eq!(*holder, Some(std::process::id()));
            }
            other => panic!("{other}"),
        }
        let text = e.to_string();
        assert!(text.contains("in use by another lorafield serve"), "{text}");
        drop(first);
        lock(dir.path()).unwrap();
    }
}
