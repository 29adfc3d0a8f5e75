//! API Gateway's own error responses as `template.yaml` defines them (`GatewayResponses` of the
//! `Api`), rendered the way API Gateway renders them, so a local refusal has the status, headers
//! and body that deploy. The template is compiled in: the local API cannot drift from the file
//! it was built with.
//!
//! A response type the template does not define falls back to `DEFAULT_4XX` / `DEFAULT_5XX`
//! with the type's own status, as in API Gateway.

use std::collections::HashMap;

use anyhow::{Context, bail};
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use serde_yaml::Value;

use crate::gateway::{GatewayBody, full};

const TEMPLATE: &str = include_str!("../../template.yaml");

/// Every gateway response of the template, by type (`UNAUTHORIZED`, `DEFAULT_4XX`...).
#[derive(Debug, Clone)]
pub struct GatewayResponses {
    by_type: HashMap<String, Definition>,
}

#[derive(Debug, Clone)]
struct Definition {
    status: Option<StatusCode>,
    headers: Vec<(String, HeaderValueSource)>,
    /// The `application/json` mapping template.
    body: String,
}

#[derive(Debug, Clone)]
enum HeaderValueSource {
    /// `'literal'` in the template.
    Static(String),
    /// `context.requestId`.
    RequestId,
}

impl GatewayResponses {
    /// The gateway responses of the `template.yaml` this binary was built with.
    pub fn from_template() -> anyhow::Result<GatewayResponses> {
        Self::parse(TEMPLATE).context("template.yaml's GatewayResponses")
    }

    pub fn parse(template: &str) -> anyhow::Result<GatewayResponses> {
        let doc: Value = serde_yaml::from_str(template)?;
        let Some(responses) =
            doc["Resources"]["Api"]["Properties"]["GatewayResponses"].as_mapping()
        else {
            bail!("Resources.Api.Properties.GatewayResponses is missing");
        };
        let mut by_type = HashMap::new();
        for (kind, def) in responses {
            let kind = kind.as_str().context("a gateway response type")?.to_owned();
            let status = match &def["StatusCode"] {
                Value::Null => None,
                v => Some(
                    v.as_str()
                        .and_then(|s| s.parse::<u16>().ok())
                        .and_then(|s| StatusCode::from_u16(s).ok())
                        .with_context(|| format!("{kind}: StatusCode is not a status"))?,
                ),
            };
            let mut headers = Vec::new();
            if let Some(map) = def["ResponseParameters"]["Headers"].as_mapping() {
                for (name, value) in map {
                    let name = name.as_str().context("a header name")?.to_owned();
                    let value = value.as_str().context("a header value")?;
                    let source = if let Some(literal) =
                        value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))
                    {
                        HeaderValueSource::Static(literal.to_owned())
                    } else if value == "context.requestId" {
                        HeaderValueSource::RequestId
                    } else {
                        bail!(
                            "{kind}: header {name} maps {value}, which the local API cannot render"
                        );
                    };
                    headers.push((name, source));
                }
            }
            let body = def["ResponseTemplates"]["application/json"]
                .as_str()
                .with_context(|| format!("{kind}: no application/json template"))?
                .to_owned();
            by_type.insert(
                kind,
                Definition {
                    status,
                    headers,
                    body,
                },
            );
        }
        Ok(GatewayResponses { by_type })
    }

    /// The response of type `kind` (default status `status`) to a request for `path` (as
    /// requested, stage included), with API Gateway's error `message`.
    pub fn render(
        &self,
        kind: &str,
        status: StatusCode,
        message: &str,
        path: &str,
        request_id: &str,
    ) -> Response<GatewayBody> {
        let fallback = if status.is_server_error() {
            "DEFAULT_5XX"
        } else {
            "DEFAULT_4XX"
        };
        let Some(def) = self
            .by_type
            .get(kind)
            .or_else(|| self.by_type.get(fallback))
        else {
            let mut r = Response::new(full(Bytes::from(
                serde_json::json!({ "message": message }).to_string(),
            )));
            *r.status_mut() = status;
            return r;
        };
        let status = self
            .by_type
            .get(kind)
            .and_then(|d| d.status)
            .unwrap_or(status);
        let quoted = serde_json::Value::String(message.to_owned()).to_string();
        let body = def
            .body
            .replace("$context.error.messageString", &quoted)
            .replace("$context.status", status.as_str())
            .replace("$context.path", path)
            .replace("$context.requestId", request_id);
        let mut builder = Response::builder().status(status);
        for (name, source) in &def.headers {
            let value = match source {
                HeaderValueSource::Static(v) => v.as_str(),
                HeaderValueSource::RequestId => request_id,
            };
            builder = builder.header(name.as_str(), value);
        }
        builder
            .body(full(Bytes::from(body)))
            .unwrap_or_else(|_| Response::new(full(Bytes::new())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_templates_unauthorized_response() {
        let responses = GatewayResponses::from_template().expect("template parses");
        let r = responses.render(
            "UNAUTHORIZED",
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "/Prod/v1/score",
            "rid-1",
        );
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_eq!(r.headers()["x-request-id"], "rid-1");
    }

    #[test]
    fn an_undefined_type_falls_back_to_default_4xx_with_its_own_status() {
        let responses = GatewayResponses::parse(
            r#"
Resources:
  Api:
    Properties:
      GatewayResponses:
        DEFAULT_4XX:
          ResponseParameters:
            Headers:
              Content-Type: "'application/problem+json'"
          ResponseTemplates:
            application/json: '{"title":$context.error.messageString,"status":$context.status,"instance":"$context.path"}'
"#,
        )
        .expect("parses");
        let r = responses.render(
            "ACCESS_DENIED",
            StatusCode::FORBIDDEN,
            "Forbidden",
            "/p",
            "r",
        );
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
}
