//! The report's metrics: nDCG@k with graded qrels, ROUGE-1/2/L F1 (ROUGE-1.5.5 tokenisation with
//! Porter stemming, as `rouge_score` with `use_stemmer=True`), accuracy and field-level
//! precision/recall/F1.

use std::collections::HashMap;

use crate::porter;

/// nDCG@k of a ranking (doc ids, best first) against graded relevance judgements. The ideal
/// ranking uses every judged document of the query, retrieved or not (the standard definition,
/// as in `pytrec_eval`).
pub fn ndcg_at(ranking: &[String], qrels: &HashMap<String, u32>, k: usize) -> f64 {
    let gain = |rel: u32| (2f64.powi(rel as i32)) - 1.0;
    let discount = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, d)| gain(qrels.get(d).copied().unwrap_or(0)) * discount(i))
        .sum();
    let mut ideal: Vec<u32> = qrels.values().copied().filter(|&r| r > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &r)| gain(r) * discount(i))
        .sum();
    if idcg > 0.0 { dcg / idcg } else { 0.0 }
}

/// ROUGE tokens: lowercase, every non-alphanumeric character a separator, Porter stem on tokens
/// longer than 3 characters (as `rouge_score` does).
pub fn rouge_tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| {
            if t.len() > 3 {
                porter::stem(t)
            } else {
                t.to_owned()
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Rouge {
    pub r1: f64,
    pub r2: f64,
    pub rl: f64,
}

impl Rouge {
    pub fn add(&mut self, o: Rouge) {
        self.r1 += o.r1;
        self.r2 += o.r2;
        self.rl += o.rl;
    }
    pub fn scale(self, f: f64) -> Rouge {
        Rouge {
            r1: self.r1 * f,
            r2: self.r2 * f,
            rl: self.rl * f,
        }
    }
}

fn f1(overlap: f64, candidate: usize, reference: usize) -> f64 {
    if candidate == 0 || reference == 0 || overlap == 0.0 {
        return 0.0;
    }
    let p = overlap / candidate as f64;
    let r = overlap / reference as f64;
    2.0 * p * r / (p + r)
}

fn ngram_f1(c: &[String], r: &[String], n: usize) -> f64 {
    let grams = |t: &[String]| -> HashMap<Vec<String>, usize> {
        let mut m = HashMap::new();
        if t.len() >= n {
            for w in t.windows(n) {
                *m.entry(w.to_vec()).or_insert(0) += 1;
            }
        }
        m
    };
    let (gc, gr) = (grams(c), grams(r));
    let overlap: usize = gc
        .iter()
        .map(|(g, &k)| k.min(gr.get(g).copied().unwrap_or(0)))
        .sum();
    f1(
        overlap as f64,
        c.len().saturating_sub(n - 1),
        r.len().saturating_sub(n - 1),
    )
}

fn lcs(a: &[String], b: &[String]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// ROUGE-1, ROUGE-2 and ROUGE-L F1 of `candidate` against one reference (summary-level LCS over
/// the whole texts, `rouge_score`'s `rougeL`).
pub fn rouge(candidate: &str, reference: &str) -> Rouge {
    let c = rouge_tokens(candidate);
    let r = rouge_tokens(reference);
    Rouge {
        r1: ngram_f1(&c, &r, 1),
        r2: ngram_f1(&c, &r, 2),
        rl: f1(lcs(&c, &r) as f64, c.len(), r.len()),
    }
}

/// Field-level counts: a prediction is a non-null value; it is correct when it equals the gold
/// value after normalisation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prf {
    pub predicted: usize,
    pub gold: usize,
    pub correct: usize,
}

impl Prf {
    pub fn precision(&self) -> f64 {
        ratio(self.correct, self.predicted)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.correct, self.gold)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_perfect_and_empty() {
        let q: HashMap<String, u32> = [("a".to_owned(), 1), ("b".to_owned(), 2)].into();
        let perfect = vec!["b".to_owned(), "a".to_owned()];
        assert!((ndcg_at(&perfect, &q, 10) - 1.0).abs() < 1e-9);
        assert_eq!(ndcg_at(&["x".to_owned()], &q, 10), 0.0);
        // One relevant doc at rank 2 of 1 judged: 1/log2(3).
        let q1: HashMap<String, u32> = [("a".to_owned(), 1)].into();
        let r = vec!["x".to_owned(), "a".to_owned()];
        assert!((ndcg_at(&r, &q1, 10) - 1.0 / 3f64.log2()).abs() < 1e-9);
    }

    #[test]
    fn rouge_matches_hand_computed_values() {
        let r = rouge("the cat sat on the mat", "the cat lay on the mat");
        // 5 of 6 unigrams shared; bigrams: the-cat, on-the, the-mat = 3 of 5; LCS = 5.
        assert!((r.r1 - 5.0 / 6.0).abs() < 1e-9);
        assert!((r.r2 - 3.0 / 5.0).abs() < 1e-9);
        assert!((r.rl - 5.0 / 6.0).abs() < 1e-9);
        assert_eq!(rouge("", "x").r1, 0.0);
        // Stemming: "running" and "runs" share the stem "run".
        assert!(rouge("running fast", "runs fast").r1 > 0.99);
    }

    #[test]
    fn prf() {
        let p = Prf {
            predicted: 4,
            gold: 5,
            correct: 2,
        };
        assert!((p.precision() - 0.5).abs() < 1e-9);
        assert!((p.recall() - 0.4).abs() < 1e-9);
        assert!((p.f1() - 0.4444).abs() < 1e-3);
    }
}
