//! Types shared by every route: the success envelope, `meta`, usage accounting, text spans, and
//! the field validators that several requests use.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::ValidationError;

use super::limits::ID_PATTERN;

/// Every success body: the intent's result fields, flattened, plus `meta`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope<T> {
    #[serde(flatten)]
    pub result: T,
    pub meta: Meta,
}

/// Facts about how a response was produced; present on every success body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Same id as the `x-request-id` response header and the request log item.
    pub request_id: String,
    /// Contract version, currently `v1`.
    pub api_version: String,
    /// Provider that answered (`embedded`, `bedrock`, `openai`).
    pub provider: String,
    /// Model or engine identifier within that provider.
    pub model: String,
    pub usage: Usage,
    /// Estimated model charges for this request in US dollars, from the price table of this
    /// version (`PRICES_VERSION`); `0` for the embedded provider (no per-token charges), `null`
    /// when the model has no price in the table (a self-hosted model, say).
    #[schema(minimum = 0.0)]
    pub cost_usd: Option<f64>,
    /// Present only when the configured generative provider failed transiently and the embedded
    /// engine answered instead (`PROVIDER_FALLBACK=embedded`): `throttled`, `unavailable` or
    /// `timeout`. `provider` and `model` then name the embedded engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    /// Time spent in the handler, in milliseconds.
    pub latency_ms: u64,
}

/// Work done for one request. Tokens are model tokens for model providers and word tokens for
/// the classic engine, so they are comparable within one provider only.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    /// Input tokens, summed over every model call of the request (a repair included).
    pub input_tokens: u64,
    /// Output tokens, summed likewise.
    pub output_tokens: u64,
    /// Texts embedded by an embedding model (0 when none was used). Texts answered from the
    /// embedding cache are not counted here but in `embedding_cache_hits`.
    pub embedded_texts: u64,
    /// Texts whose embedding came from the function's embedding cache (an earlier request of
    /// the same warm instance sent them). Present when an embedding model was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_cache_hits: Option<u64>,
    /// Texts not in the embedding cache, so embedded by the model (equals `embedded_texts`).
    /// Present when an embedding model was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_cache_misses: Option<u64>,
    /// Input tokens served from the upstream's prompt cache, where the upstream reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_tokens: Option<u64>,
    /// Input tokens written to the upstream's prompt cache, where the upstream reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
    /// Model calls made for this request: 1, or 2 when the first answer was repaired. Present for
    /// generative providers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        fn sum<T: std::ops::Add<Output = T> + Default>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
            }
        }
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.embedded_texts += other.embedded_texts;
        self.embedding_cache_hits = sum(self.embedding_cache_hits, other.embedding_cache_hits);
        self.embedding_cache_misses =
            sum(self.embedding_cache_misses, other.embedding_cache_misses);
        self.cache_read_tokens = sum(self.cache_read_tokens, other.cache_read_tokens);
        self.cache_write_tokens = sum(self.cache_write_tokens, other.cache_write_tokens);
        self.attempts = sum(self.attempts, other.attempts);
    }
}

/// A half-open range `[start, end)` of the request text in Unicode code points (what Python's
/// `str` and most JSON tooling index by), so `text[start:end]` gives the matched text.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    /// Converts a byte range of `text` into code-point offsets.
    pub fn from_bytes(text: &str, start: usize, end: usize) -> Span {
        let start_chars = text[..start].chars().count();
        let len_chars = text[start..end].chars().count();
        Span {
            start: start_chars as u64,
            end: (start_chars + len_chars) as u64,
        }
    }
}

/// One validation failure, addressed by an RFC 6901 JSON pointer into the request body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    /// JSON pointer to the offending value, e.g. `/labels/3/name`; empty for the whole body.
    pub pointer: String,
    /// Stable machine-readable code, e.g. `length`, `range`, `duplicate`, `blank`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            pointer: pointer.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// Cross-field rules that `validator` attributes cannot express with a precise pointer.
pub trait Semantic {
    fn semantic_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

static ID_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(ID_PATTERN).expect("ID_PATTERN is a valid regex"));

/// Rejects strings that are empty after trimming: a blank text has nothing to work on, and
/// accepting it would return a confident-looking answer about nothing.
pub fn not_blank(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        let mut e = ValidationError::new("blank");
        e.message = Some("must contain at least one non-whitespace character".into());
        return Err(e);
    }
    Ok(())
}

/// Checks the id format documented in [`ID_PATTERN`].
pub fn valid_id(value: &str) -> Result<(), ValidationError> {
    if !ID_RE.is_match(value) {
        let mut e = ValidationError::new("format");
        e.message = Some(
            "must be 1-128 characters of letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
                .into(),
        );
        return Err(e);
    }
    Ok(())
}

