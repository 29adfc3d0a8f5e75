//! Typed extraction from realistic business text (invoices, receipts, emails, support tickets):
//! span extractors for emails, URLs, phones, dates, money, numbers and booleans; detection of
//! `key: value` lines; and [`resolve_field`], which answers "what is the value of field X of
//! kind K" by key match, then proximity to a mention of the field, then a typed fallback.
//!
//! Spans are byte offsets into the input and always fall on char boundaries (they come from
//! regex matches or from trimming), so `&text[c.start..c.end]` never panics. Every function is
//! pure, deterministic, and linear-ish in the input size.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use super::text::{Analyzer, words};

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

// ---------------------------------------------------------------------------------------------
// Emails and URLs

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
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

static URL: LazyLock<Regex> = LazyLock::new(|| re(r#"(?i:https?://|www\.)[^\s<>"'`{}|\\^]+"#));

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

// ---------------------------------------------------------------------------------------------
// Phones

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\+\d{1,3}[ .\-]?)?(?:\(\+?\d{1,5}\)[ .\-]?)?\d{1,15}(?:(?: ?[.\-] ?| )(?:\(\d{1,5}\) ?)?\d{1,15}){0,7}",
    )
});

const PHONE_KEYWORDS: &[&str] = &[
    "tel", "phone", "mobile", "mob", "cell", "call", "fax", "whatsapp", "contact", "h/p", "ph",
];

/// Whether a phone keyword ends shortly before `start` ("Tel: 02079460958").
fn phone_keyword_before(text: &str, start: usize) -> bool {
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
fn digit_groups(s: &str) -> (Vec<&str>, Vec<char>) {
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
fn date_shaped(groups: &[&str], seps: &str) -> bool {
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

fn phones_impl(text: &str, relaxed: bool) -> Vec<Candidate> {
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

// ---------------------------------------------------------------------------------------------
// Dates

const MONTHS: &str = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

static DATE_YMD: LazyLock<Regex> = LazyLock::new(|| re(r"(\d{4})([-/.])(\d{1,2})([-/.])(\d{1,2})"));
static DATE_NUMERIC: LazyLock<Regex> =
    LazyLock::new(|| re(r"(\d{1,2})([-/.])(\d{1,2})([-/.])(\d{4}|\d{2})"));
static DATE_MONTH_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b({MONTHS})\.?[ \t]+(\d{{1,2}})(?:st|nd|rd|th)?(?:,[ \t]*|[ \t]+)(\d{{4}})\b"
    ))
});
static DATE_DAY_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(\d{{1,2}})(?:st|nd|rd|th)?(?:[ \t]+of)?[ \t]+({MONTHS})\.?,?[ \t]+(\d{{4}})\b"
    ))
});
static DATE_DAY_MON_DASH: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(\d{{1,2}})([-/])({MONTHS})([-/])(\d{{4}}|\d{{2}})\b"
    ))
});

fn month_number(name: &str) -> Option<u32> {
    let key: String = name.chars().take(3).collect::<String>().to_lowercase();
    let idx = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| *m == key)?;
    u32::try_from(idx + 1).ok()
}

fn year_of(s: &str) -> Option<i32> {
    let y: i32 = s.parse().ok()?;
    Some(if s.len() == 2 { 2000 + y } else { y })
}

