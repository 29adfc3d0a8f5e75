//! Graph and selection algorithms over an arbitrary similarity (lexical TF-IDF cosine or
//! embedding cosine, the caller decides): TextRank, maximal marginal relevance, centroid
//! relevance, and the small score transforms (min-max, softmax, sigmoid, dense cosine) used to
//! turn raw scores into comparable ones.
//!
//! Everything is total: empty inputs give empty outputs, non-finite numbers are treated as
//! "no signal", and ties are broken by the lower index so results are deterministic.

/// A similarity weight usable as a graph edge: negative and non-finite values carry no edge.
fn edge(w: f32) -> f32 {
    if w.is_finite() && w > 0.0 { w } else { 0.0 }
}

/// Weighted PageRank (TextRank) over a similarity matrix.
///
/// `sim[i][j]` is the weight of the edge `i -> j` (normally symmetric); the diagonal is ignored,
/// negative or non-finite weights count as no edge, and ragged rows read missing cells as 0.
/// Nodes without edges are dangling: their mass is spread uniformly, so they end up with the
/// teleport share. Iterates until the L1 change is below `tolerance` or `iterations` rounds ran.
/// `damping` is clamped to `[0, 1]` (non-finite → 0.85). The result sums to 1; `n = 0` gives an
/// empty vector and `n = 1` gives `[1.0]`.
pub fn textrank(sim: &[Vec<f32>], damping: f32, iterations: usize, tolerance: f32) -> Vec<f32> {
    let n = sim.len();
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return vec![1.0];
    }
    let d = if damping.is_finite() {
        f64::from(damping.clamp(0.0, 1.0))
    } else {
        0.85
    };
    let w = |i: usize, j: usize| -> f64 {
        if i == j {
            0.0
        } else {
            f64::from(edge(sim[i].get(j).copied().unwrap_or(0.0)))
        }
    };
    let out_weight: Vec<f64> = (0..n).map(|i| (0..n).map(|j| w(i, j)).sum()).collect();
    let nf = n as f64;
    let mut rank = vec![1.0 / nf; n];
    let mut next = vec![0.0; n];
    for _ in 0..iterations {
        let dangling: f64 = (0..n)
            .filter(|&j| out_weight[j] <= 0.0)
            .map(|j| rank[j])
            .sum();
        let base = (1.0 - d) / nf + d * dangling / nf;
        for (i, slot) in next.iter_mut().enumerate() {
            let inflow: f64 = (0..n)
                .filter(|&j| out_weight[j] > 0.0)
                .map(|j| w(j, i) / out_weight[j] * rank[j])
                .sum();
            *slot = base + d * inflow;
        }
        let delta: f64 = rank.iter().zip(&next).map(|(a, b)| (a - b).abs()).sum();
        std::mem::swap(&mut rank, &mut next);
        if delta < f64::from(tolerance) {
            break;
        }
    }
    let total: f64 = rank.iter().sum();
    if total > 0.0 && total.is_finite() {
        rank.iter().map(|r| (r / total) as f32).collect()
    } else {
        vec![1.0 / n as f32; n]
    }
}

/// Maximal marginal relevance: greedily picks up to `k` items maximising
/// `lambda * relevance[i] - (1 - lambda) * max_sim_to_selected(i)`.
///
/// `lambda = 1.0` is pure relevance, `0.0` pure diversity (it is clamped to `[0, 1]`,
/// non-finite → 0.5). Returns indices in selection order; ties go to the lower index.
/// Non-finite relevance ranks last; `sim` is called `O(n * k)` times.
pub fn mmr(
    relevance: &[f32],
    sim: &dyn Fn(usize, usize) -> f32,
    k: usize,
    lambda: f32,
) -> Vec<usize> {
    let n = relevance.len();
    let k = k.min(n);
    let lambda = if lambda.is_finite() {
        lambda.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let rel: Vec<f32> = relevance
        .iter()
        .map(|&r| if r.is_finite() { r } else { f32::MIN / 4.0 })
        .collect();
    let mut selected: Vec<usize> = Vec::with_capacity(k);
    let mut taken = vec![false; n];
    // Highest similarity of each candidate to anything selected so far.
    let mut max_sim = vec![f32::NEG_INFINITY; n];
    while selected.len() < k {
        let mut best: Option<(usize, f32)> = None;
        for i in 0..n {
            if taken[i] {
                continue;
            }
            let penalty = if selected.is_empty() { 0.0 } else { max_sim[i] };
            let score = lambda * rel[i] - (1.0 - lambda) * penalty;
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((i, score));
            }
        }
        let Some((pick, _)) = best else { break };
        taken[pick] = true;
        selected.push(pick);
        for i in 0..n {
            if !taken[i] {
                let s = sim(i, pick);
                let s = if s.is_finite() { s } else { 0.0 };
                max_sim[i] = max_sim[i].max(s);
            }
        }
    }
    selected
}

