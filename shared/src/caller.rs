//! Who called: the caller identity that every request log item, feedback item and job records.
//!
//! API Gateway puts it in the request context, never in the body: the API key's id
//! (`identity.apiKeyId`, never the key itself), and with a JWT authorizer the token's subject and
//! client id, either as a Cognito user pool authorizer sends them (`authorizer.claims.sub`,
//! `authorizer.claims.client_id`) or as the product's Lambda authorizer for generic OIDC does
//! (`authorizer.sub`, `authorizer.client_id`).
//!
//! These values are untrusted text: an authorizer passes on whatever the token says. Each one is
//! kept only when it is 1 to [`MAX_IDENTITY_CHARS`] visible ASCII characters; anything else is
//! left out (and the omission logged without the value), never cut or cleaned: a shortened or
//! altered id could name another caller. An odd identity never fails the request.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::Serialize;
use serde_json::Value;

/// Longest identity value kept. Cognito subjects are 36 characters, API key ids 10, OIDC
/// subjects at most 255 by the spec; 256 leaves room without letting a token fill an item.
pub const MAX_IDENTITY_CHARS: usize = 256;

/// The caller of one request. Every part is optional: a local run has none, an API key alone
/// gives `api_key_id`, a JWT authorizer adds `sub` and `client_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// `requestContext.identity.apiKeyId`: the id of the API key, not its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// The token's subject (`sub` claim).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The OAuth client the token was issued to (`client_id` claim).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl Caller {
    /// The caller named by the request's API Gateway context; empty outside API Gateway.
    pub fn of_request(request: &Request) -> Caller {
        match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(ctx)) => {
                let fields = &ctx.authorizer.fields;
                // A Cognito user pool authorizer nests the claims; a Lambda authorizer's context
                // is flat.
                let claims = fields.get("claims").and_then(Value::as_object);
                let claim = |name: &str| {
                    claims
                        .and_then(|c| c.get(name))
                        .or_else(|| fields.get(name))
                };
                Caller {
                    api_key_id: ctx
                        .identity
                        .api_key_id
                        .as_deref()
                        .and_then(|v| kept("api_key_id", v)),
                    sub: claim("sub").and_then(|v| kept_value("sub", v)),
                    // Cognito ID tokens carry the app client id as `aud` instead of `client_id`.
                    client_id: claim("client_id")
                        .or_else(|| claims.and_then(|c| c.get("aud")))
                        .and_then(|v| kept_value("client_id", v)),
                }
            }
            #[allow(unreachable_patterns)]
            _ => Caller::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.api_key_id.is_none() && self.sub.is_none() && self.client_id.is_none()
    }

    /// The named parts, as `(attribute suffix, value)`: what the stores write as `caller_<name>`.
    pub fn parts(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("api_key_id", self.api_key_id.as_deref()),
            ("sub", self.sub.as_deref()),
            ("client_id", self.client_id.as_deref()),
        ]
    }

    /// Rebuilds a caller from stored parts (`caller_<name>` attributes), re-checking each value.
    pub fn from_parts(get: impl Fn(&str) -> Option<String>) -> Caller {
        let part = |name: &str| get(name).and_then(|v| kept(name, &v));
        Caller {
            api_key_id: part("api_key_id"),
            sub: part("sub"),
            client_id: part("client_id"),
        }
    }

    /// Who an `Idempotency-Key` belongs to. An API key alone keeps the scope it always had (the
    /// key id); a token's subject and client make it narrower. Parts never contain a newline
    /// (visible ASCII only), so the joined form is unambiguous.
    pub fn idempotency_scope(&self) -> String {
        let key = self.api_key_id.as_deref().unwrap_or("");
        if self.sub.is_none() && self.client_id.is_none() {
            return key.to_owned();
        }
        format!(
            "{key}\njwt\n{}\n{}",
            self.client_id.as_deref().unwrap_or(""),
            self.sub.as_deref().unwrap_or("")
        )
    }
}

/// A JSON identity value: strings, and integers as their decimal text (some authorizers put a
/// numeric subject); anything else is left out.
fn kept_value(name: &str, value: &Value) -> Option<String> {
    match value {
        Value::String(s) => kept(name, s),
        Value::Number(n) if n.is_u64() || n.is_i64() => kept(name, &n.to_string()),
        Value::Null => None,
        _ => {
            tracing::warn!(
                identity = name,
                reason = "not a string",
                "caller identity value left out"
            );
            None
        }
    }
}

