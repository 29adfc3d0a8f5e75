//! Whether and where traces go (read once per cold start), and the invocation's trace header.

use std::net::SocketAddr;

use opentelemetry::trace::SpanContext;

use crate::config::ConfigError;

/// Where the X-Ray daemon listens, when tracing is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracingConfig {
    /// `AWS_XRAY_DAEMON_ADDRESS` (Lambda sets it), the daemon's UDP endpoint.
    pub daemon: SocketAddr,
}

/// Why tracing could not be set up. Never fatal: the function runs untraced and says why.
#[derive(Debug, thiserror::Error)]
pub enum TracingSetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open a UDP socket towards the X-Ray daemon at {daemon}: {source}")]
    Socket {
        daemon: SocketAddr,
        source: std::io::Error,
    },
    #[error("a trace exporter is already installed in this process")]
    AlreadyInstalled,
}

/// A trace header that is not a valid X-Ray header (`Root=1-…;Parent=…;Sampled=…`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "trace header '{header}' is not an X-Ray trace header \
     (Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0|1)"
)]
pub struct TraceHeaderError {
    /// The header, cut to a length fit for a log line.
    pub header: String,
}

const MODE: &str = "INTENT_TRACING";
const DAEMON: &str = "AWS_XRAY_DAEMON_ADDRESS";

impl TracingConfig {
    /// Reads the configuration from the environment: `None` when tracing is off.
    pub fn from_env() -> Result<Option<TracingConfig>, ConfigError> {
        TracingConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`TracingConfig::from_env`] over any variable lookup (tests pass a map).
    ///
    /// `INTENT_TRACING` is `xray` or `off`; unset, tracing is on exactly when Lambda gives a
    /// daemon address (`Tracing: Active`).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<TracingConfig>, ConfigError> {
        let mode = get(MODE).map(|v| v.trim().to_ascii_lowercase());
        let wanted = match mode.as_deref() {
            None | Some("") => None,
            Some("xray") => Some(true),
            Some("off") => Some(false),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: MODE,
                    value: get(MODE).unwrap_or_default(),
                    expected: "`xray` (send traces to the X-Ray daemon) or `off`",
                });
            }
        };
        if wanted == Some(false) {
            return Ok(None);
        }
        let address = get(DAEMON).filter(|v| !v.trim().is_empty());
        match (address, wanted) {
            (Some(address), _) => Ok(Some(TracingConfig {
                daemon: parse_daemon_address(&address)?,
            })),
            (None, Some(true)) => Err(ConfigError::Missing {
                name: DAEMON,
                why: "INTENT_TRACING=xray sends traces to the X-Ray daemon at this address",
            }),
            (None, _) => Ok(None),
        }
    }
}

/// `IP:port`, or the SDKs' two-protocol form `tcp:IP:port udp:IP:port` (the UDP part is used).
fn parse_daemon_address(value: &str) -> Result<SocketAddr, ConfigError> {
    let invalid = || ConfigError::Invalid {
        name: DAEMON,
        value: value.to_owned(),
        expected: "an IP address and port (`169.254.79.129:2000`), or `tcp:IP:port udp:IP:port`",
    };
    let value = value.trim();
    let udp = if value.contains(char::is_whitespace) {
        value
            .split_whitespace()
            .find_map(|part| part.strip_prefix("udp:"))
            .ok_or_else(invalid)?
    } else {
        value.strip_prefix("udp:").unwrap_or(value)
    };
    udp.parse().map_err(|_| invalid())
}

/// The span context of the invocation's trace header: trace id, the segment that is the parent
/// of this function's spans, and Lambda's sampling decision.
pub(crate) fn parent_from_header(header: &str) -> Result<SpanContext, TraceHeaderError> {
    let invalid = || TraceHeaderError {
        header: header.chars().take(200).collect(),
    };
    let parsed = opentelemetry_aws::trace::xray_propagator::span_context_from_str(header.trim())
        .ok_or_else(invalid)?;
    // Without a parent segment the spans would hang off nothing in the trace.
    if !parsed.is_valid() {
        return Err(invalid());
    }
    Ok(parsed)
}
