//! Signing of SNS messages as AWS signs them: an RSA key and a self-signed
//! certificate, generated once and kept in the data directory, and AWS's
//! string to sign.
//!
//! AWS signs the canonical string of a message with RSA PKCS#1 v1.5 over SHA1
//! (`SignatureVersion` 1) or SHA256 (2); clients fetch the certificate from
//! `SigningCertURL` and check the signature with its public key.
//!
//! The key is generated, and messages signed, with OpenSSL (ring cannot
//! generate RSA keys, nor sign with SHA1; the pure-Rust `rsa` crate signs six
//! times slower, about 2.3 ms a signature on this project's machine against
//! OpenSSL's 0.4); rcgen signs the certificate with that same key, loaded into
//! ring from its PKCS#8 form.

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sha2::Digest as _;
use shardlog_segment::io::{
    create_dir_all_durably, read_file, write_private_file_atomic, FileSystem,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// RSA key size; AWS's signing certificates use 2048-bit keys.
const KEY_BITS: u32 = 2048;
/// The private key, PKCS#8 PEM.
const KEY_FILE: &str = "sns-signing-key.pem";
/// The certificate, PEM.
const CERTIFICATE_FILE: &str = "sns-signing-cert.pem";
/// The certificate's subject.
const CERTIFICATE_NAME: &str = "shardlog SNS message signing";
/// Signatures kept for reuse: a message fanned out to many subscriptions is
/// signed once, not once per subscription (an RSA-2048 signature costs about
/// 0.4 ms of CPU with OpenSSL on this project's machine). A fan-out step hands
/// over at most 100 messages per subscription, well within this.
const KEPT_SIGNATURES_MAX: usize = 1024;

/// `SignatureVersion` of a message: which digest is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    /// `"1"`: SHA1.
    V1,
    /// `"2"`: SHA256.
    V2,
}

impl SignatureVersion {
    /// The value of the message's `SignatureVersion` field.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureVersion::V1 => "1",
            SignatureVersion::V2 => "2",
        }
    }
}

/// The key and certificate that sign this server's SNS messages.
pub struct Signer {
    key: PKey<Private>,
    certificate_pem: String,
    kept: Mutex<KeptSignatures>,
    /// Told when a signature being computed is done (kept or failed).
    signed: Condvar,
    /// RSA signatures computed (not taken from `kept`).
    computed: AtomicU64,
}

/// The latest signatures, by the SHA-256 of the version and the string signed.
/// PKCS#1 v1.5 signatures are deterministic: a kept one is the one signing the
/// same string again would make.
#[derive(Default)]
struct KeptSignatures {
    by_digest: HashMap<[u8; 32], String>,
    /// Oldest first: the one to forget when full.
    order: VecDeque<[u8; 32]>,
    /// Being computed now, by another thread: a signature of the same string is
    /// waited for rather than computed twice (a publish signs its message while
    /// its append syncs, and the fan-out reads the message before that sync).
    signing: HashSet<[u8; 32]>,
}

impl KeptSignatures {
    fn keep(&mut self, digest: [u8; 32], signature: &str) {
        if self.by_digest.contains_key(&digest) {
            return;
        }
        if self.order.len() >= KEPT_SIGNATURES_MAX {
            if let Some(oldest) = self.order.pop_front() {
                self.by_digest.remove(&oldest);
            }
        }
        self.order.push_back(digest);
        self.by_digest.insert(digest, signature.to_string());
    }
}

