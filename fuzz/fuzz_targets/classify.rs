//! Fuzzes parsing + validation of the `classify` request body (see `src/lib.rs` for the property).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::contract::classify::ClassifyRequest;

fuzz_target!(|body: &[u8]| intent_api_fuzz::check::<ClassifyRequest>(body));
