//! Typed extraction with the classic engine: "key: value" lines matched to field names first,
//! then typed candidates near a mention of the field, then the only candidate of a distinctive
//! type (an email, a URL) with lower confidence.

use crate::contract::extract::{FieldType, FieldValue, Money};
use crate::engine::extract::{FieldKind, FieldQuery, Value, key_values, resolve_field};
use crate::provider::{Evidence, ExtractDraft, ExtractTask, ExtractedDraft};

pub(super) fn extract(task: &ExtractTask<'_>) -> ExtractDraft {
    let pairs = key_values(task.text);
    let mut out = Vec::new();
    for spec in task.fields {
        let empty = Vec::new();
        let query = FieldQuery {
            name: &spec.name,
            description: spec.description.as_deref(),
            kind: kind(spec.kind),
            values: spec.values.as_ref().unwrap_or(&empty),
        };
        if let Some(found) = resolve_field(task.text, &query, &pairs) {
            out.push(ExtractedDraft {
                name: spec.name.clone(),
                value: to_field_value(found.value),
                confidence: found.confidence,
                evidence: Some(Evidence::Bytes {
                    start: found.start,
                    end: found.end,
                }),
            });
        }
    }
    out
}

pub(super) fn kind(t: FieldType) -> FieldKind {
    match t {
        FieldType::String => FieldKind::Text,
        FieldType::Number => FieldKind::Number,
        FieldType::Integer => FieldKind::Integer,
        FieldType::Boolean => FieldKind::Boolean,
        FieldType::Date => FieldKind::Date,
        FieldType::Email => FieldKind::Email,
        FieldType::Phone => FieldKind::Phone,
        FieldType::Url => FieldKind::Url,
        FieldType::Money => FieldKind::Money,
        FieldType::Enum => FieldKind::Enum,
    }
}

pub(super) fn to_field_value(v: Value) -> FieldValue {
    match v {
        Value::Text(s) | Value::Email(s) | Value::Phone(s) | Value::Url(s) => FieldValue::Text(s),
        Value::Number(n) => FieldValue::Number(n),
        Value::Integer(i) => FieldValue::Integer(i),
        Value::Boolean(b) => FieldValue::Boolean(b),
        Value::Date(d) => FieldValue::Text(d.format("%Y-%m-%d").to_string()),
        Value::Money { amount, currency } => FieldValue::Money(Money { amount, currency }),
    }
}
