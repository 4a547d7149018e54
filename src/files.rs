//! Files casstop makes that only their owner may read: run directories, profiles, certificates.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Creates `dir` (and, with `parents`, its parents) owner-only; an existing one is left as is.
pub fn create_private_dir(dir: &Path, parents: bool) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(parents)
        .mode(0o700)
        .create(dir)
        .or_else(|err| {
            if err.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() {
                Ok(())
            } else {
                Err(err)
            }
        })
        .with_context(|| format!("creating {}", dir.display()))
}

/// Total size of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_size(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}
