//! Event-stream messages: decoding never panics, and a message of string headers
//! that decodes encodes back to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_server::protocol::eventstream::{decode, encode, Decoder, HeaderValue};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((message, used))) = decode(data) {
        let strings: Option<Vec<(&str, &str)>> = message
            .headers
            .iter()
            .map(|(name, value)| match value {
                HeaderValue::String(text) => Some((name.as_str(), text.as_str())),
                _ => None,
            })
            .collect();
        if let Some(headers) = strings {
            assert_eq!(encode(&headers, &message.payload), &data[..used]);
        }
    }
    let mut decoder = Decoder::new();
    for piece in data.chunks(7) {
        decoder.push(piece);
        while let Ok(Some(_)) = decoder.next_message() {}
    }
});
