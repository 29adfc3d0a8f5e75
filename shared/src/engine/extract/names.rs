//! Names of people and organisations (and the capitalised spans places are read from, see
//! [`super::places`]): runs of capitalised words in running text, each typed by what surrounds
//! and composes it. A person: a title before it (`Dr.`, `President`), a given name first
//! (`Maria Gonzalez`; the US Census given-name list in `lists/given_names.txt`), or a reporting
//! verb after it (`…, Smith said`). An organisation: what [`super::organisations`] knows (head
//! and lead words, news and business contexts) or an acronym. A place: the GeoNames list.
//!
//! Precision first: a span that nothing types stays untyped, so a field the text does not
//! contain comes back `null` rather than with the nearest capitalised word.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::letterheads::letterhead;
use super::organisations::{
    CLUB_LEADS, ORG_HEADS, ORG_LEADS, institution_words, named_after_place, organisation_context,
};
use super::places::is_place;
use super::*;
use crate::engine::sentiment::in_lexicon;
use crate::engine::text::Analyzer;

/// What a capitalised span names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Person,
    Organization,
    Location,
}

/// A typed span of text with a confidence in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub start: usize,
    pub end: usize,
    pub kind: EntityKind,
    pub confidence: f32,
}

static GIVEN_NAMES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("lists/given_names.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
});

/// Titles written before a person's name; they are not part of the name.
const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "professor",
    "sir",
    "dame",
    "lord",
    "lady",
    "president",
    "vice",
    "senator",
    "sen",
    "governor",
    "gov",
    "minister",
    "premier",
    "chancellor",
    "judge",
    "justice",
    "rev",
    "reverend",
    "father",
    "pope",
    "king",
    "queen",
    "prince",
    "princess",
    "captain",
    "capt",
    "general",
    "gen",
    "colonel",
    "col",
    "major",
    "lieutenant",
    "sergeant",
    "coach",
    "mayor",
    "ambassador",
    "secretary",
    "chairman",
    "chairwoman",
    "director",
    "officer",
    "saint",
    "st",
];

/// Whether `word` (lowercase) is a title written before a person's name.
pub(super) fn is_title(word: &str) -> bool {
    TITLES.contains(&word)
}

/// Words that make a title of the title after them (`Prime Minister`, `Foreign Minister`,
/// `Attorney General`); with it they are not part of the name.
const TITLE_MODIFIERS: &[&str] = &[
    "prime",
    "foreign",
    "deputy",
    "finance",
    "defence",
    "defense",
    "interior",
    "trade",
    "home",
    "health",
    "economy",
    "chief",
    "acting",
    "first",
    "attorney",
    "state",
    "assistant",
    "executive",
    "managing",
];

/// Organisation heads written with a dot (`Acme Corp.`); the dot is part of the name.
const ABBREVIATED_HEADS: &[&str] = &["inc", "corp", "co", "ltd", "bros", "jr", "sr", "no"];

/// Connectors that may sit inside a name between capitalised words.
const CONNECTORS: &[&str] = &[
    "of", "de", "da", "del", "della", "di", "van", "von", "der", "den", "la", "le", "du", "bin",
    "binti", "al", "&", "and", "for", "the",
];

/// Verbs that make the span before or after them a person (news and e-mail usage).
const REPORTING: &[&str] = &[
    "said",
    "says",
    "told",
    "added",
    "asked",
    "wrote",
    "explained",
    "noted",
    "argued",
    "stated",
    "announced",
    "replied",
    "according",
];

static TOKEN: LazyLock<Regex> =
    LazyLock::new(|| re(r"[\p{L}\p{N}]+(?:['’\-][\p{L}\p{N}]+)*(?:\.(?:[\p{L}]\.)*)?|&"));

/// One word of the text with its byte range (a trailing abbreviation dot included).
#[derive(Debug, Clone, Copy)]
pub(super) struct Token<'a> {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) text: &'a str,
    /// First word of a sentence or line: capitalised by grammar, not by meaning.
    pub(super) initial: bool,
}