/// Rescales scores linearly to `[0, 1]`.
///
/// A constant input carries no ranking information: it maps to all `0.0` when every score is
/// zero (nothing matched) and to all `1.0` otherwise (everything matched equally). Non-finite
/// scores map to `0.0` and are ignored when finding the range.
pub fn min_max(scores: &[f32]) -> Vec<f32> {
    let finite = scores.iter().copied().filter(|s| s.is_finite());
    let lo = finite.clone().fold(f32::INFINITY, f32::min);
    let hi = finite.fold(f32::NEG_INFINITY, f32::max);
    if !lo.is_finite() {
        return vec![0.0; scores.len()];
    }
    let range = hi - lo;
    scores
        .iter()
        .map(|&s| {
            if !s.is_finite() {
                0.0
            } else if range > 0.0 && range.is_finite() {
                ((s - lo) / range).clamp(0.0, 1.0)
            } else if s == 0.0 {
                0.0
            } else {
                1.0
            }
        })
        .collect()
}

/// Softmax of `scores / temperature`, computed stably (max-subtracted).
///
/// Non-positive temperatures tend to argmax (ties share the mass); a non-finite temperature
/// is treated as 1. NaN and `-inf` scores get probability 0; if no score is usable the result is
/// uniform.
pub fn softmax(scores: &[f32], temperature: f32) -> Vec<f32> {
    let n = scores.len();
    if n == 0 {
        return Vec::new();
    }
    let t = if temperature.is_finite() {
        f64::from(temperature.max(1e-6))
    } else {
        1.0
    };
    let usable = |s: f32| !s.is_nan() && s != f32::NEG_INFINITY;
    let max = scores
        .iter()
        .copied()
        .filter(|&s| usable(s))
        .fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return vec![1.0 / n as f32; n];
    }
    let exps: Vec<f64> = scores
        .iter()
        .map(|&s| {
            if !usable(s) {
                0.0
            } else if max == f32::INFINITY {
                if s == f32::INFINITY { 1.0 } else { 0.0 }
            } else {
                ((f64::from(s) - f64::from(max)) / t).exp()
            }
        })
        .collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / total) as f32).collect()
}

