//! Event-stream messages (decoded by aws-smithy-eventstream through shardlog's
//! wrapper): decoding never panics, and a message of string headers that decodes
//! encodes back to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_server::protocol::eventstream::{decode, encode, Decoder};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((message, used))) = decode(data) {
        let strings: Option<Vec<(&str, &str)>> = message
            .headers()
            .iter()
            .map(|header| {
                let value = header.value().as_string().ok()?;
                Some((header.name().as_str(), value.as_str()))
            })
            .collect();
        if let Some(headers) = strings {
            let encoded = encode(&headers, message.payload().clone()).expect("decoded, so encodable");
            assert_eq!(encoded, &data[..used]);
        }
    }
    let mut decoder = Decoder::new();
    for piece in data.chunks(7) {
        decoder.push(piece);
        while let Ok(Some(_)) = decoder.next_message() {}
    }
});
