//! Typed extraction. Classic path: "key: value" lines matched to field names first, then typed
//! candidates near a mention of the field, then the only candidate of a distinctive type (an
//! email, a URL) with lower confidence. Hybrid path, on top of it for the fields the classic path
//! did not settle: embeddings match the field (name and description) to keys the lexical rules
//! do not know ("Amt payable" for `total`), an enum value to the wording of the document, and a
//! free-text field without any key to the line(s) that read like it (a receipt's shop name).

use std::ops::Range;

use super::classify::label_text;
use super::vectors::Vectors;
use crate::contract::Usage;
use crate::contract::extract::{FieldSpec, FieldType, FieldValue, Money};
use crate::embed::Embedder;
use crate::engine::extract::{
    FieldKind, FieldQuery, KeyValue, Value, Wanted, key_values, parse_value, resolve_field, wanted,
};
use crate::provider::{Evidence, ExtractDraft, ExtractTask, ExtractedDraft, ProviderError};

pub(super) fn extract(task: &ExtractTask<'_>) -> ExtractDraft {
    let pairs = key_values(task.text);
    task.fields
        .iter()
        .filter_map(|spec| classic_field(task.text, spec, &pairs))
        .collect()
}

fn classic_field(text: &str, spec: &FieldSpec, pairs: &[KeyValue]) -> Option<ExtractedDraft> {
    let empty = Vec::new();
    let query = FieldQuery {
        name: &spec.name,
        description: spec.description.as_deref(),
        kind: kind(spec.kind),
        values: spec.values.as_ref().unwrap_or(&empty),
    };
    resolve_field(text, &query, pairs).map(|found| ExtractedDraft {
        name: spec.name.clone(),
        value: to_field_value(found.value),
        confidence: found.confidence,
        evidence: Some(Evidence::Bytes {
            start: found.start,
            end: found.end,
        }),
    })
}

/// Classic answers at or above this confidence (a key match or a typed value next to a mention
/// of the field) are kept as they are; weaker ones (typed fallbacks) and missing fields are
/// looked for with embeddings.
const SETTLED: f32 = 0.7;
/// Least cosine between a field and a key for the key to name the field.
const KEY_MATCH: f32 = 0.5;
/// Least cosine between an enum value and the text it is read from.
const ENUM_MATCH: f32 = 0.45;
/// Least cosine between a free-text field and a line for the line to hold the field. High on
/// purpose: a field the document does not contain must come back `null`, and unrelated lines
/// of business text often reach 0.3-0.4 with all-MiniLM-L6-v2.
const LINE_MATCH: f32 = 0.5;
/// A neighbouring line continues a multi-line value (an address) when it is at least this close
/// to the field, relative to the best line.
const LINE_CONTINUES: f32 = 0.8;
/// Lines considered for key-less free-text fields: labels and headers are at the top of
/// documents, and the bound keeps the batch small for long texts.
const MAX_LINES: usize = 200;
/// Longest line (in bytes) that can be a free-text field's value on its own.
const MAX_LINE_BYTES: usize = 200;
/// Most lines one free-text value spans.
const MAX_VALUE_LINES: usize = 4;

