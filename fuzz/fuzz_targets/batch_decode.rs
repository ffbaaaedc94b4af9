//! Batch decoding of arbitrary bytes never panics; what verifies iterates fully.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_segment::BatchView;

fuzz_target!(|data: &[u8]| {
    if let Ok(view) = BatchView::parse(data) {
        let header = view.header();
        let count = view.records().count();
        assert_eq!(count, header.record_count as usize);
        for skip in [0, 1, count / 2] {
            assert_eq!(view.records_after(skip).count(), count.saturating_sub(skip));
        }
    }
    let _ = BatchView::parse_checksummed(data).map(|view| view.records().count());
});