impl Token<'_> {
    /// The word without a final dot, lowercase.
    pub(super) fn bare(&self) -> String {
        self.text.trim_end_matches('.').to_lowercase()
    }
    pub(super) fn capitalised(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_uppercase)
    }
    fn shouted(&self) -> bool {
        self.text.chars().filter(|c| c.is_alphabetic()).count() > 1
            && !self.text.chars().any(char::is_lowercase)
    }
}

/// The words of `text`, with sentence starts marked.
pub(super) fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out: Vec<Token<'_>> = Vec::new();
    for m in TOKEN.find_iter(text) {
        let mut end = m.end();
        let word = m.as_str();
        // A final dot belongs to abbreviations (`Corp.`, `U.S.`), not to a sentence's last word.
        if word.ends_with('.') {
            let bare = word.trim_end_matches('.').to_lowercase();
            let abbreviation = bare.contains('.')
                || bare.chars().count() == 1
                || TITLES.contains(&bare.as_str())
                || ABBREVIATED_HEADS.contains(&bare.as_str());
            if !abbreviation {
                end -= 1;
            }
        }
        let gap = out
            .last()
            .map_or(&text[..m.start()], |p| &text[p.end..m.start()]);
        let initial = out.is_empty()
            || gap.contains(['\n', '!', '?', ':', '"', '(', '-', '•', '*'])
            || (gap.contains('.') && !out.last().is_some_and(|p| p.text.ends_with('.')))
            || out.last().is_some_and(|p| {
                p.text.ends_with('.') && !TITLES.contains(&p.bare().as_str()) && p.bare().len() > 1
            });
        out.push(Token {
            start: m.start(),
            end,
            text: &text[m.start()..end],
            initial,
        });
    }
    out
}

/// Whether a line is written in capitals throughout (a headline, an OCR'd receipt), where
/// capitalisation says nothing about names.
pub(super) fn shouted_line(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = &text[line_start..line_end];
    let letters = line.chars().filter(|c| c.is_alphabetic()).count();
    let upper = line.chars().filter(|c| c.is_uppercase()).count();
    letters >= 8 && upper * 10 >= letters * 8
}

/// A maximal run of capitalised tokens (indices into the token list, inclusive).
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    pub(super) first: usize,
    pub(super) last: usize,
}

/// Runs of capitalised words on one line, connectors allowed inside. A sentence's first word
/// starts a run only when it is not a common English word.
pub(super) fn runs(text: &str, toks: &[Token<'_>]) -> Vec<Run> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let starts = t.capitalised()
            && !(t.initial && is_common_word(&t.bare()))
            && !CONNECTORS.contains(&t.bare().as_str());
        if !starts {
            i += 1;
            continue;
        }
        let mut last = i;
        let mut j = i + 1;
        while j < toks.len() {
            let gap = &text[toks[j - 1].end..toks[j].start];
            if gap.contains('\n') || gap.chars().any(|c| !c.is_whitespace()) {
                break;
            }
            if toks[j].capitalised() && !toks[j].initial {
                last = j;
                j += 1;
            } else if CONNECTORS.contains(&toks[j].bare().as_str())
                && j + 1 < toks.len()
                && toks[j + 1].capitalised()
                && text[toks[j].end..toks[j + 1].start].trim().is_empty()
            {
                j += 1;
            } else {
                break;
            }
        }
        out.push(Run { first: i, last });
        i = last + 1;
    }
    out
}