/// Whether a numeric date match is cut out of a longer number or id.
fn numeric_date_bounded(text: &str, start: usize, end: usize) -> bool {
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

// ---------------------------------------------------------------------------------------------
// Money and numbers

const AMOUNT: &str = r"\d+(?:[,.\x{a0}\x{202f}']\d{3})*(?:[.,]\d{1,2})?";
const CODES: &str = "USD|EUR|GBP|JPY|INR|MYR|RMB|RM|SGD|AUD|CAD|CHF|CNY|HKD|NZD|SEK|NOK|DKK|ZAR|IDR|THB|PHP|VND|KRW|BRL|MXN|AED|SAR|PLN|CZK|HUF|TRY|ILS|NGN|KES|EGP|PKR|BDT|LKR|TWD|RUB";

static MONEY_SYMBOL_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?P<neg>-)?(?P<sym>\b(?:US|A|C|S|HK|NZ|R)\$|\bRs\.?|\$|€|£|¥|₹|₩|₱|฿|₽|₺|₫)[ \x{{a0}}]?(?P<neg2>-)?(?P<amt>{AMOUNT})"
    ))
});
static MONEY_CODE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?P<code>{CODES})[ \x{{a0}}]?(?P<neg2>-)?(?P<amt>{AMOUNT})"
    ))
});
static MONEY_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?P<neg>-)?(?P<amt>{AMOUNT})[ \x{{a0}}]?(?:(?P<sym>€|£|¥|₹|\$|₩|₽|₺|₫|zł)|(?P<code>{CODES})\b)"
    ))
});
static MONEY_KEYWORD: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(?:grand[ \t]+total|sub-?total|total(?:[ \t]+(?:amount|due|payable|price|cost))?|amount(?:[ \t]+(?:due|paid|payable))?|balance(?:[ \t]+due)?|price|cost|fee|charges?|tax|vat|gst|paid|payment)\b[ \t]*[:=\-]?[ \t]*(?P<neg>-)?(?P<amt>{AMOUNT})"
    ))
});

fn currency_code(symbol_or_code: &str) -> String {
    let code = match symbol_or_code.trim_end_matches('.') {
        "$" | "US$" => "USD",
        "€" => "EUR",
        "£" => "GBP",
        "¥" => "JPY",
        "₹" | "Rs" => "INR",
        "A$" => "AUD",
        "C$" => "CAD",
        "S$" => "SGD",
        "HK$" => "HKD",
        "NZ$" => "NZD",
        "R$" => "BRL",
        "₩" => "KRW",
        "₱" => "PHP",
        "฿" => "THB",
        "₽" => "RUB",
        "₺" => "TRY",
        "₫" => "VND",
        "zł" => "PLN",
        "RM" => "MYR",
        "RMB" => "CNY",
        other => other,
    };
    code.to_string()
}

