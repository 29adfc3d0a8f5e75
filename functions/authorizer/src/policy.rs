//! The IAM policy answered for a token. API Gateway caches it per token (`ReauthorizeEvery` in
//! `template.yaml`) and applies the cached policy to *every* route the same token calls until it
//! expires, so a policy that allowed only the route being called would wrongly refuse the next
//! route, and one that allowed everything would ignore scopes. The policy therefore lists every
//! path whose scope the token carries (from the route table, all methods: a wrong method still
//! reaches the function, which answers 405 as without auth); a route not listed is refused
//! with 403 whether the policy came from the cache or not.

use std::collections::BTreeSet;

use crate::routes::ROUTES;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: &'static str,
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    #[serde(rename = "Action")]
    pub action: &'static str,
    #[serde(rename = "Effect")]
    pub effect: &'static str,
    #[serde(rename = "Resource")]
    pub resource: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an execute-api method ARN: {0:?}")]
pub struct BadMethodArn(pub String);

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}`, the part of a method ARN shared by
/// every route of the stage.
pub fn stage_arn(method_arn: &str) -> Result<&str, BadMethodArn> {
    let bad = || BadMethodArn(method_arn.to_owned());
    if !method_arn.starts_with("arn:") || !method_arn.contains(":execute-api:") {
        return Err(bad());
    }
    let mut slashes = method_arn.match_indices('/').map(|(i, _)| i);
    let _api_end = slashes.next().ok_or_else(bad)?;
    match slashes.next() {
        Some(stage_end) => Ok(&method_arn[..stage_end]),
        None => Err(bad()),
    }
}

/// The policy for a token with `scopes`: Allow on every path they open, or, when they open
/// none, an explicit Deny on the whole stage.
pub fn policy_for(stage_arn: &str, scopes: &BTreeSet<String>) -> PolicyDocument {
    let mut resources: Vec<String> = Vec::new();
    for route in ROUTES {
        let Some(scope) = route.operation.scope() else {
            continue;
        };
        if !scopes.contains(scope) {
            continue;
        }
        let resource = format!("{stage_arn}/*{}", path_pattern(route.path));
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    let (effect, resource) = if resources.is_empty() {
        ("Deny", vec![format!("{stage_arn}/*")])
    } else {
        ("Allow", resources)
    };
    PolicyDocument {
        version: "2012-10-17",
        statement: vec![Statement {
            action: "execute-api:Invoke",
            effect,
            resource,
        }],
    }
}

/// `/v1/feedback/{request_id}` → `/v1/feedback/*` (a method ARN has the path as requested).
fn path_pattern(template: &str) -> String {
    template
        .split('/')
        .map(|seg| if seg.starts_with('{') { "*" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:eu-west-1:000000000000:abc123/Prod/POST/v1/summarize";

    fn scopes(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn stage_arn_is_the_method_arn_up_to_the_stage() {
        assert_eq!(
            stage_arn(ARN),
            Ok("arn:aws:execute-api:eu-west-1:000000000000:abc123/Prod")
        );
        assert!(stage_arn("arn:aws:execute-api:eu-west-1:0:abc123").is_err());
        assert!(stage_arn("Bearer x").is_err());
    }

    #[test]
    fn intents_scope_opens_every_intent_and_job_path_and_nothing_else() {
        let stage = stage_arn(ARN).expect("arn");
        let policy = policy_for(stage, &scopes(&["intents/invoke", "openid"]));
        assert_eq!(policy.statement.len(), 1);
        assert_eq!(policy.statement[0].effect, "Allow");
        let paths: Vec<_> = policy.statement[0]
            .resource
            .iter()
            .map(|r| r.strip_prefix(stage).expect("stage prefix"))
            .collect();
        assert_eq!(
            paths,
            [
                "/*/v1/summarize",
                "/*/v1/summarize/stream",
                "/*/v1/classify",
                "/*/v1/extract",
                "/*/v1/recommend",
                "/*/v1/score",
                "/*/v1/jobs",
                "/*/v1/jobs/*",
            ]
        );
    }

    #[test]
    fn feedback_scopes_open_their_own_paths() {
        let stage = stage_arn(ARN).expect("arn");
        let write = policy_for(stage, &scopes(&["feedback/write"]));
        assert_eq!(
            write.statement[0].resource,
            [format!("{stage}/*/v1/feedback")]
        );
        let read = policy_for(stage, &scopes(&["feedback/read"]));
        assert_eq!(
            read.statement[0].resource,
            [format!("{stage}/*/v1/feedback/*")]
        );
    }

    #[test]
    fn no_known_scope_is_an_explicit_deny_on_the_stage() {
        let stage = stage_arn(ARN).expect("arn");
        let policy = policy_for(stage, &scopes(&["profile"]));
        assert_eq!(policy.statement[0].effect, "Deny");
        assert_eq!(policy.statement[0].resource, [format!("{stage}/*")]);
    }
}
