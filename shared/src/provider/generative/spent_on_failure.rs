//! What a failed request's model calls cost, carried to its request log item.
//!
//! A request that fails after calling the model (unusable output twice, a truncated answer, a
//! refusal) was still billed for the tokens. Successful answers carry their usage in the draft;
//! errors do not, because `ProviderError` and `ApiError` describe what went wrong, not what it
//! cost. So the HTTP boundary opens a per-request slot around each request ([`scope`]) and the
//! generative provider records a failed call's spend in it ([`record`]); the boundary reads it
//! back ([`take`]) when it builds the log item of an error. The slot is task-local: it belongs to
//! exactly one request, and outside a scope (unit tests, the quality report) recording does
//! nothing.

use std::cell::RefCell;
use std::future::Future;

use crate::contract::Usage;

/// The provider, model, tokens and cost of a failed request's calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Spent {
    pub provider: &'static str,
    pub model: String,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
    pub stop_reason: Option<String>,
}

tokio::task_local! {
    static SLOT: RefCell<Option<Spent>>;
}

/// Runs one request with an empty slot.
pub async fn scope<F: Future>(request: F) -> F::Output {
    SLOT.scope(RefCell::new(None), request).await
}

/// Records a failed call's spend in the current request's slot, if there is one.
pub fn record(spent: Spent) {
    let _ = SLOT.try_with(|slot| *slot.borrow_mut() = Some(spent));
}

/// Takes what was recorded in the current request's slot.
pub fn take() -> Option<Spent> {
    SLOT.try_with(|slot| slot.borrow_mut().take())
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spent() -> Spent {
        Spent {
            provider: "openai",
            model: "m".into(),
            usage: Usage::default(),
            cost_usd: Some(0.5),
            stop_reason: None,
        }
    }

    #[tokio::test]
    async fn a_scope_holds_one_requests_spend_and_nothing_leaks_outside() {
        record(spent());
        assert_eq!(take(), None, "outside a scope nothing is kept");
        let inside = scope(async {
            record(spent());
            take()
        })
        .await;
        assert_eq!(inside, Some(spent()));
        let fresh = scope(async { take() }).await;
        assert_eq!(fresh, None, "a new request starts empty");
    }
}
