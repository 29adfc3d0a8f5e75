//! Contact values: email addresses, web addresses (URLs) and telephone numbers, each with the
//! checks that keep look-alikes out (an order number is not a phone, a version is not a URL).

use std::sync::LazyLock;

use regex::Regex;

use super::*;

pub(super) static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}",
    )
});

/// Email addresses. The value is the address as written.
pub fn emails(text: &str) -> Vec<Candidate> {
    EMAIL
        .find_iter(text)
        .filter(|m| {
            let after = char_after(text, m.end());
            !is_word(after) && !matches!(after, Some('@' | '-' | '_'))
        })
        .map(|m| Candidate {
            start: m.start(),
            end: m.end(),
            value: Value::Email(m.as_str().to_string()),
            confidence: 0.95,
        })
        .collect()
}

pub(super) static URL: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i:https?://|www\.)[^\s<>"'`{}|\\^]+"#));

/// `http(s)://` and `www.` URLs, with trailing sentence punctuation and unbalanced closing
/// brackets stripped. The value is the URL as written (a `www.` URL is not given a scheme).
pub fn urls(text: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    for m in URL.find_iter(text) {
        if is_word(char_before(text, m.start())) {
            continue;
        }
        let mut s = m.as_str();
        // Counted once and updated while stripping, so a run of ")" stays linear.
        let mut open = (s.matches('(').count(), s.matches('[').count());
        let mut close = (s.matches(')').count(), s.matches(']').count());
        while let Some(last) = s.chars().next_back() {
            let unbalanced = match last {
                ')' => open.0 < close.0,
                ']' => open.1 < close.1,
                _ => false,
            };
            if !(unbalanced || matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '"' | '*'))
            {
                break;
            }
            match last {
                ')' => close.0 -= 1,
                ']' => close.1 -= 1,
                '(' => open.0 -= 1,
                '[' => open.1 -= 1,
                _ => {}
            }
            s = &s[..s.len() - last.len_utf8()];
        }
        let lower = s.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .unwrap_or(&lower);
        let www = lower.starts_with("www.");
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let valid_host = if www {
            host.len() > 4 && host[4..].contains('.')
        } else {
            !host.is_empty() && host.chars().any(char::is_alphanumeric)
        };
        if !valid_host {
            continue;
        }
        out.push(Candidate {
            start: m.start(),
            end: m.start() + s.len(),
            value: Value::Url(s.to_string()),
            confidence: if www { 0.85 } else { 0.95 },
        });
    }
    out
}

pub(super) static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\+\d{1,3}[ .\-]?)?(?:\(\+?\d{1,5}\)[ .\-]?)?\d{1,15}(?:(?: ?[.\-] ?| )(?:\(\d{1,5}\) ?)?\d{1,15}){0,7}",
    )
});

pub(super) const PHONE_KEYWORDS: &[&str] = &[
    "tel", "phone", "mobile", "mob", "cell", "call", "fax", "whatsapp", "contact", "h/p", "ph",
];

/// Whether a phone keyword ends shortly before `start` ("Tel: 02079460958").
pub(super) fn phone_keyword_before(text: &str, start: usize) -> bool {
    let mut from = start.saturating_sub(24);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let window = text[from..start].to_lowercase();
    PHONE_KEYWORDS.iter().any(|k| {
        window.match_indices(k).any(|(i, _)| {
            let before = window[..i].chars().next_back();
            !is_word(before)
        })
    })
}

/// Digit groups of a phone-shaped match and the separators between them.
pub(super) fn digit_groups(s: &str) -> (Vec<&str>, Vec<char>) {
    let mut groups = Vec::new();
    let mut seps = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c.is_ascii_digit() {
            if start.is_none() {
                start = Some(i);
            }
        } else {
            if let Some(st) = start.take() {
                groups.push(&s[st..i]);
            }
            if !groups.is_empty() && matches!(c, '-' | '.' | ' ' | '(' | ')') {
                seps.push(c);
            }
        }
    }
    if let Some(st) = start {
        groups.push(&s[st..]);
    }
    (groups, seps)
}

