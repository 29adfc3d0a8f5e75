//! Typed extraction from realistic business text (invoices, receipts, emails, support tickets):
//! one module per kind of value, `key: value` line detection, and [`resolve_field`], which
//! answers "what is the value of field X of kind K" by key match, then proximity to a mention of
//! the field, then a typed fallback.
//!
//! Spans are byte offsets into the input and always fall on char boundaries (they come from
//! regex matches or from trimming), so `&text[c.start..c.end]` never panics. Every function is
//! pure, deterministic, and linear-ish in the input size.
//!
//! # Layout
//!
//! - [`contacts`]: emails, URLs, phones.
//! - [`dates`]: calendar dates.
//! - [`money`]: amounts with or without a currency.
//! - [`numbers`]: plain numbers and integers.
//! - [`booleans`]: yes/no words, flags and check boxes; booleans stated in prose.
//! - [`names`]: people and organisations in capitalised spans (titles, given names, reporting
//!   verbs), typed with [`organisations`]' knowledge of what makes a name an organisation's.
//! - [`organisations`]: legal forms, institution, club and newspaper words, news and sports
//!   contexts, names built on a place, the article before an institution.
//! - [`letterheads`]: a document's header line, which names its issuer.
//! - [`places`]: place names (GeoNames list) and rooms.
//! - [`addresses`]: street addresses on one line or over several.
//! - [`ids`]: identifiers and reference numbers (`order #A-77812`, `INV-5531`).
//! - [`keys`]: `key: value` layouts.
//! - [`field_names`]: how a field name reads and how well a key names it.
//! - [`free_text`]: text and enum values; free-text fields by what they ask for.
//! - [`resolve`]: the resolution order that ties them together.

mod addresses;
mod booleans;
mod contacts;
mod dates;
mod field_names;
mod free_text;
mod ids;
mod keys;
mod letterheads;
mod money;
mod names;
mod numbers;
mod organisations;
mod places;
mod resolve;
#[cfg(test)]
mod test_support;

pub use addresses::addresses;
pub use booleans::booleans;
pub use contacts::{emails, phones, urls};
pub use dates::dates;
pub use field_names::{Wanted, wanted};
pub use ids::{first_id, id_after, prefixed_id};
pub use keys::key_values;
pub use money::money;
pub use names::{Entity, EntityKind, entities};
pub use numbers::{integers, numbers};
pub use places::{is_place, rooms};
pub use resolve::resolve_field;

use booleans::*;
use contacts::*;
use field_names::*;
use free_text::*;
use keys::*;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use regex::Regex;

/// A typed value extracted from text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    Integer(i64),
    Boolean(bool),
    Date(NaiveDate),
    Email(String),
    Phone(String),
    Url(String),
    /// `currency` is an ISO 4217 code when a symbol or code was present.
    Money {
        amount: f64,
        currency: Option<String>,
    },
}

/// A value found at `text[start..end]`, with a confidence in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub start: usize,
    pub end: usize,
    pub value: Value,
    pub confidence: f32,
}

/// A `key: value` style line: the key text and the byte ranges of key and value (both trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub key_start: usize,
    pub key_end: usize,
    pub value_start: usize,
    pub value_end: usize,
}

impl KeyValue {
    /// The value text inside `text` (`""` if `text` is not the string the pair came from).
    pub fn value<'a>(&self, text: &'a str) -> &'a str {
        text.get(self.value_start..self.value_end).unwrap_or("")
    }
}

/// The kind of value a schema field expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    Text,
    Number,
    Integer,
    Boolean,
    Date,
    Email,
    Phone,
    Url,
    Money,
    /// One of the caller's `values`.
    Enum,
}

/// A field to resolve: its name as the caller spells it (`invoice_number`, `invoiceNumber`,
/// `Invoice Number`), an optional description, its kind, and for [`FieldKind::Enum`] the
/// allowed values.
#[derive(Debug, Clone, Copy)]
pub struct FieldQuery<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub kind: FieldKind,
    pub values: &'a [String],
}

/// Compiles a regex written in this file; a failure is a bug caught by any test run.
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("engine::extract regexes are compile-time constants")
}

fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i).and_then(|s| s.chars().next_back())
}

