//! Lexical sentiment: how positive or negative a short text reads, after VADER (Hutto & Gilbert
//! 2014). The valence of each word comes from VADER's published lexicon (MIT licence, shipped in
//! `sentiment_lexicon.tsv` with its notice); the rules are VADER's own in simplified form:
//! negation in the three words before flips and damps a word, degree adverbs ("very",
//! "slightly") scale it, shouting (ALL CAPS among lower case) and exclamation marks emphasise,
//! after "but" the clause that follows weighs more than the one before, and an emoji reads as
//! the words of its description (`sentiment_emoji.tsv`, from the same package).
//!
//! The classifier uses it as evidence for caller labels that name a polarity; it is not a model
//! of its own and knows nothing of any label set.

use std::collections::HashMap;
use std::sync::LazyLock;

static LEXICON: LazyLock<HashMap<&'static str, f32>> = LazyLock::new(|| {
    include_str!("sentiment_lexicon.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (word, valence) = l.split_once('\t')?;
            Some((word, valence.parse().ok()?))
        })
        .collect()
});

/// Emoji and the words that describe them ("😂" → "face with tears of joy"), only those whose
/// words carry sentiment.
static EMOJI: LazyLock<HashMap<char, &'static str>> = LazyLock::new(|| {
    include_str!("sentiment_emoji.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (emoji, words) = l.split_once('\t')?;
            let mut chars = emoji.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some((c, words)),
                _ => None,
            }
        })
        .collect()
});

