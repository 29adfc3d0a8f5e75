//! Plain numbers and integers that stand on their own (not part of an id, a date or a version).

use std::sync::LazyLock;

use regex::Regex;

use super::*;

pub(super) static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?P<neg>[-−])?(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)(?P<pct>%)?"));

/// `(start, end, parsed, is_integer_literal)` for each standalone number.
pub(super) fn number_tokens(text: &str) -> Vec<(usize, usize, f64, bool)> {
    let mut out = Vec::new();
    for c in NUMBER.captures_iter(text) {
        let (Some(all), Some(num)) = (c.get(0), c.name("num")) else {
            continue;
        };
        // A sign glued to a word is a hyphen ("INV-2024"), which the bound check then rejects.
        let neg = c
            .name("neg")
            .filter(|n| !is_word(char_before(text, n.start())));
        let start = neg.map_or(num.start(), |n| n.start());
        let b1 = char_before(text, num.start());
        let b2 = char_before2(text, num.start());
        let glued_before = neg.is_none()
            && (is_word(b1)
                || (matches!(b1, Some('-' | '−' | '/' | '_' | '.' | ',')) && is_word(b2))
                || (b1 == Some(':') && b2.is_some_and(|c| c.is_ascii_digit())));
        let a1 = char_after(text, all.end());
        let a2 = text.get(all.end()..).and_then(|t| t.chars().nth(1));
        let glued_after = is_word(a1)
            || (matches!(a1, Some('-' | '/' | '_' | '.' | ',' | ':'))
                && a2.is_some_and(|c| c.is_ascii_digit()));
        if glued_before || glued_after {
            continue;
        }
        let digits: String = num.as_str().chars().filter(|&c| c != ',').collect();
        let Ok(v) = digits.parse::<f64>() else {
            continue;
        };
        let v = if neg.is_some() { -v } else { v };
        let integer = !digits.contains('.') && c.name("pct").is_none();
        out.push((start, all.end(), v, integer));
    }
    out
}

/// Standalone numbers: integers and decimals with `,` thousands separators, negatives, and
/// percentages (`15%` → `15.0`, the number as written). Pieces of ids, dates, times and
/// versions (`INV-2024-001`, `2024-03-15`, `10:30`, `v1.2.3`) are not numbers.
pub fn numbers(text: &str) -> Vec<Candidate> {
    number_tokens(text)
        .into_iter()
        .map(|(start, end, v, _)| Candidate {
            start,
            end,
            value: Value::Number(v),
            confidence: 0.8,
        })
        .collect()
}

/// The [`numbers`] that are written as integers (no decimal point, not a percentage) and fit
/// in `i64`.
pub fn integers(text: &str) -> Vec<Candidate> {
    number_tokens(text)
        .into_iter()
        .filter(|t| t.3)
        .filter_map(|(start, end, _, _)| {
            let digits: String = text[start..end]
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '-' || *c == '−')
                .map(|c| if c == '−' { '-' } else { c })
                .collect();
            digits.parse::<i64>().ok().map(|v| Candidate {
                start,
                end,
                value: Value::Integer(v),
                confidence: 0.8,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::extract::test_support::*;

    #[test]
    fn numbers_and_integers_stand_alone() {
        let t = "Sold 1,250 units (-3.5% vs 2023), ref INV-2024-001 at 10:30, v1.2.3.";
        let n = numbers(t);
        assert_eq!(spans(t, &n), vec!["1,250", "-3.5%", "2023"]);
        assert_eq!(n[1].value, Value::Number(-3.5));
        let i = integers(t);
        assert_eq!(
            i.iter().map(|c| c.value.clone()).collect::<Vec<_>>(),
            vec![Value::Integer(1250), Value::Integer(2023)]
        );
    }
}
