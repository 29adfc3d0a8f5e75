//! The API's route table: which method and path each operation has and which function serves
//! it. Routing, the local API, the OpenAPI document and the template checks all read this table,
//! so a route cannot exist in one of them and not in the others. It also says which OAuth scope
//! each operation needs when JWT auth is on ([`Operation::scope`]): the OIDC authorizer and the
//! template's Cognito scopes read the same answer.

use std::fmt;

/// Every operation of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Summarize,
    /// `POST /v1/summarize/stream`: the summary as server-sent events.
    SummarizeStream,
    Classify,
    Extract,
    Recommend,
    Score,
    Health,
    SubmitFeedback,
    GetFeedback,
    OpenApi,
    DocsPage,
    SubmitJob,
    GetJob,
}

/// The OAuth scopes of the API (with Cognito: resource server `intents` or `feedback`, scope
/// `invoke`, `write` or `read`).
pub mod scopes {
    /// The five intents, the streamed summary, and background jobs (submit and read).
    pub const INTENTS_INVOKE: &str = "intents/invoke";
    /// Submitting feedback.
    pub const FEEDBACK_WRITE: &str = "feedback/write";
    /// Reading feedback back: other users' comments, so not implied by `feedback/write`.
    pub const FEEDBACK_READ: &str = "feedback/read";
    pub const ALL: [&str; 3] = [INTENTS_INVOKE, FEEDBACK_WRITE, FEEDBACK_READ];
}

impl Operation {
    /// The scope a bearer token must carry for this operation when JWT auth is on; `None` for
    /// the open ones (health for load balancers, the contract and its docs page for integrators
    /// who have no token yet).
    pub fn scope(self) -> Option<&'static str> {
        match self {
            Operation::Summarize
            | Operation::SummarizeStream
            | Operation::Classify
            | Operation::Extract
            | Operation::Recommend
            | Operation::Score
            | Operation::SubmitJob
            | Operation::GetJob => Some(scopes::INTENTS_INVOKE),
            Operation::SubmitFeedback => Some(scopes::FEEDBACK_WRITE),
            Operation::GetFeedback => Some(scopes::FEEDBACK_READ),
            Operation::Health | Operation::OpenApi | Operation::DocsPage => None,
        }
    }
}

/// The Lambda functions, one per crate under `functions/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Summarize,
    /// Its own function: a streaming runtime and buffered routes do not mix in one binary.
    SummarizeStream,
    Classify,
    Extract,
    Recommend,
    Score,
    Health,
    Feedback,
    Docs,
    /// `POST /v1/jobs`, `GET /v1/jobs/{job_id}`.
    Jobs,
    /// The job queue's consumer: not an HTTP function (no route), invoked by SQS.
    JobWorker,
    /// The OIDC bearer-token authorizer: not an HTTP function (no route), invoked by API
    /// Gateway before a protected route when `AuthMode` is `oidc`.
    Authorizer,
}

impl Function {
    pub const ALL: [Function; 12] = [
        Function::Summarize,
        Function::SummarizeStream,
        Function::Classify,
        Function::Extract,
        Function::Recommend,
        Function::Score,
        Function::Health,
        Function::Feedback,
        Function::Docs,
        Function::Jobs,
        Function::JobWorker,
        Function::Authorizer,
    ];

    /// Crate and binary name under `functions/`.
    pub fn binary(self) -> &'static str {
        match self {
            Function::Summarize => "summarize",
            Function::SummarizeStream => "summarize-stream",
            Function::Classify => "classify",
            Function::Extract => "extract",
            Function::Recommend => "recommend",
            Function::Score => "score",
            Function::Health => "health",
            Function::Feedback => "feedback",
            Function::Docs => "docs",
            Function::Jobs => "jobs",
            Function::JobWorker => "job-worker",
            Function::Authorizer => "authorizer",
        }
    }

    /// Logical id of the function in `template.yaml`.
    pub fn logical_id(self) -> &'static str {
        match self {
            Function::Summarize => "SummarizeFunction",
            Function::SummarizeStream => "SummarizeStreamFunction",
            Function::Classify => "ClassifyFunction",
            Function::Extract => "ExtractFunction",
            Function::Recommend => "RecommendFunction",
            Function::Score => "ScoreFunction",
            Function::Health => "HealthFunction",
            Function::Feedback => "FeedbackFunction",
            Function::Docs => "DocsFunction",
            Function::Jobs => "JobsFunction",
            Function::JobWorker => "JobWorkerFunction",
            Function::Authorizer => "AuthorizerFunction",
        }
    }

    pub fn from_binary(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.binary() == name)
    }

    /// Whether this function runs the embedding model (and so ships it and loads it at cold
    /// start). The others stay small and start fast.
    pub fn uses_model(self) -> bool {
        matches!(
            self,
            Function::Summarize
                | Function::SummarizeStream
                | Function::Classify
                | Function::Extract
                | Function::Recommend
                | Function::Score
                | Function::JobWorker
        )
    }

    /// Whether this function answers with a streamed body (Lambda response streaming).
    pub fn streams(self) -> bool {
        self == Function::SummarizeStream
    }

    /// Whether API Gateway invokes this function (it serves routes). The job worker is invoked
    /// by the SQS event source mapping instead, the authorizer by API Gateway with a token.
    pub fn is_http(self) -> bool {
        !matches!(self, Function::JobWorker | Function::Authorizer)
    }

    /// Whether this function answers requests that match no route (API Gateway sends
    /// `/{proxy+}` to it), so that unknown paths get a problem+json 404 instead of API
    /// Gateway's default 403.
    pub fn is_fallback(self) -> bool {
        self == Function::Health
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.binary())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// Path template without stage, e.g. `/v1/feedback/{request_id}`.
    pub path: &'static str,
    pub operation: Operation,
    pub function: Function,
}

pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/v1/summarize",
        operation: Operation::Summarize,
        function: Function::Summarize,
    },
    Route {
        method: "POST",
        path: "/v1/summarize/stream",
        operation: Operation::SummarizeStream,
        function: Function::SummarizeStream,
    },
    Route {
        method: "POST",
        path: "/v1/classify",
        operation: Operation::Classify,
        function: Function::Classify,
    },
    Route {
        method: "POST",
        path: "/v1/extract",
        operation: Operation::Extract,
        function: Function::Extract,
    },
    Route {
        method: "POST",
        path: "/v1/recommend",
        operation: Operation::Recommend,
        function: Function::Recommend,
    },
    Route {
        method: "POST",
        path: "/v1/score",
        operation: Operation::Score,
        function: Function::Score,
    },
    Route {
        method: "GET",
        path: "/v1/health",
        operation: Operation::Health,
        function: Function::Health,
    },
    Route {
        method: "POST",
        path: "/v1/feedback",
        operation: Operation::SubmitFeedback,
        function: Function::Feedback,
    },
    Route {
        method: "GET",
        path: "/v1/feedback/{request_id}",
        operation: Operation::GetFeedback,
        function: Function::Feedback,
    },
    Route {
        method: "GET",
        path: "/v1/openapi.json",
        operation: Operation::OpenApi,
        function: Function::Docs,
    },
    Route {
        method: "GET",
        path: "/docs",
        operation: Operation::DocsPage,
        function: Function::Docs,
    },
    Route {
        method: "POST",
        path: "/v1/jobs",
        operation: Operation::SubmitJob,
        function: Function::Jobs,
    },
    Route {
        method: "GET",
        path: "/v1/jobs/{job_id}",
        operation: Operation::GetJob,
        function: Function::Jobs,
    },
];

/// Result of matching a request against the table.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    Found {
        route: &'static Route,
        /// Values of `{name}` segments, in order.
        params: Vec<(&'static str, String)>,
    },
    /// The path exists but not with this method.
    WrongMethod {
        allow: Vec<&'static str>,
    },
    NotFound,
}

/// Matches `path` (already stripped of any stage) against the table. `HEAD` is not implied by
/// `GET`: API Gateway does not do that either.
pub fn match_route(method: &str, path: &str) -> RouteMatch {
    let path = path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    let mut allow = Vec::new();
    for route in ROUTES {
        if let Some(params) = match_template(route.path, path) {
            if route.method.eq_ignore_ascii_case(method) {
                return RouteMatch::Found { route, params };
            }
            if !allow.contains(&route.method) {
                allow.push(route.method);
            }
        }
    }
    if allow.is_empty() {
        RouteMatch::NotFound
    } else {
        RouteMatch::WrongMethod { allow }
    }
}

fn match_template(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if ps.is_empty() {
                        return None;
                    }
                    params.push((name, ps.to_owned()));
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_health_and_the_docs_are_open_and_a_path_has_one_scope() {
        let open: Vec<_> = ROUTES
            .iter()
            .filter(|r| r.operation.scope().is_none())
            .map(|r| r.path)
            .collect();
        assert_eq!(open, ["/v1/health", "/v1/openapi.json", "/docs"]);
        // The authorizer allows a path for every method (the function answers a wrong one with
        // 405), so the routes of one path must need the same scope.
        for a in ROUTES {
            for b in ROUTES.iter().filter(|b| b.path == a.path) {
                assert_eq!(a.operation.scope(), b.operation.scope(), "{}", a.path);
            }
        }
    }

    #[test]
    fn matches_exact_paths_and_trailing_slash() {
        assert!(matches!(
            match_route("POST", "/v1/score"),
            RouteMatch::Found { route, .. } if route.operation == Operation::Score
        ));
        assert!(matches!(
            match_route("POST", "/v1/score/"),
            RouteMatch::Found { .. }
        ));
    }

    #[test]
    fn wrong_method_lists_allowed_ones() {
        assert_eq!(
            match_route("GET", "/v1/score"),
            RouteMatch::WrongMethod {
                allow: vec!["POST"]
            }
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        assert_eq!(match_route("POST", "/v1/scores"), RouteMatch::NotFound);
        assert_eq!(match_route("GET", "/"), RouteMatch::NotFound);
        assert_eq!(match_route("POST", "/v2/score"), RouteMatch::NotFound);
    }

    #[test]
    fn every_http_function_has_a_route_and_the_worker_none() {
        assert!(!ROUTES.iter().any(|r| r.function == Function::JobWorker));
        assert!(!ROUTES.iter().any(|r| r.function == Function::Authorizer));
        for f in Function::ALL.into_iter().filter(|f| f.is_http()) {
            assert!(ROUTES.iter().any(|r| r.function == f), "{f} has no route");
        }
    }
}
