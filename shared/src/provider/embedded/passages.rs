//! Passages: a long document cut into windows of whole sentences that the embedding model reads
//! entirely. all-MiniLM-L6-v2 silently drops everything after 256 wordpieces, so a document is
//! never embedded whole; it is scored by its passages instead (see the score module).
//!
//! A sentence longer than the budget on its own (OCR dumps, tables, run-on text) is split at word
//! boundaries by halving until every piece fits, so no part of the text goes unread.

use std::ops::Range;

use crate::engine::text::{split_sentences, words};

/// Byte ranges of `text` grouping consecutive sentences into passages of at most `max_cost`
/// (as measured by `cost`, e.g. wordpieces). Ranges are in order, on char boundaries, and cover
/// every word of the text. Empty or whitespace-only text gives no passage.
pub fn passages(text: &str, max_cost: usize, cost: &dyn Fn(&str) -> usize) -> Vec<Range<usize>> {
    let max_cost = max_cost.max(1);
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut current: Option<Range<usize>> = None;
    let mut current_cost = 0;
    for sentence in split_sentences(text) {
        let s = sentence.text(text);
        if s.is_empty() {
            continue;
        }
        let c = cost(s);
        if c > max_cost {
            out.extend(current.take());
            current_cost = 0;
            split_long(text, sentence.start..sentence.end, max_cost, cost, &mut out);
            continue;
        }
        match &mut current {
            Some(range) if current_cost + c <= max_cost => {
                range.end = sentence.end;
                current_cost += c;
            }
            _ => {
                out.extend(current.take());
                current = Some(sentence.start..sentence.end);
                current_cost = c;
            }
        }
    }
    out.extend(current);
    out
}

/// Splits `range` of `text` at word boundaries into pieces within `max_cost`, by halving.
fn split_long(
    text: &str,
    range: Range<usize>,
    max_cost: usize,
    cost: &dyn Fn(&str) -> usize,
    out: &mut Vec<Range<usize>>,
) {
    let Some(piece) = text.get(range.clone()) else {
        return;
    };
    let spans: Vec<Range<usize>> = words(piece)
        .map(|(o, w)| range.start + o..range.start + o + w.len())
        .collect();
    halve(text, &spans, max_cost, cost, out);
}

fn halve(
    text: &str,
    words: &[Range<usize>],
    max_cost: usize,
    cost: &dyn Fn(&str) -> usize,
    out: &mut Vec<Range<usize>>,
) {
    let (Some(first), Some(last)) = (words.first(), words.last()) else {
        return;
    };
    let range = first.start..last.end;
    // One word always stands alone, even if it is absurdly long: the model truncates it, and
    // nothing smaller could be formed at a word boundary anyway.
    if words.len() == 1 || cost(text.get(range.clone()).unwrap_or("")) <= max_cost {
        out.push(range);
        return;
    }
    let mid = words.len() / 2;
    halve(text, &words[..mid], max_cost, cost, out);
    halve(text, &words[mid..], max_cost, cost, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word_cost(s: &str) -> usize {
        words(s).count()
    }

    fn texts<'a>(text: &'a str, r: &[Range<usize>]) -> Vec<&'a str> {
        r.iter().map(|r| &text[r.clone()]).collect()
    }

    #[test]
    fn short_text_is_one_passage() {
        let t = "One sentence. Another one.";
        assert_eq!(texts(t, &passages(t, 10, &word_cost)), vec![t]);
    }

    #[test]
    fn sentences_are_grouped_within_the_budget() {
        let t = "A b c. D e f. G h i. J k l.";
        let p = passages(t, 6, &word_cost);
        assert_eq!(texts(t, &p), vec!["A b c. D e f.", "G h i. J k l."]);
    }

    #[test]
    fn an_overlong_sentence_is_split_at_words_and_nothing_is_lost() {
        let t = format!("Intro. {} end", "word ".repeat(50));
        let p = passages(&t, 8, &word_cost);
        assert!(p.iter().all(|r| word_cost(&t[r.clone()]) <= 8));
        let total: usize = p.iter().map(|r| word_cost(&t[r.clone()])).sum();
        assert_eq!(total, word_cost(&t));
    }

    #[test]
    fn empty_emoji_and_single_word_inputs_do_not_panic() {
        assert!(passages("", 10, &word_cost).is_empty());
        assert!(passages("   \n ", 10, &word_cost).is_empty());
        let e = "🙂🙂 ok 🙂";
        let p = passages(e, 10, &word_cost);
        assert_eq!(p.len(), 1);
        let long_word = "x".repeat(5000);
        assert_eq!(passages(&long_word, 1, &|s| s.len()).len(), 1);
    }
}