/// Classic extraction, then embeddings for the fields it did not settle. All texts the request
/// needs (field descriptions, keys, enum values, candidate lines, values read for enums) are
/// embedded in one batch.
pub(super) fn extract_hybrid(
    embedder: &dyn Embedder,
    task: &ExtractTask<'_>,
) -> Result<(ExtractDraft, Usage), ProviderError> {
    let text = task.text;
    let pairs = key_values(text);
    let classic: Vec<Option<ExtractedDraft>> = task
        .fields
        .iter()
        .map(|spec| classic_field(text, spec, &pairs))
        .collect();
    let pending: Vec<usize> = (0..task.fields.len())
        .filter(|&i| classic[i].as_ref().is_none_or(|d| d.confidence < SETTLED))
        .collect();
    if pending.is_empty() {
        return Ok((classic.into_iter().flatten().collect(), Usage::default()));
    }

    // One batch: [field descriptions | keys | key values (for enums) | enum values | lines].
    let descriptors: Vec<String> = pending
        .iter()
        .map(|&i| label_text(&task.fields[i].name, task.fields[i].description.as_deref()))
        .collect();
    let mut batch: Vec<&str> = descriptors.iter().map(String::as_str).collect();
    let key_base = batch.len();
    batch.extend(pairs.iter().map(|kv| kv.key.as_str()));
    let any_enum = pending
        .iter()
        .any(|&i| task.fields[i].kind == FieldType::Enum);
    let value_base = batch.len();
    if any_enum {
        batch.extend(pairs.iter().map(|kv| kv.value(text)));
    }
    let mut enum_base: Vec<usize> = Vec::with_capacity(pending.len());
    for &i in &pending {
        enum_base.push(batch.len());
        if task.fields[i].kind == FieldType::Enum {
            for v in task.fields[i].values.iter().flatten() {
                batch.push(v.as_str());
            }
        }
    }
    let any_text = pending
        .iter()
        .any(|&i| task.fields[i].kind == FieldType::String);
    let lines: Vec<Range<usize>> = if any_text {
        candidate_lines(text, &pairs)
    } else {
        Vec::new()
    };
    let line_base = batch.len();
    batch.extend(lines.iter().filter_map(|r| text.get(r.clone())));
    let vectors = Vectors::embed(embedder, &batch)?;

    let mut out: Vec<Option<ExtractedDraft>> = classic;
    let mut used_lines = vec![false; lines.len()];
    for (k, &i) in pending.iter().enumerate() {
        let spec = &task.fields[i];
        // Keys by similarity to the field, best first.
        let mut keys: Vec<(f32, usize)> = (0..pairs.len())
            .map(|p| (vectors.sim(k, key_base + p), p))
            .filter(|(s, _)| *s >= KEY_MATCH)
            .collect();
        keys.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut found: Option<ExtractedDraft> = None;
        for &(sim, p) in &keys {
            let kv = &pairs[p];
            let confidence = (0.45 + 0.4 * sim).min(0.85);
            found = if spec.kind == FieldType::Enum {
                let values = spec.values.as_deref().unwrap_or(&[]);
                best_enum(&vectors, value_base + p, enum_base[k], values).map(|v| ExtractedDraft {
                    name: spec.name.clone(),
                    value: FieldValue::Text(v),
                    confidence: confidence - 0.1,
                    evidence: Some(Evidence::Bytes {
                        start: kv.value_start,
                        end: kv.value_end,
                    }),
                })
            } else {
                parse_value(kind(spec.kind), kv.value(text)).map(|v| ExtractedDraft {
                    name: spec.name.clone(),
                    value: to_field_value(v),
                    confidence,
                    evidence: Some(Evidence::Bytes {
                        start: kv.value_start,
                        end: kv.value_end,
                    }),
                })
            };
            if found.is_some() {
                break;
            }
        }
        // A field that asks for a name, place, address or id has been looked for by the
        // engine's own extractors; the closest line would only be a guess.
        if found.is_none()
            && spec.kind == FieldType::String
            && wanted(&spec.name, spec.description.as_deref()) == Wanted::Plain
        {
            found = line_value(text, &vectors, k, line_base, &lines, &mut used_lines).map(
                |(value, range, sim)| ExtractedDraft {
                    name: spec.name.clone(),
                    value: FieldValue::Text(value),
                    confidence: (0.3 + 0.5 * sim).min(0.75),
                    evidence: Some(Evidence::Bytes {
                        start: range.start,
                        end: range.end,
                    }),
                },
            );
        }
        if found.is_some() {
            out[i] = found;
        }
    }
    Ok((out.into_iter().flatten().collect(), vectors.usage))
}

/// The enum value closest in meaning to the text at batch position `read`, if close enough.
fn best_enum(vectors: &Vectors, read: usize, base: usize, values: &[String]) -> Option<String> {
    values
        .iter()
        .enumerate()
        .map(|(j, v)| (vectors.sim(read, base + j), v))
        .filter(|(s, _)| *s >= ENUM_MATCH)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| v.clone())
}

/// Lines that could hold a key-less free-text value: non-empty, not too long, not already a
/// `key: value` pair, among the first [`MAX_LINES`].
fn candidate_lines(text: &str, pairs: &[KeyValue]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split('\n').take(MAX_LINES) {
        let start = offset + (line.len() - line.trim_start().len());
        let end = offset + line.trim_end().len();
        offset += line.len() + 1;
        if end <= start || end - start > MAX_LINE_BYTES {
            continue;
        }
        // Lines without a letter (amounts, separators) are not names or addresses.
        if !text[start..end].chars().any(char::is_alphabetic) {
            continue;
        }
        if pairs
            .iter()
            .any(|kv| kv.key_start < end && kv.value_end > start)
        {
            continue;
        }
        out.push(start..end);
    }
    out
}

