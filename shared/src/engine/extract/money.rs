//! Amounts of money: currency symbols and ISO codes before or after the amount, keyword-led
//! amounts (`Total: 45.60`), and both decimal conventions (`1,234.50`, `1.234,56`).

use std::sync::LazyLock;

use regex::Regex;

use super::*;

pub(super) const AMOUNT: &str = r"\d+(?:[,.\x{a0}\x{202f}']\d{3})*(?:[.,]\d{1,2})?";
pub(super) const CODES: &str = "USD|EUR|GBP|JPY|INR|MYR|RMB|RM|SGD|AUD|CAD|CHF|CNY|HKD|NZD|SEK|NOK|DKK|ZAR|IDR|THB|PHP|VND|KRW|BRL|MXN|AED|SAR|PLN|CZK|HUF|TRY|ILS|NGN|KES|EGP|PKR|BDT|LKR|TWD|RUB";

pub(super) static MONEY_SYMBOL_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?P<neg>-)?(?P<sym>\b(?:US|A|C|S|HK|NZ|R)\$|\bRs\.?|\$|€|£|¥|₹|₩|₱|฿|₽|₺|₫)[ \x{{a0}}]?(?P<neg2>-)?(?P<amt>{AMOUNT})"
    ))
});
pub(super) static MONEY_CODE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?P<code>{CODES})[ \x{{a0}}]?(?P<neg2>-)?(?P<amt>{AMOUNT})"
    ))
});
pub(super) static MONEY_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?P<neg>-)?(?P<amt>{AMOUNT})[ \x{{a0}}]?(?:(?P<sym>€|£|¥|₹|\$|₩|₽|₺|₫|zł)|(?P<code>{CODES})\b)"
    ))
});
pub(super) static MONEY_KEYWORD: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(?:grand[ \t]+total|sub-?total|total(?:[ \t]+(?:amount|due|payable|price|cost))?|amount(?:[ \t]+(?:due|paid|payable))?|balance(?:[ \t]+due)?|price|cost|fee|charges?|tax|vat|gst|paid|payment)\b[ \t]*[:=\-]?[ \t]*(?P<neg>-)?(?P<amt>{AMOUNT})"
    ))
});

pub(super) fn currency_code(symbol_or_code: &str) -> String {
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
pub(super) fn parse_amount(s: &str) -> Option<f64> {
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
pub(super) fn amount_bounded(text: &str, start: usize, end: usize, check_before: bool) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::extract::test_support::*;

    #[test]
    fn symbols_codes_and_keywords() {
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
    }
}