/// Reports every value that occurs more than once, pointing at each repeat (not the first one).
pub fn duplicates<'a>(
    values: impl Iterator<Item = &'a str>,
    pointer: impl Fn(usize) -> String,
    what: &str,
    case_insensitive: bool,
) -> Vec<FieldError> {
    let mut seen = std::collections::HashMap::new();
    let mut errors = Vec::new();
    for (i, v) in values.enumerate() {
        let key = if case_insensitive {
            v.trim().to_lowercase()
        } else {
            v.to_owned()
        };
        if let Some(first) = seen.get(&key) {
            errors.push(FieldError::new(
                pointer(i),
                "duplicate",
                format!("duplicate {what} '{v}' (first given at index {first})"),
            ));
        } else {
            seen.insert(key, i);
        }
    }
    errors
}

/// Whole-number fields: JSON has a single number type, and JSON Schema (and most client
/// libraries) treat `16.0` as the integer 16, so a request that says `"limit": 16.0` is valid and
/// must not get a 422. Fractions, negatives and out-of-range values are still rejected.
pub mod whole {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::Deserializer;
    use serde::de::{Error, Unexpected, Visitor};

    struct Whole<T>(PhantomData<T>);

    impl<T: TryFrom<u64>> Visitor<'_> for Whole<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number")
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
            T::try_from(v)
                .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &"a smaller whole number"))
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
            u64::try_from(v)
                .map_err(|_| {
                    E::invalid_value(Unexpected::Signed(v), &"a non-negative whole number")
                })
                .and_then(|v| self.visit_u64(v))
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<T, E> {
            // 2^53: beyond it an f64 no longer holds every whole number exactly.
            if v.is_finite() && v.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&v) {
                self.visit_u64(v as u64)
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &"a whole number"))
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
        d.deserialize_any(Whole(PhantomData))
    }

    /// The same for optional fields (`null` or absent is `None`).
    pub mod option {
        use super::*;

        struct OptionalWhole<T>(PhantomData<T>);

        impl<'de, T: TryFrom<u64>> Visitor<'de> for OptionalWhole<T> {
            type Value = Option<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number or null")
            }

            fn visit_none<E: Error>(self) -> Result<Option<T>, E> {
                Ok(None)
            }

            fn visit_unit<E: Error>(self) -> Result<Option<T>, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
                super::deserialize(d).map(Some)
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
            d: D,
        ) -> Result<Option<T>, D::Error> {
            d.deserialize_option(OptionalWhole(PhantomData))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_add_sums_cache_counts_and_keeps_them_absent_when_both_are() {
        let mut total = Usage {
            embedded_texts: 3,
            embedding_cache_hits: Some(2),
            embedding_cache_misses: Some(3),
            ..Usage::default()
        };
        total.add(Usage {
            embedded_texts: 1,
            embedding_cache_hits: Some(4),
            embedding_cache_misses: Some(1),
            ..Usage::default()
        });
        assert_eq!(total.embedded_texts, 4);
        assert_eq!(total.embedding_cache_hits, Some(6));
        assert_eq!(total.embedding_cache_misses, Some(4));
        total.add(Usage::default());
        assert_eq!(total.embedding_cache_hits, Some(6));
        let mut generative = Usage::default();
        generative.add(Usage::default());
        assert_eq!(generative.embedding_cache_hits, None);
        let json = serde_json::to_value(generative).expect("serializes");
        assert!(json.get("embedding_cache_hits").is_none(), "{json}");
        assert!(json.get("embedding_cache_misses").is_none(), "{json}");
    }

    #[test]
    fn span_counts_code_points_not_bytes() {
        let text = "héllo wörld";
        let start = text.find("wörld").unwrap_or_default();
        let span = Span::from_bytes(text, start, text.len());
        assert_eq!(span, Span { start: 6, end: 11 });
    }

    #[test]
    fn ids_follow_the_documented_format() {
        assert!(valid_id("sku-123:v2.a_b").is_ok());
        assert!(valid_id("-leading-dash").is_err());
        assert!(valid_id("has space").is_err());
        assert!(valid_id(&"a".repeat(129)).is_err());
        assert!(valid_id(&"a".repeat(128)).is_ok());
    }

    #[derive(Debug, serde::Deserialize)]
    struct Counts {
        #[serde(deserialize_with = "whole::deserialize")]
        small: u8,
        #[serde(default, deserialize_with = "whole::option::deserialize")]
        maybe: Option<u64>,
    }

    #[test]
    fn whole_numbers_written_as_floats_are_accepted_and_fractions_are_not() {
        let ok: Counts = serde_json::from_str(r#"{"small": 16.0, "maybe": 3.0}"#).expect("whole");
        assert_eq!((ok.small, ok.maybe), (16, Some(3)));
        let none: Counts = serde_json::from_str(r#"{"small": 1, "maybe": null}"#).expect("null");
        assert_eq!(none.maybe, None);
        for bad in [
            r#"{"small": 1.5}"#,
            r#"{"small": -1}"#,
            r#"{"small": 256}"#,
            r#"{"small": "3"}"#,
            r#"{"small": 1, "maybe": 1e300}"#,
        ] {
            assert!(serde_json::from_str::<Counts>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicates_point_at_the_repeat() {
        let errs = duplicates(
            ["a", "B", "b"].into_iter(),
            |i| format!("/labels/{i}/name"),
            "label",
            true,
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].pointer, "/labels/2/name");
        assert_eq!(errs[0].code, "duplicate");
    }
}
