//! One bearer token's checks, in order: size and shape, the header's algorithm (RS256 or ES256
//! only) and `kid`, the key of that `kid` (whose algorithm must be the header's), the signature,
//! then the claims: `iss` exactly the issuer, `exp` and `nbf` with [`LEEWAY_SECONDS`], `sub`
//! present, and the audience. Every failure is a [`Rejection`] with a reason for the log; the
//! client only ever learns "401".

use std::collections::BTreeSet;

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::Deserialize;

use crate::config::AuthorizerConfig;
use crate::jwks::{JwksError, KeySet};

/// Clock skew allowed between the issuer and Lambda on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;
/// Far above any real access token; API Gateway itself caps a header at 10 KB.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Who the token is for and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    /// `client_id` (Cognito, RFC 9068), else `azp` (OIDC), else empty.
    pub client_id: String,
    /// The granted scopes, from `scope` (space-separated) and `scp` (a list or a string).
    pub scopes: BTreeSet<String>,
}

/// Why a token is refused: the 401 cases (with the reason, for the log only) and the one case
/// that is the authorizer's own failure.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    KeysUnavailable(JwksError),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<Scp>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scp {
    List(Vec<String>),
    Text(String),
}

/// The identity a valid `token` carries, or why it is refused.
pub async fn verify(
    token: &str,
    config: &AuthorizerConfig,
    keys: &KeySet,
) -> Result<Identity, Rejection> {
    let invalid = |why: String| Rejection::Invalid(why);
    if token.len() > MAX_TOKEN_BYTES {
        return Err(invalid(format!(
            "token longer than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    let header = decode_header(token).map_err(|e| invalid(format!("unreadable header: {e}")))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(invalid(format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| invalid("the header has no kid".to_owned()))?;
    let key = keys.key(&kid).await.map_err(|e| match e {
        JwksError::UnknownKey(_) => invalid(e.to_string()),
        JwksError::Unavailable(_) => Rejection::KeysUnavailable(e),
    })?;
    if key.algorithm != header.alg {
        return Err(invalid(format!(
            "key {kid} is for {:?}, the token says {:?}",
            key.algorithm, header.alg
        )));
    }
    let mut validation = Validation::new(key.algorithm);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_issuer(&[&config.issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    // Checked below: a Cognito access token has no `aud` but names its app client.
    validation.validate_aud = false;
    let claims = decode::<Claims>(token, &key.key, &validation)
        .map_err(|e| invalid(format!("rejected: {e}")))?
        .claims;
    let audience_ok = match &claims.aud {
        Some(Audience::One(aud)) => *aud == config.audience,
        Some(Audience::Many(auds)) => auds.contains(&config.audience),
        None => claims.client_id.as_deref() == Some(config.audience.as_str()),
    };
    if !audience_ok {
        return Err(invalid(format!(
            "not issued for the audience {:?}",
            config.audience
        )));
    }
    if claims.sub.is_empty() {
        return Err(invalid("empty sub".to_owned()));
    }
    let mut scopes: BTreeSet<String> = claims
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .map(str::to_owned)
        .collect();
    match claims.scp {
        Some(Scp::List(list)) => scopes.extend(list),
        Some(Scp::Text(text)) => scopes.extend(text.split_ascii_whitespace().map(str::to_owned)),
        None => {}
    }
    Ok(Identity {
        sub: claims.sub,
        client_id: claims.client_id.or(claims.azp).unwrap_or_default(),
        scopes,
    })
}
