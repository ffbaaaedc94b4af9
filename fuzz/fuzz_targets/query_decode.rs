//! Query-protocol forms (SNS's dialect): decoding into the model's request,
//! validation, and encoding a response of the same shape never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_server::protocol::query;
use shardlog_server::sns::DIALECT;

fuzz_target!(|data: &[u8]| {
    let form = query::parse_form(data);
    let action = form.get("Action").cloned().unwrap_or_else(|| "Publish".into());
    let request = query::build_request(&DIALECT, &action, &form);
    if let Ok(valid) = query::validate(&DIALECT, &action, &request) {
        let _ = query::encode(&DIALECT, &action, &valid, "r");
    }
    let _ = query::encode_error(&DIALECT, "Sender", "InvalidParameter", &action, "r");
});
