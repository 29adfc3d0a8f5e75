//! The public contract: every request and response body of the API, with its validation rules.
//!
//! Requests derive `Deserialize` with `deny_unknown_fields` (a misspelt option is an error, not a
//! silent default) and `validator::Validate` with a documented bound on every string and list.
//! Rules that span several fields (duplicate labels, enum fields without values) live in
//! [`Semantic::semantic_errors`] so that they can point at the exact offending element.
//! Responses are plain `Serialize` types wrapped in [`Envelope`], which adds [`Meta`].
//!
//! # Layout
//! - [`limits`]: every bound of the API in one place, so docs and validation cannot disagree.
//! - [`common`]: the envelope, `meta`, usage, spans, and shared field validators.
//! - one module per intent: [`summarize`], [`classify`], [`extract`], [`recommend`], [`score`].
//! - [`health`]: the health report.
//! - [`jobs`]: background jobs: the submit body, the job resource and its status.

pub mod classify;
pub mod common;
pub mod extract;
pub mod feedback;
pub mod health;
pub mod jobs;
pub mod limits;
pub mod recommend;
pub mod score;
pub mod summarize;

pub use common::*;

/// Version of the contract reported in every `meta`; bumped only on a breaking change.
pub const API_VERSION: &str = "v1";
