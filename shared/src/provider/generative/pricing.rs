//! The versioned price table behind `meta.cost_usd`.