impl std::fmt::Debug for Signer {
    // The private key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

fn invalid_data(what: &str, error: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {error}"))
}

impl Signer {
    /// Opens the key and certificate kept in `dir`, creating them the first
    /// time (the directory too), through `fs`. A missing certificate, or one that
    /// is not the key's, is made again from the key; the key is never replaced
    /// once written, and is readable by its owner only.
    pub fn open_or_create(fs: &dyn FileSystem, dir: &Path) -> io::Result<Signer> {
        create_dir_all_durably(fs, dir)?;
        let key_path = dir.join(KEY_FILE);
        let bad_key =
            |e: openssl::error::ErrorStack| invalid_data(&key_path.display().to_string(), e);
        let key = match read_text(fs, &key_path) {
            Ok(pem) => {
                let key = PKey::private_key_from_pem(pem.as_bytes()).map_err(bad_key)?;
                // Not an RSA key: refused here rather than at each signature.
                key.rsa().map_err(bad_key)?;
                key
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let key = Rsa::generate(KEY_BITS)
                    .and_then(PKey::from_rsa)
                    .map_err(io::Error::other)?;
                let pem = key.private_key_to_pem_pkcs8().map_err(io::Error::other)?;
                write_private_file_atomic(fs, &key_path, &pem)?;
                key
            }
            Err(e) => return Err(e),
        };
        let certificate_path = dir.join(CERTIFICATE_FILE);
        let existing = match read_text(fs, &certificate_path) {
            Ok(pem) => Some(pem),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let certificate_pem = match existing {
            Some(pem) if certifies(&pem, &key)? => pem,
            _ => {
                let pem = self_signed_certificate(&key)?;
                write_private_file_atomic(fs, &certificate_path, pem.as_bytes())?;
                pem
            }
        };
        Ok(Signer {
            key,
            certificate_pem,
            kept: Mutex::default(),
            signed: Condvar::new(),
            computed: AtomicU64::new(0),
        })
    }

    /// The certificate, PEM: what `SigningCertURL` serves.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The base64 `Signature` of a message whose canonical string is `canonical`.
    /// A string signed lately is not signed again (see [`KeptSignatures`]).
    pub fn sign(&self, canonical: &[u8], version: SignatureVersion) -> Result<String, String> {
        let digest: [u8; 32] = sha2::Sha256::new()
            .chain_update(version.as_str())
            .chain_update(canonical)
            .finalize()
            .into();
        let mut kept = self.kept();
        loop {
            if let Some(signature) = kept.by_digest.get(&digest) {
                return Ok(signature.clone());
            }
            if !kept.signing.contains(&digest) {
                break;
            }
            kept = self
                .signed
                .wait(kept)
                .unwrap_or_else(|poison| poison.into_inner());
        }
        kept.signing.insert(digest);
        drop(kept);
        // Signed outside the lock: other strings' look-ups do not wait for it.
        let signature = self.compute(canonical, version);
        let mut kept = self.kept();
        kept.signing.remove(&digest);
        if let Ok(signature) = &signature {
            kept.keep(digest, signature);
        }
        drop(kept);
        self.signed.notify_all();
        signature
    }

    /// A new base64 RSA signature of `canonical`; OpenSSL pads an RSA signature
    /// with PKCS#1 v1.5 unless told otherwise.
    fn compute(&self, canonical: &[u8], version: SignatureVersion) -> Result<String, String> {
        let message_digest = match version {
            SignatureVersion::V1 => MessageDigest::sha1(),
            SignatureVersion::V2 => MessageDigest::sha256(),
        };
        let signature = openssl::sign::Signer::new(message_digest, &self.key)
            .and_then(|mut signer| signer.sign_oneshot_to_vec(canonical))
            .map_err(|error| format!("cannot sign an SNS message: {error}"))?;
        self.computed.fetch_add(1, Ordering::Relaxed);
        Ok(base64::engine::general_purpose::STANDARD.encode(signature))
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, KeptSignatures> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// RSA signatures computed so far (those reused not counted).
    #[cfg(test)]
    pub(crate) fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }
}

/// Whether the PEM certificate holds `key`'s public key: the certificate
/// embeds the key's SubjectPublicKeyInfo verbatim.
fn certifies(certificate_pem: &str, key: &PKey<Private>) -> io::Result<bool> {
    let Ok(certificate) = CertificateDer::from_pem_slice(certificate_pem.as_bytes()) else {
        return Ok(false);
    };
    let spki = key.public_key_to_der().map_err(io::Error::other)?;
    Ok(certificate.windows(spki.len()).any(|window| window == spki))
}

fn self_signed_certificate(key: &PKey<Private>) -> io::Result<String> {
    let pkcs8 = key.private_key_to_pkcs8().map_err(io::Error::other)?;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_slice());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256)
        .map_err(io::Error::other)?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, CERTIFICATE_NAME);
    let certificate = params.self_signed(&key_pair).map_err(io::Error::other)?;
    Ok(certificate.pem())
}

/// A PEM file's text.
fn read_text(fs: &dyn FileSystem, path: &Path) -> io::Result<String> {
    String::from_utf8(read_file(fs, path)?)
        .map_err(|e| invalid_data(&path.display().to_string(), e))
}

/// The kind of message, which decides the fields signed and their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageType {
    Notification,
    Confirmation,
}

/// The fields AWS signs for a notification, in AWS's order.
const NOTIFICATION_FIELDS: [&str; 6] = [
    "Message",
    "MessageId",
    "Subject",
    "Timestamp",
    "TopicArn",
    "Type",
];
/// The fields AWS signs for SubscriptionConfirmation and UnsubscribeConfirmation.
const CONFIRMATION_FIELDS: [&str; 7] = [
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
];