/// `value` when it is a usable identity, else `None` (logged without the value).
fn kept(name: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let reason = if value.len() > MAX_IDENTITY_CHARS {
        "too long"
    } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
        "not visible ASCII"
    } else {
        return Some(value.to_owned());
    };
    tracing::warn!(
        identity = name,
        reason,
        chars = value.chars().count(),
        "caller identity value left out"
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(identity: Value, authorizer: Option<Value>) -> Request {
        let mut context = json!({
            "resourcePath": "/v1/score",
            "httpMethod": "POST",
            "path": "/Prod/v1/score",
            "stage": "Prod",
            "requestId": "r-1",
            "identity": identity,
        });
        if let Some(a) = authorizer {
            context["authorizer"] = a;
        }
        let event = json!({
            "resource": "/v1/score",
            "path": "/v1/score",
            "httpMethod": "POST",
            "headers": {},
            "multiValueHeaders": {},
            "requestContext": context,
            "body": null,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("a REST event")
    }

    #[test]
    fn reads_the_api_key_id() {
        let caller = Caller::of_request(&request(json!({"apiKeyId": "k1a2b3c4d5"}), None));
        assert_eq!(caller.api_key_id.as_deref(), Some("k1a2b3c4d5"));
        assert_eq!((caller.sub, caller.client_id), (None, None));
    }

    #[test]
    fn reads_cognito_claims_and_lambda_authorizer_context() {
        let cognito = Caller::of_request(&request(
            json!({}),
            Some(json!({"claims": {"sub": "5f0c-user", "client_id": "app-client-1"}})),
        ));
        assert_eq!(cognito.sub.as_deref(), Some("5f0c-user"));
        assert_eq!(cognito.client_id.as_deref(), Some("app-client-1"));
        let id_token = Caller::of_request(&request(
            json!({}),
            Some(json!({"claims": {"sub": "u", "aud": "app-client-2"}})),
        ));
        assert_eq!(id_token.client_id.as_deref(), Some("app-client-2"));
        let oidc = Caller::of_request(&request(
            json!({"apiKeyId": "key-1"}),
            Some(json!({"sub": "auth0|42", "client_id": "svc", "scope": "intents:call"})),
        ));
        assert_eq!(
            oidc,
            Caller {
                api_key_id: Some("key-1".into()),
                sub: Some("auth0|42".into()),
                client_id: Some("svc".into()),
            }
        );
    }

    #[test]
    fn leaves_out_values_that_are_too_long_not_ascii_or_not_text() {
        let caller = Caller::of_request(&request(
            json!({"apiKeyId": "k".repeat(MAX_IDENTITY_CHARS + 1)}),
            Some(json!({"sub": "user\u{7}name", "client_id": {"nested": true}})),
        ));
        assert!(caller.is_empty(), "{caller:?}");
        let spaced = Caller::of_request(&request(json!({}), Some(json!({"sub": "a b"}))));
        assert_eq!(spaced.sub, None);
        let edge = Caller::of_request(&request(
            json!({"apiKeyId": "k".repeat(MAX_IDENTITY_CHARS)}),
            Some(json!({"sub": 1234})),
        ));
        assert_eq!(edge.api_key_id.map(|k| k.len()), Some(MAX_IDENTITY_CHARS));
        assert_eq!(edge.sub.as_deref(), Some("1234"));
    }

    #[test]
    fn an_api_key_alone_keeps_its_idempotency_scope_and_a_token_narrows_it() {
        let key_only = Caller {
            api_key_id: Some("k".into()),
            ..Caller::default()
        };
        assert_eq!(key_only.idempotency_scope(), "k");
        assert_eq!(Caller::default().idempotency_scope(), "");
        let a = Caller {
            sub: Some("alice".into()),
            ..key_only.clone()
        };
        let b = Caller {
            sub: Some("bob".into()),
            ..key_only
        };
        assert_ne!(a.idempotency_scope(), b.idempotency_scope());
    }
}
