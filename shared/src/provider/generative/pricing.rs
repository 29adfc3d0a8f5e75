//! The versioned price table behind `meta.cost_usd`: list prices per million tokens of the
//! models teams most often put behind these endpoints, on demand, in US dollars.
//!
//! An estimate, not an invoice: it ignores batch and provisioned throughput discounts, regional
//! differences and free tiers. A model that is not in the table (a self-hosted Llama, a new
//! release) has no price, and `cost_usd` is `null` rather than a guess. The version is written
//! into every request log item beside the cost, so old items stay explainable after an update.

/// Bumped whenever a price changes; stored with each cost in the request log.
pub const PRICES_VERSION: &str = "2026-12-01";

/// Prices of one model family in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Input tokens read from the prompt cache.
    pub cache_read: f64,
    /// Input tokens written to the prompt cache (Bedrock's Anthropic models charge a premium).
    pub cache_write: f64,
}

const fn price(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Price {
    Price {
        input,
        output,
        cache_read,
        cache_write,
    }
}

/// Model id prefixes (after any region prefix or ARN path is removed) and their prices. The
/// longest matching prefix wins, so `gpt-4o-mini` is not priced as `gpt-4o`.
const TABLE: &[(&str, Price)] = &[
    // Amazon Bedrock: Anthropic (cache read 0.1x input, cache write 1.25x input).
    ("anthropic.claude-3-haiku", price(0.25, 1.25, 0.025, 0.3125)),
    ("anthropic.claude-3-5-haiku", price(0.80, 4.00, 0.08, 1.00)),
    ("anthropic.claude-haiku-4-5", price(1.00, 5.00, 0.10, 1.25)),
    (
        "anthropic.claude-3-5-sonnet",
        price(3.00, 15.00, 0.30, 3.75),
    ),
    (
        "anthropic.claude-3-7-sonnet",
        price(3.00, 15.00, 0.30, 3.75),
    ),
    ("anthropic.claude-sonnet-4", price(3.00, 15.00, 0.30, 3.75)),
    ("anthropic.claude-opus-4", price(15.00, 75.00, 1.50, 18.75)),
    ("anthropic.claude-opus-4-5", price(5.00, 25.00, 0.50, 6.25)),
    // Amazon Bedrock: Amazon Nova (cache read 0.25x input, no write charge).
    ("amazon.nova-micro", price(0.035, 0.14, 0.00875, 0.0)),
    ("amazon.nova-lite", price(0.06, 0.24, 0.015, 0.0)),
    ("amazon.nova-pro", price(0.80, 3.20, 0.20, 0.0)),
    ("amazon.nova-premier", price(2.50, 12.50, 0.625, 0.0)),
    // Amazon Bedrock: Meta Llama and Mistral (no prompt caching).
    ("meta.llama3-1-8b-instruct", price(0.22, 0.22, 0.22, 0.22)),
    ("meta.llama3-1-70b-instruct", price(0.72, 0.72, 0.72, 0.72)),
    ("meta.llama3-3-70b-instruct", price(0.72, 0.72, 0.72, 0.72)),
    ("mistral.mistral-large-2407", price(2.00, 6.00, 2.00, 2.00)),
    // OpenAI (cached input at the listed discount; caching writes are free).
    ("gpt-4o", price(2.50, 10.00, 1.25, 0.0)),
    ("gpt-4o-mini", price(0.15, 0.60, 0.075, 0.0)),
    ("gpt-4.1", price(2.00, 8.00, 0.50, 0.0)),
    ("gpt-4.1-mini", price(0.40, 1.60, 0.10, 0.0)),
    ("gpt-4.1-nano", price(0.10, 0.40, 0.025, 0.0)),
    ("gpt-5", price(1.25, 10.00, 0.125, 0.0)),
    ("gpt-5-mini", price(0.25, 2.00, 0.025, 0.0)),
    ("gpt-5-nano", price(0.05, 0.40, 0.005, 0.0)),
];

/// Region prefixes of Bedrock cross-region inference profiles (`us.anthropic...`).
const PROFILE_PREFIXES: &[&str] = &[
    "us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global.",
];

/// The price of `model`, if the table knows it.
pub fn price_of(model: &str) -> Option<Price> {
    // An ARN (`arn:aws:bedrock:...:inference-profile/us.anthropic...`) names the model last.
    let id = model.rsplit('/').next().unwrap_or(model);
    let id = PROFILE_PREFIXES
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id);
    TABLE
        .iter()
        .filter(|(prefix, _)| id.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, p)| *p)
}

/// Estimated cost of a request's calls. Upstreams count input differently: OpenAI's prompt
/// tokens include the cached ones, Bedrock's input tokens exclude cache reads and writes.
pub fn cost_usd(provider: &str, model: &str, usage: &super::TokenUsage) -> Option<f64> {
    let p = price_of(model)?;
    let cache_read = usage.cache_read.unwrap_or(0) as f64;
    let cache_write = usage.cache_write.unwrap_or(0) as f64;
    let uncached_input = if provider == "openai" {
        (usage.input as f64 - cache_read).max(0.0)
    } else {
        usage.input as f64
    };
    let dollars = uncached_input * p.input
        + cache_read * p.cache_read
        + cache_write * p.cache_write
        + usage.output as f64 * p.output;
    Some(dollars / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::generative::TokenUsage;

    #[test]
    fn the_longest_prefix_wins_and_profiles_and_arns_are_understood() {
        assert_eq!(
            price_of("gpt-4o-mini-2024-07-18").map(|p| p.input),
            Some(0.15)
        );
        assert_eq!(price_of("gpt-4o-2024-08-06").map(|p| p.input), Some(2.50));
        assert_eq!(
            price_of("us.anthropic.claude-3-5-haiku-20241022-v1:0").map(|p| p.output),
            Some(4.00)
        );
        assert_eq!(
            price_of(
                "arn:aws:bedrock:us-east-1:000000000000:inference-profile/eu.amazon.nova-lite-v1:0"
            )
            .map(|p| p.input),
            Some(0.06)
        );
    }

    #[test]
    fn an_unknown_model_has_no_price() {
        assert_eq!(price_of("llama3.2:3b"), None);
        let usage = TokenUsage {
            input: 1000,
            output: 10,
            ..TokenUsage::default()
        };
        assert_eq!(cost_usd("openai", "qwen2.5-7b-instruct", &usage), None);
    }

    #[test]
    fn costs_count_cached_tokens_the_way_each_upstream_reports_them() {
        let usage = TokenUsage {
            input: 1_000_000,
            output: 1_000_000,
            cache_read: Some(500_000),
            cache_write: None,
        };
        // OpenAI: half of the prompt was cached and is billed at the cached rate.
        let openai = cost_usd("openai", "gpt-4o-mini", &usage).expect("priced");
        assert!((openai - (0.075 + 0.0375 + 0.60)).abs() < 1e-9, "{openai}");
        // Bedrock: input tokens exclude the cached ones, which are billed on top.
        let bedrock =
            cost_usd("bedrock", "anthropic.claude-3-haiku-20240307-v1:0", &usage).expect("priced");
        assert!((bedrock - (0.25 + 0.0125 + 1.25)).abs() < 1e-9, "{bedrock}");
    }
}
