//! AWS service models as data: botocore's `service-2.json` for each service this
//! server speaks (vendored under `server/models/`, prose stripped), read once at
//! first use. Shapes keep what validation needs: type, members in the model's
//! order, required members, length and value bounds, patterns and enums.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// One service's model.
#[derive(Debug)]
pub struct Model {
    /// `metadata.targetPrefix`, e.g. `Kinesis_20131202`.
    pub target_prefix: String,
    operations: HashMap<String, Operation>,
    shapes: HashMap<String, Shape>,
}

/// One operation: the shapes of its input and output, if it has them.
#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    /// The input structure.
    #[serde(default, deserialize_with = "shape_name")]
    pub input: Option<String>,
    /// The output structure.
    #[serde(default, deserialize_with = "shape_name")]
    pub output: Option<String>,
}

/// A shape's type and what its members are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A structure: members in model order, and which are required.
    Structure {
        /// Member name → shape name, in the model's order.
        members: Vec<(String, String)>,
        /// Required member names.
        required: Vec<String>,
    },
    /// A list of the named shape.
    List(String),
    /// A map from the key shape to the value shape.
    Map(String, String),
    /// Text.
    String,
    /// A 32-bit integer.
    Integer,
    /// A 64-bit integer.
    Long,
    /// A floating-point number.
    Double,
    /// A boolean.
    Boolean,
    /// Binary data.
    Blob,
    /// A point in time.
    Timestamp,
}

/// A shape: its kind and its constraints.
#[derive(Debug)]
pub struct Shape {
    /// The kind.
    pub kind: Kind,
    /// Least length (strings, blobs, lists, maps) or value (numbers).
    pub min: Option<f64>,
    /// Greatest length or value.
    pub max: Option<f64>,
    /// A pattern the whole of a string must match.
    pub pattern: Option<Pattern>,
    /// The values a string may take.
    pub enum_values: Option<Vec<String>>,
}

/// A model pattern (Java regular expression syntax, matched against the whole value).
#[derive(Debug)]
pub struct Pattern {
    /// The pattern as the model writes it (and as AWS quotes it in messages).
    pub source: String,
    regex: fancy_regex::Regex,
}

impl Pattern {
    /// Whether the whole of `text` matches. A pattern too costly to decide
    /// (backtracking limit) counts as a match: the request is not refused for
    /// the server's own limits.
    pub fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text).unwrap_or(true)
    }
}

impl Model {
    /// An operation by name.
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// The model's own spelling of an operation's name: a `'static` name for a
    /// known action (metric labels take only these, never what a client sent).
    pub fn operation_name(&self, name: &str) -> Option<&str> {
        self.operations
            .get_key_value(name)
            .map(|(name, _)| name.as_str())
    }

    /// A shape by name. Every name a model refers to is in it (checked when loaded).
    pub fn shape(&self, name: &str) -> &Shape {
        &self.shapes[name]
    }

    /// Parses a model; an error names what is wrong.
    pub fn parse(json: &str) -> Result<Model, String> {
        let raw: RawModel = serde_json::from_str(json).map_err(|error| error.to_string())?;
        let mut shapes = HashMap::with_capacity(raw.shapes.len());
        for (name, shape) in raw.shapes {
            let parsed = shape
                .into_shape()
                .map_err(|error| format!("{name}: {error}"))?;
            shapes.insert(name, parsed);
        }
        let model = Model {
            target_prefix: raw.metadata.target_prefix.unwrap_or_default(),
            operations: raw.operations,
            shapes,
        };
        model.check_references()?;
        Ok(model)
    }

    fn check_references(&self) -> Result<(), String> {
        let known = |name: &String| {
            self.shapes
                .contains_key(name)
                .then_some(())
                .ok_or_else(|| format!("unknown shape {name}"))
        };
        for operation in self.operations.values() {
            operation.input.iter().try_for_each(known)?;
            operation.output.iter().try_for_each(known)?;
        }
        for shape in self.shapes.values() {
            match &shape.kind {
                Kind::Structure { members, .. } => {
                    members.iter().try_for_each(|(_, shape)| known(shape))?
                }
                Kind::List(member) => known(member)?,
                Kind::Map(key, value) => {
                    known(key)?;
                    known(value)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

const KINESIS_JSON: &str = include_str!("../../models/kinesis-2013-12-02.json");
const FIREHOSE_JSON: &str = include_str!("../../models/firehose-2015-08-04.json");
const SQS_JSON: &str = include_str!("../../models/sqs-2012-11-05.json");
const SNS_JSON: &str = include_str!("../../models/sns-2010-03-31.json");

fn load(json: &str) -> Model {
    // The vendored models are part of the build; a unit test parses each of them.
    Model::parse(json).expect("a vendored service model parses")
}

/// The Kinesis model (`kinesis/2013-12-02`).
pub fn kinesis() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| load(KINESIS_JSON))
}

/// The SQS model (`sqs/2012-11-05`).
pub fn sqs() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| load(SQS_JSON))
}

/// The SNS model (`sns/2010-03-31`).
pub fn sns() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| load(SNS_JSON))
}

