//! Field resolution: "what is the value of field X of kind K in this text", by key match, then
//! proximity to a mention of the field, then a typed fallback.

use super::*;
use crate::engine::text::{Analyzer, words};

/// Byte offsets just past each word of `text` whose stem is one of `stems`.
pub(super) fn mention_ends(analyzer: &Analyzer, text: &str, stems: &[String]) -> Vec<usize> {
    if stems.is_empty() {
        return Vec::new();
    }
    words(text)
        .filter(|(_, w)| {
            let lower = w.to_lowercase();
            let canon = canonical_token(&lower);
            stems.contains(&analyzer.stem(canon))
        })
        .map(|(o, w)| o + w.len())
        .collect()
}

/// Resolves one schema field from `text`.
///
/// 1. Key match: the pairs of `key_values` (normally `key_values(text)`) whose key names the
///    field (same stems, a synonym such as `Amount due` for `total`, a containing phrase, term
///    overlap, or the field description's terms), best first, earliest on ties; the first whose
///    value parses as `kind` wins. `Text` takes the whole value; `Enum` the caller value equal to
///    it or mentioned in it. Confidence ≈ 0.75–0.9.
/// 2. Proximity: the typed candidate closest after a mention of the field's terms, within 80
///    bytes (≈ 0.7). `Enum`: a caller value mentioned in the text (word boundary, any case).
///    `Boolean`: what the text states about the field's words (`is_damaged` ← "arrived
///    damaged"). `Text`: a value of the kind the field asks for ([`wanted`]: a person, an
///    organisation, a place, an address, an id), nearest after a mention of the field, else the
///    most certain (see [`free_text_value`]); a `Text` field whose kind is unknown needs a key.
/// 3. Fallback: the first email / URL / phone / date (≈ 0.5). Other kinds have no fallback:
///    guessing which amount or number a field means is worse than reporting none.
pub fn resolve_field(text: &str, field: &FieldQuery, key_values: &[KeyValue]) -> Option<Candidate> {
    let analyzer = Analyzer::english();
    let terms = field_terms(&analyzer, field.name);
    let desc: Vec<String> = field
        .description
        .map(|d| {
            let toks = name_tokens(d);
            stems_of(&analyzer, &toks)
        })
        .unwrap_or_default();

    let wanted = if field.kind == FieldKind::Text {
        wanted(field.name, field.description)
    } else {
        Wanted::Plain
    };

    // 1. Key match.
    let mut scored: Vec<(f32, &KeyValue)> = key_values
        .iter()
        .filter(|kv| {
            kv.key_start <= kv.key_end
                && kv.value_start <= kv.value_end
                && text.get(kv.value_start..kv.value_end).is_some()
        })
        .map(|kv| (key_score(&analyzer, &terms, &desc, &kv.key), kv))
        .filter(|(s, _)| *s >= 0.5)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.key_start.cmp(&b.1.key_start)));
    for (score, kv) in &scored {
        let confidence = (0.6 + 0.3 * score).min(0.95);
        if field.kind == FieldKind::Enum {
            if let Some((s, e, v, exact)) =
                enum_in(&analyzer, text, kv.value_start, kv.value_end, field.values)
            {
                return Some(Candidate {
                    start: s,
                    end: e,
                    value: Value::Text(v),
                    confidence: if exact { confidence } else { confidence - 0.05 },
                });
            }
            continue;
        }
        if field.kind == FieldKind::Text && wanted != Wanted::Plain {
            if let Some(c) = key_value_of(text, kv.value_start, kv.value_end, &wanted) {
                return Some(Candidate { confidence, ..c });
            }
            continue;
        }
        if let Some(c) = parse_at(field.kind, text, kv.value_start, kv.value_end) {
            return Some(Candidate { confidence, ..c });
        }
    }

    // 2. Proximity to a mention of the field. Only one-word synonyms count as mentions: the
    // words of longer ones ("order" in "order total") are too generic on their own.
    let mut mention_stems = terms.stems.clone();
    for p in terms.group.iter().chain(&terms.head_groups) {
        if p.contains(' ') {
            continue;
        }
        for s in stems_of(&analyzer, &name_tokens(p)) {
            if !mention_stems.contains(&s) {
                mention_stems.push(s);
            }
        }
    }
    let mentions = mention_ends(&analyzer, text, &mention_stems);
    let near = |start: usize| -> Option<usize> {
        let i = mentions.partition_point(|&m| m <= start);
        let m = *mentions.get(i.checked_sub(1)?)?;
        let d = start - m;
        (d <= 80).then_some(d)
    };

    if field.kind == FieldKind::Enum {
        let hits: Vec<(usize, usize, String)> = field
            .values
            .iter()
            .flat_map(|v| {
                find_word_ci(text, v)
                    .into_iter()
                    .map(move |(s, e)| (s, e, v.clone()))
            })
            .collect();
        let best_near = hits
            .iter()
            .filter_map(|h| near(h.0).map(|d| (d, h)))
            .min_by_key(|(d, h)| (*d, h.0));
        if let Some((_, (s, e, v))) = best_near {
            return Some(Candidate {
                start: *s,
                end: *e,
                value: Value::Text(v.clone()),
                confidence: 0.7,
            });
        }
        if let Some((s, e, v)) = hits.iter().min_by_key(|h| (h.0, h.1)) {
            return Some(Candidate {
                start: *s,
                end: *e,
                value: Value::Text(v.clone()),
                confidence: 0.5,
            });
        }
        return enum_in(&analyzer, text, 0, text.len(), field.values).map(|(s, e, v, _)| {
            Candidate {
                start: s,
                end: e,
                value: Value::Text(v),
                confidence: 0.45,
            }
        });
    }
    if field.kind == FieldKind::Boolean {
        return stated(&analyzer, text, &name_tokens(field.name));
    }
    if field.kind == FieldKind::Text {
        return free_text_value(text, &wanted, &near);
    }
    let cands = typed_candidates(field.kind, text, false);
    let best_near = cands
        .iter()
        .filter_map(|c| near(c.start).map(|d| (d, c)))
        .min_by_key(|(d, c)| (*d, c.start));
    if let Some((_, c)) = best_near {
        return Some(Candidate {
            confidence: 0.7,
            ..c.clone()
        });
    }

    // 3. Fallback for kinds that are usually unique in a document.
    match field.kind {
        FieldKind::Email | FieldKind::Url | FieldKind::Phone | FieldKind::Date => {
            cands.into_iter().next().map(|c| Candidate {
                confidence: 0.5,
                ..c
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::extract::test_support::*;

    #[test]
    fn invoice_fields_resolve() {
        let kvs = key_values(INVOICE);
        let get = |name: &str, kind| resolve_field(INVOICE, &q(name, kind), &kvs).expect(name);

        let c = get("invoice_number", FieldKind::Text);
        assert_eq!(c.value, Value::Text("INV-2024-001".into()));
        assert_eq!(&INVOICE[c.start..c.end], "INV-2024-001");
        assert!(c.confidence >= 0.85);

        let c = get("invoiceDate", FieldKind::Date);
        assert_eq!(c.value, d(2024, 3, 15));
        assert_eq!(&INVOICE[c.start..c.end], "15/03/2024");

        let c = get("due_date", FieldKind::Date);
        assert_eq!(c.value, d(2024, 4, 14));

        let c = get("total", FieldKind::Money);
        assert_eq!(c.value, money_val(45.6, Some("MYR")));
        assert_eq!(&INVOICE[c.start..c.end], "RM 45.60");

        let c = get("Order Number", FieldKind::Integer);
        assert_eq!(c.value, Value::Integer(12345));

        let c = get("customer_email", FieldKind::Email);
        assert_eq!(c.value, Value::Email("jane.doe@example.com".into()));

        let c = get("phone", FieldKind::Phone);
        assert_eq!(c.value, Value::Phone("+60321415678".into()));
        assert_eq!(&INVOICE[c.start..c.end], "+60 3-2141 5678");

        let c = get("paid", FieldKind::Boolean);
        assert_eq!(c.value, Value::Boolean(true));
        assert_eq!(&INVOICE[c.start..c.end], "Yes");

        let c = get("tax", FieldKind::Number);
        assert_eq!(c.value, Value::Number(5.6));

        let c = get("customer_name", FieldKind::Text);
        assert_eq!(c.value, Value::Text("Jane Doe".into()));

        // The vendor heads the document without a key: a company name by its legal form.
        let c = resolve_field(INVOICE, &q("vendor", FieldKind::Text), &kvs).expect("vendor");
        assert_eq!(c.value, Value::Text("ACME SUPPLIES SDN BHD".into()));
        // A free-text field the engine cannot type is not guessed.
        assert!(resolve_field(INVOICE, &q("notes", FieldKind::Text), &kvs).is_none());
    }

    #[test]
    fn email_message_fields() {
        let mail = "From: Priya Raman <priya.raman@globex.co.uk>\n\
                    Subject: Re: renewal quote\n\
                    \n\
                    Hi Tom,\n\
                    Thanks for the quote dated 2 February 2024. The renewal price of £7 per seat \
                    works for us; our priority is high this quarter. Please send the contract to \
                    legal@globex.co.uk or call +44 20 7946 0958.\n\
                    Visit https://globex.co.uk/contracts).\n\
                    Best,\nPriya";
        let kvs = key_values(mail);
        let c = resolve_field(mail, &q("sender_email", FieldKind::Email), &kvs).expect("email");
        assert_eq!(c.value, Value::Email("priya.raman@globex.co.uk".into()));
        assert!(c.confidence >= 0.8);

        let c = resolve_field(mail, &q("phone", FieldKind::Phone), &kvs).expect("phone");
        assert_eq!(c.value, Value::Phone("+442079460958".into()));
        assert_eq!(&mail[c.start..c.end], "+44 20 7946 0958");

        let c = resolve_field(mail, &q("quote_date", FieldKind::Date), &kvs).expect("date");
        assert_eq!(c.value, d(2024, 2, 2));
        assert_eq!(&mail[c.start..c.end], "2 February 2024");
        assert!((c.confidence - 0.7).abs() < 1e-6);

        let c = resolve_field(mail, &q("price", FieldKind::Money), &kvs).expect("price");
        assert_eq!(c.value, money_val(7.0, Some("GBP")));
        assert_eq!(&mail[c.start..c.end], "£7");

        let values = ["low".to_string(), "medium".to_string(), "high".to_string()];
        let pq = FieldQuery {
            name: "priority",
            description: Some("How urgent the customer says it is"),
            kind: FieldKind::Enum,
            values: &values,
        };
        let c = resolve_field(mail, &pq, &kvs).expect("enum");
        assert_eq!(c.value, Value::Text("high".into()));
        assert_eq!(&mail[c.start..c.end], "high");

        let u = urls(mail);
        assert_eq!(spans(mail, &u), vec!["https://globex.co.uk/contracts"]);

        // No key and no mention: booleans and free text are not guessed.
        assert!(resolve_field(mail, &q("approved", FieldKind::Boolean), &kvs).is_none());
        assert!(resolve_field(mail, &q("tracking_code", FieldKind::Text), &kvs).is_none());
    }

    #[test]
    fn description_helps_key_match() {
        let t = "Issued: 3 Jan 2024\nPayable: 10 Jan 2024";
        let kvs = key_values(t);
        let f = FieldQuery {
            name: "when",
            description: Some("the day the document was issued"),
            kind: FieldKind::Date,
            values: &[],
        };
        let c = resolve_field(t, &f, &kvs).expect("date");
        assert_eq!(c.value, d(2024, 1, 3));
        assert!(c.confidence >= 0.75);
    }
}
