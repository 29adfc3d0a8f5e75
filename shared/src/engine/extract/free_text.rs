//! Text and enum values: where a caller's allowed value is written in the text (exact words,
//! then stems), case-insensitively without shifting byte offsets; and free-text fields whose
//! name says what they hold (a person, an organisation, a place, an address, an id), answered
//! from the matching extractor ([`names`](super::names), [`places`](super::places),
//! [`addresses`](super::addresses), [`ids`](super::ids)).

use super::letterheads::header_name;
use super::names::{EntityKind, entities};
use super::places::rooms;
use super::*;
use crate::engine::text::{Analyzer, words};

/// Finds `needle` in `hay` case-insensitively (full Unicode lowercasing) at word boundaries,
/// returning byte ranges of `hay`. Compares char by char instead of lowercasing `hay`, because
/// lowercasing can change byte lengths (`İ`) and would shift every offset after it.
pub(super) fn find_word_ci(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    let needle: Vec<char> = needle.trim().chars().flat_map(char::to_lowercase).collect();
    if needle.is_empty() || needle.len() > 200 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut from = 0;
    for (i, _) in hay.char_indices() {
        if i < from {
            continue;
        }
        let mut k = 0;
        let mut end = None;
        'scan: for (j, c) in hay[i..].char_indices() {
            for lc in c.to_lowercase() {
                if k < needle.len() && needle[k] == lc {
                    k += 1;
                } else {
                    break 'scan;
                }
            }
            if k == needle.len() {
                end = Some(i + j + c.len_utf8());
                break;
            }
        }
        if let Some(e) = end
            && !is_word(char_before(hay, i))
            && !is_word(char_after(hay, e))
        {
            out.push((i, e));
            from = e;
        }
    }
    out
}

/// Where the caller's enum value appears in `text[s..e]`: exact words first, then stems.
pub(super) fn enum_in(
    analyzer: &Analyzer,
    text: &str,
    s: usize,
    e: usize,
    values: &[String],
) -> Option<(usize, usize, String, bool)> {
    let region = &text[s..e];
    let trimmed = region.trim().trim_end_matches(['.', ',', ';', '!']);
    for v in values {
        let v_trim = v.trim();
        if !v_trim.is_empty() && trimmed.to_lowercase() == v_trim.to_lowercase() {
            let lead = region.len() - region.trim_start().len();
            return Some((s + lead, s + lead + trimmed.len(), v.clone(), true));
        }
    }
    let mut best: Option<(usize, usize, String, bool)> = None;
    for v in values {
        if let Some(&(a, b)) = find_word_ci(region, v).first()
            && best.as_ref().is_none_or(|x| s + a < x.0)
        {
            best = Some((s + a, s + b, v.clone(), false));
        }
    }
    if best.is_some() {
        return best;
    }
    // Stemmed: every term of the value occurs ("urgently" for "urgent").
    let region_words: Vec<(usize, &str, String)> = words(region)
        .map(|(o, w)| (o, w, analyzer.stem(&w.to_lowercase())))
        .collect();
    for v in values {
        let vt = analyzer.terms(v);
        let Some(first) = vt.first() else { continue };
        if vt
            .iter()
            .all(|t| region_words.iter().any(|(_, _, st)| st == t))
            && let Some((o, w, _)) = region_words.iter().find(|(_, _, st)| st == first)
            && best.as_ref().is_none_or(|x| s + o < x.0)
        {
            best = Some((s + o, s + o + w.len(), v.clone(), false));
        }
    }
    best
}
/// Least confidence of a free-text value found without a key: below it the field stays `null`
/// (a guess costs the caller more than a gap).
const MIN_FREE_TEXT: f32 = 0.55;

/// The value of a free-text field of kind `wanted` in `text`, without a key: candidates of that
/// kind, the nearest after a mention of the field first (`near` gives the distance), else the
/// most certain, earliest on ties.
pub(super) fn free_text_value(
    text: &str,
    wanted: &Wanted,
    near: &dyn Fn(usize) -> Option<usize>,
) -> Option<Candidate> {
    let cands: Vec<Candidate> = match wanted {
        Wanted::Plain => return None,
        Wanted::Id(word) => {
            return id_after(text, word).or_else(|| prefixed_id(text, word));
        }
        Wanted::Address => addresses(text),
        Wanted::Person => entity_values(text, EntityKind::Person),
        Wanted::Organization => {
            let mut c = entity_values(text, EntityKind::Organization);
            // A name over two lines reads as one line, as addresses do.
            c.extend(header_name(text).map(|e| {
                Candidate {
                    start: e.start,
                    end: e.end,
                    value: Value::Text(
                        text[e.start..e.end]
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    confidence: e.confidence,
                }
            }));
            c
        }
        Wanted::Location => {
            // A room is what a "where" field means when the text has one.
            let mut c = rooms(text);
            c.extend(entity_values(text, EntityKind::Location));
            c
        }
    };
    let cands: Vec<Candidate> = cands
        .into_iter()
        .filter(|c| c.confidence >= MIN_FREE_TEXT)
        .collect();
    if let Some((_, c)) = cands
        .iter()
        .filter_map(|c| near(c.start).map(|d| (d, c)))
        .min_by_key(|(d, c)| (*d, c.start))
    {
        return Some(Candidate {
            confidence: c.confidence.max(0.75),
            ..c.clone()
        });
    }
    cands
        .into_iter()
        .fold(None, |best: Option<Candidate>, c| match best {
            Some(b) if b.confidence >= c.confidence => Some(b),
            _ => Some(c),
        })
}

fn entity_values(text: &str, kind: EntityKind) -> Vec<Candidate> {
    entities(text)
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| Candidate {
            start: e.start,
            end: e.end,
            value: Value::Text(text[e.start..e.end].to_owned()),
            confidence: e.confidence,
        })
        .collect()
}

