//! Booleans written as words (`yes`, `disabled`), letters after a key (`Y`) and check boxes
//! (`[x]`); and booleans stated in prose: a field `is_damaged` is true when the text says the
//! thing is damaged, false when it says it is not (`not damaged`, `undamaged`, `no damage`), and
//! unknown when the text does not say.

use std::sync::LazyLock;

use regex::Regex;

use super::*;
use crate::engine::text::{Analyzer, words};

pub(super) static BOOL_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:yes|no|true|false|checked|unchecked|enabled|disabled|y|n)\b|\[[xX✓✔ ]\]|[☑☒☐✓✔✗✘]",
    )
});

pub(super) fn bool_of(token: &str) -> Option<bool> {
    match token.to_lowercase().as_str() {
        "yes" | "y" | "true" | "t" | "1" | "checked" | "enabled" | "on" | "agreed"
        | "confirmed" | "[x]" | "[✓]" | "[✔]" | "x" | "☑" | "☒" | "✓" | "✔" => {
            Some(true)
        }
        "no" | "n" | "false" | "f" | "0" | "unchecked" | "disabled" | "off" | "none" | "[ ]"
        | "☐" | "✗" | "✘" => Some(false),
        _ => None,
    }
}

/// Whether `[start, end)` is the value of a key on its line (`Subscribed: Y`).
pub(super) fn after_key_separator(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].trim_end_matches([' ', '\t']);
    // Short-circuits at the first other char, so many matches on one long line stay linear.
    let rest_of_line_empty = text[end..]
        .chars()
        .take_while(|&c| c != '\n')
        .all(|c| c.is_whitespace() || matches!(c, '.' | ',' | ';'));
    before.ends_with([':', '=', '-']) && rest_of_line_empty
}

/// Boolean words and checkbox marks: yes/no, true/false, checked/unchecked, enabled/disabled,
/// `[x]`/`[ ]`, ☑/☐; `y`/`n` only as the whole value after a key (`Subscribed: Y`). Confidence
/// is higher after a key separator, and lowest for a bare "no" in prose.
pub fn booleans(text: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    for m in BOOL_WORD.find_iter(text) {
        let tok = m.as_str();
        let Some(v) = bool_of(tok) else { continue };
        let keyed = after_key_separator(text, m.start(), m.end());
        let single = tok.len() == 1 && tok.is_ascii();
        if single && !keyed {
            continue;
        }
        let confidence = if keyed {
            0.8
        } else if tok.eq_ignore_ascii_case("no") {
            0.3
        } else {
            0.5
        };
        out.push(Candidate {
            start: m.start(),
            end: m.end(),
            value: Value::Boolean(v),
            confidence,
        });
    }
    out
}

pub(super) fn parse_bool_at(text: &str, start: usize, end: usize) -> Option<Candidate> {
    let s = &text[start..end];
    let trimmed = s.trim();
    let lead = s.len() - s.trim_start().len();
    let whole = trimmed.trim_end_matches(['.', '!', ',', ';']);
    let first = trimmed
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | ';' | '!' | '(' | '-'))
        .next()
        .unwrap_or("");
    let (tok, tok_start) = if bool_of(whole).is_some() {
        (whole, start + lead)
    } else {
        (first, start + lead)
    };
    bool_of(tok).map(|v| Candidate {
        start: tok_start,
        end: tok_start + tok.len(),
        value: Value::Boolean(v),
        confidence: 0.8,
    })
}
/// Verbs and auxiliaries that open a boolean field's name (`is_damaged`, `has_warranty`).
const PREDICATE_OPENERS: &[&str] = &[
    "is", "has", "have", "was", "were", "are", "did", "does", "do", "can", "should", "needs",
    "need", "requires", "require", "wants", "want", "will", "had", "been",
];

/// Negations that flip a statement when they come shortly before it.
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "without", "isn't", "wasn't", "aren't", "weren't", "hasn't", "haven't",
    "didn't", "doesn't", "don't", "isnt", "wasnt", "didnt", "doesnt", "dont", "nothing", "none",
    "nor", "neither",
];

/// The boolean the text states for a field whose name says what is asserted (`is_damaged`,
/// `has_warranty`, `requires_signature`): the field's content words (after an opening verb) must
/// all occur as stems within a short window; a negation just before the first of them, or a
/// `un-`/`non-` form, makes it false. `None` when the text does not mention it.
pub(super) fn stated(analyzer: &Analyzer, text: &str, field_words: &[String]) -> Option<Candidate> {
    let mut content: Vec<&str> = field_words.iter().map(String::as_str).collect();
    while content
        .first()
        .is_some_and(|w| PREDICATE_OPENERS.contains(w))
    {
        content.remove(0);
    }
    let stems: Vec<String> = content
        .iter()
        .filter(|w| !analyzer.is_stop_word(w))
        .map(|w| analyzer.stem(w))
        .collect();
    let first = stems.first()?;
    let toks: Vec<(usize, &str, String)> =
        words(text).map(|(o, w)| (o, w, w.to_lowercase())).collect();
    for (k, (o, w, lower)) in toks.iter().enumerate() {
        let (negated_form, stem) = match lower.strip_prefix("un").or(lower.strip_prefix("non")) {
            Some(rest) if analyzer.stem(rest) == *first => (true, first.clone()),
            _ => (false, analyzer.stem(lower)),
        };
        if stem != *first {
            continue;
        }
        // The other content words close by (within six words after).
        let window = &toks[k + 1..(k + 7).min(toks.len())];
        if !stems[1..]
            .iter()
            .all(|s| window.iter().any(|(_, _, l)| analyzer.stem(l) == *s))
        {
            continue;
        }
        let negated = negated_form
            || toks[k.saturating_sub(3)..k]
                .iter()
                .any(|(_, _, l)| NEGATIONS.contains(&l.as_str()) || l.ends_with("n't"));
        return Some(Candidate {
            start: *o,
            end: o + w.len(),
            value: Value::Boolean(!negated),
            confidence: 0.7,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::extract::test_support::*;

    fn said(text: &str, field: &[&str]) -> Option<bool> {
        let words: Vec<String> = field.iter().map(|w| (*w).to_owned()).collect();
        stated(&Analyzer::english(), text, &words).map(|c| c.value == Value::Boolean(true))
    }

    #[test]
    fn booleans_stated_in_prose() {
        assert_eq!(
            said("Our order arrived damaged and late.", &["is", "damaged"]),
            Some(true)
        );
        assert_eq!(
            said("The box was not damaged at all.", &["is", "damaged"]),
            Some(false)
        );
        assert_eq!(said("It came undamaged.", &["is", "damaged"]), Some(false));
        assert_eq!(
            said("There is some damage to the lid.", &["is", "damaged"]),
            Some(true)
        );
        assert_eq!(
            said("Everything is fine, thanks.", &["is", "damaged"]),
            None
        );
        assert_eq!(
            said(
                "It requires a signature on delivery",
                &["requires", "signature"]
            ),
            Some(true)
        );
    }

    #[test]
    fn boolean_words_and_boxes() {
        let t = "Subscribed: Y\nNewsletter: no\n[x] I agree\nAny issues? No problem, yes.";
        let b = booleans(t);
        assert_eq!(spans(t, &b), vec!["Y", "no", "[x]", "No", "yes"]);
        assert_eq!(b[0].value, Value::Boolean(true));
        assert_eq!(b[1].value, Value::Boolean(false));
        assert!(b[0].confidence > b[3].confidence);
    }
}
