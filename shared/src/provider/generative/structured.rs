//! The structured-output loop: call, check the stop reason, decode, repair at most once.
