//! Text primitives shared by every engine algorithm: sentence segmentation with repairs for
//! real-world prose (abbreviations, initials, list markers, hard-wrapped lines, headings), word
//! iteration with byte offsets, and the English [`Analyzer`] that turns text into stemmed index
//! terms for BM25 / TF-IDF.
//!
//! Every offset is a byte offset into the caller's `&str`, always on a char boundary.

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

/// One sentence of a document, as a byte range that excludes surrounding whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence {
    /// Position of the sentence in the document (0-based, in order).
    pub index: usize,
    /// Byte offset of the first non-whitespace char.
    pub start: usize,
    /// Byte offset just past the last non-whitespace char.
    pub end: usize,
}

impl Sentence {
    /// The sentence's text inside `doc`, the string it was split from.
    ///
    /// Returns `""` rather than panicking if `doc` is not that string and the range does not fit.
    pub fn text<'a>(&self, doc: &'a str) -> &'a str {
        doc.get(self.start..self.end).unwrap_or("")
    }
}

/// Abbreviations that (almost) never end a sentence: titles, Latin shorthands, months, days.
/// Lowercase, without the final dot.
const ALWAYS_GLUE: &[&str] = &[
    "al", "apr", "approx", "appt", "aug", "ave", "blvd", "capt", "cf", "col", "dec", "dept", "dr",
    "e.g", "eg", "esp", "est", "ext", "feb", "fig", "fri", "gen", "hon", "i.e", "ie", "incl",
    "jan", "jul", "jun", "lt", "mar", "mon", "mr", "mrs", "ms", "mt", "no", "nos", "nov", "oct",
    "pp", "prof", "rd", "ref", "rev", "sat", "sep", "sept", "sgt", "sr", "st", "sun", "tel", "thu",
    "thur", "thurs", "tue", "tues", "v", "viz", "vol", "vs", "wed",
];

/// Abbreviations that often do end a sentence: glued only when the next piece does not start
/// with a capital ("Acme Inc. announced" vs "at 5 p.m. Next we").
const WEAK_GLUE: &[&str] = &[
    "a.m", "co", "corp", "etc", "inc", "jr", "llc", "ltd", "p.m", "plc",
];

/// Words that typically open a sentence; after an ambiguous abbreviation they signal a real end.
const SENTENCE_STARTERS: &[&str] = &[
    "a", "after", "also", "an", "and", "as", "at", "but", "for", "he", "her", "his", "however",
    "i", "if", "in", "it", "its", "my", "no", "our", "please", "she", "so", "that", "the", "their",
    "then", "there", "these", "they", "this", "those", "we", "what", "when", "where", "which",
    "who", "why", "yes", "you", "your",
];