/// `text` with every known emoji replaced by its description, as VADER reads it; variation
/// selectors and skin-tone modifiers, which only change how an emoji is drawn, are dropped.
/// Borrowed unchanged when the text has no emoji.
fn with_emoji_described(text: &str) -> std::borrow::Cow<'_, str> {
    let drawn_only = |c: char| c == '\u{fe0f}' || ('\u{1f3fb}'..='\u{1f3ff}').contains(&c);
    if !text
        .chars()
        .any(|c| !c.is_ascii() && (EMOJI.contains_key(&c) || drawn_only(c)))
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 32);
    for c in text.chars() {
        if drawn_only(c) {
            continue;
        }
        match EMOJI.get(&c) {
            Some(words) => {
                out.push(' ');
                out.push_str(words);
                out.push(' ');
            }
            None => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Words that negate the sentiment word after them (VADER's list, apostrophes optional).
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "nowhere", "neither", "nor", "cannot",
    "without", "rarely", "seldom", "despite", "aint", "arent", "cant", "couldnt", "didnt",
    "doesnt", "dont", "hadnt", "hasnt", "havent", "isnt", "mightnt", "mustnt", "neednt",
    "shouldnt", "wasnt", "werent", "wont", "wouldnt", "shant",
];

/// Degree adverbs: `+` boosts the next sentiment word, `-` damps it (VADER's ±0.293).
const BOOSTERS: &[(&str, f32)] = &[
    ("absolutely", 0.293),
    ("amazingly", 0.293),
    ("awfully", 0.293),
    ("completely", 0.293),
    ("deeply", 0.293),
    ("especially", 0.293),
    ("extremely", 0.293),
    ("fully", 0.293),
    ("greatly", 0.293),
    ("highly", 0.293),
    ("hugely", 0.293),
    ("incredibly", 0.293),
    ("insanely", 0.293),
    ("most", 0.293),
    ("really", 0.293),
    ("remarkably", 0.293),
    ("so", 0.293),
    ("soo", 0.293),
    ("sooo", 0.293),
    ("such", 0.293),
    ("super", 0.293),
    ("totally", 0.293),
    ("truly", 0.293),
    ("utterly", 0.293),
    ("very", 0.293),
    ("almost", -0.293),
    ("barely", -0.293),
    ("hardly", -0.293),
    ("kinda", -0.293),
    ("less", -0.293),
    ("little", -0.293),
    ("marginally", -0.293),
    ("occasionally", -0.293),
    ("partly", -0.293),
    ("slightly", -0.293),
    ("somewhat", -0.293),
    ("sorta", -0.293),
];

/// VADER's negation factor and the emphasis of a shouted word.
const NEGATION_SCALAR: f32 = -0.74;
const CAPS_EMPHASIS: f32 = 0.733;

/// How a text reads: `compound` in `[-1, 1]` (VADER's normalised sum) and the shares of
/// positive, negative and neutral words (summing to 1 when the text has words).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Polarity {
    pub compound: f32,
    pub positive: f32,
    pub negative: f32,
    pub neutral: f32,
}

/// The token as the lexicon spells it: lower case, outer punctuation dropped unless the whole
/// token is an emoticon the lexicon knows (`:)`), apostrophes removed (`don't` → `dont`),
/// hashtags read as words.
fn lexicon_form(token: &str) -> String {
    if LEXICON.contains_key(token) {
        return token.to_owned();
    }
    token
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
        .replace(['\'', '’'], "")
}

/// Whether `word` (lowercase) is in the sentiment lexicon: a common English word, which the
/// name finder uses to tell a capitalised sentence start from a name.
pub fn in_lexicon(word: &str) -> bool {
    LEXICON.contains_key(word)
}

/// Scores `text`; see [`Polarity`].
pub fn polarity(text: &str) -> Polarity {
    let text = with_emoji_described(text);
    let text = text.as_ref();
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let forms: Vec<String> = tokens.iter().map(|t| lexicon_form(t)).collect();
    let letters = |t: &str| t.chars().filter(|c| c.is_alphabetic()).count();
    let shouted = |t: &str| letters(t) > 1 && t.chars().all(|c| !c.is_lowercase());
    // Shouting means something only among words that are not all shouted.
    let mixed_case = tokens.iter().any(|t| shouted(t)) && tokens.iter().any(|t| !shouted(t));
    let but = forms.iter().position(|f| f == "but");

    let mut valences: Vec<f32> = Vec::with_capacity(tokens.len());
    for (i, form) in forms.iter().enumerate() {
        let Some(&base) = LEXICON.get(form.as_str()) else {
            valences.push(0.0);
            continue;
        };
        // A degree adverb before a sentiment word modifies it; it is not sentiment itself.
        if BOOSTERS.iter().any(|(b, _)| b == form)
            && forms
                .get(i + 1)
                .is_some_and(|n| LEXICON.contains_key(n.as_str()))
        {
            valences.push(0.0);
            continue;
        }
        let mut v = base;
        if mixed_case && shouted(tokens[i]) {
            v += CAPS_EMPHASIS * v.signum();
        }
        for back in 1..=3 {
            let Some(prev) = i.checked_sub(back).map(|j| forms[j].as_str()) else {
                break;
            };
            if let Some((_, b)) = BOOSTERS.iter().find(|(w, _)| *w == prev) {
                // Further words boost less (VADER: 95% at two words back, 90% at three).
                let decay = [1.0, 0.95, 0.9][back - 1];
                v += b * decay * v.signum();
            }
            if NEGATIONS.contains(&prev) {
                v *= NEGATION_SCALAR;
                break;
            }
        }
        if let Some(b) = but {
            if i < b {
                v *= 0.5;
            } else if i > b {
                v *= 1.5;
            }
        }
        valences.push(v);
    }

    let mut sum: f32 = valences.iter().sum();
    let exclamations = text.matches('!').count().min(4) as f32;
    if sum != 0.0 {
        sum += 0.292 * exclamations * sum.signum();
    }
    let compound = sum / (sum * sum + 15.0).sqrt();
    let (mut pos, mut neg, mut neu) = (0.0f32, 0.0f32, 0.0f32);
    for v in &valences {
        if *v > 0.0 {
            pos += v + 1.0;
        } else if *v < 0.0 {
            neg += -v + 1.0;
        } else {
            neu += 1.0;
        }
    }
    let total = pos + neg + neu;
    if total == 0.0 {
        return Polarity {
            neutral: 1.0,
            ..Polarity::default()
        };
    }
    Polarity {
        compound,
        positive: pos / total,
        negative: neg / total,
        neutral: neu / total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lexicon_loads_with_its_notice_skipped() {
        assert!(LEXICON.len() > 7000);
        assert!(LEXICON["good"] > 1.0);
        assert!(LEXICON["horrible"] < -2.0);
        assert!(LEXICON.contains_key(":)"));
    }

    #[test]
    fn plain_sentences_read_the_right_way() {
        assert!(polarity("I love this phone, it is great").compound > 0.5);
        assert!(polarity("The food was cold and the waiter was rude").compound < -0.3);
        let flat = polarity("The meeting is at 3 pm in room 12");
        assert_eq!(flat.compound, 0.0);
        assert_eq!(flat.neutral, 1.0);
    }

    #[test]
    fn negation_flips_and_boosters_scale() {
        assert!(polarity("not good").compound < 0.0);
        assert!(polarity("I don't like it").compound < 0.0);
        assert!(polarity("very good").compound > polarity("good").compound);
        assert!(polarity("slightly good").compound < polarity("good").compound);
    }

    #[test]
    fn emphasis_and_but_weigh_in() {
        assert!(polarity("good!!!").compound > polarity("good").compound);
        assert!(polarity("it is GOOD, really").compound > polarity("it is good, really").compound);
        // After "but", the second clause decides.
        assert!(polarity("The room was nice but the staff were awful").compound < 0.0);
    }

    #[test]
    fn emoji_read_as_their_descriptions() {
        assert_eq!(
            with_emoji_described("so funny 😂!"),
            "so funny  face with tears of joy !"
        );
        // Skin tone and variation selector are ignored; unknown emoji stay as they are.
        assert_eq!(with_emoji_described("👍🏽"), with_emoji_described("👍"));
        assert_eq!(with_emoji_described("❤\u{fe0f}"), with_emoji_described("❤"));
        assert_eq!(with_emoji_described("plain text"), "plain text");
        assert!(polarity("Finally home 😊").compound > 0.3);
        assert!(polarity("Monday again 😢").compound < -0.3);
        assert_eq!(polarity("Monday again").compound, 0.0);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for t in [
            "",
            " ",
            "!!!",
            "🙂",
            "\u{fe0f}",
            "🏽🏽",
            "ALL CAPS ONLY",
            "but",
            "not",
        ] {
            let p = polarity(t);
            assert!((-1.0..=1.0).contains(&p.compound), "{t}");
        }
    }
}
