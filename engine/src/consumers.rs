//! Stream consumers (RegisterStreamConsumer and friends): names registered on a
//! stream, each told apart from earlier registrations of the same name by its
//! registration second (what a consumer ARN carries; the server builds ARNs).

use crate::engine::{now_ms, Engine};
use crate::error::{
    ConsumerLookupError, DeregisterConsumerError, Field, InvalidField, RegisterConsumerError,
    StreamLookupError,
};
use crate::manifest::ConsumerMeta;

/// Most consumers one stream may have (Kinesis's limit).
pub const CONSUMERS_PER_STREAM_MAX: usize = 20;

/// One registration of a consumer: a name deregistered and registered again is
/// another consumer, told apart by its registration second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerId {
    /// The stream it reads.
    pub stream: String,
    /// Its name.
    pub consumer: String,
    /// Registration time, whole seconds since the epoch.
    pub created_s: u64,
}

/// A consumer as DescribeStreamConsumer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerDescription {
    /// Name. (The consumer is active: registration completes before it returns.)
    pub consumer_name: String,
    /// Registration time, ms since the epoch.
    pub creation_ms: u64,
    /// The stream's name.
    pub stream_name: String,
}

impl ConsumerDescription {
    /// The registration this describes.
    pub fn id(&self) -> ConsumerId {
        ConsumerId {
            stream: self.stream_name.clone(),
            consumer: self.consumer_name.clone(),
            created_s: self.creation_ms / 1000,
        }
    }
}

fn check_consumer_name(name: &str) -> Result<(), InvalidField> {
    let valid = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if name.is_empty() || name.len() > 128 || !valid {
        return Err(crate::names::invalid_name(Field::ConsumerName, name));
    }
    Ok(())
}

impl Engine {
    fn describe(&self, stream: &str, consumer: &ConsumerMeta) -> ConsumerDescription {
        ConsumerDescription {
            consumer_name: consumer.name.clone(),
            creation_ms: consumer.created_ms,
            stream_name: stream.to_string(),
        }
    }

    fn consumer_not_found(&self, stream: &str, name: &str) -> ConsumerLookupError {
        ConsumerLookupError::ConsumerNotFound {
            stream: stream.to_string(),
            consumer: name.to_string(),
        }
    }

    /// RegisterStreamConsumer.
    pub fn register_consumer(
        &self,
        stream_name: &str,
        name: &str,
    ) -> Result<ConsumerDescription, RegisterConsumerError> {
        check_consumer_name(name)?;
        let stream = self.stream(stream_name)?;
        let mut state = Engine::write_stream(&stream);
        if state.meta.consumers.contains_key(name) {
            return Err(RegisterConsumerError::ConsumerExists {
                stream: stream_name.to_string(),
                consumer: name.to_string(),
            });
        }
        if state.meta.consumers.len() >= CONSUMERS_PER_STREAM_MAX {
            return Err(RegisterConsumerError::ConsumerLimit {
                stream: stream_name.to_string(),
                limit: CONSUMERS_PER_STREAM_MAX,
            });
        }
        let consumer = ConsumerMeta {
            name: name.to_string(),
            created_ms: now_ms(),
        };
        let mut meta = state.meta.clone();
        meta.consumers.insert(name.to_string(), consumer.clone());
        self.persist(stream_name, Some(meta.clone()))?;
        state.meta = meta;
        Ok(self.describe(stream_name, &consumer))
    }

    /// DescribeStreamConsumer by stream and name.
    pub fn describe_consumer(
        &self,
        stream_name: &str,
        name: &str,
    ) -> Result<ConsumerDescription, ConsumerLookupError> {
        let stream = self.stream(stream_name)?;
        let state = Engine::read_stream(&stream);
        let consumer = state
            .meta
            .consumers
            .get(name)
            .ok_or_else(|| self.consumer_not_found(stream_name, name))?;
        Ok(self.describe(stream_name, consumer))
    }

    /// ListStreamConsumers, in name order.
    pub fn list_consumers(
        &self,
        stream_name: &str,
    ) -> Result<Vec<ConsumerDescription>, StreamLookupError> {
        let stream = self.stream(stream_name)?;
        let state = Engine::read_stream(&stream);
        Ok(state
            .meta
            .consumers
            .values()
            .map(|consumer| self.describe(stream_name, consumer))
            .collect())
    }

    /// DeregisterStreamConsumer.
    pub fn deregister_consumer(
        &self,
        stream_name: &str,
        name: &str,
    ) -> Result<(), DeregisterConsumerError> {
        let stream = self
            .stream(stream_name)
            .map_err(ConsumerLookupError::from)?;
        let mut state = Engine::write_stream(&stream);
        if !state.meta.consumers.contains_key(name) {
            return Err(self.consumer_not_found(stream_name, name).into());
        }
        let mut meta = state.meta.clone();
        meta.consumers.remove(name);
        self.persist(stream_name, Some(meta.clone()))?;
        state.meta = meta;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Register, describe, list and deregister, with the errors and a restart.
    use super::*;
    use crate::EngineConfig;
    use shardlog_segment::io::{FileSystem, MemFs};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// Consumers persist, keep their registration second, and obey the limits.
    #[test]
    fn consumer_lifecycle() {
        let fs = MemFs::new();
        let open =
            || Engine::open(fs.clone() as Arc<dyn FileSystem>, EngineConfig::new("/d")).unwrap();
        let engine = open();
        engine.create_stream("s", Some(1), BTreeMap::new()).unwrap();
        let registered = engine.register_consumer("s", "app-1").unwrap();
        let id = registered.id();
        assert_eq!((id.stream.as_str(), id.consumer.as_str()), ("s", "app-1"));
        assert_eq!(id.created_s, registered.creation_ms / 1000);
        assert!(matches!(
            engine.register_consumer("s", "app-1"),
            Err(RegisterConsumerError::ConsumerExists { .. })
        ));
        assert!(matches!(
            engine.register_consumer("s", "bad name"),
            Err(RegisterConsumerError::InvalidField(InvalidField {
                field: Field::ConsumerName,
                ..
            }))
        ));
        for i in 2..=CONSUMERS_PER_STREAM_MAX {
            engine.register_consumer("s", &format!("app-{i}")).unwrap();
        }
        assert!(matches!(
            engine.register_consumer("s", "one-more"),
            Err(RegisterConsumerError::ConsumerLimit { .. })
        ));
        engine.shutdown().unwrap();
        drop(engine);
        let engine = open();
        assert_eq!(
            engine.list_consumers("s").unwrap().len(),
            CONSUMERS_PER_STREAM_MAX
        );
        assert_eq!(engine.describe_consumer("s", "app-1").unwrap(), registered);
        engine.deregister_consumer("s", "app-1").unwrap();
        assert!(matches!(
            engine.describe_consumer("s", "app-1"),
            Err(ConsumerLookupError::ConsumerNotFound { .. })
        ));
        assert!(matches!(
            engine.deregister_consumer("s", "app-1"),
            Err(DeregisterConsumerError::Lookup(
                ConsumerLookupError::ConsumerNotFound { .. }
            ))
        ));
        engine.shutdown().unwrap();
    }
}
