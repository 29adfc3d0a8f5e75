//! Fuzzes parsing + validation of the `score` request body (see `src/lib.rs` for the property).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::contract::score::ScoreRequest;

fuzz_target!(|body: &[u8]| intent_api_fuzz::check::<ScoreRequest>(body));
