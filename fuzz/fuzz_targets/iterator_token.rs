//! Iterator tokens: arbitrary text never decodes (it is not signed) and never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_engine::token::{IteratorKey, IteratorToken};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let key = IteratorKey::from_bytes([7; 32]);
        assert!(IteratorToken::decode(text, &key, 1_800_000_000_000).is_err());
    }
});
