//! Identifiers and reference numbers: `order #A-77812`, `INV-5531`, `Ticket 88213`, `case no.
//! 4411-B`. A field asking for one names what it identifies (`order_number` → "order"), so the
//! value is the id-shaped token right after a mention of that word; an id with a prefix that
//! abbreviates the word (`INV-5531` for an invoice) counts even without the mention.

use std::sync::LazyLock;

use regex::Regex;

use super::*;

/// An id: optional letters and separators around at least two digits, or letters then digits.
static ID: LazyLock<Regex> =
    LazyLock::new(|| re(r"#?\b(?:[A-Za-z]{1,6}[-/]?)?\d[\dA-Za-z]*(?:[-/][\dA-Za-z]+){0,4}\b"));

/// What may sit between the word and the id: `#`, `no.`, `number`, `id`, `ref`, `:`, `-`, `is`.
static BRIDGE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?:\s*(?:#|no\.?|nr\.?|num(?:ber)?|id|ref(?:erence)?|code|is|was|:|-|–|\(|number:)\s*)*\s*",
    )
});

/// Whether a token is shaped like an identifier: two digits or more, not a plain small number
/// (a quantity, a year), not a date.
fn id_shaped(token: &str) -> bool {
    let t = token.trim_start_matches('#');
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let letters = t.chars().filter(|c| c.is_alphabetic()).count();
    if digits < 2 || t.contains("//") {
        return false;
    }
    if letters == 0 && !t.contains(['-', '/']) {
        // Bare numbers: long enough not to be a count or a year.
        return digits >= 4 && !(digits == 4 && (t.starts_with("19") || t.starts_with("20")));
    }
    !(letters == 0 && dates(t).iter().any(|d| d.start == 0 && d.end == t.len()))
}

/// The id right after a mention of `word` (any case, plural or not) in `text`.
pub fn id_after(text: &str, word: &str) -> Option<Candidate> {
    let lower = text.to_lowercase();
    let word = word.to_lowercase();
    if word.len() < 2 || lower.len() != text.len() {
        return id_after_exact(text, &word);
    }
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&word) {
        let start = from + pos;
        let mut end = start + word.len();
        from = end;
        if is_word(char_before(text, start)) {
            continue;
        }
        // The word itself, a plural or a possessive.
        while text[end..].starts_with(['s', 'S', '\'']) {
            end += 1;
        }
        if is_word(char_after(text, end)) {
            continue;
        }
        let rest = &text[end..];
        let bridge = BRIDGE.find(rest).map_or(0, |m| m.end());
        let after = end + bridge;
        if let Some(m) = ID.find(&text[after..])
            && m.start() == 0
            && id_shaped(m.as_str())
        {
            let s = after + usize::from(m.as_str().starts_with('#'));
            return Some(Candidate {
                start: s,
                end: after + m.end(),
                value: Value::Text(text[s..after + m.end()].to_owned()),
                confidence: 0.85,
            });
        }
    }
    None
}

/// Fallback for text whose lowercase form changes byte lengths: exact-case search only.
fn id_after_exact(text: &str, word: &str) -> Option<Candidate> {
    let pos = text.find(word)?;
    let after = pos + word.len();
    let bridge = BRIDGE.find(&text[after..]).map_or(0, |m| m.end());
    let m = ID.find(&text[after + bridge..])?;
    (m.start() == 0 && id_shaped(m.as_str())).then(|| {
        let s = after + bridge;
        Candidate {
            start: s,
            end: s + m.end(),
            value: Value::Text(text[s..s + m.end()].to_owned()),
            confidence: 0.8,
        }
    })
}

/// The first id-shaped token of `text` (the value of a key that names an id).
pub fn first_id(text: &str) -> Option<Candidate> {
    ID.find_iter(text).find_map(|m| {
        let t = m.as_str().trim_start_matches('#');
        id_shaped(t).then(|| Candidate {
            start: m.end() - t.len(),
            end: m.end(),
            value: Value::Text(t.to_owned()),
            confidence: 0.85,
        })
    })
}

/// An id whose letter prefix abbreviates `word` (`INV-5531` for "invoice", `PO-77` for
/// "purchase order" is not attempted): the prefix must be the word's first three letters or more.
pub fn prefixed_id(text: &str, word: &str) -> Option<Candidate> {
    let word = word.to_lowercase();
    ID.find_iter(text).find_map(|m| {
        let t = m.as_str().trim_start_matches('#');
        let prefix: String = t
            .chars()
            .take_while(|c| c.is_alphabetic())
            .collect::<String>()
            .to_lowercase();
        (prefix.len() >= 3 && word.starts_with(&prefix) && id_shaped(t)).then(|| {
            let s = m.end() - t.len();
            Candidate {
                start: s,
                end: m.end(),
                value: Value::Text(t.to_owned()),
                confidence: 0.75,
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(text: &str, word: &str) -> Option<String> {
        id_after(text, word).map(|c| text[c.start..c.end].to_owned())
    }

    #[test]
    fn ids_follow_the_word_they_identify() {
        assert_eq!(
            after("Our order #A-77812 arrived damaged", "order").as_deref(),
            Some("A-77812")
        );
        assert_eq!(
            after("Re: Ticket 88213 still open", "ticket").as_deref(),
            Some("88213")
        );
        assert_eq!(
            after("Invoice number: INV-5531", "invoice").as_deref(),
            Some("INV-5531")
        );
        assert_eq!(after("case no. 4411-B", "case").as_deref(), Some("4411-B"));
    }

    #[test]
    fn counts_years_and_dates_are_not_ids() {
        assert_eq!(after("We ordered 3 boxes", "order"), None);
        assert_eq!(after("order 2024 catalogue", "order"), None);
        assert_eq!(after("the order of 12/03/2024", "order"), None);
        assert_eq!(after("disorder 12345", "order"), None);
    }

    #[test]
    fn a_prefix_can_stand_for_the_word() {
        let t = "Please pay INV-5531 by Friday.";
        let c = prefixed_id(t, "invoice").expect("found");
        assert_eq!(&t[c.start..c.end], "INV-5531");
        assert!(prefixed_id(t, "order").is_none());
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for t in ["", "#", "order", "order #", "İorder 12345", "order 日本"] {
            let _ = id_after(t, "order");
            let _ = prefixed_id(t, "order");
        }
    }
}
