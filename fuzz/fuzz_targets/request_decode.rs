//! JSON and CBOR request bodies: decoding, validation against the model (which
//! reads timestamps and blobs once) and encoding what validation returns never
//! panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_server::protocol::model;
use shardlog_server::protocol::validate;
use shardlog_server::protocol::value::Format;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Json, Format::Cbor] {
        if let Ok(value) = format.decode(data) {
            let _ = format.encode(&value);
        }
        for action in ["PutRecords", "GetShardIterator", "ListShards"] {
            if let Ok(validated) = validate::request(model::kinesis(), action, format, data) {
                let _ = format.encode(&validated);
            }
        }
    }
});
