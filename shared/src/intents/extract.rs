//! Extract: one entry per requested field, each either a value of exactly the declared type with
//! the span it came from, or `null`. A provider value of the wrong type is a provider fault (502),
//! never a silently coerced answer.

use chrono::NaiveDate;

use crate::contract::Span;
use crate::contract::extract::{
    ExtractRequest, ExtractResponse, ExtractWarning, ExtractedField, FieldSpec, FieldType,
    FieldValue,
};
use crate::problem::ApiError;
use crate::provider::{Deadline, Evidence, ExtractTask, Provider};

use super::{Outcome, clamp_score, round4};

pub async fn extract(
    provider: &dyn Provider,
    request: &ExtractRequest,
    deadline: Deadline,
) -> Result<Outcome<ExtractResponse>, ApiError> {
    let text = request.text.as_str();
    let draft = provider
        .extract(
            ExtractTask {
                text,
                fields: &request.fields,
            },
            deadline,
        )
        .await?;

    let mut fields = Vec::with_capacity(request.fields.len());
    let mut warnings = Vec::new();
    for spec in &request.fields {
        let found = draft.value.iter().find(|d| d.name == spec.name);
        let entry = match found {
            None => null_field(spec),
            Some(d) => match &d.evidence {
                // The engine's own finds: a wrong type or a span outside the text is a bug in the
                // engine, so it fails loudly.
                Some(Evidence::Bytes { start, end }) => {
                    let value = conform(spec, d.value.clone()).map_err(|why| {
                        ApiError::ProviderOutput(format!("field '{}': {why}", spec.name))
                    })?;
                    if !(*start <= *end
                        && *end <= text.len()
                        && text.is_char_boundary(*start)
                        && text.is_char_boundary(*end))
                    {
                        return Err(ApiError::ProviderOutput(format!(
                            "field '{}': the evidence span is outside the text",
                            spec.name
                        )));
                    }
                    found_field(
                        spec,
                        value,
                        d.confidence,
                        Some(Span::from_bytes(text, *start, *end)),
                    )
                }
                // A model's proposal: returned only when its quote is in the text and its value
                // has the declared type; otherwise the field is null and the reason a warning.
                Some(Evidence::Quote(quote)) => {
                    let located = locate_quote(text, quote);
                    match (located, conform(spec, d.value.clone())) {
                        (Some((start, end)), Ok(value)) => found_field(
                            spec,
                            value,
                            d.confidence,
                            Some(Span::from_bytes(text, start, end)),
                        ),
                        (None, _) => {
                            warnings.push(ExtractWarning {
                                field: spec.name.clone(),
                                message: "the model's quote for this value is not in the text, so \
                                          the value may be invented; it was not returned"
                                    .to_owned(),
                            });
                            null_field(spec)
                        }
                        (Some(_), Err(why)) => {
                            warnings.push(ExtractWarning {
                                field: spec.name.clone(),
                                message: format!("{why}; the value was not returned"),
                            });
                            null_field(spec)
                        }
                    }
                }
                None => {
                    let value = conform(spec, d.value.clone()).map_err(|why| {
                        ApiError::ProviderOutput(format!("field '{}': {why}", spec.name))
                    })?;
                    found_field(spec, value, d.confidence * 0.5, None)
                }
            },
        };
        fields.push(entry);
    }
    Ok(Outcome::from_draft(
        ExtractResponse { fields, warnings },
        &draft,
        provider,
    ))
}

fn found_field(
    spec: &FieldSpec,
    value: FieldValue,
    confidence: f32,
    span: Option<Span>,
) -> ExtractedField {
    ExtractedField {
        name: spec.name.clone(),
        kind: spec.kind,
        value: Some(value),
        confidence: round4(clamp_score(confidence)),
        span,
    }
}

/// Finds a model's quotation in the text: exactly, else ignoring case and runs of white space
/// (models re-flow line breaks). Returns the byte range of the text's own spelling.
pub(crate) fn locate_quote(text: &str, quote: &str) -> Option<(usize, usize)> {
    let quote = quote.trim();
    if quote.is_empty() {
        return None;
    }
    if let Some(start) = text.find(quote) {
        return Some((start, start + quote.len()));
    }
    // Compare on a normalised copy of the text, remembering where each kept char came from.
    let mut norm = String::with_capacity(text.len());
    let mut origin: Vec<(usize, usize)> = Vec::with_capacity(text.len());
    let mut last_space = true;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if !last_space {
                norm.push(' ');
                origin.push((i, i + c.len_utf8()));
            }
            last_space = true;
        } else {
            for lower in c.to_lowercase() {
                norm.push(lower);
                origin.push((i, i + c.len_utf8()));
            }
            last_space = false;
        }
    }
    let wanted: String = quote
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let at = norm.find(&wanted)?;
    // `origin` has one entry per char of `norm`; map the char positions of the match back.
    let first = norm[..at].chars().count();
    let count = wanted.chars().count();
    let start = origin.get(first)?.0;
    let end = origin.get(first + count - 1)?.1;
    Some((start, end))
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
    fn quotes_are_located_exactly_or_ignoring_case_and_line_breaks() {
        let text = "Ship to:\n1200 Market Street,\n  San Francisco";
        assert_eq!(locate_quote(text, "Market Street"), Some((14, 27)));
        let (s, e) = locate_quote(text, "1200 market street, san francisco").expect("found");
        assert_eq!(&text[s..e], "1200 Market Street,\n  San Francisco");
        assert_eq!(locate_quote(text, "Mission Street"), None);
        assert_eq!(locate_quote(text, "   "), None);
        let accented = "Café Zoë, Zürich";
        let (s, e) = locate_quote(accented, "zoë, zürich").expect("found");
        assert_eq!(&accented[s..e], "Zoë, Zürich");
    }

    #[test]
    fn integral_numbers_become_integers() {
        assert_eq!(
            conform(&spec(FieldType::Integer, None), FieldValue::Number(42.0)),
            Ok(FieldValue::Integer(42))
        );
    }
}
