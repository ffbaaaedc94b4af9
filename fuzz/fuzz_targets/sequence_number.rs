//! Sequence-number parsing never panics; what parses formats back to the same text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_engine::seqno::SequenceNumber;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(number) = SequenceNumber::parse(text) {
            assert_eq!(number.to_decimal(), text);
        }
    }
});
