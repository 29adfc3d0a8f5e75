//! The authorizer's configuration, read once per cold start: `OIDC_ISSUER`, `OIDC_AUDIENCE` and
//! the optional `OIDC_JWKS_URL`. A missing or unusable value stops the cold start with a message
//! that names the variable, instead of answering every request with a failure.

use hyper::Uri;

/// What the authorizer checks tokens against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// The `iss` every token must carry, exactly as the issuer writes it (also where the
    /// discovery document is, unless [`AuthorizerConfig::jwks_url`] is set).
    pub issuer: String,
    /// The `aud` a token must name (a Cognito access token, which has no `aud`, its `client_id`).
    pub audience: String,
    /// The issuer's JWKS, when it is not to be discovered from
    /// `{issuer}/.well-known/openid-configuration`.
    pub jwks_url: Option<Uri>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is not set: {why}")]
    Missing {
        name: &'static str,
        why: &'static str,
    },
    #[error("{name} is not a usable URL ({value}): {why}")]
    BadUrl {
        name: &'static str,
        value: String,
        why: String,
    },
    #[error("OIDC_AUDIENCE must be one token of printable characters (no spaces), at most 256")]
    BadAudience,
}

impl AuthorizerConfig {
    pub fn from_env() -> Result<AuthorizerConfig, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The configuration from any variable lookup (the environment, or a table in tests). An
    /// empty value counts as unset, as in `template.yaml`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<AuthorizerConfig, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let issuer = get("OIDC_ISSUER").ok_or(ConfigError::Missing {
            name: "OIDC_ISSUER",
            why: "tokens are accepted from this issuer only (e.g. https://login.example.com/)",
        })?;
        check_url("OIDC_ISSUER", &issuer)?;
        let audience = get("OIDC_AUDIENCE").ok_or(ConfigError::Missing {
            name: "OIDC_AUDIENCE",
            why: "tokens must be issued for this audience (the API's identifier at the issuer)",
        })?;
        if audience.len() > 256 || !audience.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ConfigError::BadAudience);
        }
        let jwks_url = get("OIDC_JWKS_URL")
            .map(|url| check_url("OIDC_JWKS_URL", &url))
            .transpose()?;
        Ok(AuthorizerConfig {
            issuer,
            audience,
            jwks_url,
        })
    }
}

/// An issuer or key URL: `https://`, or `http://` to a loopback host only (a local stand-in in
/// tests); keys fetched in clear text from anywhere else could be swapped on the way.
pub fn check_url(name: &'static str, value: &str) -> Result<Uri, ConfigError> {
    let bad = |why: &str| ConfigError::BadUrl {
        name,
        value: value.to_owned(),
        why: why.to_owned(),
    };
    let uri: Uri = value.parse().map_err(|e| bad(&format!("{e}")))?;
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if is_loopback(host) => {}
        Some("http") => {
            return Err(bad(
                "keys must come over https (http only to a loopback host)",
            ));
        }
        _ => return Err(bad("not an https URL")),
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(bad("credentials in the URL"));
    }
    if value.contains('#') {
        return Err(bad("a fragment"));
    }
    Ok(uri)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<AuthorizerConfig, ConfigError> {
        AuthorizerConfig::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn reads_issuer_audience_and_optional_jwks_url() {
        let c = config(&[
            ("OIDC_ISSUER", "https://issuer.example/"),
            ("OIDC_AUDIENCE", "intent-api"),
        ])
        .expect("valid");
        assert_eq!(c.issuer, "https://issuer.example/");
        assert_eq!(c.jwks_url, None);
        let c = config(&[
            ("OIDC_ISSUER", "https://issuer.example"),
            ("OIDC_AUDIENCE", "intent-api"),
            ("OIDC_JWKS_URL", "https://issuer.example/keys"),
        ])
        .expect("valid");
        assert_eq!(
            c.jwks_url.map(|u| u.to_string()),
            Some("https://issuer.example/keys".to_owned())
        );
    }

    #[test]
    fn names_the_missing_or_bad_variable() {
        assert!(matches!(
            config(&[("OIDC_AUDIENCE", "a")]),
            Err(ConfigError::Missing {
                name: "OIDC_ISSUER",
                ..
            })
        ));
        assert!(matches!(
            config(&[("OIDC_ISSUER", "https://i.example"), ("OIDC_AUDIENCE", " ")]),
            Err(ConfigError::Missing {
                name: "OIDC_AUDIENCE",
                ..
            })
        ));
        assert!(matches!(
            config(&[
                ("OIDC_ISSUER", "http://issuer.example"),
                ("OIDC_AUDIENCE", "a")
            ]),
            Err(ConfigError::BadUrl {
                name: "OIDC_ISSUER",
                ..
            })
        ));
        assert!(matches!(
            config(&[
                ("OIDC_ISSUER", "https://i.example"),
                ("OIDC_AUDIENCE", "a"),
                ("OIDC_JWKS_URL", "ftp://i.example/keys")
            ]),
            Err(ConfigError::BadUrl {
                name: "OIDC_JWKS_URL",
                ..
            })
        ));
        assert_eq!(
            config(&[
                ("OIDC_ISSUER", "https://i.example"),
                ("OIDC_AUDIENCE", "two words")
            ]),
            Err(ConfigError::BadAudience)
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_url("X", "http://127.0.0.1:9000/issuer").is_ok());
        assert!(check_url("X", "http://localhost:9000").is_ok());
        assert!(check_url("X", "http://10.0.0.1/").is_err());
        assert!(check_url("X", "https://user:pw@i.example/").is_err());
    }
}