/// Logistic function, stable for large `|x|`; NaN maps to 0.5.
pub fn sigmoid(x: f32) -> f32 {
    if x.is_nan() {
        0.5
    } else if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Cosine similarity of two dense vectors in `[-1, 1]`; `0.0` if either is zero or contains a
/// non-finite value. Vectors of different lengths are compared over the common prefix.
pub fn dense_cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0_f64, 0.0_f64, 0.0_f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let denom = na.sqrt() * nb.sqrt();
    if denom > 0.0 && denom.is_finite() && dot.is_finite() {
        ((dot / denom) as f32).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

/// Each item's mean similarity to all other items (the diagonal is excluded): how central a
/// sentence is to the document, the classic centroid relevance for extractive summaries.
///
/// Non-finite cells and missing cells of ragged rows count as 0; a single item has no others and
/// scores `0.0`.
pub fn centroid_scores(sim: &[Vec<f32>]) -> Vec<f32> {
    let n = sim.len();
    if n < 2 {
        return vec![0.0; n];
    }
    sim.iter()
        .enumerate()
        .map(|(i, row)| {
            let total: f64 = (0..n)
                .filter(|&j| j != i)
                .map(|j| row.get(j).copied().filter(|s| s.is_finite()).unwrap_or(0.0))
                .map(f64::from)
                .sum();
            (total / (n - 1) as f64) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textrank_three_nodes() {
        // 0 is connected to both others, 1 and 2 only to 0.
        let sim = vec![
            vec![1.0, 0.5, 0.5],
            vec![0.5, 1.0, 0.0],
            vec![0.5, 0.0, 1.0],
        ];
        let r = textrank(&sim, 0.85, 100, 1e-6);
        assert_eq!(r.len(), 3);
        assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(r[0] > r[1] && r[0] > r[2], "{r:?}");
        assert!((r[1] - r[2]).abs() < 1e-6);
        // Leaves feed all their mass to the centre: c = 0.15 / 3 + 0.85 (1 - c), so c = 0.9 / 1.85.
        assert!((r[0] - 0.4865).abs() < 1e-3, "{r:?}");
    }

    #[test]
    fn textrank_edge_cases() {
        assert!(textrank(&[], 0.85, 50, 1e-6).is_empty());
        assert_eq!(textrank(&[vec![0.3]], 0.85, 50, 1e-6), vec![1.0]);
        // No edges at all (and a negative / NaN weight): uniform.
        let r = textrank(&[vec![0.0, -1.0], vec![f32::NAN, 0.0]], 0.85, 50, 1e-6);
        assert_eq!(r, vec![0.5, 0.5]);
        // An isolated node gets only teleport + dangling mass, less than connected ones.
        let r = textrank(
            &[
                vec![0.0, 1.0, 0.0],
                vec![1.0, 0.0, 0.0],
                vec![0.0, 0.0, 0.0],
            ],
            0.85,
            100,
            1e-7,
        );
        assert!(r[2] < r[0] && (r[0] - r[1]).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn mmr_prefers_diverse_over_duplicate() {
        // 0 and 1 are near-duplicates; 2 is a bit less relevant but different.
        let relevance = [0.9, 0.88, 0.7];
        let sims = [[1.0, 0.95, 0.1], [0.95, 1.0, 0.1], [0.1, 0.1, 1.0]];
        let sim = |i: usize, j: usize| sims[i][j];
        assert_eq!(mmr(&relevance, &sim, 2, 0.5), vec![0, 2]);
        assert_eq!(mmr(&relevance, &sim, 2, 1.0), vec![0, 1]);
        assert_eq!(mmr(&relevance, &sim, 10, 0.7), vec![0, 2, 1]);
        assert!(mmr(&[], &sim, 3, 0.5).is_empty());
        // Tie → lower index.
        assert_eq!(mmr(&[0.5, 0.5], &|_, _| 0.0, 1, 0.5), vec![0]);
    }

    #[test]
    fn score_transforms() {
        assert_eq!(min_max(&[1.0, 3.0, 2.0]), vec![0.0, 1.0, 0.5]);
        assert_eq!(min_max(&[0.0, 0.0]), vec![0.0, 0.0]);
        assert_eq!(min_max(&[2.0, 2.0]), vec![1.0, 1.0]);
        assert_eq!(min_max(&[f32::NAN, 1.0, 2.0]), vec![0.0, 0.0, 1.0]);
        assert!(min_max(&[]).is_empty());

        let p = softmax(&[1.0, 2.0, 3.0], 1.0);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[2] > p[1] && p[1] > p[0]);
        assert_eq!(softmax(&[1.0, 5.0, 5.0], 0.0), vec![0.0, 0.5, 0.5]);
        assert_eq!(softmax(&[f32::NAN, f32::NAN], 1.0), vec![0.5, 0.5]);
        assert_eq!(softmax(&[1000.0, 0.0], 1.0), vec![1.0, 0.0]);

        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-1000.0) >= 0.0 && sigmoid(1000.0) <= 1.0);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-6);

        assert!((dense_cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!((dense_cosine(&[1.0, 0.0], &[-1.0, 0.0]) + 1.0).abs() < 1e-6);
        assert_eq!(dense_cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        assert_eq!(dense_cosine(&[], &[]), 0.0);
    }

    #[test]
    fn centroid() {
        let sim = vec![
            vec![1.0, 0.6, 0.4],
            vec![0.6, 1.0, 0.0],
            vec![0.4, 0.0, 1.0],
        ];
        let c = centroid_scores(&sim);
        assert!((c[0] - 0.5).abs() < 1e-6 && (c[1] - 0.3).abs() < 1e-6);
        assert_eq!(centroid_scores(&[vec![1.0]]), vec![0.0]);
        assert!(centroid_scores(&[]).is_empty());
    }
}
