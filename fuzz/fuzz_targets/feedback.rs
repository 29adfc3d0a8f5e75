//! Fuzzes parsing + validation of the `feedback` request body (see `src/lib.rs` for the property).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::contract::feedback::FeedbackRequest;

fuzz_target!(|body: &[u8]| intent_api_fuzz::check::<FeedbackRequest>(body));
