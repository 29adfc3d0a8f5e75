//! Classic IR/NLP engine behind the intent endpoints (summarize, classify, extract, recommend,
//! score): pure, deterministic, dependency-light algorithms that run inside a Lambda without a
//! model.
//!
//! All offsets are byte offsets into the caller's original `&str`, always on char boundaries;
//! callers that expose char offsets convert at the edge.
//!
//! # Layout
//!
//! - [`text`]: sentence splitting (UAX #29 plus repairs for abbreviations, lists, wrapped
//!   lines), word iteration, and the English [`text::Analyzer`] (stop words + Snowball stems).
//! - [`bm25`]: lexical relevance: Okapi BM25 scoring and L2-normalised TF-IDF sparse vectors with
//!   cosine similarity.
//! - [`rank`]: graph and selection algorithms over any similarity (lexical or embedding):
//!   TextRank, maximal marginal relevance, centroid scores, score normalisation helpers.
//! - [`extract`]: typed extractors (emails, URLs, phones, dates, money, numbers, booleans),
//!   `key: value` line detection, and field resolution for schema-driven extraction; one module
//!   per kind of value.
//! - [`sentiment`]: lexical polarity of a short text (VADER's lexicon and rules).

pub mod bm25;
pub mod extract;
pub mod rank;
pub mod sentiment;
pub mod text;
