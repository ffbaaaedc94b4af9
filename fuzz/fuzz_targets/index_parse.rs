//! Index files of arbitrary bytes parse without panicking, and lookups stay in bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_index::{IndexKind, IndexView};

fuzz_target!(|data: &[u8]| {
    for kind in [IndexKind::Position, IndexKind::Timestamp] {
        if let Ok(view) = IndexView::parse(data, kind, 0) {
            for probe in [0, 1, u64::MAX / 2, u64::MAX] {
                let _ = view.floor(probe);
                let _ = view.below(probe);
            }
            let _ = view.iter().count();
        }
    }
});
