//! Deflates the vendored Redoc bundle (1.1 MB of JavaScript) into the build's output directory, so
//! the docs binary carries about a quarter of it; `main.rs` inflates it on the first `/docs` request.

use std::path::PathBuf;

const BUNDLE: &str = "assets/redoc.standalone.js";

fn main() {
    println!("cargo:rerun-if-changed={BUNDLE}");
    let js = std::fs::read(BUNDLE).expect("functions/docs/assets/redoc.standalone.js is vendored");
    // Level 10 is miniz's best ratio; the cost is paid once per build, not per request.
    let deflated = miniz_oxide::deflate::compress_to_vec(&js, 10);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("redoc.standalone.js.deflate");
    std::fs::write(&out, deflated).expect("writing the deflated bundle");
}