/// Parses an amount written with any grouping style. The last separator is the decimal mark
/// when 1–2 digits follow it, otherwise every separator groups thousands: `1,234.50`,
/// `1.234,56`, `12,50`, `1'234`, `1,234` (= 1234).
fn parse_amount(s: &str) -> Option<f64> {
    let last_sep = s.char_indices().rfind(|(_, c)| !c.is_ascii_digit());
    let cleaned: String = match last_sep {
        Some((i, c)) => {
            let tail = &s[i + c.len_utf8()..];
            let decimal = (tail.len() == 1 || tail.len() == 2) && matches!(c, '.' | ',');
            let int_part: String = s[..i].chars().filter(char::is_ascii_digit).collect();
            if decimal {
                format!("{int_part}.{tail}")
            } else {
                s.chars().filter(char::is_ascii_digit).collect()
            }
        }
        None => s.to_string(),
    };
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Whether the amount at `[start, end)` is a whole number token, not a piece of a longer one.
fn amount_bounded(text: &str, start: usize, end: usize, check_before: bool) -> bool {
    let a1 = char_after(text, end);
    let a2 = text.get(end..).and_then(|t| t.chars().nth(1));
    if a1.is_some_and(|c| c.is_ascii_digit() || c == '%')
        || (matches!(a1, Some('.' | ',' | '-' | '/')) && a2.is_some_and(|c| c.is_ascii_digit()))
    {
        return false;
    }
    if check_before {
        let b1 = char_before(text, start);
        if is_word(b1)
            || (matches!(b1, Some('.' | ',' | '-' | '/' | '_'))
                && is_word(char_before2(text, start)))
        {
            return false;
        }
    }
    true
}

/// Money amounts: symbol or ISO code before or after the amount (`$1,234.50`, `USD 99`,
/// `99.00 EUR`, `€12,50`, `£7`, `1.234,56 €`, `RM 12.50`), and amounts right after a money
/// keyword without a currency (`Total: 45.60`, currency `None`, lower confidence). Symbols map
/// to ISO 4217 ($→USD, €→EUR, £→GBP, ¥→JPY, ₹→INR, RM→MYR, …).
pub fn money(text: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut push = |start: usize,
                    end: usize,
                    amt: &str,
                    negative: bool,
                    currency: Option<String>,
                    confidence: f32| {
        if let Some(amount) = parse_amount(amt) {
            out.push(Candidate {
                start,
                end,
                value: Value::Money {
                    amount: if negative { -amount } else { amount },
                    currency,
                },
                confidence,
            });
        }
    };
    for c in MONEY_SYMBOL_PREFIX.captures_iter(text) {
        let (Some(all), Some(amt), Some(sym)) = (c.get(0), c.name("amt"), c.name("sym")) else {
            continue;
        };
        if !amount_bounded(text, amt.start(), amt.end(), false) {
            continue;
        }
        // A sign glued to a word ("ID-$5") is a hyphen, not a minus.
        let neg = c
            .name("neg")
            .filter(|n| !is_word(char_before(text, n.start())));
        let start = neg.map_or(sym.start(), |n| n.start());
        let negative = neg.is_some() || c.name("neg2").is_some();
        push(
            start,
            all.end(),
            amt.as_str(),
            negative,
            Some(currency_code(sym.as_str())),
            0.95,
        );
    }
    for c in MONEY_CODE_PREFIX.captures_iter(text) {
        let (Some(all), Some(amt), Some(code)) = (c.get(0), c.name("amt"), c.name("code")) else {
            continue;
        };
        if !amount_bounded(text, amt.start(), amt.end(), false) {
            continue;
        }
        push(
            all.start(),
            all.end(),
            amt.as_str(),
            c.name("neg2").is_some(),
            Some(currency_code(code.as_str())),
            0.95,
        );
    }
    for c in MONEY_SUFFIX.captures_iter(text) {
        let (Some(all), Some(amt)) = (c.get(0), c.name("amt")) else {
            continue;
        };
        let Some(cur) = c.name("sym").or_else(|| c.name("code")) else {
            continue;
        };
        let b1 = char_before(text, amt.start());
        if is_word(b1)
            || (matches!(b1, Some('.' | ',' | '-' | '/' | '_'))
                && is_word(char_before2(text, amt.start())))
        {
            continue;
        }
        let neg = c
            .name("neg")
            .filter(|n| !is_word(char_before(text, n.start())));
        let start = neg.map_or(amt.start(), |n| n.start());
        push(
            start,
            all.end(),
            amt.as_str(),
            neg.is_some(),
            Some(currency_code(cur.as_str())),
            0.9,
        );
    }
    for c in MONEY_KEYWORD.captures_iter(text) {
        let Some(amt) = c.name("amt") else { continue };
        if !amount_bounded(text, amt.start(), amt.end(), true) {
            continue;
        }
        let neg = c.name("neg");
        let start = neg.map_or(amt.start(), |n| n.start());
        push(start, amt.end(), amt.as_str(), neg.is_some(), None, 0.6);
    }
    dedupe_overlaps(out)
}

static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?P<neg>[-−])?(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)(?P<pct>%)?"));

/// `(start, end, parsed, is_integer_literal)` for each standalone number.
fn number_tokens(text: &str) -> Vec<(usize, usize, f64, bool)> {
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

// ---------------------------------------------------------------------------------------------
// Booleans

static BOOL_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:yes|no|true|false|checked|unchecked|enabled|disabled|y|n)\b|\[[xX✓✔ ]\]|[☑☒☐✓✔✗✘]",
    )
});

