//! The metric lines, parsed back and checked against the embedded metric format specification
//! (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).

use serde_json::Value;

use super::*;
use crate::problem::ApiError;

/// The units CloudWatch accepts.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks `line` against the EMF specification; returns the parsed root.
fn check_emf(line: &str) -> Value {
    assert!(!line.contains('\n'), "one line: {line}");
    let root: Value = serde_json::from_str(line).expect("the line is JSON");
    let root = root.as_object().expect("the root is an object").clone();
    let aws = root["_aws"].as_object().expect("_aws is an object");
    assert!(aws["Timestamp"].is_i64(), "Timestamp is integer ms");
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert!(!directives.is_empty());
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("a namespace");
        assert!((1..=255).contains(&namespace.len()));
        let dimensions = directive["Dimensions"].as_array().expect("dimension sets");
        for set in dimensions {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "at most 30 dimensions per set");
            for key in set {
                let key = key.as_str().expect("dimension keys are strings");
                let value = root
                    .get(key)
                    .unwrap_or_else(|| panic!("dimension {key} is not a top-level member"));
                let value = value
                    .as_str()
                    .unwrap_or_else(|| panic!("dimension {key} is not a string"));
                assert!((1..=1024).contains(&value.len()), "dimension {key} value");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("metric definitions");
        assert!(metrics.len() <= 100, "at most 100 metrics per directive");
        for metric in metrics {
            let name = metric["Name"].as_str().expect("a metric name");
            assert!((1..=255).contains(&name.len()));
            let unit = metric["Unit"].as_str().expect("a unit");
            assert!(UNITS.contains(&unit), "{name}: unit {unit}");
            let value = root
                .get(name)
                .unwrap_or_else(|| panic!("metric {name} is not a top-level member"));
            assert!(value.is_number(), "metric {name} is not numeric: {value}");
        }
    }
    Value::Object(root)
}

fn names(root: &Value) -> Vec<String> {
    root["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| m["Name"].as_str().expect("name").to_owned())
        .collect()
}

fn dimensions(root: &Value) -> Value {
    root["_aws"]["CloudWatchMetrics"][0]["Dimensions"].clone()
}

fn summarize_ok() -> RequestMetrics<'static> {
    RequestMetrics {
        function: Function::Summarize,
        intent: intent_of(Function::Summarize),
        provider: Some("bedrock"),
        status: 200,
        latency_ms: 812,
        usage: Usage {
            input_tokens: 1200,
            output_tokens: 90,
            attempts: Some(1),
            ..Usage::default()
        },
        cost_usd: Some(0.00042),
        provider_failure: None,
        request_id: "req-1",
    }
}

