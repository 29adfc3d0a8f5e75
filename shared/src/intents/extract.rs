//! Extract: one entry per requested field, each either a value of exactly the declared type with
//! the span it came from, or `null`. A provider value of the wrong type is a provider fault (502),
//! never a silently coerced answer.

use chrono::NaiveDate;

use crate::contract::Span;
use crate::contract::extract::{
    ExtractRequest, ExtractResponse, ExtractedField, FieldSpec, FieldType, FieldValue,
};
use crate::problem::ApiError;
use crate::provider::{Evidence, ExtractTask, Provider};

use super::{Outcome, clamp_score, round4};

pub async fn extract(
    provider: &dyn Provider,
    request: &ExtractRequest,
) -> Result<Outcome<ExtractResponse>, ApiError> {
    let text = request.text.as_str();
    let draft = provider
        .extract(ExtractTask {
            text,
            fields: &request.fields,
        })
        .await?;

    let mut fields = Vec::with_capacity(request.fields.len());
    for spec in &request.fields {
        let found = draft.value.iter().find(|d| d.name == spec.name);
        let entry = match found {
            None => null_field(spec),
            Some(d) => {
                let value = conform(spec, d.value.clone()).map_err(|why| {
                    ApiError::ProviderOutput(format!("field '{}': {why}", spec.name))
                })?;
                let (span, confidence) = match &d.evidence {
                    Some(Evidence::Bytes { start, end }) => {
                        if *start <= *end
                            && *end <= text.len()
                            && text.is_char_boundary(*start)
                            && text.is_char_boundary(*end)
                        {
                            (Some(Span::from_bytes(text, *start, *end)), d.confidence)
                        } else {
                            return Err(ApiError::ProviderOutput(format!(
                                "field '{}': the evidence span is outside the text",
                                spec.name
                            )));
                        }
                    }
                    Some(Evidence::Quote(q)) => match text.find(q.as_str()) {
                        Some(start) if !q.is_empty() => (
                            Some(Span::from_bytes(text, start, start + q.len())),
                            d.confidence,
                        ),
                        // A value the text does not contain is possibly invented: keep it but
                        // say so through a lower confidence.
                        _ => (None, d.confidence * 0.5),
                    },
                    None => (None, d.confidence * 0.5),
                };
                ExtractedField {
                    name: spec.name.clone(),
                    kind: spec.kind,
                    value: Some(value),
                    confidence: round4(clamp_score(confidence)),
                    span,
                }
            }
        };
        fields.push(entry);
    }
    Ok(Outcome::new(
        ExtractResponse { fields },
        draft.usage,
        provider,
    ))
}

fn null_field(spec: &FieldSpec) -> ExtractedField {
    ExtractedField {
        name: spec.name.clone(),
        kind: spec.kind,
        value: None,
        confidence: 0.0,
        span: None,
    }
}

/// Checks (and where lossless, normalises) a value against the declared type.
fn conform(spec: &FieldSpec, value: FieldValue) -> Result<FieldValue, String> {
    use FieldValue as V;
    match (spec.kind, value) {
        (FieldType::Boolean, v @ V::Boolean(_)) => Ok(v),
        (FieldType::Integer, v @ V::Integer(_)) => Ok(v),
        (FieldType::Integer, V::Number(n)) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            Ok(V::Integer(n as i64))
        }
        (FieldType::Number, V::Number(n)) if n.is_finite() => Ok(V::Number(n)),
        (FieldType::Number, V::Integer(i)) => Ok(V::Number(i as f64)),
        (FieldType::Money, V::Money(m)) if m.amount.is_finite() => match &m.currency {
            Some(c) if !(c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase())) => {
                Err(format!("'{c}' is not an ISO 4217 currency code"))
            }
            _ => Ok(V::Money(m)),
        },
        (FieldType::String, V::Text(s)) if !s.trim().is_empty() => Ok(V::Text(s)),
        (FieldType::Date, V::Text(s)) => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(|d| V::Text(d.format("%Y-%m-%d").to_string()))
            .map_err(|_| format!("'{s}' is not a YYYY-MM-DD date")),
        (FieldType::Email, V::Text(s)) => {
            let ok = s
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !s.contains(' '));
            if ok {
                Ok(V::Text(s))
            } else {
                Err(format!("'{s}' is not an email address"))
            }
        }
        (FieldType::Phone, V::Text(s)) => {
            let digits = s.chars().filter(char::is_ascii_digit).count();
            let clean = s
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+'));
            if clean && (7..=15).contains(&digits) {
                Ok(V::Text(s))
            } else {
                Err(format!("'{s}' is not a normalised phone number"))
            }
        }
        (FieldType::Url, V::Text(s)) => {
            if (s.starts_with("http://") || s.starts_with("https://") || s.starts_with("www."))
                && !s.contains(char::is_whitespace)
            {
                Ok(V::Text(s))
            } else {
                Err(format!("'{s}' is not a URL"))
            }
        }
        (FieldType::Enum, V::Text(s)) => spec
            .values
            .iter()
            .flatten()
            .find(|v| v.trim().eq_ignore_ascii_case(s.trim()))
            .map(|v| V::Text(v.clone()))
            .ok_or_else(|| format!("'{s}' is not one of the allowed values")),
        (kind, v) => Err(format!("a {v:?} is not a value of type {kind:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::extract::Money;

    fn spec(kind: FieldType, values: Option<Vec<&str>>) -> FieldSpec {
        FieldSpec {
            name: "f".into(),
            kind,
            description: None,
            values: values.map(|v| v.into_iter().map(String::from).collect()),
        }
    }

    #[test]
    fn wrong_types_are_rejected() {
        assert!(
            conform(
                &spec(FieldType::Integer, None),
                FieldValue::Text("3".into())
            )
            .is_err()
        );
        assert!(
            conform(
                &spec(FieldType::Date, None),
                FieldValue::Text("3 May".into())
            )
            .is_err()
        );
        assert!(
            conform(
                &spec(FieldType::Money, None),
                FieldValue::Money(Money {
                    amount: 1.0,
                    currency: Some("dollars".into())
                })
            )
            .is_err()
        );
    }

    #[test]
    fn enum_values_map_to_the_callers_spelling() {
        let s = spec(FieldType::Enum, Some(vec!["High", "Low"]));
        assert_eq!(
            conform(&s, FieldValue::Text("high".into())),
            Ok(FieldValue::Text("High".into()))
        );
        assert!(conform(&s, FieldValue::Text("urgent".into())).is_err());
    }

    #[test]
    fn integral_numbers_become_integers() {
        assert_eq!(
            conform(&spec(FieldType::Integer, None), FieldValue::Number(42.0)),
            Ok(FieldValue::Integer(42))
        );
    }
}
