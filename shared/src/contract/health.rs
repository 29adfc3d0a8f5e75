//! `GET /v1/health`: liveness plus the state of each dependency.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Degraded,
    Down,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DependencyCheck {
    pub name: String,
    pub status: Status,
    /// How long the check took, in milliseconds.
    pub latency_ms: u64,
    /// Why the dependency is not ok; never contains secrets or SDK internals.
    #[schema(required = true)]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthResponse {
    /// `ok` when every dependency is ok, `degraded` when an optional one is not, `down` when a
    /// required one is not (then the HTTP status is 503).
    pub status: Status,
    pub version: String,
    pub checks: Vec<DependencyCheck>,
}
