//! The TOKEN authorizer's event and answer. API Gateway sends the `Authorization` header
//! (already checked against the template's `ValidationExpression`, so an absent or malformed one
//! never gets here) and the method ARN; the answer is a policy plus the context the functions
//! read as `requestContext.authorizer.sub` / `client_id` / `scope`.
//!
//! The Lambda error `Unauthorized` (exactly that message) is how a TOKEN authorizer makes API
//! Gateway answer 401; any other error is an authorizer failure (500).

use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};

use crate::config::AuthorizerConfig;
use crate::jwks::{JwksError, KeySet};
use crate::policy::{PolicyDocument, policy_for, stage_arn};
use crate::token::{Rejection, verify};

/// What the authorizer needs per request, built once per cold start.
pub struct Authorizer {
    pub config: AuthorizerConfig,
    pub keys: KeySet,
}

impl Authorizer {
    pub fn new(config: AuthorizerConfig) -> Result<Authorizer, JwksError> {
        crate::crypto::install();
        Ok(Authorizer {
            keys: KeySet::new(&config)?,
            config,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAuthorizerEvent {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub authorization_token: String,
    pub method_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub principal_id: String,
    pub policy_document: PolicyDocument,
    pub context: AuthContext,
}

/// Exactly these keys: the functions read `sub` and `client_id` as the caller's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthContext {
    pub sub: String,
    pub client_id: String,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// The 401 answer: API Gateway matches this exact message.
fn unauthorized() -> Diagnostic {
    Diagnostic {
        error_type: "Unauthorized".to_owned(),
        error_message: "Unauthorized".to_owned(),
    }
}

/// Decides one request. Never panics; the reason of a refusal goes to the log only.
pub async fn handle(
    authorizer: &Authorizer,
    event: TokenAuthorizerEvent,
) -> Result<AuthorizerResponse, Diagnostic> {
    let stage = match stage_arn(&event.method_arn) {
        Ok(stage) => stage,
        Err(e) => {
            tracing::error!(error = %e, "API Gateway sent an unexpected event");
            return Err(Diagnostic {
                error_type: "BadEvent".to_owned(),
                error_message: e.to_string(),
            });
        }
    };
    let Some(token) = bearer(&event.authorization_token) else {
        tracing::info!(reason = "no bearer token", "token refused");
        return Err(unauthorized());
    };
    match verify(token, &authorizer.config, &authorizer.keys).await {
        Ok(identity) => {
            let policy = policy_for(stage, &identity.scopes);
            let scope = identity
                .scopes
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ");
            tracing::info!(
                sub = %identity.sub,
                client_id = %identity.client_id,
                scope = %scope,
                effect = policy.statement.first().map(|s| s.effect).unwrap_or("Deny"),
                "token accepted"
            );
            Ok(AuthorizerResponse {
                principal_id: identity.sub.clone(),
                policy_document: policy,
                context: AuthContext {
                    sub: identity.sub,
                    client_id: identity.client_id,
                    scope,
                },
            })
        }
        Err(Rejection::Invalid(reason)) => {
            tracing::info!(reason = %reason, "token refused");
            Err(unauthorized())
        }
        Err(Rejection::KeysUnavailable(e)) => {
            tracing::error!(error = %e, "cannot verify tokens");
            Err(Diagnostic {
                error_type: "KeysUnavailable".to_owned(),
                error_message: "the issuer's signing keys could not be fetched".to_owned(),
            })
        }
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 9110).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bearer_token_only() {
        assert_eq!(bearer("Bearer a.b.c"), Some("a.b.c"));
        assert_eq!(bearer("bearer a.b.c"), Some("a.b.c"));
        assert_eq!(bearer("Basic dXNlcg=="), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer a b"), None);
    }

    #[test]
    fn the_context_has_exactly_sub_client_id_and_scope() {
        let v = serde_json::to_value(AuthContext {
            sub: "s".into(),
            client_id: "c".into(),
            scope: "intents/invoke".into(),
        })
        .expect("serialises");
        let mut keys: Vec<_> = v.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["client_id", "scope", "sub"]);
    }
}
