//! What makes a name an organisation's: head words (`Acme Corp`, `Sdn Bhd`, `… Party`), lead
//! words (`University of …`), the words around it in news and business text (`Boeing
//! spokesman`, `shares of Siemens`, `software giant Microsoft`), a place inside a longer name
//! (`Bayern Munich`), the article before an institution's name (`the Red Cross`). A document's
//! header line is read in [`super::letterheads`].

use super::names::{SENTENCE_OPENERS, Token, is_title, possessive_len};
use super::places::{is_place, place_starts_with};

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

/// Words that, beside the [`FEATURES`] of land and town, make a name with a place in it a place
/// still (`New Delhi`, `Port of Spain`, `San Francisco Bay Area`) rather than something named
/// after the place.
const PLACE_QUALIFIERS: &[&str] = &[
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
    "mt",
    "state",
    "port",
    "fort",
    "san",
    "santa",
    "st",
    "saint",
    "harbour",
    "harbor",
    "capital",
    "metropolitan",
    "municipality",
    "prefecture",
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
                    && !FEATURES.contains(&w.as_str())
                    && !SENTENCE_OPENERS.contains(&w.as_str())
                    && !is_place(w)
            });
        }
    }
    false
}

/// Last words of names that call an event, a prize or a text rather than who holds it (`the
/// World Cup`, `the Australian Open`, `the Nobel Prize`).
const EVENT_WORDS: &[&str] = &[
    "cup",
    "open",
    "games",
    "olympics",
    "championship",
    "championships",
    "tour",
    "prize",
    "award",
    "awards",
    "trophy",
    "festival",
    "series",
    "final",
    "finals",
    "war",
    "treaty",
    "accord",
    "accords",
    "act",
    "agreement",
    "summit",
    "day",
    "index",
    "bible",
    "koran",
    "internet",
];

/// Words that make a name after `the` a place (`the Black Sea`, `the Gaza Strip`, `the North`):
/// features of land and sea, compass points and the parts of a town.
const FEATURES: &[&str] = &[
    "sea",
    "ocean",
    "river",
    "lake",
    "gulf",
    "bay",
    "island",
    "islands",
    "isle",
    "valley",
    "mountains",
    "mount",
    "hills",
    "coast",
    "strait",
    "straits",
    "peninsula",
    "desert",
    "canal",
    "beach",
    "cape",
    "strip",
    "alps",
    "plains",
    "channel",
    "falls",
    "highlands",
    "heights",
    "delta",
    "north",
    "south",
    "east",
    "west",
    "northern",
    "southern",
    "eastern",
    "western",
    "central",
    "airport",
    "street",
    "road",
    "avenue",
    "square",
    "park",
    "bridge",
    "border",
    "county",
    "province",
    "region",
    "district",
    "territory",
];

/// Whether the words of a name after `the` may name an institution: none of them is a title
/// (`the Prime Minister`), a date or a word of [`FEATURES`], and the last is
/// not an event's (`the World Cup`).
pub(super) fn institution_words(words: &[String]) -> bool {
    words.iter().all(|w| {
        !FEATURES.contains(&w.as_str()) && !SENTENCE_OPENERS.contains(&w.as_str()) && !is_title(w)
    }) && words
        .last()
        .is_some_and(|w| !EVENT_WORDS.contains(&w.as_str()))
}

/// Nationality adjectives by their usual endings (`Iraqi`, `Canadian`, `Chinese`, `British`,
/// `French`): they describe a name rather than name something.
/// The endings `i` and `ic` are also common in company and club names (`Pepsi`, `Celtic`), so
/// with them the stem must begin a known place's name (`Iraqi`, `Icelandic`).
fn is_demonym(word: &str) -> bool {
    let w = &word[..word.len() - possessive_len(word)];
    ["ian", "ean", "ese", "ish", "an", "ic", "i", "ch", "ss"]
        .iter()
        .any(|e| {
            w.len() > e.len() + 2
                && w.ends_with(e)
                && (!matches!(*e, "i" | "ic") || place_starts_with(&w[..w.len() - e.len()]))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::extract::{EntityKind, entities};

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
        assert!(organisations("Icelandic fans sang.").is_empty());
        // Endings a demonym shares with brands: only a place's stem makes one.
        assert_eq!(
            organisations("Later, Pepsi workers went on strike."),
            ["Pepsi"]
        );
        assert!(organisations("Canadian fans travelled to the final.").is_empty());
        // Nothing around the name says what it is: no guess.
        assert!(organisations("We met Halvorsen in the lobby.").is_empty());
    }
}
