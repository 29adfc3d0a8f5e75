//! `POST /v1/recommend`: rank caller-given candidate items for a profile, with diversity.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{FieldError, Semantic, duplicates, not_blank, valid_id};
use super::limits::*;

fn default_limit() -> u64 {
    RECOMMEND_DEFAULT_LIMIT
}

fn default_diversity() -> f64 {
    RECOMMEND_DEFAULT_DIVERSITY
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// What the user is interested in, in their words or from their history; 1–5,000 characters.
    #[serde(default)]
    #[validate(
        length(min = 1, max = RECOMMEND_MAX_ITEM_CHARS),
        custom(function = "not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 5000,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub text: Option<String>,
    /// Ids of candidate items the user liked; they shape the profile and are not recommended
    /// again. At most 100.
    #[serde(default)]
    #[validate(length(max = 100))]
    #[schema(schema_with = crate::openapi::schemas::liked_ids)]
    pub liked_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Unique id (see the id format).
    #[validate(custom(function = "valid_id"))]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
    )]
    pub id: String,
    /// Title and/or description of the item, 1–5,000 characters.
    #[validate(
        length(min = 1, max = RECOMMEND_MAX_ITEM_CHARS),
        custom(function = "not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 5000,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub text: String,
    /// Up to 20 tags of 1–50 characters; they count as part of the item's text.
    #[serde(default)]
    #[validate(length(max = MAX_TAGS))]
    #[schema(schema_with = crate::openapi::schemas::tags)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendRequest {
    #[validate(nested)]
    pub profile: Profile,
    /// 1–500 candidate items with unique ids.
    #[validate(length(min = 1, max = RECOMMEND_MAX_ITEMS), nested)]
    #[schema(min_items = 1, max_items = 500)]
    pub items: Vec<Item>,
    /// Ids never to return (already owned, hidden, out of stock). At most 500.
    #[serde(default)]
    #[validate(length(max = RECOMMEND_MAX_ITEMS))]
    #[schema(schema_with = crate::openapi::schemas::exclude_ids)]
    pub exclude_ids: Vec<String>,
    /// Most items to return, 1–50 (default 10).
    #[serde(
        default = "default_limit",
        deserialize_with = "super::common::whole::deserialize"
    )]
    #[validate(range(min = 1, max = RECOMMEND_MAX_LIMIT))]
    #[schema(minimum = 1, maximum = 50, default = 10)]
    pub limit: u64,
    /// 0 ranks purely by relevance; 1 spreads results as much as possible (default 0.3).
    #[serde(default = "default_diversity")]
    #[validate(range(min = 0.0, max = 1.0))]
    #[schema(minimum = 0.0, maximum = 1.0, default = 0.3)]
    pub diversity: f64,
}

impl Semantic for RecommendRequest {
    fn semantic_errors(&self) -> Vec<FieldError> {
        let mut errors = duplicates(
            self.items.iter().map(|i| i.id.as_str()),
            |i| format!("/items/{i}/id"),
            "item id",
            false,
        );
        if self.profile.text.is_none() && self.profile.liked_ids.is_empty() {
            errors.push(FieldError::new(
                "/profile",
                "required",
                "give the profile a 'text', 'liked_ids', or both",
            ));
        }
        let known: std::collections::HashSet<&str> =
            self.items.iter().map(|i| i.id.as_str()).collect();
        for (i, id) in self.profile.liked_ids.iter().enumerate() {
            if !known.contains(id.as_str()) {
                errors.push(FieldError::new(
                    format!("/profile/liked_ids/{i}"),
                    "unknown_id",
                    format!("'{id}' is not the id of a candidate item"),
                ));
            }
        }
        for (i, id) in self.exclude_ids.iter().enumerate() {
            if valid_id(id).is_err() {
                errors.push(FieldError::new(
                    format!("/exclude_ids/{i}"),
                    "format",
                    "not a valid id",
                ));
            }
        }
        for (i, item) in self.items.iter().enumerate() {
            for (j, tag) in item.tags.iter().enumerate() {
                let len = tag.chars().count() as u64;
                if tag.trim().is_empty() || len > MAX_TAG_CHARS {
                    errors.push(FieldError::new(
                        format!("/items/{i}/tags/{j}"),
                        "length",
                        "tags must be 1-50 characters and not blank",
                    ));
                }
            }
        }
        errors
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recommendation {
    pub id: String,
    /// Relevance to the profile in [0, 1] (before the diversity trade-off).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: f32,
    /// Why this item was recommended, in plain words.
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendResponse {
    /// Recommended items, best first; never an excluded, liked or repeated id.
    pub items: Vec<Recommendation>,
}
