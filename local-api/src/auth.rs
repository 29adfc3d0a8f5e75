//! API Gateway's authentication in front of the protected routes (every route with a scope in
//! the route table: all but health, the contract, the docs page and the 404 fallback), emulated
//! when the environment asks for it, so that a plain local API stays open:
//!
//! - `LOCAL_API_KEY=<key>`: `x-api-key` must be this key, else 403 (`INVALID_API_KEY`).
//! - `AUTH_MODE=oidc`: the real authorizer binary (`functions/authorizer`, configured by the
//!   `OIDC_*` variables) is invoked as a TOKEN authorizer, as the template sets it up: an absent
//!   or malformed `Authorization` header is a 401 without invoking it; its `Unauthorized` error
//!   is a 401 (`UNAUTHORIZED`), a policy that does not allow the method ARN a 403
//!   (`ACCESS_DENIED`), any other failure a 500. Policies are cached per token for
//!   `AUTHORIZER_CACHE_SECONDS` (default 300, the template's default) and applied to whichever
//!   route the token calls next, exactly as API Gateway reuses them.
//!
//! The authorizer runs before the API key check, as in API Gateway. The refusals' bodies come
//! from `template.yaml` (see [`crate::gateway_responses`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::body::Bytes;
use hyper::{HeaderMap, Response, StatusCode};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::gateway::GatewayBody;
use crate::gateway_responses::GatewayResponses;
use crate::runtime::{FunctionHost, InvokeResult, fresh_uuid};

pub struct GatewayAuth {
    api_key: Option<String>,
    authorizer: Option<TokenAuthorizer>,
    responses: GatewayResponses,
}

struct TokenAuthorizer {
    host: Arc<FunctionHost>,
    ttl: Duration,
    region: String,
    /// Authorizer answers by token, until their expiry.
    cache: Mutex<HashMap<String, (Instant, Value)>>,
}

/// What the gateway does with a request to a protected route.
pub enum AuthOutcome {
    /// Go on; with the authorizer's `requestContext.authorizer` when there is one.
    Pass(Option<Value>),
    Refused(Response<GatewayBody>),
}

/// Whether `AUTH_MODE` asks for the OIDC authorizer (the caller then hosts the function).
pub fn oidc_mode() -> anyhow::Result<bool> {
    match std::env::var("AUTH_MODE").ok().as_deref().map(str::trim) {
        None | Some("") | Some("api-key") => Ok(false),
        Some("oidc") => Ok(true),
        Some("cognito") => bail!(
            "AUTH_MODE=cognito is not emulated locally; a Cognito user pool is an OIDC issuer: \
             use AUTH_MODE=oidc with OIDC_ISSUER=https://cognito-idp.<region>.amazonaws.com/<pool id> \
             and OIDC_AUDIENCE=<app client id>"
        ),
        Some(other) => bail!("AUTH_MODE must be api-key, oidc or cognito, not {other:?}"),
    }
}

impl GatewayAuth {
    /// The emulation the environment asks for, or `None` (everything open, as before).
    /// `authorizer` is the hosted authorizer function when [`oidc_mode`] is on.
    pub fn from_env(authorizer: Option<Arc<FunctionHost>>) -> anyhow::Result<Option<GatewayAuth>> {
        let api_key = std::env::var("LOCAL_API_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        if let Some(key) = &api_key
            && !key.chars().all(|c| c.is_ascii_graphic())
        {
            bail!("LOCAL_API_KEY must be printable ASCII without spaces");
        }
        let ttl = match std::env::var("AUTHORIZER_CACHE_SECONDS") {
            Ok(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= 3600)
                .context("AUTHORIZER_CACHE_SECONDS must be a number of seconds from 0 to 3600")?,
            Err(_) => 300,
        };
        if api_key.is_none() && authorizer.is_none() {
            return Ok(None);
        }
        Ok(Some(GatewayAuth {
            api_key,
            authorizer: authorizer.map(|host| TokenAuthorizer {
                host,
                ttl: Duration::from_secs(ttl),
                region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()),
                cache: Mutex::new(HashMap::new()),
            }),
            responses: GatewayResponses::from_template()?,
        }))
    }

