//! JSON and CBOR request bodies: decoding, validation against the model (which
//! reads timestamps and blobs once) and field access never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_server::protocol::model;
use shardlog_server::protocol::validate;
use shardlog_server::protocol::value::{Fields, Format};

fuzz_target!(|data: &[u8]| {
    for format in [Format::Json, Format::Cbor] {
        if let Ok(value) = format.decode(data) {
            if let Ok(fields) = Fields::new(&value, format) {
                let _ = fields.str("StreamName");
                let _ = fields.required_blob("Data");
                let _ = fields.int("Limit");
                let _ = fields.list("Records");
                let _ = fields.string_map("Tags");
                let _ = fields.structure("ShardFilter");
            }
            let _ = format.encode(&value);
        }
        for action in ["PutRecords", "GetShardIterator", "ListShards"] {
            let _ = validate::request(model::kinesis(), action, format, data);
        }
    }
});