/// The value of a key for a free-text field of kind `wanted`: the name, id or room inside it
/// when there is one (`Who: Dr. Ana Ruiz, Acme Labs` → "Ana Ruiz"), else the whole value when it
/// is short enough to be one (a name the lists do not know).
pub(super) fn key_value_of(text: &str, s: usize, e: usize, wanted: &Wanted) -> Option<Candidate> {
    let (s, e) = trim_range(text, s, e, char::is_whitespace);
    if s >= e {
        return None;
    }
    let value = &text[s..e];
    let shift = |c: Candidate| Candidate {
        start: c.start + s,
        end: c.end + s,
        value: Value::Text(text[c.start + s..c.end + s].to_owned()),
        ..c
    };
    let inner = match wanted {
        Wanted::Person => entity_values(value, EntityKind::Person).into_iter().next(),
        Wanted::Organization => entity_values(value, EntityKind::Organization)
            .into_iter()
            .next(),
        Wanted::Id(_) => first_id(value),
        Wanted::Location | Wanted::Address | Wanted::Plain => None,
    };
    inner.map(shift).or_else(|| whole(text, s, e, 8))
}

/// `text[s..e]` as the value when it has at most `max_words` words and one line.
fn whole(text: &str, s: usize, e: usize, max_words: usize) -> Option<Candidate> {
    let v = &text[s..e];
    (v.split_whitespace().count() <= max_words && !v.contains('\n')).then(|| Candidate {
        start: s,
        end: e,
        value: Value::Text(v.to_owned()),
        confidence: 0.8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: usize) -> Option<usize> {
        None
    }

    fn value(c: Option<Candidate>) -> Option<String> {
        c.map(|c| match c.value {
            Value::Text(t) => t,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn free_text_fields_by_what_they_ask_for() {
        let t = "Maria Gonzalez here from Acme Corp. Our order #A-77812 arrived damaged. \
                 Ship the replacement to 1200 Market Street, San Francisco, CA 94102.";
        let get = |w: Wanted| value(free_text_value(t, &w, &none));
        assert_eq!(get(Wanted::Person).as_deref(), Some("Maria Gonzalez"));
        assert_eq!(get(Wanted::Organization).as_deref(), Some("Acme Corp."));
        assert_eq!(get(Wanted::Id("order".into())).as_deref(), Some("A-77812"));
        assert_eq!(
            get(Wanted::Address).as_deref(),
            Some("1200 Market Street, San Francisco, CA 94102")
        );
        assert_eq!(get(Wanted::Location).as_deref(), Some("San Francisco"));
        assert_eq!(get(Wanted::Plain), None);
    }

    #[test]
    fn a_receipt_company_is_its_header_on_one_line() {
        // The mall's company further down is a name too; the header says who issued it.
        let t = "KEDAI RUNCIT SERI MURNI\n(M) SDN BHD\nLOT 5, PLAZA INDAH, 43000 KAJANG\n\
                 MANAGED BY PLAZA INDAH HOLDINGS SDN BHD\nTOTAL 12.50";
        let c = free_text_value(t, &Wanted::Organization, &none).expect("company");
        assert_eq!(
            value(Some(c.clone())).as_deref(),
            Some("KEDAI RUNCIT SERI MURNI (M) SDN BHD")
        );
        assert_eq!(&t[c.start..c.end], "KEDAI RUNCIT SERI MURNI\n(M) SDN BHD");
    }

    #[test]
    fn absent_values_stay_null() {
        let t = "thanks for the quick reply, see you next week";
        for w in [
            Wanted::Person,
            Wanted::Organization,
            Wanted::Location,
            Wanted::Address,
        ] {
            assert_eq!(value(free_text_value(t, &w, &none)), None, "{w:?}");
        }
        assert_eq!(
            value(free_text_value(t, &Wanted::Id("order".into()), &none)),
            None
        );
    }

    #[test]
    fn a_key_value_is_narrowed_to_the_name_in_it() {
        let t = "Who: Dr. Ana Ruiz, Acme Labs";
        let c = key_value_of(t, 5, t.len(), &Wanted::Person);
        assert_eq!(value(c).as_deref(), Some("Ana Ruiz"));
        let t = "Where: Baker Hall 10";
        assert_eq!(
            value(key_value_of(t, 7, t.len(), &Wanted::Location)).as_deref(),
            Some("Baker Hall 10")
        );
    }
}
