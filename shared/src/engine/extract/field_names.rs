//! How a caller's field name reads: its canonical words (`invNo` → "invoice number"), the
//! synonym groups it belongs to, and how well a key in the text names it.

use crate::engine::text::{Analyzer, words};

/// Synonym groups of normalised key phrases (lowercase words, after [`canonical_token`]). A
/// field whose phrase is in a group matches keys spelled with any other phrase of the group.
/// The flag says whether a field merely containing the group's head word (`customer_phone`)
/// may also use the group: only for typed, unambiguous concepts.
pub(super) const SYNONYMS: &[(bool, &[&str])] = &[
    (false, &["location", "where", "place", "venue", "room"]),
    (
        false,
        &[
            "speaker",
            "who",
            "presenter",
            "lecturer",
            "talk by",
            "speakers",
        ],
    ),
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

pub(super) fn canonical_token(t: &str) -> &str {
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
pub(super) fn name_tokens(name: &str) -> Vec<String> {
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

pub(super) struct FieldTerms {
    pub(super) phrase: String,
    pub(super) stems: Vec<String>,
    /// Phrases of the field's synonym group (exact match group).
    pub(super) group: Vec<&'static str>,
    /// Phrases of groups reached through a head word inside a longer field name.
    pub(super) head_groups: Vec<&'static str>,
}

pub(super) fn stems_of(analyzer: &Analyzer, tokens: &[String]) -> Vec<String> {
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

pub(super) fn field_terms(analyzer: &Analyzer, name: &str) -> FieldTerms {
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

pub(super) fn contains_phrase(haystack: &str, needle: &str) -> bool {
    let h: Vec<&str> = haystack.split(' ').collect();
    let n: Vec<&str> = needle.split(' ').collect();
    !n.is_empty() && n.len() <= h.len() && h.windows(n.len()).any(|w| w == n.as_slice())
}

/// How well a key names the field, in `[0, 1]`; `>= 0.5` is a match.
pub(super) fn key_score(
    analyzer: &Analyzer,
    field: &FieldTerms,
    desc: &[String],
    key: &str,
) -> f32 {
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

/// What kind of free-text value a field asks for, read from its name and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    Person,
    Organization,
    Location,
    Address,
    /// An identifier of the thing the word names (`order` for `order_number`).
    Id(String),
    /// Nothing the engine recognises: the value must come from a key.
    Plain,
}

const PERSON_WORDS: &[&str] = &[
    "person",
    "people",
    "customer",
    "client",
    "contact",
    "speaker",
    "presenter",
    "lecturer",
    "author",
    "sender",
    "recipient",
    "employee",
    "manager",
    "patient",
    "passenger",
    "buyer",
    "applicant",
    "candidate",
    "who",
    "attendee",
    "guest",
    "user",
    "owner",
    "agent",
    "driver",
    "host",
    "requester",
    "reporter",
    "signatory",
];
const ORG_WORDS: &[&str] = &[
    "company",
    "organization",
    "organisation",
    "org",
    "employer",
    "vendor",
    "supplier",
    "merchant",
    "shop",
    "store",
    "business",
    "firm",
    "team",
    "club",
    "party",
    "agency",
    "institution",
    "university",
    "bank",
    "brand",
    "manufacturer",
    "carrier",
    "publisher",
    "restaurant",
    "seller",
    "retailer",
];
const PLACE_WORDS: &[&str] = &[
    "location",
    "place",
    "city",
    "country",
    "region",
    "venue",
    "room",
    "where",
    "destination",
    "origin",
    "town",
    "state",
    "province",
    "landmark",
    "site",
];
const ID_WORDS: &[&str] = &["number", "reference", "code", "ticket", "tracking", "case"];

/// What `name` (and, when the name says nothing, `description`) asks for. The name decides
/// first: `customer_name` is a person even if the description mentions the company.
pub fn wanted(name: &str, description: Option<&str>) -> Wanted {
    let tokens = name_tokens(name);
    if let Some(w) = wanted_of(&tokens) {
        return w;
    }
    let desc = description.map(name_tokens).unwrap_or_default();
    // A description is prose: only its head says what the value is: the words before the first
    // preposition or relative word ("street address of the shop"), or after "name of" ("name
    // of the company that…").
    let skip = |t: &String| ["the", "a", "an", "full", "and"].contains(&t.as_str());
    let words: Vec<&String> = desc.iter().filter(|t| !skip(t)).collect();
    let cut = |ws: &[&String]| -> Vec<String> {
        ws.iter()
            .take_while(|t| !DESCRIPTION_BREAKS.contains(&t.as_str()))
            .take(4)
            .map(|t| (*t).clone())
            .collect()
    };
    // Without "name of", only a short head ("street address", "room and building") is a
    // statement of kind; a longer one is a sentence about something else.
    let head = match words.as_slice() {
        [n, of, rest @ ..] if n.as_str() == "name" && of.as_str() == "of" => cut(rest),
        all => Some(cut(all)).filter(|h| h.len() <= 2).unwrap_or_default(),
    };
    wanted_of(&head)
        .filter(|w| !matches!(w, Wanted::Id(_)))
        .unwrap_or(Wanted::Plain)
}

/// Words that end the head of a description.
const DESCRIPTION_BREAKS: &[&str] = &[
    "of",
    "that",
    "who",
    "which",
    "where",
    "when",
    "for",
    "in",
    "on",
    "at",
    "to",
    "from",
    "with",
    "by",
    "as",
    "if",
    "or",
    "mentioned",
    "said",
];

fn wanted_of(tokens: &[String]) -> Option<Wanted> {
    let has = |list: &[&str]| tokens.iter().any(|t| list.contains(&t.as_str()));
    if tokens.iter().any(|t| t == "address" || t == "street") {
        return Some(Wanted::Address);
    }
    // An id: "<thing> number" or "ticket", "tracking", "reference"; the thing is the first word.
    let id_word = tokens.iter().position(|t| ID_WORDS.contains(&t.as_str()));
    if let Some(i) = id_word {
        let thing = if i > 0 { &tokens[0] } else { &tokens[i] };
        let kind_words = ["phone", "fax", "amount", "total", "quantity", "account"];
        if !kind_words.contains(&thing.as_str()) && !has(&["phone", "fax", "mobile"]) {
            return Some(Wanted::Id(thing.clone()));
        }
    }
    if has(ORG_WORDS) {
        return Some(Wanted::Organization);
    }
    if has(PERSON_WORDS) || tokens.iter().all(|t| t == "name") && !tokens.is_empty() {
        return Some(Wanted::Person);
    }
    if has(PLACE_WORDS) {
        return Some(Wanted::Location);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn what_a_field_asks_for() {
        assert_eq!(wanted("customer_name", None), Wanted::Person);
        assert_eq!(wanted("company", None), Wanted::Organization);
        assert_eq!(wanted("shipping_address", None), Wanted::Address);
        assert_eq!(wanted("order_number", None), Wanted::Id("order".into()));
        assert_eq!(wanted("ticket", None), Wanted::Id("ticket".into()));
        assert_eq!(wanted("location", None), Wanted::Location);
        assert_eq!(wanted("speaker", None), Wanted::Person);
        assert_eq!(wanted("phone_number", None), Wanted::Plain);
        assert_eq!(
            wanted(
                "issuer",
                Some("name of the company or shop that issued the receipt")
            ),
            Wanted::Organization
        );
        assert_eq!(
            wanted("notes", Some("anything else the customer said")),
            Wanted::Plain
        );
    }
}
