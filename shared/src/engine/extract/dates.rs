//! Calendar dates in the shapes business text uses (ISO, numeric day-first or month-first,
//! month names, `20-Apr-24`), validated as real dates.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use super::*;

pub(super) const MONTHS: &str = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

pub(super) static DATE_YMD: LazyLock<Regex> =
    LazyLock::new(|| re(r"(\d{4})([-/.])(\d{1,2})([-/.])(\d{1,2})"));
pub(super) static DATE_NUMERIC: LazyLock<Regex> =
    LazyLock::new(|| re(r"(\d{1,2})([-/.])(\d{1,2})([-/.])(\d{4}|\d{2})"));
pub(super) static DATE_MONTH_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b({MONTHS})\.?[ \t]+(\d{{1,2}})(?:st|nd|rd|th)?(?:,[ \t]*|[ \t]+)(\d{{4}})\b"
    ))
});
pub(super) static DATE_DAY_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(\d{{1,2}})(?:st|nd|rd|th)?(?:[ \t]+of)?[ \t]+({MONTHS})\.?,?[ \t]+(\d{{4}})\b"
    ))
});
pub(super) static DATE_DAY_MON_DASH: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(\d{{1,2}})([-/])({MONTHS})([-/])(\d{{4}}|\d{{2}})\b"
    ))
});

pub(super) fn month_number(name: &str) -> Option<u32> {
    let key: String = name.chars().take(3).collect::<String>().to_lowercase();
    let idx = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| *m == key)?;
    u32::try_from(idx + 1).ok()
}

pub(super) fn year_of(s: &str) -> Option<i32> {
    let y: i32 = s.parse().ok()?;
    Some(if s.len() == 2 { 2000 + y } else { y })
}

/// Whether a numeric date match is cut out of a longer number or id.
pub(super) fn numeric_date_bounded(text: &str, start: usize, end: usize) -> bool {
    let b1 = char_before(text, start);
    let a1 = char_after(text, end);
    let a2 = text.get(end..).and_then(|t| t.chars().nth(1));
    let glued_before =
        is_word(b1) || (matches!(b1, Some('-' | '/' | '.')) && is_word(char_before2(text, start)));
    let glued_after = a1.is_some_and(|c| c.is_ascii_digit())
        || (matches!(a1, Some('-' | '/' | '.')) && a2.is_some_and(|c| c.is_ascii_digit()));
    !glued_before && !glued_after
}

/// Calendar dates, validated (no 31 February).
///
/// Formats: ISO `2024-03-15` / `2024/03/15` / `2024.03.15`; numeric day-month order
/// `15/03/2024`, `03/15/2024`, `15.03.24`; `March 15, 2024`, `Mar 15 2024`, `Mar. 15th, 2024`;
/// `15 March 2024`, `15th of March, 2024`; `15-Mar-2024`, `15/Mar/24`. Two-digit years are
/// 20xx. For numeric dates a part above 12 decides the order; when both parts are ≤ 12 the
/// separator decides: `/` is read as US `MM/DD/YYYY`, `.` and `-` as `DD.MM.YYYY`, with a lower
/// confidence (0.7 instead of 0.9).
pub fn dates(text: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut push = |start: usize, end: usize, y: i32, m: u32, d: u32, confidence: f32| {
        if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
            out.push(Candidate {
                start,
                end,
                value: Value::Date(date),
                confidence,
            });
        }
    };
    for c in DATE_YMD.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        if c[2] != c[4] || !numeric_date_bounded(text, all.start(), all.end()) {
            continue;
        }
        // An ISO timestamp (`2024-03-15T10:00`) is still a date; a following letter is allowed
        // only for that `T`.
        if is_word(char_after(text, all.end())) && char_after(text, all.end()) != Some('T') {
            continue;
        }
        let (Some(y), Ok(m), Ok(d)) = (year_of(&c[1]), c[3].parse(), c[5].parse()) else {
            continue;
        };
        push(all.start(), all.end(), y, m, d, 0.95);
    }
    for c in DATE_NUMERIC.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        if c[2] != c[4]
            || !numeric_date_bounded(text, all.start(), all.end())
            || is_word(char_after(text, all.end()))
        {
            continue;
        }
        let (Ok(a), Ok(b), Some(y)) = (c[1].parse::<u32>(), c[3].parse::<u32>(), year_of(&c[5]))
        else {
            continue;
        };
        let (m, d, confidence) = if a > 12 {
            (b, a, 0.9)
        } else if b > 12 {
            (a, b, 0.9)
        } else if &c[2] == "/" {
            (a, b, 0.7)
        } else {
            (b, a, 0.7)
        };
        push(all.start(), all.end(), y, m, d, confidence);
    }
    for c in DATE_MONTH_FIRST.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        let (Some(m), Ok(d), Some(y)) = (month_number(&c[1]), c[2].parse(), year_of(&c[3])) else {
            continue;
        };
        push(all.start(), all.end(), y, m, d, 0.95);
    }
    for c in DATE_DAY_FIRST.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        let (Ok(d), Some(m), Some(y)) = (c[1].parse(), month_number(&c[2]), year_of(&c[3])) else {
            continue;
        };
        push(all.start(), all.end(), y, m, d, 0.95);
    }
    for c in DATE_DAY_MON_DASH.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        if c[2] != c[4] {
            continue;
        }
        let (Ok(d), Some(m), Some(y)) = (c[1].parse(), month_number(&c[3]), year_of(&c[5])) else {
            continue;
        };
        push(all.start(), all.end(), y, m, d, 0.95);
    }
    dedupe_overlaps(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::extract::test_support::*;

    #[test]
    fn date_formats_and_validation() {
        let cases: &[(&str, Value)] = &[
            ("2024/03/15", d(2024, 3, 15)),
            ("15.03.2024", d(2024, 3, 15)),
            ("03/15/2024", d(2024, 3, 15)),
            ("02/03/2024", d(2024, 2, 3)),
            ("02.03.2024", d(2024, 3, 2)),
            ("Mar 15 2024", d(2024, 3, 15)),
            ("Mar. 15th, 2024", d(2024, 3, 15)),
            ("15th of March, 2024", d(2024, 3, 15)),
            ("15-Mar-2024", d(2024, 3, 15)),
            ("1/2/24", d(2024, 1, 2)),
        ];
        for (s, v) in cases {
            let got = dates(s);
            assert_eq!(got.len(), 1, "{s}: {got:?}");
            assert_eq!(&got[0].value, v, "{s}");
            assert_eq!((got[0].start, got[0].end), (0, s.len()), "{s}");
        }
        for s in [
            "2024-02-30",
            "31/02/2024",
            "13/13/2024",
            "Feb 30, 2024",
            "v1.2.2024",
            "12345-03-15",
        ] {
            assert!(dates(s).is_empty(), "{s}: {:?}", dates(s));
        }
    }
}