/// The server's signer, opened (or made, which takes a while) when the first
/// signed document is needed rather than at start.
pub(crate) struct LazySigner {
    /// The file system the key is read and written through.
    fs: Arc<dyn FileSystem>,
    /// Where the key is kept.
    dir: PathBuf,
    signer: OnceLock<Result<Signer, String>>,
    /// Someone set out to open or make the key ahead of its first use.
    prepared: AtomicBool,
}

impl LazySigner {
    /// The signer whose key is (or will be) kept in `dir` of `fs`.
    pub(crate) fn new(fs: Arc<dyn FileSystem>, dir: PathBuf) -> LazySigner {
        LazySigner {
            fs,
            dir,
            signer: OnceLock::new(),
            prepared: AtomicBool::new(false),
        }
    }

    /// Whether the caller is the first to set out to open or make the key ahead
    /// of its first use (and so should), the key not being ready yet.
    pub(crate) fn claim_preparation(&self) -> bool {
        self.signer.get().is_none() && !self.prepared.swap(true, Ordering::AcqRel)
    }

    /// The signer if its key is open already (`None` while it is being made).
    pub(crate) fn ready(&self) -> Option<&Signer> {
        self.signer.get()?.as_ref().ok()
    }

    /// The signer, opening or making its key on first use.
    pub(crate) fn get(&self) -> Result<&Signer, String> {
        self.signer
            .get_or_init(|| {
                Signer::open_or_create(self.fs.as_ref(), &self.dir).map_err(|error| {
                    format!(
                        "cannot open the SNS signing key in {}: {error}",
                        self.dir.display()
                    )
                })
            })
            .as_ref()
            .map_err(String::clone)
    }
}

/// AWS's string to sign for a message given as (name, value) fields, in any
/// order: `Name\nValue\n` for each signed field that is present, in AWS's
/// order. The `Type` field picks the fields: `SubscriptionConfirmation` and
/// `UnsubscribeConfirmation` sign SubscribeURL and Token, anything else is
/// signed as a `Notification` (with Subject when there is one). Fields AWS
/// does not sign are left out.
pub fn canonical_string(fields: &[(&str, &str)]) -> Vec<u8> {
    let value = |name: &str| fields.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let message_type = match value("Type") {
        Some("SubscriptionConfirmation" | "UnsubscribeConfirmation") => MessageType::Confirmation,
        _ => MessageType::Notification,
    };
    let signed: &[&str] = match message_type {
        MessageType::Notification => &NOTIFICATION_FIELDS,
        MessageType::Confirmation => &CONFIRMATION_FIELDS,
    };
    let mut canonical = Vec::new();
    for name in signed {
        if let Some(field_value) = value(name) {
            for part in [*name, field_value] {
                canonical.extend_from_slice(part.as_bytes());
                canonical.push(b'\n');
            }
        }
    }
    canonical
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept signatures stay within their bound, forgetting the oldest first.
    #[test]
    fn kept_signatures_forget_the_oldest_when_full() {
        let mut kept = KeptSignatures::default();
        let digest = |k: usize| -> [u8; 32] {
            let mut d = [0u8; 32];
            d[..8].copy_from_slice(&(k as u64).to_le_bytes());
            d
        };
        for k in 0..KEPT_SIGNATURES_MAX + 5 {
            kept.keep(digest(k), &k.to_string());
            kept.keep(digest(k), "again");
        }
        assert_eq!(kept.by_digest.len(), KEPT_SIGNATURES_MAX);
        assert_eq!(kept.order.len(), KEPT_SIGNATURES_MAX);
        assert!((0..5).all(|k| !kept.by_digest.contains_key(&digest(k))));
        assert_eq!(kept.by_digest[&digest(5)], "5");
        let last = KEPT_SIGNATURES_MAX + 4;
        assert_eq!(kept.by_digest[&digest(last)], last.to_string());
    }

    /// Threads signing one string at once compute one signature: the others
    /// wait for it (a publish signs its message while the fan-out, which reads
    /// the message before its sync, is about to sign it too); another string is
    /// signed meanwhile.
    #[test]
    fn one_string_signed_at_once_is_computed_once() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::open_or_create(&shardlog_segment::io::RealFs, dir.path()).unwrap();
        let threads = 8;
        let start = std::sync::Barrier::new(threads);
        let signatures: Vec<String> = std::thread::scope(|scope| {
            let signing: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        signer.sign(b"one string", SignatureVersion::V1).unwrap()
                    })
                })
                .collect();
            signing.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(signer.computed(), 1);
        assert!(signatures.iter().all(|s| *s == signatures[0]));
        signer.sign(b"another", SignatureVersion::V1).unwrap();
        assert_eq!(signer.computed(), 2);
    }
}
