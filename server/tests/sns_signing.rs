//! SNS message signing: signatures verify with the certificate's public key
//! (SHA256 through webpki and ring, SHA1 through the rsa crate), tampering is
//! caught, the key survives reopening, and the string to sign follows AWS's order.

use base64::Engine;
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use shardlog_segment::io::RealFs;
use shardlog_server::{canonical_string, SignatureVersion, Signer};
use std::path::PathBuf;
use std::sync::OnceLock;

/// One key for the whole binary: generating a 2048-bit key takes seconds in a debug build.
fn shared() -> &'static (tempfile::TempDir, Signer) {
    static SHARED: OnceLock<(tempfile::TempDir, Signer)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let signer = Signer::open_or_create(&RealFs, dir.path()).expect("signer created");
        (dir, signer)
    })
}

/// A copy of the shared key's directory, for tests that change files.
fn copied_directory() -> (tempfile::TempDir, PathBuf) {
    let copy = tempfile::tempdir().expect("temporary directory");
    for entry in std::fs::read_dir(shared().0.path()).expect("key directory") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, copy.path().join(path.file_name().expect("name"))).expect("copy");
    }
    let path = copy.path().to_path_buf();
    (copy, path)
}

fn certificate_der(signer: &Signer) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(signer.certificate_pem().as_bytes()).expect("certificate PEM")
}

fn decoded(signature: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(signature)
        .expect("base64 signature")
}

/// Verifies as a client would: the public key comes from the certificate.
fn verifies(signer: &Signer, message: &[u8], signature: &str, version: SignatureVersion) -> bool {
    let signature = decoded(signature);
    let der = certificate_der(signer);
    let certificate = webpki::EndEntityCert::try_from(&der).expect("certificate parses");
    match version {
        SignatureVersion::V2 => certificate
            .verify_signature(
                webpki::ring::RSA_PKCS1_2048_8192_SHA256,
                message,
                &signature,
            )
            .is_ok(),
        SignatureVersion::V1 => {
            let spki = certificate.subject_public_key_info();
            let public_key =
                rsa::RsaPublicKey::from_public_key_der(spki.as_ref()).expect("RSA key");
            let verifier = rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(public_key);
            let signature = rsa::pkcs1v15::Signature::try_from(signature.as_slice());
            signature.is_ok_and(|s| verifier.verify(message, &s).is_ok())
        }
    }
}

fn notification() -> Vec<u8> {
    canonical_string(&[
        ("Type", "Notification"),
        ("MessageId", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"),
        ("TopicArn", "arn:aws:sns:us-east-1:000000000000:orders"),
        ("Message", "hello"),
        ("Timestamp", "2026-12-06T03:00:00.000Z"),
    ])
}

/// Version 1 (SHA1) and version 2 (SHA256) signatures verify with the certificate's key.
#[test]
fn signatures_verify_with_the_certificate() {
    let signer = &shared().1;
    let message = notification();
    for version in [SignatureVersion::V1, SignatureVersion::V2] {
        let signature = signer.sign(&message, version).unwrap();
        assert!(
            verifies(signer, &message, &signature, version),
            "{version:?}"
        );
    }
    let v1 = signer.sign(&message, SignatureVersion::V1).unwrap();
    assert!(
        !verifies(signer, &message, &v1, SignatureVersion::V2),
        "digests differ"
    );
}

/// A changed message, or a changed signature, no longer verifies.
#[test]
fn tampering_is_detected() {
    let signer = &shared().1;
    let message = notification();
    for version in [SignatureVersion::V1, SignatureVersion::V2] {
        let signature = signer.sign(&message, version).unwrap();
        let mut tampered = message.clone();
        tampered[8] ^= 1;
        assert!(
            !verifies(signer, &tampered, &signature, version),
            "{version:?}"
        );
        let mut bytes = decoded(&signature);
        bytes[0] ^= 1;
        let forged = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert!(!verifies(signer, &message, &forged, version), "{version:?}");
    }
}

/// Reopening the directory gives the same key and certificate (PKCS#1 v1.5 is deterministic).
#[test]
fn key_and_certificate_survive_reopening() {
    let (_guard, dir) = copied_directory();
    let first = &shared().1;
    let reopened = Signer::open_or_create(&RealFs, &dir).expect("reopen");
    assert_eq!(reopened.certificate_pem(), first.certificate_pem());
    let message = notification();
    assert_eq!(
        reopened.sign(&message, SignatureVersion::V2).unwrap(),
        first.sign(&message, SignatureVersion::V2).unwrap()
    );
}

/// A lost or foreign certificate is made again from the kept key, so old signatures still verify.
#[test]
fn certificate_is_remade_from_the_key() {
    let (_guard, dir) = copied_directory();
    let message = notification();
    let signature = shared().1.sign(&message, SignatureVersion::V1).unwrap();
    let certificate = std::fs::read_dir(&dir)
        .expect("directory")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with("cert.pem"))
        .expect("a certificate file");
    std::fs::remove_file(&certificate).expect("remove certificate");
    let remade = Signer::open_or_create(&RealFs, &dir).expect("reopen without certificate");
    assert!(certificate.exists());
    assert!(verifies(
        &remade,
        &message,
        &signature,
        SignatureVersion::V1
    ));

    std::fs::write(
        &certificate,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .expect("overwrite certificate");
    let repaired = Signer::open_or_create(&RealFs, &dir).expect("reopen with a bad certificate");
    assert!(verifies(
        &repaired,
        &message,
        &signature,
        SignatureVersion::V1
    ));
}

/// A corrupt key file is an error, not a panic and not a silently new key.
#[test]
fn corrupt_key_is_an_error() {
    let (_guard, dir) = copied_directory();
    let key = std::fs::read_dir(&dir)
        .expect("directory")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with("key.pem"))
        .expect("a key file");
    std::fs::write(&key, "not a key").expect("overwrite key");
    let error = Signer::open_or_create(&RealFs, &dir).expect_err("a corrupt key must be refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        std::fs::read_to_string(&key).expect("key kept"),
        "not a key"
    );
}