    /// Checks a request to a protected route: `method` and `path` (without the stage) as
    /// requested, `full_path` with it for the problem's `instance`.
    pub async fn check(
        &self,
        method: &str,
        path: &str,
        full_path: &str,
        stage: &str,
        headers: &HeaderMap,
    ) -> AuthOutcome {
        let refuse = |kind: &str, status: StatusCode, message: &str| {
            AuthOutcome::Refused(self.responses.render(
                kind,
                status,
                message,
                full_path,
                &fresh_uuid(),
            ))
        };
        let mut context = None;
        if let Some(authorizer) = &self.authorizer {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !valid_identity(token) {
                return refuse("UNAUTHORIZED", StatusCode::UNAUTHORIZED, "Unauthorized");
            }
            let method_arn = format!(
                "arn:aws:execute-api:{}:000000000000:local/{stage}/{method}{path}",
                authorizer.region
            );
            let answer = match authorizer.answer(token, &method_arn).await {
                Ok(answer) => answer,
                Err(Refusal::Unauthorized) => {
                    return refuse("UNAUTHORIZED", StatusCode::UNAUTHORIZED, "Unauthorized");
                }
                Err(Refusal::Failed(why)) => {
                    eprintln!("local-api: authorizer failed: {why}");
                    return refuse(
                        "AUTHORIZER_FAILURE",
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal server error",
                    );
                }
            };
            if !allows(&answer["policyDocument"], &method_arn) {
                return refuse(
                    "ACCESS_DENIED",
                    StatusCode::FORBIDDEN,
                    "User is not authorized to access this resource",
                );
            }
            // What the function sees as requestContext.authorizer: the principal and the
            // context values (API Gateway passes them as strings, numbers or booleans).
            let mut ctx = answer["context"].as_object().cloned().unwrap_or_default();
            ctx.insert("principalId".to_owned(), answer["principalId"].clone());
            ctx.insert("integrationLatency".to_owned(), Value::from(0));
            context = Some(Value::Object(ctx));
        }
        if let Some(key) = &self.api_key {
            let sent = headers.get("x-api-key").map(|v| v.as_bytes());
            if sent != Some(key.as_bytes()) {
                return refuse("INVALID_API_KEY", StatusCode::FORBIDDEN, "Forbidden");
            }
        }
        AuthOutcome::Pass(context)
    }
}

enum Refusal {
    Unauthorized,
    Failed(String),
}

impl TokenAuthorizer {
    /// The authorizer's answer for `token`: cached, or from an invocation of the function.
    async fn answer(&self, token: &str, method_arn: &str) -> Result<Value, Refusal> {
        if let Some((expires, answer)) = self.cache.lock().await.get(token)
            && Instant::now() < *expires
        {
            return Ok(answer.clone());
        }
        let event = serde_json::json!({
            "type": "TOKEN",
            "authorizationToken": token,
            "methodArn": method_arn,
        });
        let answer = match self.host.invoke(Bytes::from(event.to_string())).await {
            InvokeResult::Response(bytes) => serde_json::from_slice::<Value>(&bytes)
                .map_err(|e| Refusal::Failed(format!("answer is not JSON: {e}")))?,
            InvokeResult::Error(error) => {
                let message = serde_json::from_str::<Value>(&error)
                    .ok()
                    .and_then(|v| v["errorMessage"].as_str().map(str::to_owned))
                    .unwrap_or(error);
                return Err(if message == "Unauthorized" {
                    Refusal::Unauthorized
                } else {
                    Refusal::Failed(message)
                });
            }
        };
        if !answer["principalId"].is_string() || !answer["policyDocument"].is_object() {
            return Err(Refusal::Failed(format!(
                "answer has no principalId or policyDocument: {answer}"
            )));
        }
        if !self.ttl.is_zero() {
            self.cache.lock().await.insert(
                token.to_owned(),
                (Instant::now() + self.ttl, answer.clone()),
            );
        }
        Ok(answer)
    }
}

/// The template's `ValidationExpression`, `^[Bb]earer [-0-9A-Za-z._~+/]+=*$`.
fn valid_identity(header: &str) -> bool {
    let Some(token) = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
    else {
        return false;
    };
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c))
}

/// IAM evaluation of an authorizer's policy for one method ARN: an explicit Deny wins, then an
/// Allow, else it is denied.
fn allows(policy: &Value, method_arn: &str) -> bool {
    let statements = match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        _ => return false,
    };
    let strings = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(list) => list
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut allowed = false;
    for statement in &statements {
        let action_matches = strings(&statement["Action"])
            .iter()
            .any(|a| glob(a, "execute-api:Invoke"));
        let resource_matches = strings(&statement["Resource"])
            .iter()
            .any(|r| glob(r, method_arn));
        if !(action_matches && resource_matches) {
            continue;
        }
        match statement["Effect"].as_str() {
            Some("Deny") => return false,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    allowed
}

/// IAM wildcards: `*` any run of characters (slashes included), `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:local/Prod/POST/v1/summarize";

    #[test]
    fn iam_wildcards_span_slashes() {
        assert!(glob("arn:*:local/Prod/*/v1/summarize", ARN));
        assert!(!glob("arn:*:local/Prod/*/v1/score", ARN));
        assert!(glob("*", ARN));
        assert!(glob("execute-api:*", "execute-api:Invoke"));
    }

    #[test]
    fn deny_wins_and_nothing_matching_is_denied() {
        let allow = json!({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
            "Resource": ["arn:aws:execute-api:us-east-1:000000000000:local/Prod/*/v1/summarize"]}]});
        assert!(allows(&allow, ARN));
        assert!(!allows(&allow, &ARN.replace("summarize", "score")));
        let deny = json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ARN}]});
        assert!(!allows(&deny, ARN));
        assert!(!allows(&json!({}), ARN));
    }

    #[test]
    fn identity_must_be_a_bearer_token() {
        assert!(valid_identity("Bearer abc.def-_.ghi"));
        assert!(valid_identity("bearer abc=="));
        assert!(!valid_identity(""));
        assert!(!valid_identity("Basic abc"));
        assert!(!valid_identity("Bearer "));
        assert!(!valid_identity("Bearer a b"));
    }
}
