//! JSON ⇄ the Smithy `Document` that Converse uses for a tool's input schema and for the input of
//! a tool call.
//!
//! The SDK does not re-export `aws_smithy_types::Document` and `shared` does not depend on
//! `aws-smithy-types`, so the type cannot be named here. Both directions are therefore generic over
//! the document type and take it from the call site: JSON → document through the `From` impls the
//! document has, document → JSON through a [`Node`] view built where the type is known
//! ([`super::answer`]). With `aws-smithy-types` as a direct dependency this would be two `match`es.

use std::collections::HashMap;

use serde_json::Value;

/// A JSON value as a document. `D::default()` is the null document (`Document::Null`).
pub(super) fn json_to_document<D>(value: &Value) -> D
where
    D: Default
        + From<bool>
        + From<String>
        + From<u64>
        + From<i64>
        + From<f64>
        + From<Vec<D>>
        + From<HashMap<String, D>>,
{
    match value {
        Value::Null => D::default(),
        Value::Bool(b) => D::from(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                D::from(u)
            } else if let Some(i) = n.as_i64() {
                D::from(i)
            } else {
                // Without serde_json's `arbitrary_precision` every number is an f64 at worst.
                n.as_f64().map_or_else(D::default, D::from)
            }
        }
        Value::String(s) => D::from(s.clone()),
        Value::Array(items) => D::from(items.iter().map(json_to_document).collect::<Vec<D>>()),
        Value::Object(map) => D::from(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_document(v)))
                .collect::<HashMap<String, D>>(),
        ),
    }
}

/// One document node as the converter needs to see it, borrowed from the document.
pub(super) enum Node<'a, D> {
    Null,
    Bool(bool),
    Number(Num),
    String(&'a str),
    Array(&'a [D]),
    Object(&'a HashMap<String, D>),
}

/// A document number. The SDK keeps `PosInt`, `NegInt` and `Float` apart, but its lossless
/// conversions are all that can be reached without naming its type, so a float with an integral
/// value in range arrives as an integer: the same JSON number (RFC 8259 has one number type).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    PosInt(u64),
    NegInt(i64),
    Float(f64),
}

/// A document that JSON cannot represent: the only case is a NaN or infinite float.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("the document holds a non-finite number ({0})")]
pub(super) struct NonFiniteNumber(pub(super) f64);

/// A document as a JSON value, reading each node through `node`. Never panics; the SDK's parser
/// caps documents at 256 levels, so the recursion is bounded.
pub(super) fn document_to_json<D>(
    doc: &D,
    node: &impl Fn(&D) -> Node<'_, D>,
) -> Result<Value, NonFiniteNumber> {
    Ok(match node(doc) {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Number(Num::PosInt(u)) => Value::from(u),
        Node::Number(Num::NegInt(i)) => Value::from(i),
        Node::Number(Num::Float(f)) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or(NonFiniteNumber(f))?,
        Node::String(s) => Value::String(s.to_owned()),
        Node::Array(items) => Value::Array(
            items
                .iter()
                .map(|d| document_to_json(d, node))
                .collect::<Result<_, _>>()?,
        ),
        Node::Object(map) => Value::Object(
            map.iter()
                .map(|(k, d)| Ok((k.clone(), document_to_json(d, node)?)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_bedrockruntime::types::ToolUseBlock;
    use aws_sdk_bedrockruntime::types::builders::ToolUseBlockBuilder;
    use serde_json::json;

    use super::*;
    use crate::provider::bedrock::answer::tool_input_to_json;

    /// The JSON of a tool call whose input `with_input` sets: the document type is only reachable
    /// through the SDK's builders.
    fn read(
        with_input: impl FnOnce(ToolUseBlockBuilder) -> ToolUseBlockBuilder,
    ) -> Result<Value, NonFiniteNumber> {
        let block = with_input(ToolUseBlock::builder().tool_use_id("t1").name("n"))
            .build()
            .expect("tool use block");
        tool_input_to_json(&block)
    }

    fn round_trip(value: &Value) -> Result<Value, NonFiniteNumber> {
        read(|b| b.input(json_to_document(value)))
    }

    /// A document array (its type comes from where it is used).
    fn array<D: From<Vec<D>>>(items: Vec<D>) -> D {
        D::from(items)
    }

    /// A document object with one member.
    fn object<D: From<HashMap<String, D>>>(key: &str, value: D) -> D {
        D::from(HashMap::from([(key.to_owned(), value)]))
    }

    #[test]
    fn nested_json_with_every_kind_of_value_survives_the_round_trip() {
        let value = json!({
            "string": "naïve \"quoted\" \u{1F600}",
            "true": true,
            "false": false,
            "null": null,
            "max_u64": u64::MAX,
            "min_i64": i64::MIN,
            "fraction": -0.125,
            "tiny": 5e-324,
            "nested": {"array": [1, [2, [3, {"deep": []}]], {}], "empty": {}},
        });
        assert_eq!(round_trip(&value), Ok(value));
    }

    #[test]
    fn scalars_at_the_top_level_survive_the_round_trip() {
        for value in [
            json!(null),
            json!("s"),
            json!(0),
            json!(-1),
            json!(1.5),
            json!([]),
        ] {
            assert_eq!(round_trip(&value), Ok(value.clone()), "{value}");
        }
    }

    #[test]
    fn each_number_kind_keeps_its_value() {
        assert_eq!(read(|b| b.input(7u64.into())), Ok(json!(7)));
        assert_eq!(read(|b| b.input((-7i64).into())), Ok(json!(-7)));
        assert_eq!(read(|b| b.input(0.1f64.into())), Ok(json!(0.1)));
        assert_eq!(read(|b| b.input(1e300f64.into())), Ok(json!(1e300)));
        // Integral floats come back as the integer (see `Num`); the value is unchanged.
        assert_eq!(read(|b| b.input(2.0f64.into())), Ok(json!(2)));
        assert_eq!(read(|b| b.input((-3.0f64).into())), Ok(json!(-3)));
    }

    #[test]
    fn a_non_finite_number_anywhere_is_an_error_not_a_panic() {
        assert!(matches!(
            read(|b| b.input(f64::NAN.into())),
            Err(NonFiniteNumber(f)) if f.is_nan()
        ));
        assert_eq!(
            read(|b| b.input(array(vec![1u64.into(), f64::INFINITY.into()]))),
            Err(NonFiniteNumber(f64::INFINITY))
        );
        assert_eq!(
            read(|b| b.input(object("score", array(vec![f64::NEG_INFINITY.into()])))),
            Err(NonFiniteNumber(f64::NEG_INFINITY))
        );
    }
}