/// A notification signs Message, MessageId, Subject, Timestamp, TopicArn, Type in that order.
#[test]
fn notification_string_to_sign() {
    let fields = [
        ("Type", "Notification"),
        ("Signature", "ignored"),
        ("TopicArn", "arn"),
        ("Subject", "subject"),
        ("Timestamp", "time"),
        ("MessageId", "id"),
        ("Message", "body\nwith lines"),
        ("UnsubscribeURL", "ignored"),
    ];
    let expected = "Message\nbody\nwith lines\nMessageId\nid\nSubject\nsubject\nTimestamp\ntime\nTopicArn\narn\nType\nNotification\n";
    assert_eq!(
        String::from_utf8(canonical_string(&fields)).expect("utf-8"),
        expected
    );

    let without_subject: Vec<_> = fields
        .iter()
        .copied()
        .filter(|(n, _)| *n != "Subject")
        .collect();
    let expected = "Message\nbody\nwith lines\nMessageId\nid\nTimestamp\ntime\nTopicArn\narn\nType\nNotification\n";
    assert_eq!(
        String::from_utf8(canonical_string(&without_subject)).expect("utf-8"),
        expected
    );
}

/// Subscription and unsubscribe confirmations sign SubscribeURL and Token, in AWS's order.
#[test]
fn confirmation_string_to_sign() {
    for message_type in ["SubscriptionConfirmation", "UnsubscribeConfirmation"] {
        let fields = [
            ("Token", "tok"),
            ("Type", message_type),
            ("SubscribeURL", "url"),
            ("TopicArn", "arn"),
            ("Timestamp", "time"),
            ("MessageId", "id"),
            ("Message", "confirm"),
            ("Subject", "not signed here"),
        ];
        let expected = format!(
            "Message\nconfirm\nMessageId\nid\nSubscribeURL\nurl\nTimestamp\ntime\nToken\ntok\nTopicArn\narn\nType\n{message_type}\n"
        );
        assert_eq!(
            String::from_utf8(canonical_string(&fields)).expect("utf-8"),
            expected
        );
    }
}

/// The private key is written readable by its owner only, and no temporary file
/// is left beside it.
#[test]
fn key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = shared().0.path();
    let names: Vec<String> = std::fs::read_dir(dir)
        .expect("key directory")
        .map(|entry| entry.expect("entry").file_name().into_string().unwrap())
        .collect();
    assert!(
        !names.iter().any(|name| name.ends_with(".tmp")),
        "{names:?}"
    );
    let key = names
        .iter()
        .find(|name| name.contains("key"))
        .expect("a key file");
    let mode = std::fs::metadata(dir.join(key))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}

/// A key written before signing moved to OpenSSL (PKCS#8 PEM from the rsa
/// crate, as older data directories hold) is read and signs verifiably.
#[test]
fn a_key_written_by_the_rsa_crate_still_signs() {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let dir = tempfile::tempdir().expect("temporary directory");
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("key");
    let pem = key.to_pkcs8_pem(LineEnding::LF).expect("PEM");
    std::fs::write(dir.path().join("sns-signing-key.pem"), pem.as_bytes()).expect("write key");
    let signer = Signer::open_or_create(&RealFs, dir.path()).expect("signer from the old key");
    let message = notification();
    for version in [SignatureVersion::V1, SignatureVersion::V2] {
        let signature = signer.sign(&message, version).expect("signed");
        assert!(
            verifies(&signer, &message, &signature, version),
            "{version:?}"
        );
    }
    let spki = rsa::pkcs8::EncodePublicKey::to_public_key_der(&key.to_public_key()).expect("SPKI");
    let certificate = certificate_der(&signer);
    assert!(certificate
        .windows(spki.as_bytes().len())
        .any(|window| window == spki.as_bytes()));
}

/// A key file that is not an RSA private key is refused with its path named.
#[test]
fn a_key_that_is_not_rsa_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("sns-signing-key.pem");
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key");
    std::fs::write(&path, ec.serialize_pem()).expect("write key");
    let error = Signer::open_or_create(&RealFs, dir.path()).expect_err("an EC key is refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(error.to_string().contains("sns-signing-key.pem"), "{error}");
    std::fs::write(&path, "not a key").expect("write key");
    let error = Signer::open_or_create(&RealFs, dir.path()).expect_err("garbage is refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
}
