//! What makes a name an organisation's: head words (`Acme Corp`, `Sdn Bhd`, `… Party`), lead
//! words (`University of …`), the words around it in news and business text (`Boeing
//! spokesman`, `shares of Siemens`, `software giant Microsoft`), a place inside a longer name
//! (`Bayern Munich`), and a document's header line (a receipt's shop, a letterhead's company).

use super::names::{
    Entity, EntityKind, SENTENCE_OPENERS, Token, is_common_word, possessive_len, shouted_line,
};
use super::places::is_place;

/// Head words of organisation names: legal forms and institution types.
pub(super) const ORG_HEADS: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "llp",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "nv",
    "bv",
    "spa",
    "pty",
    "bhd",
    "berhad",
    "sdn",
    "group",
    "holdings",
    "partners",
    "associates",
    "enterprise",
    "enterprises",
    "trading",
    "industries",
    "systems",
    "technologies",
    "solutions",
    "services",
    "bank",
    "bancorp",
    "airlines",
    "airways",
    "motors",
    "foundation",
    "institute",
    "university",
    "college",
    "school",
    "academy",
    "hospital",
    "clinic",
    "council",
    "committee",
    "commission",
    "ministry",
    "department",
    "agency",
    "authority",
    "party",
    "union",
    "federation",
    "association",
    "society",
    "club",
    "league",
    "board",
    "bureau",
    "parliament",
    "congress",
    "senate",
    "assembly",
    "army",
    "navy",
    "police",
    "exchange",
    "fund",
    "trust",
    "organisation",
    "organization",
    "network",
    "press",
    "news",
    "times",
    "post",
    "journal",
    "magazine",
    "restaurant",
    "cafe",
    "café",
    "store",
    "stores",
    "mart",
    "supermarket",
    "hypermarket",
    "pharmacy",
    "hotel",
    "studios",
    "labs",
    "laboratories",
    "pharmaceuticals",
    "energy",
    "petroleum",
    "insurance",
    "securities",
    "capital",
    "media",
    "communications",
    "telecom",
    "united",
    "fc",
    "cf",
    "afc",
    "shop",
    "centre",
    "center",
    "bakery",
    "market",
    "hardware",
    "electrical",
    "stationery",
    "bookstore",
    "kitchen",
    "bistro",
    "trading",
    "station",
    // Newspapers and clubs by how their names end (`Sydney Morning Herald`, `Bolton Wanderers`).
    "herald",
    "tribune",
    "gazette",
    "telegraph",
    "chronicle",
    "courier",
    "rangers",
    "rovers",
    "wanderers",
    "athletic",
    "albion",
    "hotspur",
];

/// Words that start a club's name (`Dynamo Kiev`, `Olympique Marseille`, `Real Sociedad`).
pub(super) const CLUB_LEADS: &[&str] = &[
    "dynamo",
    "olympique",
    "atletico",
    "sporting",
    "real",
    "inter",
];

/// Words that start an organisation name followed by "of" (`University of Texas`).
pub(super) const ORG_LEADS: &[&str] = &[
    "university",
    "bank",
    "ministry",
    "department",
    "institute",
    "college",
    "school",
    "church",
    "house",
    "court",
    "board",
    "council",
    "office",
    "federation",
    "association",
    "union",
    "academy",
    "museum",
    "government",
];

/// Nouns that, right after a name (`Boeing spokesman`, `Chelsea striker`, `Siemens shares`),
/// make it an organisation: roles inside a company or a team and what a company owns or reports.
const ORG_AFTER: &[&str] = &[
    "spokesman",
    "spokeswoman",
    "spokesperson",
    "spokesmen",
    "shares",
    "stock",
    "shareholders",
    "stockholders",
    "officials",
    "executives",
    "employees",
    "chairman",
    "chairwoman",
    "ceo",
    "cfo",
    "subsidiary",
    "unit",
    "division",
    "headquarters",
    "striker",
    "midfielder",
    "defender",
    "goalkeeper",
    "keeper",
    "winger",
    "fullback",
    "quarterback",
    "pitcher",
    "teammate",
    "teammates",
    "fans",
    "supporters",
    "coach",
    "manager",
    "squad",
    "profit",
    "profits",
    "earnings",
    "revenue",
    "revenues",
    "bid",
    "merger",
    "takeover",
    "plant",
    "factory",
    "directors",
    "management",
    "workers",
];