/// Splits `text` into sentences.
///
/// Starts from Unicode (UAX #29) sentence boundaries, which are linear-time and handle CJK
/// terminators, then repairs them: no split after common abbreviations, initials or list
/// markers; a line break inside hard-wrapped prose is joined, while blank lines, headings,
/// short lines (greetings, signatures), `key: value` lines and bullets stay separate.
pub fn split_sentences(text: &str) -> Vec<Sentence> {
    // Trimmed UAX #29 pieces; whitespace-only pieces are dropped here.
    let pieces: Vec<(usize, usize)> = text
        .split_sentence_bound_indices()
        .filter_map(|(off, s)| {
            let trimmed_start = s.len() - s.trim_start().len();
            let trimmed = s.trim();
            if trimmed.is_empty() {
                None
            } else {
                Some((off + trimmed_start, off + trimmed_start + trimmed.len()))
            }
        })
        .collect();

    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    // Only the last piece of the sentence so far is inspected, which keeps this linear even
    // when many pieces get glued into one sentence.
    let mut last_piece_start = 0;
    for (start, end) in pieces {
        let prev_piece_start = std::mem::replace(&mut last_piece_start, start);
        current = match current {
            None => Some((start, end)),
            Some((cs, ce)) => {
                if keep_break(text, (prev_piece_start, ce), (start, end)) {
                    out.push(Sentence {
                        index: out.len(),
                        start: cs,
                        end: ce,
                    });
                    Some((start, end))
                } else {
                    Some((cs, end))
                }
            }
        };
    }
    if let Some((cs, ce)) = current {
        out.push(Sentence {
            index: out.len(),
            start: cs,
            end: ce,
        });
    }
    out
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Decides whether the boundary between the piece `prev` and the piece `next` stays.
fn keep_break(text: &str, prev: (usize, usize), next: (usize, usize)) -> bool {
    let gap = &text[prev.1..next.0];
    let prev_text = &text[prev.0..prev.1];
    let at_line_start = text[..prev.0]
        .trim_end_matches([' ', '\t'])
        .chars()
        .next_back()
        .is_none_or(is_line_break);
    let next_text = &text[next.0..next.1];
    // "\r\n" is one line break, so count LF and lone separators but not the CR before an LF.
    let newlines = gap
        .char_indices()
        .filter(|&(i, c)| is_line_break(c) && !(c == '\r' && gap[i + 1..].starts_with('\n')))
        .count();
    if newlines >= 2 {
        return true;
    }
    if newlines == 0 {
        return !glue_same_line(prev_text, next_text, at_line_start);
    }
    // The whole next line, not just its first piece ("1." is a piece of "1. Open the app.").
    let next_line = text[next.0..].split(is_line_break).next().unwrap_or("");
    if starts_block(next_line) {
        return true;
    }
    if ends_with_terminal(prev_text) {
        return !glue_same_line(prev_text, next_text, at_line_start);
    }
    // The whole physical line ending at `prev`, not just the last piece of it.
    let line_start = text[..prev.1].rfind(is_line_break).map_or(0, |i| {
        i + text[i..].chars().next().map_or(1, char::len_utf8)
    });
    let line = text[line_start..prev.1].trim();
    // Hard-wrapped prose lines are long; short unpunctuated lines are headings, greetings,
    // signatures or form fields and stand alone.
    line.chars().count() <= 40 || starts_block(line) || prev_text.ends_with(':')
}

fn ends_with_terminal(s: &str) -> bool {
    let core = s.trim_end_matches(['"', '\'', ')', ']', '’', '”', '»']);
    core.ends_with(['.', '!', '?', '…', '。', '！', '？', '‼', '⁉'])
}

/// Whether a line opens a new block: bullet, numbered item, markdown heading or quote, table
/// row, or a `Key: value` form field.
fn starts_block(line: &str) -> bool {
    let t = line.trim_start();
    let mut chars = t.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let second = chars.next();
    if matches!(
        first,
        '#' | '>'
            | '|'
            | '•'
            | '·'
            | '‣'
            | '◦'
            | '▪'
            | '●'
            | '○'
            | '■'
            | '□'
            | '✓'
            | '✔'
            | '☐'
            | '☑'
    ) {
        return true;
    }
    if matches!(first, '-' | '*' | '+' | '–' | '—') && second.is_some_and(char::is_whitespace) {
        return true;
    }
    // "1. ", "12) ", "a) ", "(3) "
    let body = t.strip_prefix('(').unwrap_or(t);
    let marker_len = body
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_digit())
        .count();
    let rest = if marker_len > 0 && marker_len <= 3 {
        Some(&body[marker_len..])
    } else if body.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
        Some(&body[1..])
    } else {
        None
    };
    if let Some(rest) = rest {
        let mut rc = rest.chars();
        if matches!(rc.next(), Some('.' | ')')) && rc.next().is_some_and(char::is_whitespace) {
            return true;
        }
    }
    looks_like_field(t)
}

/// `Invoice number: INV-1`, `Date: 2024-03-15`: a short label, a colon, then a value.
fn looks_like_field(line: &str) -> bool {
    let Some(colon) = line.find(':') else {
        return false;
    };
    let label = &line[..colon];
    let after = &line[colon + 1..];
    !label.is_empty()
        && label.chars().count() <= 40
        && label.split_whitespace().count() <= 5
        && label.chars().next().is_some_and(char::is_alphabetic)
        && !label.contains("//")
        && after.starts_with([' ', '\t'])
        && !after.trim().is_empty()
}

