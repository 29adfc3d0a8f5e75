//! `POST /v1/extract`: extraction of caller-declared, typed fields from a document.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use super::common::{FieldError, Semantic, Span, duplicates, not_blank};
use super::limits::*;

/// The closed set of field types.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Free text, returned as written.
    String,
    /// A decimal number.
    Number,
    /// A whole number.
    Integer,
    Boolean,
    /// A calendar date, returned as ISO 8601 `YYYY-MM-DD`.
    Date,
    Email,
    /// A phone number, returned as digits with a leading `+` when a country code was given.
    Phone,
    Url,
    /// An amount with an optional ISO 4217 currency: `{ "amount": 12.5, "currency": "EUR" }`.
    Money,
    /// One of the caller's `values`.
    Enum,
}

static FIELD_NAME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[A-Za-z_][A-Za-z0-9_]{0,63}$").expect("field name pattern is a valid regex")
});

/// Field names are identifiers (`[A-Za-z_][A-Za-z0-9_]*`, ≤ 64) so they map to code and columns.
pub fn field_name(value: &str) -> Result<(), ValidationError> {
    if !FIELD_NAME_RE.is_match(value) {
        let mut e = ValidationError::new("format");
        e.message = Some(
            "must start with a letter or '_' and contain only letters, digits and '_' (at most 64)"
                .into(),
        );
        return Err(e);
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Identifier of the field, unique within the request, e.g. `invoice_number`.
    #[validate(length(min = 1, max = MAX_FIELD_NAME_CHARS), custom(function = "field_name"))]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z_][A-Za-z0-9_]{0,63}$"
    )]
    pub name: String,
    /// The type the value must have.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Optional description: helps find the field ("the amount due including tax").
    #[serde(default)]
    #[validate(length(min = 1, max = MAX_DESCRIPTION_CHARS), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub description: Option<String>,
    /// The allowed values; required for (and only for) `enum` fields; 1–100 distinct values of
    /// 1–100 characters.
    #[serde(default)]
    #[validate(length(min = 1, max = EXTRACT_MAX_ENUM_VALUES))]
    #[schema(schema_with = crate::openapi::schemas::enum_values)]
    pub values: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractRequest {
    /// The document, 1–50,000 characters.
    #[validate(
        length(min = 1, max = EXTRACT_MAX_TEXT_CHARS),
        custom(function = "not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 50000,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub text: String,
    /// 1–50 fields to extract.
    #[validate(length(min = 1, max = EXTRACT_MAX_FIELDS), nested)]
    #[schema(min_items = 1, max_items = 50)]
    pub fields: Vec<FieldSpec>,
}

impl Semantic for ExtractRequest {
    fn semantic_errors(&self) -> Vec<FieldError> {
        let mut errors = duplicates(
            self.fields.iter().map(|f| f.name.as_str()),
            |i| format!("/fields/{i}/name"),
            "field name",
            false,
        );
        for (i, field) in self.fields.iter().enumerate() {
            match (&field.kind, &field.values) {
                (FieldType::Enum, None) => errors.push(FieldError::new(
                    format!("/fields/{i}/values"),
                    "required",
                    "an enum field needs its allowed values",
                )),
                (FieldType::Enum, Some(values)) => {
                    for (j, v) in values.iter().enumerate() {
                        let len = v.chars().count() as u64;
                        if v.trim().is_empty() || len > MAX_LABEL_CHARS {
                            errors.push(FieldError::new(
                                format!("/fields/{i}/values/{j}"),
                                "length",
                                "enum values must be 1-100 characters and not blank",
                            ));
                        }
                    }
                    errors.extend(duplicates(
                        values.iter().map(String::as_str),
                        |j| format!("/fields/{i}/values/{j}"),
                        "enum value",
                        true,
                    ));
                }
                (_, Some(_)) => errors.push(FieldError::new(
                    format!("/fields/{i}/values"),
                    "not_allowed",
                    "values are only allowed on enum fields",
                )),
                (_, None) => {}
            }
        }
        errors
    }
}

/// An amount of money.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub amount: f64,
    /// ISO 4217 code when the document states or implies one.
    #[schema(required = true)]
    pub currency: Option<String>,
}

/// A typed value; its JSON shape follows the field's declared type.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum FieldValue {
    Boolean(bool),
    Integer(i64),
    Number(f64),
    Money(Money),
    /// string, date (`YYYY-MM-DD`), email, phone, url and enum values.
    Text(String),
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractedField {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// The value, typed as declared, or `null` when the document does not contain it.
    #[schema(schema_with = crate::openapi::schemas::field_value, required = true)]
    pub value: Option<FieldValue>,
    /// Confidence in [0, 1]; 0 when `value` is null.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: f32,
    /// Where the value was found, in code points; `null` when `value` is null.
    #[schema(required = true)]
    pub span: Option<Span>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractResponse {
    /// One entry per requested field, in request order.
    pub fields: Vec<ExtractedField>,
    /// Values a model proposed but that were not returned: a date that does not parse, a value
    /// whose quote is not in the text. The field is then `null`. Omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<ExtractWarning>,
}

/// Why a proposed value was set to `null` instead of being returned.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractWarning {
    /// The requested field's name.
    pub field: String,
    /// What was wrong with the proposed value.
    pub message: String,
}
