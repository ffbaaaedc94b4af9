//! Destinations: where objects are written. The embedded default is a local
//! directory, `<data-dir>/buckets/<bucket>/<key>`; a bucket may instead be mapped
//! to an S3-compatible object store.

use crate::error::{Error, Result};
use crate::files::{create_dirs_durably, write_atomic};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Writes objects. `put` returns only once the object is durable there (a later
/// crash of this process cannot lose it); putting the same key again replaces it.
pub trait Destination: Send + Sync + Debug {
    /// Writes `body` at `key` of `bucket`.
    fn put(&self, bucket: &str, key: &str, body: &[u8]) -> Result<()>;
    /// Whether an object is at `key` of `bucket` (a redelivery leaves in place an
    /// object its interrupted flush wrote).
    fn exists(&self, bucket: &str, key: &str) -> Result<bool>;
}

/// Objects as files under a root directory: `<root>/<bucket>/<key>`.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// Objects under `root` (created when needed).
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    /// Where an object lives.
    pub fn path_of(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }
}

/// Keys come from validated prefixes and generated names; refuses anything that
/// could leave the bucket's directory anyway.
fn check_relative(key: &str) -> Result<()> {
    if key.is_empty() || key.starts_with('/') || key.split('/').any(|p| p == ".." || p.is_empty()) {
        return Err(Error::InvalidArgument(format!(
            "object key '{key}' is not a relative path"
        )));
    }
    Ok(())
}

impl Destination for LocalDir {
    fn put(&self, bucket: &str, key: &str, body: &[u8]) -> Result<()> {
        check_relative(key)?;
        let path = self.path_of(bucket, key);
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&self.root)
            .map_err(crate::error::io_err("create directory", &self.root))?;
        create_dirs_durably(&self.root, &parent)?;
        write_atomic(&path, body)
    }

    fn exists(&self, bucket: &str, key: &str) -> Result<bool> {
        check_relative(key)?;
        let path = self.path_of(bucket, key);
        path.try_exists()
            .map_err(crate::error::io_err("look for", &path))
    }
}

/// Picks the destination of each bucket: a configured store, else the local
/// directory.
#[derive(Debug, Clone)]
pub struct Destinations {
    local: Arc<dyn Destination>,
    buckets: BTreeMap<String, Arc<dyn Destination>>,
}

impl Destinations {
    /// Every bucket in the local directory `root`.
    pub fn local(root: &Path) -> Destinations {
        Destinations {
            local: Arc::new(LocalDir::new(root)),
            buckets: BTreeMap::new(),
        }
    }

    /// Every bucket in `default`, with no bucket mapped elsewhere.
    pub fn with_default(default: Arc<dyn Destination>) -> Destinations {
        Destinations {
            local: default,
            buckets: BTreeMap::new(),
        }
    }

    /// Sends `bucket` to `destination` instead of the default.
    pub fn map_bucket(&mut self, bucket: impl Into<String>, destination: Arc<dyn Destination>) {
        self.buckets.insert(bucket.into(), destination);
    }

    /// The destination of `bucket`.
    pub fn for_bucket(&self, bucket: &str) -> &Arc<dyn Destination> {
        self.buckets.get(bucket).unwrap_or(&self.local)
    }
}

#[cfg(test)]
mod tests {
    //! The local directory destination.
    use super::*;

    /// Objects land at `<root>/<bucket>/<key>`; escaping keys are refused.
    #[test]
    fn local_objects_land_under_the_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let destinations = Destinations::local(&dir.path().join("buckets"));
        let local = destinations.for_bucket("logs");
        local.put("logs", "p/2024/01/01/00/x-1", b"data").unwrap();
        let path = dir.path().join("buckets/logs/p/2024/01/01/00/x-1");
        assert_eq!(std::fs::read(path).unwrap(), b"data");
        assert!(local.exists("logs", "p/2024/01/01/00/x-1").unwrap());
        assert!(!local.exists("logs", "p/2024/01/01/00/x-2").unwrap());
        assert!(!local.exists("other", "p/2024/01/01/00/x-1").unwrap());
        assert!(matches!(
            local.put("logs", "../escape", b"x"),
            Err(Error::InvalidArgument(_))
        ));
    }
}
