//! Stream tags: the 50-tag limit counts keys, so replacing a value is not a new tag.

use shardlog_engine::{AddTagsError, Engine, EngineConfig, TagError};
use shardlog_segment::io::{FileSystem, MemFs};
use std::collections::BTreeMap;
use std::sync::Arc;

fn tags(range: std::ops::Range<usize>, value: &str) -> BTreeMap<String, String> {
    range
        .map(|i| (format!("k{i}"), value.to_string()))
        .collect()
}

/// A stream holding 50 tags takes new values for its keys, and refuses a 51st key.
#[test]
fn replacing_values_at_the_limit_is_allowed_and_a_new_key_is_not() {
    let fs = MemFs::new();
    let engine = Engine::open(fs as Arc<dyn FileSystem>, EngineConfig::new("/data")).unwrap();
    engine
        .create_stream("s", Some(1), tags(0..40, "a"))
        .unwrap();
    engine.add_tags("s", tags(30..50, "b")).unwrap();
    assert_eq!(engine.tags("s").unwrap().len(), 50);
    engine.add_tags("s", tags(0..50, "c")).unwrap();
    let held = engine.tags("s").unwrap();
    assert!(held.values().all(|value| value == "c"), "{held:?}");
    assert!(matches!(
        engine.add_tags("s", tags(49..51, "d")),
        Err(AddTagsError::Tags(TagError::TooManyTags { limit: 50 }))
    ));
    assert_eq!(
        engine.tags("s").unwrap().get("k49").map(String::as_str),
        Some("c")
    );
}
