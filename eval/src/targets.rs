//! The figures issue 11 set targets for: each measured value next to the one measured before the
//! change (through the API at default settings, as quoted in the issue) and the target.

use std::fmt::Write as _;

/// One row: what is measured, the value before, the target, and whether higher is better.
pub struct Target {
    pub what: &'static str,
    pub before: Option<f64>,
    pub target: f64,
    pub higher_is_better: bool,
}

const fn at_least(what: &'static str, before: Option<f64>, target: f64) -> Target {
    Target {
        what,
        before,
        target,
        higher_is_better: true,
    }
}

const fn at_most(what: &'static str, before: Option<f64>, target: f64) -> Target {
    Target {
        what,
        before,
        target,
        higher_is_better: false,
    }
}

/// The list, in its order; keys are looked up in the measured values.
pub const TARGETS: &[Target] = &[
    at_most("AG News abstention", Some(0.78), 0.15),
    at_least("AG News top-label accuracy", Some(0.631), 0.75),
    at_most("TweetEval sentiment abstention", Some(0.99), 0.15),
    at_least("TweetEval sentiment top-label accuracy", Some(0.43), 0.60),
    at_most("SMS spam abstention", Some(0.89), 0.15),
    at_least("SMS spam top-label accuracy", Some(0.63), 0.85),
    at_least("CoNLL-2003 person F1", Some(0.0), 0.50),
    at_least("CoNLL-2003 organization F1", Some(0.0), 0.50),
    at_least("CoNLL-2003 location F1", Some(0.0), 0.50),
    at_least("seminar speaker F1", Some(0.25), 0.40),
    at_least("seminar location F1", Some(0.12), 0.40),
    at_least("SROIE company F1", Some(0.0), 0.50),
    at_least("SROIE address F1", Some(0.0), 0.30),
];

/// The markdown table: target, before, now, met. Values missing from `measured` (a run that
/// skipped a set) print as "—".
pub fn table(measured: &[(String, f64)]) -> String {
    let mut out = String::from(
        "| figure (hybrid, default settings) | before | now | target | met |\n|---|---|---|---|---|\n",
    );
    for t in TARGETS {
        let now = measured.iter().find(|(k, _)| k == t.what).map(|(_, v)| *v);
        let before = t.before.map_or("—".to_owned(), |b| format!("{b:.2}"));
        let (now_s, met) = match now {
            Some(v) => {
                let met = if t.higher_is_better {
                    v >= t.target
                } else {
                    v <= t.target
                };
                (format!("{v:.3}"), if met { "yes" } else { "no" })
            }
            None => ("—".to_owned(), "—"),
        };
        let bound = if t.higher_is_better { "≥" } else { "≤" };
        let _ = writeln!(
            out,
            "| {} | {before} | {now_s} | {bound} {:.2} | {met} |",
            t.what, t.target
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_met_in_its_direction() {
        let t = table(&[
            ("AG News abstention".to_owned(), 0.1),
            ("AG News top-label accuracy".to_owned(), 0.7),
        ]);
        assert!(
            t.contains("| AG News abstention | 0.78 | 0.100 | ≤ 0.15 | yes |"),
            "{t}"
        );
        assert!(
            t.contains("| AG News top-label accuracy | 0.63 | 0.700 | ≥ 0.75 | no |"),
            "{t}"
        );
        assert!(
            t.contains("| SMS spam abstention | 0.89 | — | ≤ 0.15 | — |"),
            "{t}"
        );
    }
}
