//! A MANIFEST of arbitrary bytes loads or fails cleanly, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_segment::io::{write_all_at, FileSystem, MemFs, OpenOptions};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let fs = MemFs::new();
    let path = Path::new("/MANIFEST");
    let file = fs.open(path, OpenOptions::CREATE).unwrap();
    write_all_at(file.as_ref(), data, 0).unwrap();
    drop(file);
    let _ = shardlog_engine::manifest::load(fs.as_ref(), path);
});