#[test]
fn a_request_line_has_every_metric_in_the_namespace_with_the_three_dimension_sets() {
    let root = check_emf(&summarize_ok().line(1_764_000_000_000));
    assert_eq!(
        root["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "IntentApi"
    );
    assert_eq!(
        root["_aws"]["CloudWatchMetrics"].as_array().map(Vec::len),
        Some(1),
        "one directive: one line per request"
    );
    assert_eq!(
        names(&root),
        [
            "Requests",
            "Errors4xx",
            "Errors5xx",
            "ProviderErrors",
            "ProviderThrottles",
            "Latency",
            "InputTokens",
            "OutputTokens",
            "EmbeddedTexts",
            "CostUSD"
        ]
    );
    assert_eq!(
        dimensions(&root),
        serde_json::json!([["function"], ["intent"], ["intent", "provider"]])
    );
    assert_eq!(root["function"], "summarize");
    assert_eq!(root["intent"], "summarize");
    assert_eq!(root["provider"], "bedrock");
    assert_eq!(root["Requests"], 1);
    assert_eq!(root["Errors4xx"], 0);
    assert_eq!(root["Errors5xx"], 0);
    assert_eq!(root["Latency"], 812);
    assert_eq!(root["InputTokens"], 1200);
    assert_eq!(root["OutputTokens"], 90);
    assert_eq!(root["CostUSD"], 0.00042);
    assert_eq!(root["request_id"], "req-1");
    let latency = &root["_aws"]["CloudWatchMetrics"][0]["Metrics"][5];
    assert_eq!(latency["Unit"], "Milliseconds");
}

#[test]
fn status_classes_and_provider_failures_are_counted() {
    let throttled = RequestMetrics {
        status: 429,
        provider_failure: ProviderFailure::of_error(&ApiError::Throttled { retry_after_s: 3 }),
        ..summarize_ok()
    };
    let root = check_emf(&throttled.line(1));
    assert_eq!(
        (
            &root["Errors4xx"],
            &root["Errors5xx"],
            &root["ProviderErrors"],
            &root["ProviderThrottles"]
        ),
        (&1.into(), &0.into(), &1.into(), &1.into())
    );
    let refused = RequestMetrics {
        status: 502,
        provider_failure: ProviderFailure::of_error(&ApiError::ProviderRefused("no".into())),
        ..summarize_ok()
    };
    let root = check_emf(&refused.line(1));
    assert_eq!(
        (
            &root["Errors5xx"],
            &root["ProviderErrors"],
            &root["ProviderThrottles"]
        ),
        (&1.into(), &1.into(), &0.into())
    );
    let fell_back = RequestMetrics {
        provider: Some("embedded"),
        provider_failure: ProviderFailure::of_outcome(None, Some("unavailable")),
        ..summarize_ok()
    };
    let root = check_emf(&fell_back.line(1));
    assert_eq!(
        (&root["Errors5xx"], &root["ProviderErrors"]),
        (&0.into(), &1.into())
    );
}

#[test]
fn only_the_providers_failures_count_as_provider_errors() {
    let provider_misconfigured = ApiError::Unexpected(anyhow::Error::new(
        crate::provider::ProviderMisconfigured("access denied".into()),
    ));
    assert_eq!(
        ProviderFailure::of_error(&provider_misconfigured),
        Some(ProviderFailure::Failed)
    );
    let storage = ApiError::Unavailable {
        dependency: "feedback storage",
        retry_after_s: 2,
    };
    assert_eq!(ProviderFailure::of_error(&storage), None);
    let model = ApiError::Unavailable {
        dependency: crate::intents::MODEL_PROVIDER,
        retry_after_s: 2,
    };
    assert_eq!(
        ProviderFailure::of_error(&model),
        Some(ProviderFailure::Failed)
    );
    for client_side in [
        ApiError::Validation(vec![]),
        ApiError::InputTooLarge {
            estimated: 30_000,
            limit: 20_000,
        },
        ApiError::Unexpected(anyhow::anyhow!("a bug")),
    ] {
        assert_eq!(
            ProviderFailure::of_error(&client_side),
            None,
            "{client_side:?}"
        );
    }
}

#[test]
fn functions_without_an_intent_have_only_the_function_dimension() {
    let health = RequestMetrics {
        function: Function::Health,
        intent: intent_of(Function::Health),
        provider: None,
        status: 503,
        latency_ms: 3,
        usage: Usage::default(),
        cost_usd: Some(0.0),
        provider_failure: None,
        request_id: "r",
    };
    let root = check_emf(&health.line(1));
    assert_eq!(dimensions(&root), serde_json::json!([["function"]]));
    assert!(root.get("intent").is_none() && root.get("provider").is_none());
    assert_eq!(root["Errors5xx"], 1);
}

#[test]
fn unknown_cost_is_left_out_and_cache_counts_appear_when_reported() {
    let line = RequestMetrics {
        provider: Some("embedded"),
        cost_usd: None,
        usage: Usage {
            embedded_texts: 6,
            embedding_cache_hits: Some(4),
            embedding_cache_misses: Some(2),
            ..Usage::default()
        },
        ..summarize_ok()
    }
    .line(1);
    let root = check_emf(&line);
    let names = names(&root);
    assert!(!names.contains(&"CostUSD".to_owned()), "{names:?}");
    assert!(root.get("CostUSD").is_none());
    assert_eq!(root["EmbeddingCacheHits"], 4);
    assert_eq!(root["EmbeddingCacheMisses"], 2);
    assert_eq!(root["EmbeddedTexts"], 6);
}

#[test]
fn every_intent_function_has_its_intent_and_the_job_worker_none_of_its_own() {
    for (function, intent) in [
        (Function::Summarize, "summarize"),
        (Function::SummarizeStream, "summarize"),
        (Function::Classify, "classify"),
        (Function::Extract, "extract"),
        (Function::Recommend, "recommend"),
        (Function::Score, "score"),
    ] {
        assert_eq!(intent_of(function), Some(intent));
    }
    assert_eq!(intent_of(Function::JobWorker), None);
}

#[test]
fn the_request_log_failure_line_keeps_its_name_and_dimension() {
    let root = check_emf(&request_log_write_failure_line(Function::Score, 1));
    assert_eq!(names(&root), ["RequestLogWriteFailures"]);
    assert_eq!(dimensions(&root), serde_json::json!([["function"]]));
    assert_eq!(root["function"], "score");
}