/// Whether a same-line boundary after `prev` is a false split that should be joined.
fn glue_same_line(prev: &str, next: &str, at_line_start: bool) -> bool {
    // Pieces without any letter or digit ("!!", "…") belong to their neighbour.
    if !prev.chars().any(char::is_alphanumeric) || !next.chars().any(char::is_alphanumeric) {
        return true;
    }
    let last = prev.rsplit(char::is_whitespace).next().unwrap_or(prev);
    let last = last.trim_start_matches(['(', '[', '"', '\'', '“', '‘']);
    let Some(word) = last.strip_suffix('.') else {
        return false;
    };
    if word.is_empty() {
        return false;
    }
    let lower = word.to_lowercase();
    let next_first = next.chars().next();
    let next_upper_word = next_first.is_some_and(char::is_uppercase);
    let next_word = next
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_lowercase();
    let starter = SENTENCE_STARTERS.contains(&next_word.as_str());

    // A list marker "1." opening a line.
    if at_line_start
        && prev.len() == word.len() + 1
        && word.len() <= 3
        && word.chars().all(|c| c.is_ascii_digit())
    {
        return true;
    }
    if ALWAYS_GLUE.contains(&lower.as_str()) {
        return true;
    }
    // Initial: "J. Smith", "John F. Kennedy".
    let mut wc = word.chars();
    if let (Some(c), None) = (wc.next(), wc.next()) {
        return c.is_uppercase() && next_upper_word && !starter;
    }
    let dotted = word.contains('.')
        && word
            .split('.')
            .all(|p| p.chars().count() == 1 && p.chars().all(char::is_alphabetic));
    if WEAK_GLUE.contains(&lower.as_str()) {
        return !next_upper_word;
    }
    if dotted {
        // "U.S. Army" continues; "... in the U.S. The next ..." ends.
        return !(next_upper_word && starter);
    }
    false
}

/// Words of `text` with their byte offsets, by Unicode word boundaries (UAX #29), skipping
/// punctuation and whitespace.
pub fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.unicode_word_indices()
}

/// English stop words: function words that carry no topical signal for ranking or matching.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren't",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "can't",
    "cannot",
    "could",
    "couldn't",
    "did",
    "didn't",
    "do",
    "does",
    "doesn't",
    "doing",
    "don't",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "hadn't",
    "has",
    "hasn't",
    "have",
    "haven't",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "isn't",
    "it",
    "it's",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "ought",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "shouldn't",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "wasn't",
    "we",
    "were",
    "weren't",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "won't",
    "would",
    "wouldn't",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// English text analyzer: lowercase, stop-word removal and Snowball (Porter 2) stemming.
///
/// Cheap to construct (a function pointer and a static list), so callers can make one per
/// request instead of sharing a global.
pub struct Analyzer {
    stemmer: Stemmer,
    stop_words: &'static [&'static str],
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("language", &"english")
            .field("stop_words", &self.stop_words.len())
            .finish()
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::english()
    }
}

impl Analyzer {
    /// The English analyzer.
    pub fn english() -> Self {
        Self {
            stemmer: Stemmer::create(Algorithm::English),
            stop_words: STOP_WORDS,
        }
    }

    /// Index terms of `text`: lowercased words, stop words removed, stemmed. Numbers are kept
    /// (order ids and amounts are useful query terms).
    pub fn terms(&self, text: &str) -> Vec<String> {
        words(text)
            .filter_map(|(_, w)| {
                // Curly apostrophes would otherwise defeat both the stop list and the stemmer.
                let lower = w.to_lowercase().replace(['’', '‘'], "'");
                let mut chars = lower.chars();
                if let (Some(c), None) = (chars.next(), chars.clone().next())
                    && !c.is_alphanumeric()
                {
                    return None;
                }
                if self.is_stop_word(&lower) {
                    return None;
                }
                let stemmed = self.stem(&lower);
                if stemmed.is_empty() {
                    None
                } else {
                    Some(stemmed)
                }
            })
            .collect()
    }

    /// Whether `w` (any case) is an English stop word.
    pub fn is_stop_word(&self, w: &str) -> bool {
        if w.chars().any(char::is_uppercase) {
            let lower = w.to_lowercase();
            self.stop_words.contains(&lower.as_str())
        } else {
            self.stop_words.contains(&w)
        }
    }

