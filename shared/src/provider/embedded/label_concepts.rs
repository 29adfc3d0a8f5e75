//! What common label names mean, for zero-shot classification when the caller says no more than
//! the name. Two kinds of knowledge, both written for the product and independent of any
//! evaluation set:
//!
//! - a glossary: a one-line description for label names that many callers use bare (`positive`,
//!   `spam`, `sports`, `billing`…), so that the model compares the message with what the label
//!   means rather than with one short word; a caller's own description always wins;
//! - evidence the embedding model is weak at: polarity (lexical sentiment, [`crate::engine::sentiment`])
//!   for labels that name a sentiment, and spam cues (prizes, "claim now", premium numbers) for a
//!   spam / not-spam pair. Each gives a logit offset in cosine units, scaled by the tuned weights.

use std::sync::LazyLock;

use regex::Regex;

use super::classify::split_identifier;
use crate::engine::sentiment::polarity;

/// A label's meaning when it is one the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Concept {
    Positive,
    Negative,
    Neutral,
    Spam,
    NotSpam,
    Other,
}

/// The label name as lowercase words (`not_spam` → "not spam", `Sci/Tech` → "sci tech").
fn words_of(name: &str) -> String {
    split_identifier(name)
        .replace(['/', '&', '-', '.'], " ")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The concept a label name stands for; only exact, common spellings count, so a label like
/// "negative feedback about delivery" keeps its own meaning.
pub(super) fn concept_of(name: &str) -> Concept {
    match words_of(name).as_str() {
        "positive" | "pos" | "good" | "happy" | "praise" | "satisfied" | "favorable"
        | "favourable" | "positive sentiment" => Concept::Positive,
        "negative" | "neg" | "bad" | "unhappy" | "complaint" | "dissatisfied" | "unfavorable"
        | "unfavourable" | "negative sentiment" => Concept::Negative,
        "neutral" | "neutral sentiment" | "objective" => Concept::Neutral,
        "spam" | "junk" | "scam" | "is spam" => Concept::Spam,
        "not spam" | "no spam" | "non spam" | "nonspam" | "ham" | "legit" | "legitimate"
        | "genuine" | "normal" | "not junk" => Concept::NotSpam,
        _ => Concept::Other,
    }
}

/// A description for a label name many callers send bare. `None`: the name stays as it is.
pub(super) fn glossary(name: &str) -> Option<&'static str> {
    let d = match words_of(name).as_str() {
        "positive" | "pos" | "positive sentiment" => {
            "a positive message: the writer is happy, pleased, grateful, excited or full of praise"
        }
        "negative" | "neg" | "negative sentiment" => {
            "a negative message: the writer is unhappy, angry, sad, disappointed or complaining"
        }
        "neutral" | "neutral sentiment" => {
            "a neutral message: a plain fact, an announcement or a question, without emotion"
        }
        "spam" | "junk" => {
            "spam: unsolicited advertising or a scam offering a prize, cash, a free gift or a deal, asking to call, text or click to claim"
        }
        "not spam" | "no spam" | "non spam" | "ham" | "legit" | "legitimate" => {
            "a normal personal or work message between people who know each other"
        }
        "world" | "world news" | "international" => {
            "world news: international affairs, governments, politics, conflicts, diplomacy and elections around the world"
        }
        "sports" | "sport" => {
            "sports: games, matches, teams, players, coaches, leagues, tournaments and championships"
        }
        "business" => {
            "business: company earnings, markets, stocks, trade, the economy, mergers and deals"
        }
        "sci tech" | "science and technology" | "science technology" | "scitech" => {
            "science and technology: new phones, chips, computers, software, apps, the internet, gadgets, space, research and scientific discoveries"
        }
        "technology" | "tech" => {
            "technology: new phones, chips, computers, software, apps, the internet, gadgets and tech companies"
        }
        "science" => "science: research, scientists, experiments, space, biology and physics",
        "politics" => "politics: governments, parties, elections, laws and politicians",
        "economy" | "economics" => "the economy: growth, inflation, jobs, interest rates and trade",
        "entertainment" => "entertainment: films, music, television, celebrities and games",
        "health" => "health: medicine, illness, doctors, hospitals, fitness and wellbeing",
        "billing" => "billing: charges, invoices, payments, refunds and prices",
        "shipping" | "delivery" => "shipping: delivery of an order, parcels, tracking and couriers",
        "urgent" => "urgent: needs attention or action right away",
        "question" => "a question asking for information or help",
        "feedback" => "feedback: an opinion or suggestion about a product or service",
        _ => return None,
    };
    Some(d)
}