/// The best unused line for the field at batch position `field`, extended over adjacent lines
/// that are nearly as close (a value wrapped over several lines). Returns the value with line
/// breaks as spaces, its byte range, and the best similarity.
fn line_value(
    text: &str,
    vectors: &Vectors,
    field: usize,
    base: usize,
    lines: &[Range<usize>],
    used: &mut [bool],
) -> Option<(String, Range<usize>, f32)> {
    let sims: Vec<f32> = (0..lines.len())
        .map(|l| vectors.sim(field, base + l))
        .collect();
    let best = (0..lines.len())
        .filter(|&l| !used[l] && sims[l] >= LINE_MATCH)
        .max_by(|&a, &b| sims[a].total_cmp(&sims[b]).then(b.cmp(&a)))?;
    let continues = |l: usize| !used[l] && sims[l] >= LINE_CONTINUES * sims[best];
    let (mut first, mut last) = (best, best);
    while last - first + 1 < MAX_VALUE_LINES && last + 1 < lines.len() && continues(last + 1) {
        last += 1;
    }
    while last - first + 1 < MAX_VALUE_LINES && first > 0 && continues(first - 1) {
        first -= 1;
    }
    used[first..=last].iter_mut().for_each(|u| *u = true);
    let range = lines[first].start..lines[last].end;
    let value = lines[first..=last]
        .iter()
        .filter_map(|r| text.get(r.clone()))
        .collect::<Vec<_>>()
        .join(" ");
    Some((value, range, sims[best]))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::HashingEmbedder;

    fn spec(
        name: &str,
        kind: FieldType,
        description: Option<&str>,
        values: Option<&[&str]>,
    ) -> FieldSpec {
        FieldSpec {
            name: name.to_owned(),
            kind,
            description: description.map(str::to_owned),
            values: values.map(|v| v.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    fn run(text: &str, fields: &[FieldSpec]) -> (ExtractDraft, Usage) {
        extract_hybrid(&HashingEmbedder::default(), &ExtractTask { text, fields })
            .expect("hashing embedder never fails")
    }

    #[test]
    fn settled_classic_answers_need_no_model() {
        let (d, usage) = run(
            "Email: a@b.co",
            &[spec("email", FieldType::Email, None, None)],
        );
        assert_eq!(d.len(), 1);
        assert_eq!(usage.embedded_texts, 0);
    }

    #[test]
    fn a_keyless_text_field_is_found_on_the_closest_line() {
        let text = "TAX INVOICE\nACME TRADING COMPANY\nTotal: 12.00";
        // A name the engine's rules cannot type (no company form, no key): only the closest
        // line can say where it is.
        let fields = [spec(
            "trading_name",
            FieldType::String,
            Some("trading company name"),
            None,
        )];
        let (d, usage) = run(text, &fields);
        assert!(usage.embedded_texts >= 2);
        let found = d.iter().find(|f| f.name == "trading_name").expect("found");
        assert_eq!(
            found.value,
            FieldValue::Text("ACME TRADING COMPANY".to_owned())
        );
        let Some(Evidence::Bytes { start, end }) = found.evidence else {
            panic!("byte evidence expected")
        };
        assert_eq!(&text[start..end], "ACME TRADING COMPANY");
    }

    #[test]
    fn enum_values_are_matched_through_an_embedded_key() {
        let text = "Shipping speed option: express delivery";
        let fields = [spec(
            "shipping_speed",
            FieldType::Enum,
            None,
            Some(&["express delivery", "standard"]),
        )];
        let (d, _) = run(text, &fields);
        assert_eq!(d[0].value, FieldValue::Text("express delivery".to_owned()));
    }

    #[test]
    fn edge_inputs_do_not_panic() {
        let (d, _) = run("🙂", &[spec("name", FieldType::String, None, None)]);
        assert!(d.len() <= 1);
        let (d, _) = run("", &[]);
        assert!(d.is_empty());
    }
}
