//! The per-request cap on a generative model's input tokens (`MAX_INPUT_TOKENS`): a request
//! whose prompt is estimated above it is refused before any call, so it costs nothing.
//!
//! The estimate is cheap (one pass over the bytes, no tokenizer: the upstream's own is not
//! available here, and each upstream counts differently) and errs on the high side for text
//! outside English: ASCII at 4 characters per token (what BPE tokenizers average on English
//! prose and JSON), every other character as a whole token (CJK is about one token per character;
//! accented Latin and Cyrillic are over-counted, which can only refuse early, never overspend).
//! It is taken on what is actually sent: the system prompt, the user turn (after the intent has
//! clipped long documents) and the output schema. A repair call re-sends the prompt, but the cap
//! judges the request's input, which the first call measures.

use super::OutputSchema;
use super::intents::Prompt;
use crate::provider::ProviderError;

/// Estimated tokens of `text`: ASCII bytes at 4 per token, other characters 1 each.
pub fn estimate_tokens(text: &str) -> u64 {
    let mut ascii = 0u64;
    let mut other = 0u64;
    for b in text.bytes() {
        if b.is_ascii() {
            ascii += 1;
        } else if b & 0xC0 != 0x80 {
            // A UTF-8 leading byte: one character.
            other += 1;
        }
    }
    ascii.div_ceil(4) + other
}

/// Estimated input tokens of one call: system prompt, user turn and output schema.
pub fn estimate_prompt(system: &str, user: &str, schema: Option<&OutputSchema>) -> u64 {
    let schema_tokens = schema.map_or(0, |s| {
        estimate_tokens(&s.schema.to_string()) + estimate_tokens(s.description)
    });
    estimate_tokens(system) + estimate_tokens(user) + schema_tokens
}

/// Refuses a prompt above `cap` (`None`: no cap).
pub fn check(
    cap: Option<u64>,
    prompt: &Prompt,
    schema: Option<&OutputSchema>,
) -> Result<(), ProviderError> {
    let Some(limit) = cap else {
        return Ok(());
    };
    let estimated = estimate_prompt(prompt.system, &prompt.user, schema);
    if estimated > limit {
        return Err(ProviderError::InputTooLarge { estimated, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_counts_four_characters_per_token_and_other_scripts_one() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("東京都"), 3);
        assert_eq!(estimate_tokens("café"), 2); // "caf" is one token, "é" another
    }

    #[test]
    fn a_prompt_over_the_cap_is_refused_saying_the_limit() {
        let prompt = Prompt {
            system: "sys",
            user: "x".repeat(4_000),
            max_tokens: 10,
        };
        assert!(check(None, &prompt, None).is_ok());
        assert!(check(Some(1_001), &prompt, None).is_ok());
        match check(Some(1_000), &prompt, None) {
            Err(ProviderError::InputTooLarge { estimated, limit }) => {
                assert_eq!((estimated, limit), (1_001, 1_000));
            }
            other => panic!("expected InputTooLarge, got {other:?}"),
        }
    }
}
