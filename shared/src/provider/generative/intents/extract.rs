//! extract: per numbered field, whether the text states it, the value in the slot of its type,
//! and the exact quote it was read from. The intent returns a value only when its quote is in the
//! text, so a model cannot hand back a value the document does not contain.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{DATA_RULE, Prompt, block, budget, check_index, object, parse};
use crate::contract::extract::{FieldType, FieldValue, Money};
use crate::provider::generative::OutputSchema;
use crate::provider::{Evidence, ExtractDraft, ExtractTask, ExtractedDraft};

/// Confidence given to a model's value when it gives none we can use.
const DEFAULT_CONFIDENCE: f64 = 0.8;

pub static SCHEMA: LazyLock<OutputSchema> = LazyLock::new(|| OutputSchema {
    name: "extracted_fields",
    description: "The value of each numbered field as the document states it.",
    schema: object(json!({
        "fields": {
            "type": "array",
            "description": "One entry per field.",
            "items": object(json!({
                "index": {"type": "integer", "description": "The field's number."},
                "found": {"type": "boolean", "description": "Whether the document states this field."},
                "text": {"type": ["string", "null"], "description": "Value of string, date (YYYY-MM-DD), email, phone, url and enum fields."},
                "number": {"type": ["number", "null"], "description": "Value of number and integer fields; the amount of money fields."},
                "boolean": {"type": ["boolean", "null"], "description": "Value of boolean fields."},
                "currency": {"type": ["string", "null"], "description": "ISO 4217 code of money fields, when stated or clearly implied."},
                "quote": {"type": ["string", "null"], "description": "The exact words of the document that state the value, copied verbatim."},
                "confidence": {"type": "number", "description": "From 0 to 1."},
            })),
        },
    })),
});

static SYSTEM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "You extract structured data. The user gives a document and numbered fields, each with \
         a name, a type and sometimes a description or allowed values. For every field, say \
         whether the document states it. When it does, put the value in the slot of its type \
         (text: string, date as YYYY-MM-DD, email, phone as digits with an optional leading +, \
         url, or one of the allowed values for enum; number: number, integer, and the amount of \
         money; boolean: boolean), set the other slots to null, and copy into `quote` the exact \
         words of the document that state it, character for character. When the document does \
         not state a field, set found to false and every slot to null: never guess, infer from \
         general knowledge or invent a value.\n\n{DATA_RULE}"
    )
});

fn type_name(kind: FieldType) -> &'static str {
    match kind {
        FieldType::String => "string",
        FieldType::Number => "number",
        FieldType::Integer => "integer",
        FieldType::Boolean => "boolean",
        FieldType::Date => "date",
        FieldType::Email => "email",
        FieldType::Phone => "phone",
        FieldType::Url => "url",
        FieldType::Money => "money",
        FieldType::Enum => "enum",
    }
}

pub fn prompt(task: &ExtractTask<'_>) -> Prompt {
    let fields: Vec<String> = task
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut line = format!("[{i}] {} ({})", f.name, type_name(f.kind));
            if let Some(d) = &f.description {
                line.push_str(": ");
                line.push_str(d);
            }
            if let Some(values) = &f.values {
                line.push_str("; allowed values: ");
                line.push_str(&values.join(" | "));
            }
            line
        })
        .collect();
    Prompt {
        system: SYSTEM.as_str(),
        user: format!(
            "Fields:\n{}\n\nDocument:\n{}",
            block("items", &fields.join("\n")),
            block("document", task.text)
        ),
        max_tokens: budget(60, 90, task.fields.len(), 4096),
    }
}

#[derive(Deserialize)]
struct Answer {
    fields: Vec<Field>,
}

#[derive(Deserialize)]
struct Field {
    index: i64,
    found: bool,
    text: Option<String>,
    number: Option<f64>,
    boolean: Option<bool>,
    currency: Option<String>,
    quote: Option<String>,
    #[serde(default)]
    confidence: Option<f64>,
}

