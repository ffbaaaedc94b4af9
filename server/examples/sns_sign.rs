//! Signs one SNS message as the server does, for clients' tests of signature
//! verification (tests/clients/test_sns_verify.py).
//!
//! Usage: `sns_sign <key directory> <1|2> < fields.json`, where fields.json is
//! a JSON object of the message's string fields. Prints a JSON object:
//! `message` (the fields plus SignatureVersion and Signature) and
//! `certificate_pem` (what SigningCertURL would serve). The key and
//! certificate in the directory are made on first use, or the PKCS#8 key
//! found there is used.

use serde_json::{Map, Value};
use shardlog_server::{canonical_string, SignatureVersion, Signer};
use std::io::Read;
use std::process::ExitCode;

fn run() -> Result<String, String> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [dir, version] = arguments.as_slice() else {
        return Err("usage: sns_sign <key directory> <1|2> < fields.json".into());
    };
    let version = match version.as_str() {
        "1" => SignatureVersion::V1,
        "2" => SignatureVersion::V2,
        other => return Err(format!("signature version must be 1 or 2, not {other:?}")),
    };
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("reading stdin: {e}"))?;
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(&input) else {
        return Err("stdin must be a JSON object of string fields".into());
    };
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .filter_map(|(name, value)| value.as_str().map(|v| (name.as_str(), v)))
        .collect();
    let signer = Signer::open_or_create(&shardlog_segment::io::RealFs, dir.as_ref())
        .map_err(|e| format!("{dir}: {e}"))?;
    let signature = signer.sign(&canonical_string(&pairs), version)?;
    fields.insert("SignatureVersion".into(), version.as_str().into());
    fields.insert("Signature".into(), signature.into());
    let mut output = Map::new();
    output.insert("message".into(), Value::Object(fields));
    output.insert("certificate_pem".into(), signer.certificate_pem().into());
    Ok(Value::Object(output).to_string())
}

fn main() -> ExitCode {
    match run() {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("sns_sign: {message}");
            ExitCode::FAILURE
        }
    }
}
