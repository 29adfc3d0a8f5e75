//! The trace configuration and the trace header, without a subscriber. The export itself is
//! tested end to end against a stub daemon in `shared/tests/xray_traces.rs`.

use std::collections::HashMap;

use opentelemetry::trace::TraceFlags;

use super::TracingConfig;
use super::config::{TraceHeaderError, parent_from_header};
use crate::config::ConfigError;

fn from(vars: &[(&str, &str)]) -> Result<Option<TracingConfig>, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    TracingConfig::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn tracing_is_off_without_a_daemon_address() {
    assert_eq!(from(&[]).expect("valid"), None);
}

#[test]
fn tracing_is_on_where_lambda_gives_a_daemon_address() {
    let config = from(&[("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000")])
        .expect("valid")
        .expect("on");
    assert_eq!(config.daemon.to_string(), "169.254.79.129:2000");
}

#[test]
fn intent_tracing_off_wins_over_the_daemon_address() {
    let config = from(&[
        ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000"),
        ("INTENT_TRACING", "OFF"),
    ]);
    assert_eq!(config.expect("valid"), None);
}

#[test]
fn the_two_protocol_daemon_address_uses_its_udp_part() {
    let config = from(&[(
        "AWS_XRAY_DAEMON_ADDRESS",
        "tcp:127.0.0.1:2000 udp:127.0.0.2:2001",
    )]);
    assert_eq!(
        config.expect("valid").expect("on").daemon.to_string(),
        "127.0.0.2:2001"
    );
}

#[test]
fn rejects_an_unknown_tracing_mode_naming_the_variable() {
    let err = from(&[("INTENT_TRACING", "jaeger")]).expect_err("invalid");
    assert!(matches!(
        &err,
        ConfigError::Invalid { name: "INTENT_TRACING", value, .. } if value == "jaeger"
    ));
    assert!(err.to_string().contains("`xray`"), "{err}");
}

#[test]
fn rejects_a_daemon_address_that_is_not_an_ip_and_port() {
    for bad in [
        "localhost",
        "169.254.79.129",
        "tcp:127.0.0.1:2000 x",
        "1.2.3.4:port",
    ] {
        let err = from(&[("AWS_XRAY_DAEMON_ADDRESS", bad)]).expect_err(bad);
        assert!(
            matches!(&err, ConfigError::Invalid { name: "AWS_XRAY_DAEMON_ADDRESS", value, .. } if value == bad),
            "{bad}: {err}"
        );
    }
}

#[test]
fn asking_for_xray_without_a_daemon_address_is_an_error() {
    let err = from(&[("INTENT_TRACING", "xray")]).expect_err("missing");
    assert!(matches!(
        err,
        ConfigError::Missing {
            name: "AWS_XRAY_DAEMON_ADDRESS",
            ..
        }
    ));
}

#[test]
fn reads_trace_id_parent_and_sampling_from_the_lambda_trace_header() {
    let parent = parent_from_header(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:a1b2c3d4:0",
    )
    .expect("valid header");
    assert_eq!(
        parent.trace_id().to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
    assert_eq!(parent.span_id().to_string(), "53995c3f42cd8ad8");
    assert!(parent.is_sampled());
    assert!(parent.is_remote());

    let unsampled = parent_from_header(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
    )
    .expect("valid header");
    assert_eq!(unsampled.trace_flags(), TraceFlags::default());
}

#[test]
fn rejects_trace_headers_that_give_no_parent_to_hang_spans_on() {
    for bad in [
        "",
        "garbage",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
        "Root=1-zz59e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=not-hex;Sampled=1",
    ] {
        let err = parent_from_header(bad).expect_err(bad);
        assert_eq!(
            err,
            TraceHeaderError {
                header: bad.to_owned()
            }
        );
    }
}

#[test]
fn a_long_bad_trace_header_is_cut_in_the_error() {
    let long = "x".repeat(10_000);
    let err = parent_from_header(&long).expect_err("invalid");
    assert_eq!(err.header.len(), 200);
}