pub fn decode(answer: &Value, task: &ExtractTask<'_>) -> Result<ExtractDraft, Vec<String>> {
    let parsed: Answer = parse(answer)?;
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (k, field) in parsed.fields.iter().enumerate() {
        let pointer = format!("/fields/{k}");
        let Some(i) = check_index(
            field.index,
            task.fields.len(),
            &mut seen,
            &format!("{pointer}/index"),
            "field",
            &mut errors,
        ) else {
            continue;
        };
        if !field.found {
            continue;
        }
        let spec = &task.fields[i];
        let value = match slot(spec.kind, field) {
            Ok(v) => v,
            Err(why) => {
                errors.push(format!("{pointer}: {why}"));
                continue;
            }
        };
        let Some(quote) = field.quote.as_deref().filter(|q| !q.trim().is_empty()) else {
            errors.push(format!(
                "{pointer}/quote: a found value needs the exact words of the document it was read from"
            ));
            continue;
        };
        let confidence = field
            .confidence
            .filter(|c| c.is_finite())
            .unwrap_or(DEFAULT_CONFIDENCE)
            .clamp(0.0, 1.0);
        out.push(ExtractedDraft {
            name: spec.name.clone(),
            value,
            confidence: confidence as f32,
            evidence: Some(Evidence::Quote(quote.to_owned())),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The value in the slot the field's type uses. A missing slot is a structural error (the model
/// said `found` and gave nothing); whether the value is valid for the type (a real date, an
/// allowed enum value) is judged by the intent, which turns a bad value into `null` and a warning.
fn slot(kind: FieldType, field: &Field) -> Result<FieldValue, String> {
    let text = || {
        field
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "found is true but `text` is empty for a {} field",
                    type_name(kind)
                )
            })
    };
    let number = || {
        field.number.filter(|n| n.is_finite()).ok_or_else(|| {
            format!(
                "found is true but `number` is null for a {} field",
                type_name(kind)
            )
        })
    };
    Ok(match kind {
        FieldType::Boolean => FieldValue::Boolean(
            field
                .boolean
                .ok_or("found is true but `boolean` is null for a boolean field")?,
        ),
        FieldType::Number | FieldType::Integer => FieldValue::Number(number()?),
        FieldType::Money => FieldValue::Money(Money {
            amount: number()?,
            currency: field
                .currency
                .as_deref()
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| !c.is_empty()),
        }),
        // Phone numbers are compared in one canonical form: digits and a leading +.
        FieldType::Phone => {
            let raw = text()?;
            let plus = raw.starts_with('+');
            let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
            FieldValue::Text(if plus { format!("+{digits}") } else { digits })
        }
        FieldType::String
        | FieldType::Date
        | FieldType::Email
        | FieldType::Url
        | FieldType::Enum => FieldValue::Text(text()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::extract::FieldSpec;

    fn fields() -> Vec<FieldSpec> {
        let f = |name: &str, kind| FieldSpec {
            name: name.to_owned(),
            kind,
            description: None,
            values: None,
        };
        vec![
            f("customer_name", FieldType::String),
            f("amount", FieldType::Money),
            f("is_damaged", FieldType::Boolean),
            f("phone", FieldType::Phone),
        ]
    }

    #[test]
    fn found_values_come_from_their_typed_slot_with_a_quote() {
        let fields = fields();
        let task = ExtractTask {
            text: "Maria paid EUR 12.50; box crushed. Call +44 20 7946 0958.",
            fields: &fields,
        };
        let d = decode(
            &json!({"fields": [
                {"index": 0, "found": true, "text": "Maria", "number": null, "boolean": null, "currency": null, "quote": "Maria", "confidence": 0.9},
                {"index": 1, "found": true, "text": null, "number": 12.5, "boolean": null, "currency": "eur", "quote": "EUR 12.50", "confidence": 0.95},
                {"index": 2, "found": true, "text": null, "number": null, "boolean": true, "currency": null, "quote": "box crushed", "confidence": 0.7},
                {"index": 3, "found": true, "text": "+44 20 7946 0958", "number": null, "boolean": null, "currency": null, "quote": "+44 20 7946 0958", "confidence": 0.9}
            ]}),
            &task,
        )
        .expect("valid");
        assert_eq!(d.len(), 4);
        assert_eq!(
            d[1].value,
            FieldValue::Money(Money {
                amount: 12.5,
                currency: Some("EUR".into())
            })
        );
        assert_eq!(d[2].value, FieldValue::Boolean(true));
        assert_eq!(d[3].value, FieldValue::Text("+442079460958".into()));
        assert_eq!(d[0].evidence, Some(Evidence::Quote("Maria".into())));
    }

    #[test]
    fn not_found_fields_are_absent_and_found_ones_need_a_value_and_a_quote() {
        let fields = fields();
        let task = ExtractTask {
            text: "nothing here",
            fields: &fields,
        };
        let none = decode(
            &json!({"fields": [{"index": 0, "found": false, "text": null, "number": null, "boolean": null, "currency": null, "quote": null, "confidence": 0}]}),
            &task,
        )
        .expect("valid");
        assert!(none.is_empty());
        let errors = decode(
            &json!({"fields": [
                {"index": 1, "found": true, "text": "12", "number": null, "boolean": null, "currency": null, "quote": "12", "confidence": 1},
                {"index": 0, "found": true, "text": "Bob", "number": null, "boolean": null, "currency": null, "quote": null, "confidence": 1},
                {"index": 9, "found": true, "text": "x", "number": null, "boolean": null, "currency": null, "quote": "x", "confidence": 1}
            ]}),
            &task,
        )
        .expect_err("invalid");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("`number` is null"), "{errors:?}");
        assert!(errors[1].contains("/fields/1/quote"), "{errors:?}");
    }
}
