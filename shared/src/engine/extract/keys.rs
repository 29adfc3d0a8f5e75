//! `key: value` layouts: lines (and table-like rows) whose first part names what the rest is.

use super::*;

/// Trims `[s, e)` of `text` with `pred` on both sides and returns the new range.
pub(super) fn trim_range(
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

pub(super) fn key_decoration(c: char) -> bool {
    c.is_whitespace() || matches!(c, '*' | '_' | '#' | '>' | '•' | '-' | '|' | '`')
}

pub(super) fn plausible_key(key: &str, max_words: usize) -> bool {
    let n_chars = key.chars().count();
    (1..=40).contains(&n_chars)
        && key.split_whitespace().count() <= max_words
        && key.chars().next().is_some_and(char::is_alphabetic)
        && !key.contains(['!', '?', ';', ',', '"', '“', '='])
        && key.chars().any(char::is_alphabetic)
}

/// Splits one line segment `[s, e)` into `(key range, value range)`; the value may be empty.
pub(super) fn split_pair(
    text: &str,
    s: usize,
    e: usize,
) -> Option<((usize, usize), (usize, usize))> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::extract::test_support::*;

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
}