fn char_after(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

/// The char two positions before `i` (the one before [`char_before`]).
fn char_before2(text: &str, i: usize) -> Option<char> {
    let mut it = text.get(..i)?.chars().rev();
    it.next();
    it.next()
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(char::is_alphanumeric)
}

/// Keeps the best of overlapping candidates (higher confidence, then longer, then earlier) and
/// returns the survivors in text order. `O(n log n)`.
fn dedupe_overlaps(mut cands: Vec<Candidate>) -> Vec<Candidate> {
    cands.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(cands.len());
    for c in cands {
        // Accepted spans are disjoint, so only the one starting last before `c.end` can overlap.
        let overlaps = taken
            .range(..c.end)
            .next_back()
            .is_some_and(|(_, &end)| end > c.start);
        if !overlaps {
            taken.insert(c.start, c.end);
            out.push(c);
        }
    }
    out.sort_by_key(|c| (c.start, c.end));
    out
}

/// Typed candidates of `kind` in `text`; `relaxed` accepts bare digit runs as phones and bare
/// numbers as money because a key already said what the value is.
fn typed_candidates(kind: FieldKind, text: &str, relaxed: bool) -> Vec<Candidate> {
    match kind {
        FieldKind::Email => emails(text),
        FieldKind::Url => urls(text),
        FieldKind::Phone => phones_impl(text, relaxed),
        FieldKind::Date => dates(text),
        FieldKind::Money => {
            let m = money(text);
            if m.is_empty() && relaxed {
                numbers(text)
                    .into_iter()
                    .filter_map(|c| match c.value {
                        Value::Number(amount) => Some(Candidate {
                            value: Value::Money {
                                amount,
                                currency: None,
                            },
                            ..c
                        }),
                        _ => None,
                    })
                    .collect()
            } else {
                m
            }
        }
        FieldKind::Number => {
            let n = numbers(text);
            let m: Vec<Candidate> = money(text)
                .into_iter()
                .filter_map(|c| match c.value {
                    Value::Money { amount, .. } => Some(Candidate {
                        value: Value::Number(amount),
                        ..c
                    }),
                    _ => None,
                })
                .collect();
            // Money spans parse "1.234,56 €" correctly where the plain number reader refuses.
            let mut all = m;
            all.extend(n);
            dedupe_overlaps(all)
        }
        FieldKind::Integer => integers(text),
        FieldKind::Boolean => booleans(text),
        FieldKind::Text | FieldKind::Enum => Vec::new(),
    }
}

/// Parses `text[start..end]` as `kind`; offsets of the result are into `text`.
fn parse_at(kind: FieldKind, text: &str, start: usize, end: usize) -> Option<Candidate> {
    let sub = &text[start..end];
    let (ts, te) = trim_range(text, start, end, char::is_whitespace);
    if ts >= te {
        return None;
    }
    match kind {
        FieldKind::Text | FieldKind::Enum => Some(Candidate {
            start: ts,
            end: te,
            value: Value::Text(text[ts..te].to_string()),
            confidence: 0.8,
        }),
        FieldKind::Boolean => parse_bool_at(text, start, end),
        _ => typed_candidates(kind, sub, true)
            .into_iter()
            .next()
            .map(|c| Candidate {
                start: c.start + start,
                end: c.end + start,
                ..c
            }),
    }
}

/// Parses a whole string as `kind`: the first value of that kind found in `s` (after a key,
/// bare digit runs count as phones and bare numbers as money without currency). `Text` and
/// `Enum` give the trimmed string (enum matching needs the allowed values, see
/// [`resolve_field`]); `Boolean` reads the value or its first word (`Yes, please`).
pub fn parse_value(kind: FieldKind, s: &str) -> Option<Value> {
    parse_at(kind, s, 0, s.len()).map(|c| c.value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::*;

    #[test]
    fn support_ticket_extractors() {
        let t = "Ticket #88412 opened 2024-03-15T09:12:00Z by sam.lee@corp.example.org.\n\
                 Hi team, since March 3, 2024 the dashboard at https://app.example.com/reports?id=7 \
                 (see also www.status.example.com). shows errors. Call me on (555) 123-4567 or \
                 +1-800-555-0199. My order 1234567890 was charged $1,234.50 twice, plus €12,50 \
                 and 99.00 EUR fees; refund of 1.234,56 € expected by 04/05/2024 or 20-Apr-24.";

        let e = emails(t);
        assert_eq!(spans(t, &e), vec!["sam.lee@corp.example.org"]);
        assert_eq!(e[0].value, Value::Email("sam.lee@corp.example.org".into()));

        let u = urls(t);
        assert_eq!(
            spans(t, &u),
            vec![
                "https://app.example.com/reports?id=7",
                "www.status.example.com"
            ]
        );

        let p = phones(t);
        assert_eq!(spans(t, &p), vec!["(555) 123-4567", "+1-800-555-0199"]);
        assert_eq!(p[0].value, Value::Phone("5551234567".into()));
        assert_eq!(p[1].value, Value::Phone("+18005550199".into()));

        let ds = dates(t);
        assert_eq!(
            spans(t, &ds),
            vec!["2024-03-15", "March 3, 2024", "04/05/2024", "20-Apr-24"]
        );
        assert_eq!(ds[0].value, d(2024, 3, 15));
        assert_eq!(ds[1].value, d(2024, 3, 3));
        assert_eq!(ds[2].value, d(2024, 4, 5));
        assert!(ds[2].confidence < ds[1].confidence);
        assert_eq!(ds[3].value, d(2024, 4, 20));

        let m = money(t);
        assert_eq!(
            spans(t, &m),
            vec!["$1,234.50", "€12,50", "99.00 EUR", "1.234,56 €"]
        );
        assert_eq!(m[0].value, money_val(1234.5, Some("USD")));
        assert_eq!(m[1].value, money_val(12.5, Some("EUR")));
        assert_eq!(m[2].value, money_val(99.0, Some("EUR")));
        assert_eq!(m[3].value, money_val(1234.56, Some("EUR")));
    }

    #[test]
    fn parse_value_reads_each_kind() {
        assert_eq!(
            parse_value(FieldKind::Boolean, " Yes, please"),
            Some(Value::Boolean(true))
        );
        assert_eq!(
            parse_value(FieldKind::Number, "1.234,56 €"),
            Some(Value::Number(1234.56))
        );
        assert_eq!(
            parse_value(FieldKind::Money, "45.60"),
            Some(money_val(45.6, None))
        );
        assert_eq!(
            parse_value(FieldKind::Integer, "#12345"),
            Some(Value::Integer(12345))
        );
        assert_eq!(
            parse_value(FieldKind::Text, "  hi  "),
            Some(Value::Text("hi".into()))
        );
        assert_eq!(parse_value(FieldKind::Date, "nope"), None);
        assert_eq!(
            parse_value(FieldKind::Url, "see www.example.com."),
            Some(Value::Url("www.example.com".into()))
        );
    }

    #[test]
    fn odd_inputs_never_panic() {
        let pieces = [
            "",
            " ",
            "\n",
            "\t\t",
            ":",
            "::",
            "é",
            "日本語",
            "🎉",
            "€",
            "$",
            "+",
            "(",
            ")",
            "-",
            "—",
            "1",
            "12",
            "2024-",
            "/",
            ".",
            "@",
            "a@b",
            "http://",
            "www.",
            "RM",
            "Total:",
            "\u{200b}",
            "İ",
            "ß",
            "\r\n",
            "[x]",
            "Jan",
            "31",
            "+44 (0",
            "1.234,",
            "№",
            "¥",
            "x:\n\ny",
        ];
        let values = ["İstanbul".to_string(), "".to_string(), "ß".to_string()];
        let kinds = [
            FieldKind::Text,
            FieldKind::Number,
            FieldKind::Integer,
            FieldKind::Boolean,
            FieldKind::Date,
            FieldKind::Email,
            FieldKind::Phone,
            FieldKind::Url,
            FieldKind::Money,
            FieldKind::Enum,
        ];
        let mut docs: Vec<String> = Vec::new();
        for (i, a) in pieces.iter().enumerate() {
            for b in pieces.iter().skip(i % 7).step_by(5) {
                docs.push(format!("{a}{b}"));
                docs.push(format!("{a} : {b}  {a}\n{b}"));
            }
        }
        docs.push(" ".repeat(10_000));
        docs.push("€".repeat(3000));
        docs.push("1".repeat(5000));
        docs.push("Total:   \n".repeat(200));
        let names = ["total", "İd", "e-mail"];
        for (n, doc) in docs.iter().enumerate() {
            let kvs = key_values(doc);
            for kv in &kvs {
                assert!(doc.get(kv.key_start..kv.key_end).is_some());
                assert!(doc.get(kv.value_start..kv.value_end).is_some());
            }
            let all = [
                emails(doc),
                urls(doc),
                phones(doc),
                dates(doc),
                money(doc),
                numbers(doc),
                integers(doc),
                booleans(doc),
            ];
            for c in all.iter().flatten() {
                assert!(doc.get(c.start..c.end).is_some(), "{doc:?} {c:?}");
                assert!((0.0..=1.0).contains(&c.confidence));
            }
            for kind in kinds {
                let name = names[n % names.len()];
                let f = FieldQuery {
                    name,
                    description: Some(doc),
                    kind,
                    values: &values,
                };
                if let Some(c) = resolve_field(doc, &f, &kvs) {
                    assert!(doc.get(c.start..c.end).is_some(), "{doc:?} {c:?}");
                }
                let _ = parse_value(kind, doc);
            }
        }
    }
}