/// A number shaped like a calendar date: `2024-03-15`, `15.03.2024`, `03-15-24`.
pub(super) fn date_shaped(groups: &[&str], seps: &str) -> bool {
    if groups.len() < 3 {
        return false;
    }
    let l: Vec<usize> = groups[..3].iter().map(|g| g.len()).collect();
    let same_sep = {
        let mut it = seps.chars().filter(|c| matches!(c, '-' | '.' | '/'));
        match (it.next(), it.next()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    };
    same_sep
        && ((l[0] == 4 && l[1] <= 2 && l[2] <= 2)
            || (l[0] <= 2 && l[1] <= 2 && (l[2] == 4 || l[2] == 2)))
}

pub(super) fn phones_impl(text: &str, relaxed: bool) -> Vec<Candidate> {
    let mut out = Vec::new();
    for m in PHONE.find_iter(text) {
        let (start, end) = (m.start(), m.end());
        let s = m.as_str();
        let b1 = char_before(text, start);
        let b2 = char_before2(text, start);
        if is_word(b1)
            || matches!(
                b1,
                Some('#' | '/' | '_' | '@' | '$' | '€' | '£' | '¥' | '₹')
            )
            || (matches!(b1, Some('-' | '.' | ',')) && is_word(b2))
        {
            continue;
        }
        let a1 = char_after(text, end);
        let a2 = text.get(end..).and_then(|t| t.chars().nth(1));
        if is_word(a1)
            || matches!(a1, Some('%' | '/' | '@' | '€' | '£' | '$'))
            || (matches!(a1, Some(':' | '.' | ',' | '-' | '/'))
                && a2.is_some_and(|c| c.is_ascii_digit()))
        {
            continue;
        }
        let (groups, seps) = digit_groups(s);
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        if !(7..=15).contains(&digits.len()) {
            continue;
        }
        let seps: String = seps.into_iter().collect();
        if date_shaped(&groups, &seps) {
            continue;
        }
        let plus = s.starts_with('+');
        let paren = s.contains('(');
        let keyword = relaxed || phone_keyword_before(text, start);
        // `1.234.567` or `1 234 567` are amounts, not phones.
        // Versions and IPs (`10.0.19045.2965`): dotted groups outside phones' 2–4 digit range.
        let odd_dots = !plus
            && !seps.is_empty()
            && seps.chars().all(|c| c == '.')
            && groups.iter().any(|g| g.len() < 2 || g.len() > 4);
        if odd_dots {
            continue;
        }
        let thousands = groups.len() >= 2
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3)
            && (seps.chars().all(|c| c == '.') || seps.chars().all(|c| c == ' '));
        if thousands && !plus && !paren && !keyword {
            continue;
        }
        // A currency just before (`USD 1 234 567`) also means an amount.
        let mut from = start.saturating_sub(5);
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        let lead = &text[from..start];
        if !plus && lead.contains(['$', '€', '£', '¥', '₹']) {
            continue;
        }
        let last_len = groups.last().map_or(0, |g| g.len());
        let structured = groups.len() >= 3 || (groups.len() == 2 && seps.contains(['-', '.']));
        let formatted = plus || paren || (structured && last_len >= 3);
        if !formatted && !keyword {
            continue;
        }
        let international_digits: String = if plus {
            // The trunk prefix written as "(0)" after a country code is not dialled.
            s.replacen("(0)", "", 1)
                .chars()
                .filter(char::is_ascii_digit)
                .collect()
        } else {
            digits.clone()
        };
        let value = if plus {
            format!("+{international_digits}")
        } else if let Some(rest) = digits.strip_prefix("00").filter(|_| digits.len() >= 10) {
            format!("+{rest}")
        } else {
            digits
        };
        let confidence = if plus || keyword {
            0.9
        } else if paren {
            0.85
        } else {
            0.75
        };
        out.push(Candidate {
            start,
            end,
            value: Value::Phone(value),
            confidence,
        });
    }
    out
}

/// Phone numbers with 7–15 digits that look like phones: with a `+` country code, an area code
/// in parentheses, or several separated digit groups (`555-123-4567`). Bare digit runs (order
/// ids) only count right after a phone keyword (`Tel:`). Dates, timestamps and thousands-grouped
/// amounts are rejected. The value is `+` and the digits when a country code is present (`+`
/// or `00`), else the digits alone.
pub fn phones(text: &str) -> Vec<Candidate> {
    phones_impl(text, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::extract::test_support::*;

    #[test]
    fn phones_reject_non_phones() {
        for t in [
            "Order 1234567890 shipped",
            "on 2024-03-15 at 10:30",
            "at 2024-03-15T10:30:00",
            "ref INV-2024-0012345",
            "amount 1.234.567 total",
            "paid $1 234 567",
            "date 15.03.2024",
            "version 10.0.19045.2965",
        ] {
            assert!(phones(t).is_empty(), "{t}: {:?}", phones(t));
        }
        let t = "Tel: 02079460958, mobile 555-1234";
        assert_eq!(spans(t, &phones(t)), vec!["02079460958", "555-1234"]);
        assert_eq!(
            parse_value(FieldKind::Phone, "0044 20 7946 0958"),
            Some(Value::Phone("+442079460958".into()))
        );
        assert_eq!(
            parse_value(FieldKind::Phone, "+44 (0)20 7946 0958"),
            Some(Value::Phone("+442079460958".into()))
        );
    }
}