/// The Firehose model (`firehose/2015-08-04`).
pub fn firehose() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| load(FIREHOSE_JSON))
}

#[derive(Deserialize)]
struct RawModel {
    metadata: RawMetadata,
    operations: HashMap<String, Operation>,
    shapes: HashMap<String, RawShape>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    target_prefix: Option<String>,
}

#[derive(Deserialize)]
struct ShapeRef {
    shape: String,
}

fn shape_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<ShapeRef>::deserialize(deserializer)?.map(|r| r.shape))
}

#[derive(Deserialize)]
struct RawShape {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    members: Members,
    #[serde(default)]
    required: Vec<String>,
    member: Option<ShapeRef>,
    key: Option<ShapeRef>,
    value: Option<ShapeRef>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
}

impl RawShape {
    fn into_shape(self) -> Result<Shape, String> {
        let reference = |r: Option<ShapeRef>, what: &str| {
            r.map(|r| r.shape)
                .ok_or_else(|| format!("{} without a {what}", self.kind))
        };
        let kind = match self.kind.as_str() {
            "structure" => Kind::Structure {
                members: self.members.0,
                required: self.required,
            },
            "list" => Kind::List(reference(self.member, "member")?),
            "map" => Kind::Map(reference(self.key, "key")?, reference(self.value, "value")?),
            "string" => Kind::String,
            "integer" => Kind::Integer,
            "long" => Kind::Long,
            "double" | "float" => Kind::Double,
            "boolean" => Kind::Boolean,
            "blob" => Kind::Blob,
            "timestamp" => Kind::Timestamp,
            other => return Err(format!("unknown shape type {other}")),
        };
        let pattern = match self.pattern {
            None => None,
            Some(source) => {
                let regex = fancy_regex::Regex::new(&format!("^(?:{})$", java_classes(&source)))
                    .map_err(|error| format!("pattern {source}: {error}"))?;
                Some(Pattern { source, regex })
            }
        };
        Ok(Shape {
            kind,
            min: self.min,
            max: self.max,
            pattern,
            enum_values: self.enum_values,
        })
    }
}

/// Java's `\w`, `\d`, `\s` (and their negations) are ASCII classes unless a
/// pattern asks otherwise; Rust's are Unicode. Spelled out so that both agree
/// (and so that `[\w]{1,255}` stays a small automaton).
fn java_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('W') => out.push_str("[^0-9A-Za-z_]"),
            Some('d') => out.push_str("[0-9]"),
            Some('D') => out.push_str("[^0-9]"),
            Some('s') => out.push_str("[ \\t\\n\\x0B\\f\\r]"),
            Some('S') => out.push_str("[^ \\t\\n\\x0B\\f\\r]"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Structure members in the order the model lists them (a JSON object's order,
/// which a map type would lose).
#[derive(Default)]
struct Members(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedMembers;
        impl<'de> Visitor<'de> for OrderedMembers {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of member name to shape reference")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some((name, reference)) = map.next_entry::<String, ShapeRef>()? {
                    members.push((name, reference.shape));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(OrderedMembers)
    }
}

#[cfg(test)]
mod tests {
    //! The vendored models load, and their shapes say what AWS documents.
    use super::*;

    /// Every vendored model parses, every pattern compiles, every reference resolves.
    #[test]
    fn vendored_models_parse() {
        for json in [
            KINESIS_JSON,
            FIREHOSE_JSON,
            include_str!("../../models/sqs-2012-11-05.json"),
            include_str!("../../models/sns-2010-03-31.json"),
        ] {
            let model = Model::parse(json).unwrap();
            assert!(!model.target_prefix.is_empty() || model.operations.contains_key("Publish"));
        }
        assert_eq!(kinesis().target_prefix, "Kinesis_20131202");
        assert_eq!(firehose().target_prefix, "Firehose_20150804");
        assert_eq!(sqs().target_prefix, "AmazonSQS");
        assert!(sns().operation("Publish").is_some());
    }

    /// Members keep the model's order; constraints come through.
    #[test]
    fn shapes_keep_order_and_constraints() {
        let model = kinesis();
        let input = model
            .operation("PutRecords")
            .unwrap()
            .input
            .clone()
            .unwrap();
        let Kind::Structure { members, required } = &model.shape(&input).kind else {
            panic!("PutRecordsInput is a structure")
        };
        assert_eq!(members[0].0, "Records");
        assert_eq!(members[1].0, "StreamName");
        assert_eq!(required, &["Records"]);
        let name = model.shape("StreamName");
        assert_eq!((name.min, name.max), (Some(1.0), Some(128.0)));
        let pattern = name.pattern.as_ref().unwrap();
        assert!(pattern.matches("a-b_c.d"));
        assert!(!pattern.matches("a;b"));
        assert!(!pattern.matches(""));
        let tag_key = firehose().shape("TagKey").pattern.as_ref().unwrap();
        assert!(tag_key.matches("team name"));
        assert!(!tag_key.matches("aws:reserved"));
        assert!(!tag_key.matches("semi;colon"));
    }
}