    /// Snowball stem of an already-lowercased word.
    pub fn stem(&self, lower_word: &str) -> String {
        self.stemmer.stem(lower_word).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(doc: &str) -> Vec<&str> {
        split_sentences(doc).iter().map(|s| s.text(doc)).collect()
    }

    #[test]
    fn abbreviations_and_times_do_not_split() {
        let doc = "Dr. Smith arrived at 5 p.m. on Jan. 3. He left.";
        assert_eq!(
            texts(doc),
            vec!["Dr. Smith arrived at 5 p.m. on Jan. 3.", "He left."]
        );
    }

    #[test]
    fn more_abbreviations_initials_and_decimals() {
        let doc = "Mr. J. Smith paid $3.50 to Acme Inc. on Tuesday, e.g. Monday. \
                   The U.S. Army vs. Navy game was at 3 p.m. It rained at 9 a.m. Next came sun.";
        assert_eq!(
            texts(doc),
            vec![
                "Mr. J. Smith paid $3.50 to Acme Inc. on Tuesday, e.g. Monday.",
                "The U.S. Army vs. Navy game was at 3 p.m.",
                "It rained at 9 a.m.",
                "Next came sun."
            ]
        );
    }

    #[test]
    fn sentence_offsets_exclude_whitespace_and_are_indexed() {
        let doc = "  Hello world.   Goodbye now!  ";
        let s = split_sentences(doc);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].index, s[0].start, s[0].end), (0, 2, 14));
        assert_eq!(s[1].index, 1);
        assert_eq!(s[1].text(doc), "Goodbye now!");
    }

    #[test]
    fn no_punctuation_is_one_sentence() {
        let doc = "just some words without any punctuation at all";
        assert_eq!(texts(doc), vec![doc]);
    }

    #[test]
    fn empty_and_whitespace() {
        assert!(split_sentences("").is_empty());
        assert!(split_sentences(" \n\t\n  ").is_empty());
    }

    #[test]
    fn emoji_and_cjk() {
        let doc = "Great service 🎉! Would buy again 👍. 你好。我很好。";
        assert_eq!(
            texts(doc),
            vec![
                "Great service 🎉!",
                "Would buy again 👍.",
                "你好。",
                "我很好。"
            ]
        );
    }

    #[test]
    fn lines_blocks_and_wrapped_prose() {
        let doc = "Hi Anna,\n\nThe deployment of the new billing service went out this\n\
                   morning and everything looks stable so far.\nNext steps\n\
                   - migrate the old invoices\n- notify customers\n\
                   Invoice number: INV-1\nTotal: $4.00\n\nThanks\nBob";
        assert_eq!(
            texts(doc),
            vec![
                "Hi Anna,",
                "The deployment of the new billing service went out this\n\
                 morning and everything looks stable so far.",
                "Next steps",
                "- migrate the old invoices",
                "- notify customers",
                "Invoice number: INV-1",
                "Total: $4.00",
                "Thanks",
                "Bob"
            ]
        );
    }

    #[test]
    fn numbered_list_markers_stay_with_their_item() {
        let doc = "Steps:\n1. Open the app.\n2. Click Save.";
        assert_eq!(
            texts(doc),
            vec!["Steps:", "1. Open the app.", "2. Click Save."]
        );
    }

    #[test]
    fn long_input_is_fast_and_complete() {
        let doc = "The quick brown fox jumps over the lazy dog. ".repeat(20_000);
        let s = split_sentences(&doc);
        assert_eq!(s.len(), 20_000);
        let doc2 = "word ".repeat(100_000);
        assert_eq!(split_sentences(&doc2).len(), 1);
    }

    #[test]
    fn words_have_offsets() {
        let doc = "Hello, wörld! 42 times";
        let w: Vec<_> = words(doc).collect();
        assert_eq!(
            w,
            vec![(0, "Hello"), (7, "wörld"), (15, "42"), (18, "times")]
        );
    }

    #[test]
    fn analyzer_terms() {
        let a = Analyzer::english();
        assert_eq!(
            a.terms("The Invoices were PAID on 2024, running’s fine!"),
            vec!["invoic", "paid", "2024", "run", "fine"]
        );
        assert!(a.is_stop_word("The"));
        assert!(!a.is_stop_word("invoice"));
        assert_eq!(a.stem("running"), "run");
        assert!(a.terms("").is_empty());
    }

    #[test]
    fn odd_strings_never_panic() {
        let odd = [
            "",
            ".",
            "...",
            "!?",
            "\n\n\n",
            "   ",
            "é.",
            "Dr.",
            "Dr. ",
            "J.",
            "1.",
            "(",
            ":",
            "a:\n",
            "\r\n\r\n",
            "‼",
            "。",
            "🎉.🎉.",
            "e.g.",
            "U.S.",
            "-",
            "- ",
            "•",
            "🙂\n•x",
            "x\u{2029}y",
            "ñ. Ñ. ñ.",
            "\u{85}.",
            "\u{200b}.\u{200b}",
        ];
        let a = Analyzer::english();
        for s in odd {
            for doc in [s.to_string(), format!("{s} {s}\n{s}"), s.repeat(50)] {
                for sent in split_sentences(&doc) {
                    assert!(sent.start < sent.end);
                    let t = sent.text(&doc);
                    assert_eq!(t, t.trim());
                }
                let _ = a.terms(&doc);
                let _ = words(&doc).count();
            }
        }
    }
}
