//! `POST /v1/score`: relevance scoring and reranking of documents for a query.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{FieldError, Semantic, duplicates, not_blank, valid_id};
use super::limits::*;

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Unique id (see the id format).
    #[validate(custom(function = "valid_id"))]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
    )]
    pub id: String,
    /// The document, 1–20,000 characters. Long documents are scored by their best passage.
    #[validate(
        length(min = 1, max = SCORE_MAX_DOCUMENT_CHARS),
        custom(function = "not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 20000,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub text: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// The query, 1–1,000 characters.
    #[validate(length(min = 1, max = MAX_QUERY_CHARS), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub query: String,
    /// 1–100 documents with unique ids.
    #[validate(length(min = 1, max = SCORE_MAX_DOCUMENTS), nested)]
    #[schema(min_items = 1, max_items = 100)]
    pub documents: Vec<Document>,
    /// Return only the best `top_k` (1–100); all documents by default.
    #[serde(
        default,
        deserialize_with = "super::common::whole::option::deserialize"
    )]
    #[validate(range(min = 1, max = SCORE_MAX_DOCUMENTS))]
    #[schema(minimum = 1, maximum = 100)]
    pub top_k: Option<u64>,
}

impl Semantic for ScoreRequest {
    fn semantic_errors(&self) -> Vec<FieldError> {
        duplicates(
            self.documents.iter().map(|d| d.id.as_str()),
            |i| format!("/documents/{i}/id"),
            "document id",
            false,
        )
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoredDocument {
    pub id: String,
    /// Position of the document in the request.
    pub index: u64,
    /// Relevance in [0, 1], comparable within one response.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: f32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreResponse {
    /// Documents, most relevant first.
    pub results: Vec<ScoredDocument>,
}