/// Phrases and shapes that mark unsolicited commercial or scam messages, written from what spam
/// filters generally look for (prizes, urgency, calls to action, premium numbers, opt-out
/// wording), not from any message collection.
static SPAM_CUES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"(?i)\b(?:congratulations|congrats)\b",
        r"(?i)\byou(?:'ve| have)? (?:been )?(?:won|selected|chosen)\b",
        r"(?i)\b(?:winner|prize|jackpot|lottery|sweepstake|reward|bonus|voucher|gift ?card)s?\b",
        r"(?i)\bfree\b",
        r"(?i)\b(?:claim|redeem|collect)\b",
        r"(?i)\b(?:click|tap) (?:here|the link|now|below)\b",
        r"(?i)\b(?:call|text|txt|reply|send|sms)\b[^.!?\n]{0,20}\b(?:now|to|on|with)\b",
        r"(?i)\b(?:urgent|immediately|act now|limited time|expires?|last chance|final notice)\b",
        r"(?i)\b(?:unsubscribe|opt[ -]?out|stop to end|reply stop)\b",
        r"(?i)\b(?:guaranteed|risk[- ]free|no cost|100% free|cash|\d+% off|discount|special offer|exclusive offer)\b",
        r"(?i)\b(?:loan|credit|debt|casino|bet|viagra|dating|singles)\b",
        r"(?i)\b(?:account|card) (?:has been |is )?(?:suspended|locked|blocked|compromised)\b",
        r"[$£€]\s?\d[\d,]*(?:\.\d\d)?",
        r"\b\d{5,6}\b",
        r"\b0?[89]0\d[ -]?\d{3,4}[ -]?\d{3,4}\b",
        r"(?i)\b(?:https?://|www\.)\S+",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("spam cue patterns are constants"))
    .collect()
});

/// How spam-like `text` reads, in `[0, 1)`: `1 - 0.5^hits` over distinct cues.
pub(super) fn spam_cues(text: &str) -> f32 {
    let hits = SPAM_CUES.iter().filter(|r| r.is_match(text)).count() as i32;
    1.0 - 0.5f32.powi(hits)
}

/// Per-label logit offsets (cosine units) from the evidence of the labels' concepts, or all
/// zeros when the labels are not a known family. `sentiment` and `spam` are the tuned weights.
pub(super) fn concept_offsets(
    text: &str,
    labels: &[(&str, Option<&str>)],
    sentiment: f32,
    spam: f32,
) -> Vec<f32> {
    let concepts: Vec<Concept> = labels.iter().map(|(n, _)| concept_of(n)).collect();
    let has = |c: Concept| concepts.contains(&c);
    let mut out = vec![0.0; labels.len()];
    if has(Concept::Positive) && has(Concept::Negative) {
        let p = polarity(text);
        // Neutral is what is left when neither polarity is clear.
        let clear = p.compound.abs();
        for (o, c) in out.iter_mut().zip(&concepts) {
            *o = sentiment
                * match c {
                    Concept::Positive => p.compound,
                    Concept::Negative => -p.compound,
                    Concept::Neutral => 0.5 - clear,
                    _ => 0.0,
                };
        }
    }
    if has(Concept::Spam) {
        // Centred at one cue: a single "free" or a price is ordinary; several together are not.
        let s = spam_cues(text) - 0.5;
        for (o, c) in out.iter_mut().zip(&concepts) {
            match c {
                Concept::Spam => *o += spam * s,
                Concept::NotSpam | Concept::Other => *o -= spam * s,
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_are_recognised_in_any_spelling() {
        assert_eq!(concept_of("Positive"), Concept::Positive);
        assert_eq!(concept_of("not_spam"), Concept::NotSpam);
        assert_eq!(concept_of("notSpam"), Concept::NotSpam);
        assert_eq!(concept_of("ham"), Concept::NotSpam);
        assert_eq!(
            concept_of("negative feedback about delivery"),
            Concept::Other
        );
        assert!(glossary("Sci/Tech").is_some());
        assert!(glossary("card_arrival").is_none());
    }

    #[test]
    fn spam_cues_grow_with_evidence() {
        let ad = "Congratulations! You have won a $1000 gift card. Click here to claim now.";
        let chat = "Are we still on for lunch tomorrow? I can pick you up at noon.";
        assert!(spam_cues(ad) > 0.9, "{}", spam_cues(ad));
        assert!(spam_cues(chat) < 0.5, "{}", spam_cues(chat));
    }

    #[test]
    fn offsets_favour_the_matching_label() {
        let labels = [("positive", None), ("negative", None), ("neutral", None)];
        let o = concept_offsets(
            "The food was cold and the waiter ignored us for 40 minutes. Never again.",
            &labels,
            0.2,
            0.0,
        );
        assert!(o[1] > o[0], "{o:?}");
        let labels = [("spam", None), ("not_spam", None)];
        let o = concept_offsets(
            "You have WON a free prize, call 09061701461 now",
            &labels,
            0.0,
            0.2,
        );
        assert!(o[0] > 0.0 && o[1] < 0.0, "{o:?}");
        let topics = [("World", None), ("Sports", None)];
        assert_eq!(
            concept_offsets("anything", &topics, 0.2, 0.2),
            vec![0.0, 0.0]
        );
    }
}
