//! The one property every fuzz target checks, for one request type: whatever bytes arrive as a
//! request body, `shared::http::parse_and_validate` returns (never panics), an error becomes a
//! problem+json response (never panics), and an accepted request survives a round trip through
//! its own JSON unchanged (so what we log or echo is what we validated).
//!
//! Run one target for ten minutes (see `fuzz/README.md`):
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run classify -- -max_total_time=600`

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::contract::Semantic;
use shared::http::parse_and_validate;
use validator::Validate;

pub fn check<T>(body: &[u8])
where
    T: DeserializeOwned + Serialize + Validate + Semantic + PartialEq + std::fmt::Debug,
{
    match parse_and_validate::<T>(body) {
        Ok(value) => {
            let again = serde_json::to_vec(&value).expect("an accepted request serialises");
            match parse_and_validate::<T>(&again) {
                Ok(reparsed) => assert_eq!(reparsed, value, "round trip changed the request"),
                Err(e) => panic!("an accepted request was rejected after a round trip: {e}"),
            }
        }
        Err(error) => {
            let response = error.into_response("/fuzz", "fuzz");
            assert!(response.status().is_client_error(), "{}", response.status());
        }
    }
}
