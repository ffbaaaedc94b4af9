//! From a policy's JSON to its flat form: the list of alternatives (one per
//! `$or` choice), each a list of keys that must all match.

use serde_json::{Map, Value};

use super::condition::{self, Condition};
use super::{FilterScope, PolicyError};

/// The most combinations AWS accepts: the product of each key's value count,
/// with `$or` branches adding up.
pub const COMBINATIONS_MAX: u64 = 150;
/// The most keys AWS accepts in one alternative.
pub const KEYS_MAX: usize = 5;

/// One key of an alternative: its path (one name at attribute scope, the
/// nesting at body scope) and the conditions of which one must hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Leaf {
    pub(crate) path: Vec<String>,
    pub(crate) conditions: Vec<Condition>,
}

/// One alternative: every leaf must match.
pub(crate) type Alternative = Vec<Leaf>;

/// An object of the policy, before flattening.
struct Tree {
    fields: Vec<(String, Rule)>,
    ors: Vec<Vec<Tree>>,
}

enum Rule {
    Conditions(Vec<Condition>),
    Nested(Tree),
}

/// Compiles a parsed policy into its alternatives, enforcing AWS's limits.
pub(crate) fn compile(root: &Value, scope: FilterScope) -> Result<Vec<Alternative>, PolicyError> {
    let Value::Object(object) = root else {
        return Err(PolicyError::NotAnObject);
    };
    let tree = compile_object(object, scope)?;
    let combinations = count(&tree);
    if combinations > COMBINATIONS_MAX {
        return Err(PolicyError::TooComplex { combinations });
    }
    // The count above bounds the number of alternatives, so expanding cannot blow up.
    let alternatives = expand(&tree, &[]);
    if let Some(keys) = alternatives.iter().map(Vec::len).find(|&n| n > KEYS_MAX) {
        return Err(PolicyError::TooManyKeys { keys });
    }
    Ok(alternatives)
}

fn compile_object(object: &Map<String, Value>, scope: FilterScope) -> Result<Tree, PolicyError> {
    let mut tree = Tree {
        fields: Vec::new(),
        ors: Vec::new(),
    };
    for (key, value) in object {
        if key == "$or" {
            if let Some(branches) = or_branches(value) {
                let branches = branches
                    .iter()
                    .map(|branch| compile_object(branch, scope))
                    .collect::<Result<_, _>>()?;
                tree.ors.push(branches);
                continue;
            }
        }
        let rule = match value {
            Value::Array(items) if items.is_empty() => return Err(PolicyError::EmptyArray),
            Value::Array(items) => Rule::Conditions(
                items
                    .iter()
                    .map(condition::parse)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(_) if scope == FilterScope::MessageAttributes => {
                return Err(PolicyError::NestedAtAttributeScope)
            }
            Value::Object(inner) => Rule::Nested(compile_object(inner, scope)?),
            _ => return Err(PolicyError::FieldNotArray { key: key.clone() }),
        };
        tree.fields.push((key.clone(), rule));
    }
    Ok(tree)
}

/// The operators of match expressions: an object keyed by one of them is a
/// condition, not a branch of `$or`.
const OPERATORS: [&str; 7] = [
    "prefix",
    "suffix",
    "equals-ignore-case",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
];

/// AWS reads `$or` as an operator only when it holds an array of at least two
/// non-empty objects none of whose keys is an operator; otherwise it is an
/// ordinary key whose array holds conditions.
fn or_branches(value: &Value) -> Option<Vec<&Map<String, Value>>> {
    let items = value.as_array()?;
    if items.len() < 2 {
        return None;
    }
    items.iter().map(or_branch).collect()
}

fn or_branch(item: &Value) -> Option<&Map<String, Value>> {
    item.as_object().filter(|object| {
        !object.is_empty() && !object.keys().any(|key| OPERATORS.contains(&key.as_str()))
    })
}

/// The number of combinations, saturating (it is only compared with a small limit).
fn count(tree: &Tree) -> u64 {
    let fields = tree.fields.iter().fold(1u64, |product, (_, rule)| {
        product.saturating_mul(match rule {
            Rule::Conditions(conditions) => conditions.len() as u64,
            Rule::Nested(inner) => count(inner),
        })
    });
    tree.ors.iter().fold(fields, |product, branches| {
        let sum = branches
            .iter()
            .fold(0u64, |sum, branch| sum.saturating_add(count(branch)));
        product.saturating_mul(sum)
    })
}

/// The alternatives of a tree whose keys sit under `prefix`.
fn expand(tree: &Tree, prefix: &[String]) -> Vec<Alternative> {
    let mut alternatives: Vec<Alternative> = vec![Vec::new()];
    for (key, rule) in &tree.fields {
        let mut path = prefix.to_vec();
        path.push(key.clone());
        match rule {
            Rule::Conditions(conditions) => {
                let leaf = Leaf {
                    path,
                    conditions: conditions.clone(),
                };
                alternatives.iter_mut().for_each(|a| a.push(leaf.clone()));
            }
            Rule::Nested(inner) => alternatives = cross(&alternatives, &expand(inner, &path)),
        }
    }
    for branches in &tree.ors {
        let choices: Vec<Alternative> = branches
            .iter()
            .flat_map(|branch| expand(branch, prefix))
            .collect();
        alternatives = cross(&alternatives, &choices);
    }
    alternatives
}

fn cross(left: &[Alternative], right: &[Alternative]) -> Vec<Alternative> {
    left.iter()
        .flat_map(|l| {
            right
                .iter()
                .map(move |r| l.iter().chain(r).cloned().collect())
        })
        .collect()
}
