//! Street addresses: a number and a street (`1200 Market Street`), optionally a unit, a city, a
//! state code and a ZIP or postcode on the same line; and addresses written over several lines
//! (letterheads, receipts): a line with a street word (`Street`, `Road`, `Jalan`, `Lot 5`) and the
//! lines after it while they read like the rest of an address (a postcode, a known place, a
//! trailing comma), stopping at contact, tax or document lines.

use std::sync::LazyLock;

use regex::Regex;

use super::places::is_place;
use super::*;

/// Street types (English and Malay, the languages of the receipts and mail the engine reads).
const STREET: &str = r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Square|Sq|Parkway|Pkwy|Highway|Hwy|Terrace|Circle|Cir|Crescent|Close|Row|Jalan|Jln|Lorong|Persiaran|Lebuh|Lebuhraya";

static INLINE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b\d{{1,6}}[A-Za-z]?(?:[-/]\d{{1,4}})?,?\s+(?:[A-Z0-9][\p{{L}}0-9'’.\-]*\s+){{0,5}}(?:{STREET})\b\.?(?:,?\s*(?:Suite|Ste|Apt|Unit|Floor|Fl|#)\.?\s*[0-9A-Za-z\-]+)?(?:,\s*(?:[A-Z][\p{{L}}'’.\-]*\s?){{1,4}})?(?:,?\s*[A-Z]{{2}}\s+\d{{5}}(?:-\d{{4}})?|,?\s*\d{{5}}(?:\s+(?:[A-Z][\p{{L}}'’.\-]*\s?){{1,3}})?)?"
    ))
});

static STREET_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(?:{STREET}|taman|lot|no\.?\s*\d|block|blok|wisma|menara|plaza|kompleks|complex|industrial|estate|bandar|kampung|kg)\b"
    ))
});

static POSTCODE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b\d{5}(?:-\d{4})?\b|\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b"));

/// Lines that end an address: contact details, tax and document headers, amounts.
static STOP_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:tel|telephone|phone|fax|h/?p|e-?mail|www|http|gst|sst|vat|tax|reg|registration|company no|co\.? no|invoice|receipt|bill|cashier|date|time|table|order|total|qty|thank)\b|@",
    )
});

/// First words of an address line (`No. 12`, `Lot 5`, `Jalan …`).
const ADDRESS_OPENERS: &[&str] = &[
    "no", "lot", "block", "blok", "unit", "level", "suite", "jalan", "jln", "lorong", "taman",
    "wisma", "menara", "plaza", "kompleks", "floor", "building",
];

/// Addresses found in `text`: one-line ones (confidence 0.8 with a postcode, else 0.65) and
/// multi-line blocks (0.7 with a postcode or a known place, else 0.5).
pub fn addresses(text: &str) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = INLINE
        .find_iter(text)
        .map(|m| {
            let s = m.as_str().trim_end_matches([',', ' ']);
            Candidate {
                start: m.start(),
                end: m.start() + s.len(),
                value: Value::Text(s.to_owned()),
                confidence: if POSTCODE.is_match(s) { 0.8 } else { 0.65 },
            }
        })
        .collect();
    // A one-line match is the more precise reading of its line.
    let block_list: Vec<Candidate> = blocks(text)
        .into_iter()
        .filter(|b| !out.iter().any(|c| c.start < b.end && b.start < c.end))
        .collect();
    out.extend(block_list);
    dedupe_overlaps(out)
}

/// Multi-line addresses; see the module doc.
fn blocks(text: &str) -> Vec<Candidate> {
    let mut lines: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    for line in text.split('\n') {
        let lead = line.len() - line.trim_start().len();
        lines.push((offset + lead, offset + line.trim_end().len().max(lead)));
        offset += line.len() + 1;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (s, e) = lines[i];
        let line = &text[s..e];
        // An address line starts with its number or street word, or is short; a sentence that
        // mentions a road is not one.
        let first = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_end_matches(['.', ','])
            .to_lowercase();
        let opens = first.chars().any(|c| c.is_ascii_digit())
            || ADDRESS_OPENERS.contains(&first.as_str())
            || line.split_whitespace().count() <= 8;
        let starts = opens
            && STREET_LINE.is_match(line)
            && line.chars().any(|c| c.is_ascii_digit())
            && !STOP_LINE.is_match(line);
        if !starts {
            i += 1;
            continue;
        }
        let mut last = i;
        let mut j = i + 1;
        while j < lines.len() && j - i < 4 {
            let (ns, ne) = lines[j];
            let next = &text[ns..ne];
            if next.is_empty() || STOP_LINE.is_match(next) {
                break;
            }
            let prev_open = text[lines[last].0..lines[last].1].ends_with(',');
            let reads_on = POSTCODE.is_match(next)
                || STREET_LINE.is_match(next)
                || next.split([',', '.']).any(|part| is_place(part.trim()));
            if !(reads_on || prev_open) {
                break;
            }
            last = j;
            j += 1;
        }
        let (start, end) = (lines[i].0, lines[last].1);
        let value: String = lines[i..=last]
            .iter()
            .map(|&(a, b)| &text[a..b])
            .collect::<Vec<_>>()
            .join(" ");
        let anchored =
            POSTCODE.is_match(&value) || value.split([',', '.']).any(|p| is_place(p.trim()));
        out.push(Candidate {
            start,
            end,
            value: Value::Text(value),
            confidence: if anchored { 0.7 } else { 0.5 },
        });
        i = last + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        addresses(text)
            .into_iter()
            .map(|c| match c.value {
                Value::Text(t) => t,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_us_address_on_one_line() {
        let t = "Ship the replacement to 1200 Market Street, San Francisco, CA 94102 by Friday.";
        assert_eq!(
            values(t),
            vec!["1200 Market Street, San Francisco, CA 94102"]
        );
        let t = "Our office: 55 King St. Suite 400, Toronto";
        assert_eq!(values(t), vec!["55 King St. Suite 400, Toronto"]);
    }

    #[test]
    fn a_letterhead_address_over_lines_stops_at_contact_lines() {
        let t = "KEDAI RUNCIT MAJU SDN BHD\nNO. 12, JALAN BUNGA RAYA 3,\nTAMAN MELATI,\n53100 KUALA LUMPUR.\nTEL: 03-4021 2211\nINVOICE 1021";
        assert_eq!(
            values(t),
            vec!["NO. 12, JALAN BUNGA RAYA 3, TAMAN MELATI, 53100 KUALA LUMPUR."]
        );
    }

    #[test]
    fn prose_without_a_street_is_not_an_address() {
        assert!(values("We met on 3 occasions and drove 40 miles to the lake.").is_empty());
        assert!(values("Total: 12.00\nTel: 555 0101").is_empty());
    }
}