fn bool_of(token: &str) -> Option<bool> {
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
fn after_key_separator(text: &str, start: usize, end: usize) -> bool {
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

fn parse_bool_at(text: &str, start: usize, end: usize) -> Option<Candidate> {
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

// ---------------------------------------------------------------------------------------------
// Key/value lines

/// Trims `[s, e)` of `text` with `pred` on both sides and returns the new range.
fn trim_range(
    text: &str,
    s: usize,
    e: usize,
    pred: impl Fn(char) -> bool + Copy,
) -> (usize, usize) {
    let slice = &text[s..e];
    let left = slice.len() - slice.trim_start_matches(pred).len();
    let inner = &slice[left..];
    let right = inner.trim_end_matches(pred).len();
    (s + left, s + left + right)
}

fn key_decoration(c: char) -> bool {
    c.is_whitespace() || matches!(c, '*' | '_' | '#' | '>' | '•' | '-' | '|' | '`')
}

fn plausible_key(key: &str, max_words: usize) -> bool {
    let n_chars = key.chars().count();
    (1..=40).contains(&n_chars)
        && key.split_whitespace().count() <= max_words
        && key.chars().next().is_some_and(char::is_alphabetic)
        && !key.contains(['!', '?', ';', ',', '"', '“', '='])
        && key.chars().any(char::is_alphabetic)
}

/// Splits one line segment `[s, e)` into `(key range, value range)`; the value may be empty.
fn split_pair(text: &str, s: usize, e: usize) -> Option<((usize, usize), (usize, usize))> {
    let line = &text[s..e];
    let finish = |k_end: usize, v_start: usize, max_words: usize| {
        let (ks, ke) = trim_range(text, s, s + k_end, key_decoration);
        let (vs, ve) = trim_range(text, s + v_start, e, |c: char| {
            c.is_whitespace() || matches!(c, '*' | '_' | '`')
        });
        let key = &text[ks..ke];
        if plausible_key(key, max_words) {
            Some(((ks, ke), (vs, ve.max(vs))))
        } else {
            None
        }
    };
    // 1. A colon not inside a time (10:30) or a URL (https://).
    if let Some((i, c)) = line.char_indices().find(|&(_, c)| c == ':' || c == '：') {
        let before = line[..i].chars().next_back();
        let after = line[i + c.len_utf8()..].chars().next();
        let time =
            before.is_some_and(|b| b.is_ascii_digit()) && after.is_some_and(|a| a.is_ascii_digit());
        let url = after == Some('/');
        if !time && !url {
            return finish(i, i + c.len_utf8(), 6);
        }
    }
    // 2. A spaced dash: "Order ID - 12345".
    for dash in [" - ", " – ", " — "] {
        if let Some(i) = line.find(dash)
            && let Some(p) = finish(i, i + dash.len(), 4)
            && p.1.0 < p.1.1
        {
            return Some(p);
        }
    }
    // 3. A tab or a run of 2+ spaces: "Name    John Smith".
    let gap = line.find('\t').into_iter().chain(line.find("  ")).min();
    if let Some(i) = gap
        && !line[..i].trim().is_empty()
        && let Some(p) = finish(i, i, 4)
        && p.1.0 < p.1.1
    {
        return Some(p);
    }
    None
}

/// `key: value` pairs, one per line (or several on one line when separated by a tab or 2+
/// spaces: `Date: 2024-01-02    Invoice: 7`). Separators: `:` (not in times or URLs), a
/// spaced dash (`Order ID - 12345`), or a tab / 2+ spaces (`Name    John Smith`). Keys are
/// short (≤ 6 words, start with a letter; markdown/bullet decoration trimmed); the value is the
/// rest of the segment, trimmed. A `Bill To:` line with nothing after the colon takes the next
/// line as its value when that line is non-empty and not itself a pair.
pub fn key_values(text: &str) -> Vec<KeyValue> {
    let mut lines: Vec<(usize, usize)> = Vec::new();
    let mut off = 0;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        lines.push((off, off + line.len()));
        off += raw.len() + 1;
    }
    let mut out = Vec::new();
    let mut skip_line = None;
    for (li, &(ls, le)) in lines.iter().enumerate() {
        if skip_line == Some(li) {
            continue;
        }
        let mut seg_start = ls;
        // Bounded so a pathological line cannot loop forever; each round consumes a segment.
        for _ in 0..16 {
            let Some(((ks, ke), (vs, ve))) = split_pair(text, seg_start, le) else {
                break;
            };
            if vs == ve {
                // Dangling key: the value is on the next line.
                if let Some(&(ns, ne)) = lines.get(li + 1) {
                    let is_pair = split_pair(text, ns, ne).is_some_and(|(_, v)| v.0 < v.1);
                    if !is_pair && !text[ns..ne].trim().is_empty() {
                        let (vs, ve) = trim_range(text, ns, ne, char::is_whitespace);
                        out.push(KeyValue {
                            key: text[ks..ke].to_string(),
                            key_start: ks,
                            key_end: ke,
                            value_start: vs,
                            value_end: ve,
                        });
                        skip_line = Some(li + 1);
                    }
                }
                break;
            }
            // A second pair after a wide gap on the same line.
            let value = &text[vs..ve];
            let next_seg = [value.find('\t'), value.find("   ")]
                .into_iter()
                .flatten()
                .min()
                .filter(|&g| {
                    split_pair(text, vs + g, ve)
                        .is_some_and(|(k, v)| v.0 < v.1 && text[k.0..v.0].contains([':', '：']))
                });
            let value_end = match next_seg {
                Some(g) => trim_range(text, vs, vs + g, char::is_whitespace).1,
                None => ve,
            };
            out.push(KeyValue {
                key: text[ks..ke].to_string(),
                key_start: ks,
                key_end: ke,
                value_start: vs,
                value_end,
            });
            match next_seg {
                Some(g) => seg_start = vs + g,
                None => break,
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Field resolution

/// Synonym groups of normalised key phrases (lowercase words, after [`canonical_token`]). A
/// field whose phrase is in a group matches keys spelled with any other phrase of the group.
/// The flag says whether a field merely containing the group's head word (`customer_phone`)
/// may also use the group: only for typed, unambiguous concepts.
const SYNONYMS: &[(bool, &[&str])] = &[
    (
        false,
        &[
            "total",
            "grand total",
            "amount due",
            "total due",
            "balance due",
            "total amount",
            "amount payable",
            "total payable",
            "amount",
            "net total",
            "balance",
            "total price",
            "total cost",
            "order total",
            "invoice total",
            "total amount due",
        ],
    ),
    (
        true,
        &[
            "date",
            "issued",
            "issue date",
            "invoice date",
            "date of issue",
            "dated",
            "date issued",
            "order date",
            "receipt date",
            "transaction date",
            "bill date",
        ],
    ),
    (
        false,
        &[
            "due date",
            "payment due",
            "due",
            "due by",
            "pay by",
            "payment due date",
        ],
    ),
    (
        true,
        &[
            "phone",
            "phone number",
            "contact number",
            "mobile phone",
            "contact phone",
            "cell phone",
        ],
    ),
    (true, &["email", "email address", "contact email"]),
    (
        false,
        &[
            "sender",
            "from",
            "sender email",
            "from email",
            "sender name",
            "sender address",
        ],
    ),
    (
        false,
        &[
            "name",
            "customer",
            "customer name",
            "full name",
            "client",
            "client name",
            "contact name",
            "bill to",
            "billed to",
            "sold to",
        ],
    ),
    (
        false,
        &[
            "company",
            "vendor",
            "merchant",
            "supplier",
            "seller",
            "store",
            "business",
            "company name",
            "vendor name",
            "merchant name",
            "supplier name",
            "organization",
            "organisation",
            "shop",
        ],
    ),
    (
        true,
        &[
            "address",
            "street address",
            "billing address",
            "shipping address",
            "location",
            "street",
            "mailing address",
        ],
    ),
    (
        false,
        &[
            "invoice number",
            "invoice",
            "bill number",
            "receipt number",
            "invoice reference",
        ],
    ),
    (
        false,
        &["order number", "order", "order reference", "purchase order"],
    ),
    (
        true,
        &[
            "url", "website", "web", "site", "homepage", "link", "web site",
        ],
    ),
    (false, &["subtotal", "sub total"]),
    (false, &["tax", "vat", "gst", "sales tax", "tax amount"]),
];

fn canonical_token(t: &str) -> &str {
    match t {
        "no" | "num" | "nr" | "nbr" | "id" => "number",
        "inv" => "invoice",
        "addr" => "address",
        "amt" => "amount",
        "qty" => "quantity",
        "ref" => "reference",
        "acct" | "acc" => "account",
        "tel" | "telephone" | "mobile" | "mob" | "cell" | "ph" => "phone",
        "mail" | "e-mail" => "email",
        "www" => "website",
        other => other,
    }
}

/// Lowercase canonical words of a field name or key: splits camelCase and snake_case, maps
/// abbreviations (`No.`, `#`, `Tel`, `E-mail`) to one spelling.
fn name_tokens(name: &str) -> Vec<String> {
    let mut split = String::with_capacity(name.len() + 8);
    let mut prev: Option<char> = None;
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if let Some(p) = prev {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if c.is_uppercase()
                && (p.is_lowercase() || p.is_ascii_digit() || (p.is_uppercase() && next_lower))
            {
                split.push(' ');
            }
        }
        split.push(c);
        prev = Some(c);
    }
    let lower = split
        .to_lowercase()
        .replace("e-mail", "email")
        .replace("e mail", "email")
        .replace('#', " number ");
    words(&lower)
        .flat_map(|(_, w)| w.split(['_', '.']))
        .filter(|w| !w.is_empty())
        .map(|w| canonical_token(w).to_string())
        .collect()
}

struct FieldTerms {
    phrase: String,
    stems: Vec<String>,
    /// Phrases of the field's synonym group (exact match group).
    group: Vec<&'static str>,
    /// Phrases of groups reached through a head word inside a longer field name.
    head_groups: Vec<&'static str>,
}

fn stems_of(analyzer: &Analyzer, tokens: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tokens {
        if analyzer.is_stop_word(t) && t != "number" {
            continue;
        }
        let s = analyzer.stem(t);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn field_terms(analyzer: &Analyzer, name: &str) -> FieldTerms {
    let tokens = name_tokens(name);
    let phrase = tokens.join(" ");
    let group = SYNONYMS
        .iter()
        .find(|(_, g)| g.contains(&phrase.as_str()))
        .map(|(_, g)| g.to_vec())
        .unwrap_or_default();
    let head_groups = SYNONYMS
        .iter()
        .filter(|(head, g)| *head && !g.contains(&phrase.as_str()))
        .filter(|(_, g)| tokens.iter().any(|t| t == g[0]))
        .flat_map(|(_, g)| g.iter().copied())
        .collect();
    FieldTerms {
        stems: stems_of(analyzer, &tokens),
        phrase,
        group,
        head_groups,
    }
}

fn contains_phrase(haystack: &str, needle: &str) -> bool {
    let h: Vec<&str> = haystack.split(' ').collect();
    let n: Vec<&str> = needle.split(' ').collect();
    !n.is_empty() && n.len() <= h.len() && h.windows(n.len()).any(|w| w == n.as_slice())
}

/// How well a key names the field, in `[0, 1]`; `>= 0.5` is a match.
fn key_score(analyzer: &Analyzer, field: &FieldTerms, desc: &[String], key: &str) -> f32 {
    let tokens = name_tokens(key);
    if tokens.is_empty() {
        return 0.0;
    }
    let phrase = tokens.join(" ");
    let stems = stems_of(analyzer, &tokens);
    let mut best = 0.0_f32;
    let same_stems = !stems.is_empty()
        && stems.len() == field.stems.len()
        && stems.iter().all(|s| field.stems.contains(s));
    if phrase == field.phrase || same_stems {
        return 1.0;
    }
    if field.group.contains(&phrase.as_str()) {
        best = best.max(0.95);
    }
    let key_words = tokens.len() as f32;
    for g in field
        .group
        .iter()
        .chain(std::iter::once(&field.phrase.as_str()))
    {
        if contains_phrase(&phrase, g) {
            let covered = g.split(' ').count() as f32 / key_words;
            best = best.max(0.7 + 0.2 * covered);
        }
    }
    if field.head_groups.contains(&phrase.as_str()) {
        best = best.max(0.7);
    }
    if !field.stems.is_empty() && !stems.is_empty() {
        let inter = stems.iter().filter(|s| field.stems.contains(s)).count() as f32;
        if inter > 0.0 {
            let s = inter / field.stems.len() as f32 * (0.4 + 0.5 * inter / stems.len() as f32);
            best = best.max(s);
        }
    }
    // The description may be the only usable part when the name is opaque ("when", "f1").
    if !desc.is_empty() && !stems.is_empty() {
        let covered = stems.iter().filter(|s| desc.contains(s)).count() as f32;
        best = best.max(0.6 * covered / stems.len() as f32);
    }
    best
}

/// Finds `needle` in `hay` case-insensitively (full Unicode lowercasing) at word boundaries,
/// returning byte ranges of `hay`. Compares char by char instead of lowercasing `hay`, because
/// lowercasing can change byte lengths (`İ`) and would shift every offset after it.
fn find_word_ci(hay: &str, needle: &str) -> Vec<(usize, usize)> {
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
fn enum_in(
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

/// Byte offsets just past each word of `text` whose stem is one of `stems`.
fn mention_ends(analyzer: &Analyzer, text: &str, stems: &[String]) -> Vec<usize> {
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
    if matches!(field.kind, FieldKind::Text | FieldKind::Boolean) {
        return None;
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

    fn d(y: i32, m: u32, day: u32) -> Value {
        Value::Date(NaiveDate::from_ymd_opt(y, m, day).expect("valid test date"))
    }

    fn spans(text: &str, c: &[Candidate]) -> Vec<String> {
        c.iter().map(|c| text[c.start..c.end].to_string()).collect()
    }

    fn money_val(amount: f64, cur: Option<&str>) -> Value {
        Value::Money {
            amount,
            currency: cur.map(str::to_string),
        }
    }

    const INVOICE: &str = "ACME SUPPLIES SDN BHD\n\
        Invoice Number: INV-2024-001\n\
        Invoice Date: 15/03/2024\n\
        Due Date: 14 April 2024\n\
        Bill To:\n\
        Jane Doe\n\
        Email: jane.doe@example.com\n\
        Tel: +60 3-2141 5678\n\
        Order ID - 12345\n\
        Customer    Jane Doe\n\
        \n\
        Item                 Qty   Price\n\
        Paper A4             2     RM 12.50\n\
        \n\
        Subtotal: RM 40.00\n\
        Tax: RM 5.60\n\
        **Total Amount:** RM 45.60\n\
        Paid: Yes\n";

    fn q<'a>(name: &'a str, kind: FieldKind) -> FieldQuery<'a> {
        FieldQuery {
            name,
            description: None,
            kind,
            values: &[],
        }
    }

    #[test]
    fn invoice_key_values() {
        let kvs = key_values(INVOICE);
        let pairs: Vec<(&str, &str)> = kvs
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value(INVOICE)))
            .collect();
        for expected in [
            ("Invoice Number", "INV-2024-001"),
            ("Invoice Date", "15/03/2024"),
            ("Bill To", "Jane Doe"),
            ("Order ID", "12345"),
            ("Customer", "Jane Doe"),
            ("Total Amount", "RM 45.60"),
            ("Paid", "Yes"),
        ] {
            assert!(pairs.contains(&expected), "{expected:?} not in {pairs:?}");
        }
        for kv in &kvs {
            assert_eq!(&INVOICE[kv.key_start..kv.key_end], kv.key);
        }
    }

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

        // The vendor heads the document without a key: free text is not guessed.
        assert!(resolve_field(INVOICE, &q("vendor", FieldKind::Text), &kvs).is_none());
    }

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

    #[test]
    fn money_numbers_booleans() {
        let cases: &[(&str, f64, Option<&str>)] = &[
            ("$1,234.50", 1234.5, Some("USD")),
            ("USD 99", 99.0, Some("USD")),
            ("£7", 7.0, Some("GBP")),
            ("¥500", 500.0, Some("JPY")),
            ("₹1,200", 1200.0, Some("INR")),
            ("RM12.50", 12.5, Some("MYR")),
            ("-$5.00", -5.0, Some("USD")),
            ("Total: 45.60", 45.6, None),
            ("Amount due 1,200", 1200.0, None),
        ];
        for &(s, amount, cur) in cases {
            let m = money(s);
            assert_eq!(m.len(), 1, "{s}: {m:?}");
            assert_eq!(m[0].value, money_val(amount, cur), "{s}");
        }
        let m = money("Total: 45.60");
        assert_eq!((m[0].start, m[0].end), (7, 12));
        assert!(money("INV-2024-001 and FORM 12").is_empty());

        let t = "Sold 1,250 units (-3.5% vs 2023), ref INV-2024-001 at 10:30, v1.2.3.";
        let n = numbers(t);
        assert_eq!(spans(t, &n), vec!["1,250", "-3.5%", "2023"]);
        assert_eq!(n[1].value, Value::Number(-3.5));
        let i = integers(t);
        assert_eq!(
            i.iter().map(|c| c.value.clone()).collect::<Vec<_>>(),
            vec![Value::Integer(1250), Value::Integer(2023)]
        );

        let t = "Subscribed: Y\nNewsletter: no\n[x] I agree\nAny issues? No problem, yes.";
        let b = booleans(t);
        assert_eq!(spans(t, &b), vec!["Y", "no", "[x]", "No", "yes"]);
        assert_eq!(b[0].value, Value::Boolean(true));
        assert_eq!(b[1].value, Value::Boolean(false));
        assert!(b[0].confidence > b[3].confidence);

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
    fn key_value_shapes() {
        let t = "Meeting at 10:30 tomorrow\nSee https://x.example/a\nDate: 2024-01-02    Invoice: 7\n\
                 Name\tJohn Smith\n- **Status**: open\nThis is a long sentence, with: a colon in it";
        let kvs = key_values(t);
        let pairs: Vec<(&str, &str)> = kvs
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value(t)))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("Date", "2024-01-02"),
                ("Invoice", "7"),
                ("Name", "John Smith"),
                ("Status", "open")
            ]
        );
    }

    #[test]
    fn field_name_normalisation() {
        let a = Analyzer::english();
        for n in [
            "invoice_number",
            "invoiceNumber",
            "Invoice Number",
            "InvoiceNo",
            "Invoice #",
        ] {
            assert_eq!(field_terms(&a, n).stems, vec!["invoic", "number"], "{n}");
        }
        assert_eq!(name_tokens("E-mail"), vec!["email"]);
        assert_eq!(name_tokens("HTTPServerURL"), vec!["http", "server", "url"]);
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
