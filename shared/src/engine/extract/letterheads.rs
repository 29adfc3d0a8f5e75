//! A document's header: the line that names who issued it (a receipt's shop, a letterhead's
//! company), written in capitals at the top and read as a whole line, punctuation and all.

use super::names::{Entity, EntityKind, SENTENCE_OPENERS, is_common_word, shouted_line};

/// An organisation name that fills its line (a letterhead, a receipt's first line) is the whole
/// line, punctuation and all (`KEDAI MAJU (TAMAN JAYA) SDN BHD`): on such lines the words the run
/// stopped at are still part of the name. Lines with digits are left alone (addresses, dates).
pub(super) fn letterhead(text: &str, e: Entity) -> Entity {
    let line_start = text[..e.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[e.end..].find('\n').map_or(text.len(), |i| e.end + i);
    let line = text[line_start..line_end].trim();
    let words = line.split_whitespace().count();
    if line.chars().any(|c| c.is_ascii_digit()) || words > 10 || !shouted_line(text, e.start) {
        return e;
    }
    let lead = text[line_start..line_end].len() - text[line_start..line_end].trim_start().len();
    Entity {
        start: line_start + lead,
        end: line_start + lead + line.len(),
        ..e
    }
}

/// Words of a line that names the kind of document rather than who issued it.
const DOCUMENT_WORDS: &[&str] = &[
    "receipt",
    "invoice",
    "tax",
    "bill",
    "cash",
    "sale",
    "sales",
    "copy",
    "welcome",
    "order",
    "statement",
    "quotation",
    "memo",
    "official",
    "simplified",
];

/// The issuer named by a document's header: the first of its first three non-empty lines that
/// reads as a name (one to eight words in capitals, no digits, no `:`, `@` or link), skipping
/// lines that only say what the document is (`TAX INVOICE`). A receipt's shop and a letterhead's
/// company are written there. A following line made only of legal-form words (`SDN BHD`, `(M)
/// SDN. BHD.`) is part of the name. Texts of fewer than three lines have no header.
pub fn header_name(text: &str) -> Option<Entity> {
    let all: Vec<(usize, &str)> = text
        .split('\n')
        .scan(0usize, |at, line| {
            let start = *at;
            *at += line.len() + 1;
            Some((start, line))
        })
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    if all.len() < 3 {
        return None;
    }
    for (k, &(start, line)) in all.iter().take(3).enumerate() {
        let words: Vec<String> = line
            .split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect();
        if words.iter().all(|w| DOCUMENT_WORDS.contains(&w.as_str())) {
            continue;
        }
        if !reads_as_name(line, &words) {
            return None;
        }
        let lead = line.len() - line.trim_start().len();
        let mut end = start + line.trim_end().len();
        if let Some(&(next_start, next)) = all.get(k + 1)
            && legal_form_line(next)
        {
            end = next_start + next.trim_end().len();
        }
        return Some(Entity {
            start: start + lead,
            end,
            kind: EntityKind::Organization,
            confidence: 0.9,
        });
    }
    None
}

/// A header line that can be a name: see [`header_name`].
fn reads_as_name(line: &str, words: &[String]) -> bool {
    let line = line.trim();
    if words.is_empty()
        || words.len() > 8
        || line
            .chars()
            .any(|c| c.is_ascii_digit() || matches!(c, ':' | '@' | ',' | '/'))
        || line.to_lowercase().contains("www")
        || words.iter().all(|w| is_common_word(w))
        || SENTENCE_OPENERS.contains(&words[0].as_str())
    {
        return false;
    }
    // In capitals: a title-case first line is as often an e-mail's subject (`Project Update`).
    let letters = line.chars().filter(|c| c.is_alphabetic()).count();
    let upper = line.chars().filter(|c| c.is_uppercase()).count();
    letters >= 3 && upper * 10 >= letters * 8
}

/// A line made only of legal-form words and parenthesised country marks (`SDN BHD`, `(M) SDN.
/// BHD.`): the end of the name on the line above.
fn legal_form_line(line: &str) -> bool {
    let mut any = false;
    for w in line.split_whitespace() {
        let bare = w
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        if w.starts_with('(') && w.ends_with(')') && bare.len() <= 3 {
            continue;
        }
        if ![
            "sdn", "bhd", "berhad", "ltd", "limited", "inc", "corp", "llc", "plc", "pte", "co",
            "gmbh",
        ]
        .contains(&bare.as_str())
        {
            return false;
        }
        any = true;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_header_names_the_shop() {
        let receipt = "TAX INVOICE\nKEDAI RUNCIT SERI MURNI\n(M) SDN BHD\nNO 12, JALAN MAWAR 3\n\
                       TOTAL 12.50";
        let e = header_name(receipt).expect("header");
        assert_eq!(
            &receipt[e.start..e.end],
            "KEDAI RUNCIT SERI MURNI\n(M) SDN BHD"
        );
        let letter = "HARBOUR LANE BAKERY\n14 Quay Street\nDublin\n\nInvoice 2231";
        let e = header_name(letter).expect("header");
        assert_eq!(&letter[e.start..e.end], "HARBOUR LANE BAKERY");
    }

    #[test]
    fn prose_mail_and_short_texts_have_no_header() {
        for text in [
            "Dear team,\nplease find the report attached.\nBest, Ana",
            "Hi,\nMaria here from Acme Corp.\nThanks!",
            "Order 5512 shipped\nTracking: ZX991\nETA Friday",
            "ACME CORP\nINVOICE",
            "Project Update\nHi all,\nthe release moves to Friday.",
            "",
        ] {
            assert!(header_name(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn legal_form_lines_are_only_legal_forms() {
        assert!(legal_form_line("SDN. BHD."));
        assert!(legal_form_line("(M) SDN BHD"));
        assert!(!legal_form_line("(M)"));
        assert!(!legal_form_line("JALAN BHD 5"));
    }
}