/// A run joined by `and` that names two things (`Hong Kong and Singapore`, `Volvo and Renault`)
/// as its parts: when both sides are places, or both are one word. Other runs with `and` stay
/// whole (`Department of Trade and Industry`).
fn split_at_and(text: &str, toks: &[Token<'_>], run: Run) -> Vec<Run> {
    let Some(k) = (run.first + 1..run.last).find(|&k| toks[k].text == "and") else {
        return vec![run];
    };
    let left = Run {
        first: run.first,
        last: k - 1,
    };
    let right = Run {
        first: k + 1,
        last: run.last,
    };
    let place = |r: Run| is_place(&text[toks[r.first].start..toks[r.last].end]);
    let single = |r: Run| r.first == r.last;
    if (place(left) && place(right)) || (single(left) && single(right)) {
        vec![left, right]
    } else {
        vec![run]
    }
}

/// Types a run; `None` when nothing says what it is.
fn classify_run(text: &str, toks: &[Token<'_>], run: Run) -> Option<Entity> {
    let (mut first, last) = (run.first, run.last);
    let mut words: Vec<String> = toks[first..=last].iter().map(Token::bare).collect();
    let shouted = shouted_line(text, toks[first].start);
    // A title says "person" and is not part of the name.
    let mut titled = false;
    let title_at = |k: usize| is_title(&toks[k].bare());
    let modifier_at = |k: usize| TITLE_MODIFIERS.contains(&toks[k].bare().as_str());
    let modifies_title =
        |k: usize| modifier_at(k) && k < last && (title_at(k + 1) || modifier_at(k + 1));
    while first < last && (title_at(first) || modifies_title(first)) {
        titled = true;
        first += 1;
    }
    // A title alone (`Prime Minister`, `Vice President`) names no one.
    if titled && title_at(first) {
        return None;
    }
    let before = run.first.checked_sub(1).map(|k| toks[k].bare());
    if before
        .as_deref()
        .is_some_and(|b| TITLES.contains(&b) && toks[run.first - 1].capitalised())
    {
        titled = true;
    }
    // A possessive ending (`Boeing's`) is grammar, not part of the name.
    let possessive = possessive_len(toks[last].text);
    let end = toks[last].end - possessive;
    if let Some(w) = words.last_mut() {
        w.truncate(w.len().saturating_sub(possessive));
    }
    let span = |kind, confidence| Entity {
        start: toks[first].start,
        end,
        kind,
        confidence,
    };
    let name = &text[toks[first].start..end];
    let n = last - first + 1;

    let head = words.last().map(String::as_str).unwrap_or("");
    if ORG_HEADS.contains(&head) && n >= 2 {
        return Some(letterhead(text, span(EntityKind::Organization, 0.85)));
    }
    if n >= 3 && ORG_LEADS.contains(&words[0].as_str()) && words[1] == "of" {
        return Some(span(EntityKind::Organization, 0.8));
    }
    if n >= 2 && CLUB_LEADS.contains(&words[first - run.first].as_str()) {
        return Some(span(EntityKind::Organization, 0.75));
    }
    if is_place(name) {
        return Some(span(EntityKind::Location, if shouted { 0.7 } else { 0.8 }));
    }
    if titled && !shouted {
        return Some(span(EntityKind::Person, 0.85));
    }
    let given = GIVEN_NAMES.contains(capitalise(toks[first].text.trim_end_matches('.')).as_str());
    let after = toks.get(last + 1).map(Token::bare);
    let reported = after.as_deref().is_some_and(|a| REPORTING.contains(&a))
        || before.as_deref().is_some_and(|b| REPORTING.contains(&b));
    if !shouted && (2..=4).contains(&n) && given {
        return Some(span(EntityKind::Person, 0.8));
    }
    if !shouted && n <= 4 && organisation_context(toks, run.first, last) {
        return Some(span(EntityKind::Organization, 0.7));
    }
    // A place and more, with no person marked (`Bayern Munich`, `Chicago Bulls`).
    if !shouted && n <= 4 && named_after_place(&words[first - run.first..]) {
        return Some(span(EntityKind::Organization, 0.65));
    }
    if !shouted && reported && n <= 3 && !is_common_word(&words[0]) {
        return Some(span(EntityKind::Person, if n >= 2 { 0.75 } else { 0.6 }));
    }
    // An acronym in mixed-case text is an organisation more often than anything else.
    let acronym = n == 1
        && toks[first].shouted()
        && (2..=6).contains(
            &toks[first]
                .text
                .chars()
                .filter(|c| c.is_alphabetic())
                .count(),
        );
    if acronym && !shouted {
        return Some(span(EntityKind::Organization, 0.6));
    }
    let named = &words[first - run.first..];
    // `the Red Cross`, `the Federal Reserve`: a name of several words after `the` is an
    // institution's; people are not written with the article.
    if !shouted && n >= 2 && before.as_deref() == Some("the") && institution_words(named) {
        return Some(span(EntityKind::Organization, 0.6));
    }
    // `at Merrill Lynch`, `in Old Trafford`, `the Gaza Strip`: where or what, not who.
    let not_who = matches!(before.as_deref(), Some("at" | "in" | "the"));
    if !shouted && !not_who && (2..=3).contains(&n) && words.iter().all(|w| !is_common_word(w)) {
        return Some(span(EntityKind::Person, 0.55));
    }
    None
}

/// Byte length of a possessive ending (`'s`, `’s`) on `word`, else 0.
pub(super) fn possessive_len(word: &str) -> usize {
    for ending in ["'s", "’s", "'S", "’S"] {
        if word.len() > ending.len() && word.ends_with(ending) {
            return ending.len();
        }
    }
    0
}

/// Words that often open a sentence in business mail and news and are never names on their own.
pub(super) const SENTENCE_OPENERS: &[&str] = &[
    "please",
    "thanks",
    "thank",
    "hi",
    "hello",
    "dear",
    "regards",
    "best",
    "cheers",
    "today",
    "yesterday",
    "tomorrow",
    "also",
    "however",
    "meanwhile",
    "attached",
    "ship",
    "send",
    "call",
    "note",
    "re",
    "fw",
    "fwd",
    "subject",
    "from",
    "to",
    "cc",
    "date",
    "sent",
    "order",
    "invoice",
    "total",
    "here",
    "there",
    "after",
    "before",
    "since",
    "while",
    "during",
    "under",
    "over",
    "last",
    "next",
    "new",
    "first",
    "second",
    "third",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A common English word (stop word, sentiment word, frequent opener): capitalised, it is a
/// sentence start, not a name.
pub(super) fn is_common_word(word: &str) -> bool {
    static ANALYZER: LazyLock<Analyzer> = LazyLock::new(Analyzer::english);
    ANALYZER.is_stop_word(word) || in_lexicon(word) || SENTENCE_OPENERS.contains(&word)
}

fn capitalise(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// Every typed name in `text`, in text order.
pub fn entities(text: &str) -> Vec<Entity> {
    let toks = tokens(text);
    let mut out: Vec<Entity> = runs(text, &toks)
        .into_iter()
        .flat_map(|r| split_at_and(text, &toks, r))
        .filter_map(|r| classify_run(text, &toks, r))
        .collect();
    // In capitals, only list knowledge types a word; look for places word by word too.
    for t in &toks {
        if t.shouted()
            && shouted_line(text, t.start)
            && is_place(t.text)
            && !out.iter().any(|e| e.start <= t.start && t.end <= e.end)
        {
            out.push(Entity {
                start: t.start,
                end: t.end,
                kind: EntityKind::Location,
                confidence: 0.65,
            });
        }
    }
    out.sort_by_key(|e| e.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(String, EntityKind)> {
        entities(text)
            .into_iter()
            .map(|e| (text[e.start..e.end].to_owned(), e.kind))
            .collect()
    }

    #[test]
    fn people_organisations_and_places_in_a_support_mail() {
        let t = "Maria Gonzalez here from Acme Corp. Our order arrived broken. \
                 Ship the replacement to our office in San Francisco.";
        let f = found(t);
        assert!(
            f.contains(&("Maria Gonzalez".into(), EntityKind::Person)),
            "{f:?}"
        );
        assert!(
            f.contains(&("Acme Corp.".into(), EntityKind::Organization)),
            "{f:?}"
        );
        assert!(
            f.contains(&("San Francisco".into(), EntityKind::Location)),
            "{f:?}"
        );
    }

    #[test]
    fn titles_and_reporting_verbs_make_people() {
        let f = found("The plan was approved, President Jonas Welk told reporters in Berlin.");
        assert!(
            f.contains(&("Jonas Welk".into(), EntityKind::Person)),
            "{f:?}"
        );
        assert!(
            f.contains(&("Berlin".into(), EntityKind::Location)),
            "{f:?}"
        );
        let f = found("Prices will rise next year, Okonkwo said.");
        assert!(f.contains(&("Okonkwo".into(), EntityKind::Person)), "{f:?}");
    }

    #[test]
    fn organisations_by_head_word_lead_word_and_acronym() {
        let f = found(
            "She studied at the University of Leeds before joining Northwind Trading Sdn Bhd and the WHO.",
        );
        assert!(
            f.contains(&("University of Leeds".into(), EntityKind::Organization)),
            "{f:?}"
        );
        assert!(
            f.contains(&("Northwind Trading Sdn Bhd".into(), EntityKind::Organization)),
            "{f:?}"
        );
        assert!(
            f.contains(&("WHO".into(), EntityKind::Organization)),
            "{f:?}"
        );
    }

    #[test]
    fn sentence_starts_and_plain_words_are_not_names() {
        assert!(
            found("The meeting moved. Please confirm by Friday.")
                .iter()
                .all(|(_, k)| *k != EntityKind::Person)
        );
        assert!(found("thanks, see you soon").is_empty());
    }

    #[test]
    fn a_company_that_fills_its_line_is_the_whole_line() {
        let t = "KEDAI MAJU (TAMAN JAYA) SDN BHD\nNO. 5, JALAN 3";
        let f = found(t);
        assert!(
            f.contains(&(
                "KEDAI MAJU (TAMAN JAYA) SDN BHD".into(),
                EntityKind::Organization
            )),
            "{f:?}"
        );
    }

    #[test]
    fn headlines_in_capitals_only_yield_known_places() {
        let f = found("TRADE TALKS - JAPAN AND CANADA AGREE ON QUOTAS");
        assert!(f.contains(&("JAPAN".into(), EntityKind::Location)), "{f:?}");
        assert!(f.iter().all(|(_, k)| *k == EntityKind::Location), "{f:?}");
    }

    #[test]
    fn two_names_joined_by_and_are_two() {
        let f = found("Prices were steady in Hong Kong and Singapore, traders said.");
        assert!(
            f.contains(&("Hong Kong".into(), EntityKind::Location))
                && f.contains(&("Singapore".into(), EntityKind::Location)),
            "{f:?}"
        );
        let f = found("The Department of Trade and Industry published it.");
        assert_eq!(
            f,
            [(
                "Department of Trade and Industry".into(),
                EntityKind::Organization
            )]
        );
    }

    #[test]
    fn a_title_with_its_modifiers_is_not_part_of_the_name() {
        let f = found("Later, Foreign Minister Halvard Brenn met Prime Minister Ilse Varga.");
        assert!(
            f.contains(&("Halvard Brenn".into(), EntityKind::Person)),
            "{f:?}"
        );
        assert!(
            f.contains(&("Ilse Varga".into(), EntityKind::Person)),
            "{f:?}"
        );
        // A title alone names no one.
        assert!(found("He met the Prime Minister on Monday.").is_empty());
    }

    #[test]
    fn the_article_makes_an_institution_and_at_a_place_not_a_person() {
        let f = found(
            "Aid from the Red Cross reached the Gaza Strip; analysts at Halvers Quint agreed.",
        );
        assert!(
            f.contains(&("Red Cross".into(), EntityKind::Organization)),
            "{f:?}"
        );
        assert!(
            f.iter()
                .all(|(n, _)| n != "Gaza Strip" && n != "Halvers Quint"),
            "{f:?}"
        );
        assert!(found("Fans watched the World Cup.").is_empty());
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for t in [
            "", "&", "Dr.", "Mr", "A", "É", "日本", "Inc.", "of the", "U.S.",
        ] {
            let _ = entities(t);
        }
    }
}
