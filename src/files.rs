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