/// Nouns that, right before a name, say it is an organisation (`software giant Microsoft`,
/// `shares of Siemens`, `stake in Fiat`, `club Chelsea`).
const ORG_BEFORE: &[&str] = &[
    "firm",
    "company",
    "companies",
    "conglomerate",
    "carrier",
    "airline",
    "carmaker",
    "automaker",
    "bank",
    "lender",
    "insurer",
    "retailer",
    "broker",
    "brokerage",
    "giant",
    "rival",
    "rivals",
    "club",
    "clubs",
    "newspaper",
    "daily",
    "broadcaster",
    "agency",
    "subsidiary",
    "unit",
    "side",
    "champions",
    "holders",
    "outfit",
    "maker",
    "manufacturer",
    "producer",
    "chipmaker",
    "supplier",
    "publisher",
    "operator",
    "refiner",
    "miner",
    "exporter",
    "group",
];

/// Whether the words around the run `first..=last` say it names an organisation. Asked only of
/// runs that are not known places: a city before `striker` may be a national team.
pub(super) fn organisation_context(toks: &[Token<'_>], first: usize, last: usize) -> bool {
    let bare = |k: usize| toks.get(k).map(Token::bare);
    let after = bare(last + 1);
    let before = first.checked_sub(1).and_then(bare);
    let before2 = first.checked_sub(2).and_then(bare);
    let after_says = after.as_deref().is_some_and(|a| ORG_AFTER.contains(&a));
    // `shares of X`, `stake in X`: what investors hold is a company.
    // `takeover of X`, `bid for X`, `merger with X`: what is bought or merged is a company.
    let held = matches!(
        (before2.as_deref(), before.as_deref()),
        (
            Some("shares" | "stake" | "stakes" | "unit" | "subsidiary"),
            Some("of" | "in")
        ) | (Some("takeover" | "acquisition" | "buyout"), Some("of"))
            | (Some("bid"), Some("for"))
            | (Some("merger"), Some("with"))
    );
    let before_says = before.as_deref().is_some_and(|b| ORG_BEFORE.contains(&b))
        && !toks[first - 1].capitalised();
    // `Iraqi officials`, `French fans`: a nationality, not a name.
    let demonym = first == last && is_demonym(&toks[first].bare());
    (after_says || held || before_says) && !demonym
}

/// Words that make a name with a place in it a place still (`Lake Geneva`, `North Dakota`,
/// `Port of Spain`, `Paris Airport`) rather than something named after the place.
const PLACE_QUALIFIERS: &[&str] = &[
    "north",
    "south",
    "east",
    "west",
    "northern",
    "southern",
    "eastern",
    "western",
    "central",
    "north-east",
    "north-west",
    "south-east",
    "south-west",
    "inner",
    "outer",
    "mainland",
    "downtown",
    "metro",
    "area",
    "upper",
    "lower",
    "greater",
    "new",
    "old",
    "lake",
    "mount",
    "mt",
    "river",
    "bay",
    "gulf",
    "sea",
    "ocean",
    "island",
    "islands",
    "isle",
    "valley",
    "county",
    "province",
    "state",
    "region",
    "district",
    "port",
    "fort",
    "cape",
    "san",
    "santa",
    "st",
    "saint",
    "airport",
    "street",
    "road",
    "avenue",
    "square",
    "park",
    "bridge",
    "mountains",
    "hills",
    "coast",
    "strait",
    "peninsula",
    "desert",
    "canal",
    "harbour",
    "harbor",
    "beach",
    "border",
    "capital",
    "metropolitan",
    "municipality",
    "prefecture",
    "territory",
    "republic",
    "kingdom",
    "federal",
    "democratic",
    "of",
    "the",
    "and",
    "de",
    "la",
    "el",
    "los",
    "las",
];

/// Whether a name of several words holds a known place and more (`Real Madrid`, `Bayern
/// Munich`, `Chicago Bulls`, `Air France`): a club, a company or a paper named after its
/// home. The other words must not be ones that keep it a place (`Lake Geneva`) or dates
/// (`London Monday`). Asked after the person rules: a given name first (`Jack London`) has
/// already made it a person.
pub(super) fn named_after_place(words: &[String]) -> bool {
    let n = words.len();
    if n < 2 {
        return false;
    }
    for len in (1..n).rev() {
        for at in 0..=n - len {
            if !is_place(&words[at..at + len].join(" ")) {
                continue;
            }
            let rest = words[..at].iter().chain(&words[at + len..]);
            return rest.into_iter().all(|w| {
                !PLACE_QUALIFIERS.contains(&w.as_str())
                    && !SENTENCE_OPENERS.contains(&w.as_str())
                    && !is_place(w)
            });
        }
    }
    false
}

/// Nationality adjectives by their usual endings (`Iraqi`, `Canadian`, `Chinese`, `British`,
/// `French`): they describe a name rather than name something.
fn is_demonym(word: &str) -> bool {
    let w = &word[..word.len() - possessive_len(word)];
    ["ian", "ean", "ese", "ish", "an", "ic", "i", "ch", "ss"]
        .iter()
        .any(|e| w.len() > e.len() + 2 && w.ends_with(e))
}

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
    use crate::engine::extract::entities;

    fn organisations(text: &str) -> Vec<&str> {
        entities(text)
            .into_iter()
            .filter(|e| e.kind == EntityKind::Organization)
            .map(|e| &text[e.start..e.end])
            .collect()
    }

    #[test]
    fn news_contexts_make_a_single_word_an_organisation() {
        assert_eq!(
            organisations("Shares of Norvale rose after a Calderon spokesman confirmed the deal."),
            ["Norvale", "Calderon"]
        );
        assert_eq!(
            organisations("The board of software giant Quillary approved the plan."),
            ["Quillary"]
        );
        // Possessive and a role after it: the name without the `'s`.
        assert_eq!(
            organisations("Brightwell's shareholders rejected the offer."),
            ["Brightwell"]
        );
        assert_eq!(
            organisations("They signed with Tarvik Holdings’s lawyers."),
            ["Tarvik Holdings"]
        );
    }

    #[test]
    fn deals_sides_and_makers_make_an_organisation() {
        assert_eq!(
            organisations("The takeover of Norvale follows a rival bid for Quillary."),
            ["Norvale", "Quillary"]
        );
        assert_eq!(
            organisations("Dutch side Vanderlo sacked the Brightwell coach on Monday."),
            ["Vanderlo", "Brightwell"]
        );
        assert_eq!(
            organisations("Output rose at chipmaker Tessaly and at the Korvane plant."),
            ["Tessaly", "Korvane"]
        );
    }

    #[test]
    fn clubs_and_papers_by_how_their_names_start_and_end() {
        assert_eq!(
            organisations(
                "Dynamo Kiev drew with Bolton Wanderers, the Sydney Morning Herald reported."
            ),
            ["Dynamo Kiev", "Bolton Wanderers", "Sydney Morning Herald"]
        );
        assert_eq!(organisations("Real Sociedad won again."), ["Real Sociedad"]);
    }

    #[test]
    fn a_place_and_more_is_what_is_named_after_it() {
        let f = organisations(
            "Real Madrid beat Bayern Munich before the Chicago Bulls flew home on Air France.",
        );
        assert_eq!(
            f,
            [
                "Real Madrid",
                "Bayern Munich",
                "Chicago Bulls",
                "Air France"
            ]
        );
        let words = |s: &str| -> Vec<String> { s.split(' ').map(str::to_owned).collect() };
        assert!(named_after_place(&words("paris saint-germain")));
        for place in [
            "lake geneva",
            "north texas",
            "london monday",
            "berlin paris",
            "madrid",
            "zorvak tessaly",
            "downtown seattle",
            "inner mongolia",
            "san francisco bay area",
        ] {
            assert!(!named_after_place(&words(place)), "{place}");
        }
        // A given name first makes a person, a place alone stays a place.
        assert!(organisations("Jack London wrote it in Paris.").is_empty());
    }

    #[test]
    fn nationalities_and_unmarked_words_stay_untyped() {
        assert!(organisations("Iraqi officials said the border would reopen.").is_empty());
        assert!(organisations("Canadian fans travelled to the final.").is_empty());
        // Nothing around the name says what it is: no guess.
        assert!(organisations("We met Halvorsen in the lobby.").is_empty());
    }

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
