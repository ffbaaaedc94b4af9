//! S3-compatible object stores as destinations (the `object_store` crate), one
//! per configured bucket; buckets not configured go to the local directory.
//!
//! Configuration (TOML, e.g. the file given to `shardlog serve --firehose-buckets`):
//!
//! ```toml
//! [buckets.my-bucket]              # the bucket named in BucketARN
//! endpoint = "http://127.0.0.1:9000"   # omit for AWS S3
//! region = "us-east-1"
//! access_key_id = "..."
//! secret_access_key = "..."
//! allow_http = true                # default false
//! remote_bucket = "other-name"     # default: the same name
//! ```

use crate::dest::{Destination, Destinations};
use crate::error::{Error, Result};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload, RetryConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long one put (or existence check) may take, including the store client's own retries.
pub const PUT_TIMEOUT_MS: u64 = 60_000;

/// One bucket's store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3BucketConfig {
    /// The store's URL; `None` is AWS S3 of the region.
    pub endpoint: Option<String>,
    /// The region. Default `us-east-1`.
    #[serde(default = "default_region")]
    pub region: String,
    /// Access key id (else none: unsigned requests).
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Whether plain `http://` endpoints are allowed. Default false.
    #[serde(default)]
    pub allow_http: bool,
    /// The bucket's name in the store, when it differs from the BucketARN's.
    pub remote_bucket: Option<String>,
}

fn default_region() -> String {
    "us-east-1".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketsFile {
    #[serde(default)]
    buckets: BTreeMap<String, S3BucketConfig>,
}

/// Parses a buckets TOML file (see the module docs).
pub fn parse_buckets(text: &str) -> Result<BTreeMap<String, S3BucketConfig>> {
    let file: BucketsFile = toml::from_str(text)
        .map_err(|error| Error::InvalidArgument(format!("buckets config: {error}")))?;
    for name in file.buckets.keys() {
        crate::config::validate_bucket(name)?;
    }
    Ok(file.buckets)
}

/// Maps every bucket of `buckets` to its store in `destinations`.
pub fn add_buckets(
    destinations: &mut Destinations,
    buckets: &BTreeMap<String, S3BucketConfig>,
) -> Result<()> {
    for (name, config) in buckets {
        let store = S3Store::new(name, config)?;
        destinations.map_bucket(name.clone(), std::sync::Arc::new(store));
    }
    Ok(())
}

/// An S3-compatible bucket. Puts run on a small private runtime: delivery loops
/// are plain threads.
#[derive(Debug)]
pub struct S3Store {
    store: AmazonS3,
    runtime: tokio::runtime::Runtime,
}

impl S3Store {
    /// A client for bucket `name` as configured.
    pub fn new(name: &str, config: &S3BucketConfig) -> Result<S3Store> {
        let retry = RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(10),
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(config.remote_bucket.as_deref().unwrap_or(name))
            .with_region(&config.region)
            .with_allow_http(config.allow_http)
            .with_retry(retry);
        if let Some(endpoint) = &config.endpoint {
            // S3-compatible servers are addressed by path, not by virtual host.
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        match (&config.access_key_id, &config.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
            }
            (None, None) => builder = builder.with_skip_signature(true),
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "bucket {name}: give both access_key_id and secret_access_key, or neither"
                )))
            }
        }
        let store = builder
            .build()
            .map_err(|error| Error::InvalidArgument(format!("bucket {name}: {error}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("firehose-s3")
            .enable_all()
            .build()
            .map_err(crate::error::io_err("start runtime for bucket", name))?;
        Ok(S3Store { store, runtime })
    }
}

impl S3Store {
    /// Runs one request to `key`, bounded by [`PUT_TIMEOUT_MS`]; `Ok(None)` when
    /// the store answers that the object is not there.
    fn call<T>(
        &self,
        bucket: &str,
        key: &str,
        request: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> Result<Option<T>> {
        let timeout = Duration::from_millis(PUT_TIMEOUT_MS);
        match self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, request).await })
        {
            Ok(Ok(value)) => Ok(Some(value)),
            Ok(Err(object_store::Error::NotFound { .. })) => Ok(None),
            Ok(Err(error)) => Err(Error::Destination(format!("s3://{bucket}/{key}: {error}"))),
            Err(_) => Err(Error::Destination(format!(
                "s3://{bucket}/{key}: no answer within {PUT_TIMEOUT_MS} ms"
            ))),
        }
    }
}

fn store_path(key: &str) -> Result<StorePath> {
    StorePath::parse(key)
        .map_err(|error| Error::InvalidArgument(format!("object key '{key}': {error}")))
}

impl Destination for S3Store {
    fn put(&self, bucket: &str, key: &str, body: &[u8]) -> Result<()> {
        let path = store_path(key)?;
        let payload = PutPayload::from(body.to_vec());
        match self.call(bucket, key, self.store.put(&path, payload))? {
            Some(_) => Ok(()),
            None => Err(Error::Destination(format!(
                "s3://{bucket}/{key}: the bucket is not there"
            ))),
        }
    }

    fn exists(&self, bucket: &str, key: &str) -> Result<bool> {
        let path = store_path(key)?;
        Ok(self.call(bucket, key, self.store.head(&path))?.is_some())
    }
}

#[cfg(test)]
mod tests {
    //! Bucket configuration.
    use super::*;

    /// A buckets file parses; unknown keys and half credentials are refused.
    #[test]
    fn buckets_file() {
        let buckets = parse_buckets(
            "[buckets.logs]\nendpoint = \"http://127.0.0.1:9\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"\nallow_http = true\n",
        )
        .unwrap();
        let logs = &buckets["logs"];
        assert_eq!(logs.region, "us-east-1");
        assert!(logs.allow_http);
        assert!(parse_buckets("[buckets.logs]\nendpoint_typo = \"x\"\n").is_err());
        let mut half = logs.clone();
        half.secret_access_key = None;
        assert!(matches!(
            S3Store::new("logs", &half),
            Err(Error::InvalidArgument(_))
        ));
        let mut destinations = Destinations::local(std::path::Path::new("/nonexistent"));
        add_buckets(&mut destinations, &buckets).unwrap();
        assert!(format!("{:?}", destinations.for_bucket("logs")).contains("S3Store"));
    }
}
