//! Fuzzes parsing + validation of the `extract` request body (see `src/lib.rs` for the property).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::contract::extract::ExtractRequest;

fuzz_target!(|body: &[u8]| intent_api_fuzz::check::<ExtractRequest>(body));
