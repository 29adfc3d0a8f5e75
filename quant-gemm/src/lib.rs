//! Quantised matrix multiplication for the embedding model's projections: weights as 16-bit
//! integers with one scale per output row, activations quantised per row when they arrive, and
//! an integer kernel for the product, parallel on the rayon pool.
//!
//! Why 16-bit integers and not int8: the instruction that makes integer products pay on these
//! CPUs without `unsafe` code is `vpmaddwd`/`vpdpwssd` (pairs of i16 products summed into i32,
//! twice the multiply-adds per instruction of an f32 FMA), which the compiler emits from
//! `pulp`'s safe AVX-512 wrappers. Its 8-bit sibling (`vpdpbusd`) has no safe wrapper, and this
//! workspace forbids `unsafe`. Holding i16 lets both operands keep ~11 bits instead of 7–8: the
//! largest scale that cannot overflow the i32 sum over `k` products is chosen per matrix
//! ([`levels`]), 2,364 levels for MiniLM's `k = 384` and 1,182 for `k = 1536`.
//!
//! The kernel: weights are packed once into panels of [`NR`] output columns, each `k` pair of a
//! column side by side, so one 64-byte load feeds 16 columns; `x86` multiplies six rows by a
//! panel at a time with 24 AVX-512 accumulators. CPUs without AVX-512 BW and VNNI (AVX2-only
//! x86, arm64) run `portable`, which computes the same integers more slowly than an f32 GEMM,
//! so callers check [`fast_kernel`] before choosing this path.
//!
//! Its own crate so that it is compiled optimised in every profile: the kernel at `opt-level=0`
//! would make every test that runs the model crawl.

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(test)]
mod tests;

use rayon::prelude::*;

/// How quantised matrices are stored in a safetensors file: the `quantise-model` tool writes
/// one, the embedding model reads it at cold start instead of quantising its f32 weights.
///
/// Each f32 weight `W` (`n × k`) becomes two tensors, `W.packed` (I16, [`stored::shape`]) and
/// `W.scales` (F32, `[n]`): [`QuantLinear::packed`] and [`QuantLinear::scales`], which
/// [`QuantLinear::from_parts`] checks when it takes them back. The header's metadata names the
/// format (so a file from a different packing is refused, not misread) and the byte length of
/// the checkpoint it was made from.
pub mod stored {
    use super::NR;

    /// Metadata key and value naming this layout.
    pub const FORMAT_KEY: &str = "format";
    pub const FORMAT: &str = "quant-gemm/i16-panels-64/v1";
    /// Metadata key: the byte length of the f32 checkpoint the file was made from.
    pub const SOURCE_BYTES_KEY: &str = "source_bytes";
    /// Suffixes added to a weight's name for its two tensors.
    pub const PACKED: &str = ".packed";
    pub const SCALES: &str = ".scales";

    /// Which checkpoint tensors are stored quantised: the 2-D weights of a BERT encoder's
    /// layers (query, key, value, attention output, intermediate and output projections).
    /// Embedding tables are looked up, not multiplied; 1-D tensors are biases and layer norms.
    pub fn is_projection(name: &str, shape: &[usize]) -> bool {
        shape.len() == 2 && name.contains("encoder.layer.") && name.ends_with(".weight")
    }

    /// The stored shape of an `n × k` matrix's integers: `[panels, k / 2, NR, 2]`.
    pub fn shape(n: usize, k: usize) -> [usize; 4] {
        [n.div_ceil(NR), k.div_ceil(2), NR, 2]
    }
}

/// Output columns per packed panel: four 16-lane i32 vectors.
pub const NR: usize = 64;

/// The most tokens one rayon task takes: large enough that a task's start-up (a thread waking,
/// its row quantisation) is small next to its work and that each weight panel, read once per
/// task, serves many rows; small enough that a long batch still splits into several tasks per
/// thread and the task's quantised rows (`96 × k` i16s) stay in L2.
const MAX_ROWS_PER_TASK: usize = 96;

/// How many of `m` tokens each rayon task takes: the tokens split evenly over a multiple of the
/// pool's threads, rounded up to whole six-row blocks of the AVX-512 kernel. A fixed task size
/// leaves one thread idle at the end of a short batch: 150 tokens in tasks of 24 are seven tasks,
/// four on one thread and three on the other, where 78 + 72 keep both busy to the end.
fn rows_per_task(m: usize, threads: usize) -> usize {
    let threads = threads.max(1);
    let tasks = threads * m.div_ceil(threads * MAX_ROWS_PER_TASK);
    m.div_ceil(tasks.max(1)).next_multiple_of(6).max(6)
}

/// Whether this CPU runs the AVX-512 kernel.
pub fn fast_kernel() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        x86::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The largest magnitude both operands may be quantised to for sums over `k` products: `k`
/// products of at most `levels²` each must fit an i32, and levels fit an i16.
pub fn levels(k: usize) -> Option<i32> {
    let k = k.max(1) as f64;
    let levels = (f64::from(i32::MAX) / k)
        .sqrt()
        .floor()
        .min(f64::from(i16::MAX));
    // Fewer than 127 levels would be worse than int8: refuse such a matrix rather than lose
    // the model's accuracy quietly (it takes k > 133,000, far past any BERT).
    (levels >= 127.0).then_some(levels as i32)
}

/// A projection's weights (`n` outputs × `k` inputs, as `nn.Linear` stores them), quantised per
/// output row and packed for the kernels.
pub struct QuantLinear {
    n: usize,
    k: usize,
    /// `k` rounded up to even: the kernels take inputs in pairs.
    kpad: usize,
    levels: i32,
    /// Per output row: the f32 value of one integer step.
    scales: Vec<f32>,
    /// `[panel][k / 2][NR columns][2]`, zero beyond `n` and `k`.
    packed: Vec<i16>,
}

impl QuantLinear {
    /// Quantises `n` rows of `k` f32 weights (`data` row after row), refusing non-finite
    /// weights and shapes that do not add up.
    pub fn from_rows(data: &[f32], n: usize, k: usize) -> std::result::Result<Self, String> {
        if data.len() != n * k || n == 0 || k == 0 {
            return Err(format!(
                "{} weights do not make a {n} × {k} matrix",
                data.len()
            ));
        }
        let levels = levels(k).ok_or_else(|| format!("{k} inputs are too many to quantise"))?;
        let scales: Vec<Option<f32>> = data
            .par_chunks_exact(k)
            .map(|row| weight_scale(row, levels))
            .collect();
        if let Some(row) = scales.iter().position(Option::is_none) {
            return Err(format!("weight row {row} holds a value that is not finite"));
        }
        let scales: Vec<f32> = scales.into_iter().flatten().collect();
        let kpad = k.next_multiple_of(2);
        let mut packed = vec![0i16; n.div_ceil(NR) * kpad * NR];
        // Part of every cold start (10.6 M weights for MiniLM): panel-parallel, and compiled for
        // the CPU's vector unit so the rounding is an instruction rather than a libm call.
        packed
            .par_chunks_mut(kpad * NR)
            .enumerate()
            .for_each(|(panel, out)| {
                pulp::Arch::new().dispatch(PackPanel {
                    data,
                    k,
                    scales: &scales,
                    first: panel * NR,
                    out,
                })
            });
        Ok(Self {
            n,
            k,
            kpad,
            levels,
            scales,
            packed,
        })
    }

    /// A matrix stored earlier ([`QuantLinear::scales`] and [`QuantLinear::packed`] of a
    /// `n × k` one), checked so that it cannot make the kernels compute garbage: the lengths must
    /// fit the shape, every scale must be finite and positive, and every integer must lie within
    /// the levels for `k` (a larger one could overflow the i32 sums).
    pub fn from_parts(
        n: usize,
        k: usize,
        scales: Vec<f32>,
        packed: Vec<i16>,
    ) -> std::result::Result<Self, String> {
        if n == 0 || k == 0 {
            return Err(format!("a {n} × {k} matrix is empty"));
        }
        let levels = levels(k).ok_or_else(|| format!("{k} inputs are too many to quantise"))?;
        let kpad = k.next_multiple_of(2);
        if scales.len() != n {
            return Err(format!("{} scales for {n} rows", scales.len()));
        }
        let expected = n.div_ceil(NR) * kpad * NR;
        if packed.len() != expected {
            return Err(format!(
                "{} packed values for a {n} × {k} matrix, which takes {expected}",
                packed.len()
            ));
        }
        if let Some(row) = scales.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(format!(
                "the scale of row {row} is {}, not a positive number",
                scales[row]
            ));
        }
        let bound = levels as i16;
        // Part of every cold start (10.6 M values for MiniLM): a branch-free fold, which the
        // compiler vectorises, where `any` would stop to test each value.
        let outside = packed.par_chunks(kpad * NR).position_any(|panel| {
            panel
                .iter()
                .fold(false, |out, &q| out | (q > bound) | (q < -bound))
        });
        if let Some(panel) = outside {
            return Err(format!(
                "panel {panel} holds a value beyond ±{levels}, the most {k} inputs allow"
            ));
        }
        Ok(Self {
            n,
            k,
            kpad,
            levels,
            scales,
            packed,
        })
    }

    /// The f32 value of one integer step, per output row.
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// The integers, `[panel][k / 2][NR columns][2]`, zero beyond `n` and `k`.
    pub fn packed(&self) -> &[i16] {
        &self.packed
    }

    /// Whether output row `row` is what quantising `weights` (that row in f32) gives, bit for
    /// bit: how a stored matrix is checked against the checkpoint it was made from.
    pub fn matches_row(&self, row: usize, weights: &[f32]) -> bool {
        if row >= self.n || weights.len() != self.k {
            return false;
        }
        let Some(scale) = weight_scale(weights, self.levels) else {
            return false;
        };
        if scale.to_bits() != self.scales[row].to_bits() {
            return false;
        }
        let mut q = vec![0i16; self.k];
        quantise_weights(weights, scale, &mut q);
        q.iter()
            .enumerate()
            .all(|(i, &q)| self.packed[packed_index(self.kpad, row, i)] == q)
    }

    /// These matrices' rows one after another (as `torch.cat` of the weights along the outputs
    /// would give): how BERT's query, key and value projections become one product.
    pub fn stack(parts: &[&QuantLinear]) -> std::result::Result<Self, String> {
        let Some(first) = parts.first() else {
            return Err("nothing to stack".into());
        };
        let k = first.k;
        if let Some(part) = parts.iter().find(|p| p.k != k) {
            return Err(format!(
                "cannot stack matrices of {k} and {} inputs",
                part.k
            ));
        }
        let n: usize = parts.iter().map(|p| p.n).sum();
        let kpad = first.kpad;
        let mut packed = vec![0i16; n.div_ceil(NR) * kpad * NR];
        let mut scales = Vec::with_capacity(n);
        for part in parts {
            // Whole panels copy as they are while the rows stay aligned to panels.
            if scales.len() % NR == 0 && part.n % NR == 0 {
                let at = scales.len() / NR * kpad * NR;
                packed[at..at + part.packed.len()].copy_from_slice(&part.packed);
                scales.extend_from_slice(&part.scales);
                continue;
            }
            for row in 0..part.n {
                let to = scales.len();
                for i in (0..kpad).step_by(2) {
                    let (src, dst) = (packed_index(kpad, row, i), packed_index(kpad, to, i));
                    packed[dst..dst + 2].copy_from_slice(&part.packed[src..src + 2]);
                }
                scales.push(part.scales[row]);
            }
        }
        Ok(Self {
            n,
            k,
            kpad,
            levels: first.levels,
            scales,
            packed,
        })
    }

    /// The matrix times `factor`: the integers stay, the steps scale. That is what quantising
    /// the scaled f32 weights gives, up to the rounding of each step (exactly, for a power of
    /// two).
    pub fn scaled(mut self, factor: f32) -> std::result::Result<Self, String> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(format!("cannot scale a quantised matrix by {factor}"));
        }
        self.scales.iter_mut().for_each(|s| *s *= factor);
        Ok(self)
    }

    /// Outputs (rows of the weight matrix).
    pub fn outputs(&self) -> usize {
        self.n
    }

    /// Inputs per row.
    pub fn inputs(&self) -> usize {
        self.k
    }

    /// `x · Wᵀ` for `m` rows of `k` f32 inputs (`x.len()` must be a multiple of `k`): `m × n`
    /// f32 outputs. Rows are quantised and multiplied in parallel on the rayon pool; `fast`
    /// picks the AVX-512 kernel when the CPU has it (the portable one otherwise).
    pub fn matmul(&self, x: &[f32], fast: bool) -> Vec<f32> {
        let m = x.len() / self.k;
        let mut out = vec![0f32; m * self.n];
        let rows = rows_per_task(m, rayon::current_num_threads());
        out.par_chunks_mut(rows * self.n)
            .zip(x.par_chunks(rows * self.k))
            .for_each(|(out, x)| self.rows(x, out, fast));
        out
    }

    /// One task's rows, compiled for the kernel's instruction set: the fast kernel where the
    /// CPU has it and `fast` asks for it, the portable one otherwise.
    fn rows(&self, x: &[f32], out: &mut [f32], fast: bool) {
        #[cfg(target_arch = "x86_64")]
        if fast && x86::rows(self, x, out) {
            return;
        }
        let _ = fast;
        portable::rows(self, x, out);
    }

    /// Quantise, multiply, scale back. Inlined into each kernel's entry point, so the rounding
    /// and scaling loops are vectorised for the same instructions as the kernel (outside it,
    /// `round` is a libm call per value). The kernel hands over each block of integer sums as it
    /// leaves the registers and it is scaled straight into `out`: no i32 matrix is written and
    /// read back.
    #[inline(always)]
    fn rows_with<K: Kernel>(&self, kernel: K, x: &[f32], out: &mut [f32]) {
        let rows = x.len() / self.k;
        let mut quantised = vec![0i16; rows * self.kpad];
        let mut row_scales = Vec::with_capacity(rows);
        for (x, q) in x
            .chunks_exact(self.k)
            .zip(quantised.chunks_exact_mut(self.kpad))
        {
            row_scales.push(quantise_row(x, &mut q[..self.k], self.levels));
        }
        let n = self.n;
        kernel.gemm(
            &quantised,
            rows,
            self.kpad,
            &self.packed,
            &mut |row: usize, panel: usize, sums: &[i32; NR]| {
                let first = panel * NR;
                let cols = (n - first).min(NR);
                let row_scale = row_scales[row];
                let at = row * n + first;
                for ((out, &sum), &scale) in out[at..at + cols]
                    .iter_mut()
                    .zip(sums)
                    .zip(&self.scales[first..first + cols])
                {
                    *out = sum as f32 * (row_scale * scale);
                }
            },
        );
    }
}

/// Where input `i` of output row `row` sits in a packed matrix of `kpad` inputs per row:
/// `[panel][k / 2][NR columns][2]`.
#[inline(always)]
fn packed_index(kpad: usize, row: usize, i: usize) -> usize {
    (row / NR) * kpad * NR + (i / 2 * NR + row % NR) * 2 + i % 2
}

/// Quantises the weight rows `first..first + NR` and lays them out as one panel.
struct PackPanel<'a> {
    data: &'a [f32],
    k: usize,
    scales: &'a [f32],
    first: usize,
    out: &'a mut [i16],
}

impl pulp::WithSimd for PackPanel<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let k = self.k;
        let mut row_q = vec![0i16; k];
        let cols = self.scales.len().saturating_sub(self.first).min(NR);
        for lane in 0..cols {
            let col = self.first + lane;
            quantise_weights(
                &self.data[col * k..(col + 1) * k],
                self.scales[col],
                &mut row_q,
            );
            for (i, &q) in row_q.iter().enumerate() {
                // `out` is this panel alone, so its row is the lane.
                self.out[packed_index(k.next_multiple_of(2), lane, i)] = q;
            }
        }
    }
}

/// The step of one weight row quantised to `±levels`: `None` when it holds a value that is not
/// finite (`f32::max` skips NaN, so that is checked on its own), 1 for a row of zeros.
#[inline(always)]
fn weight_scale(row: &[f32], levels: i32) -> Option<f32> {
    let finite = row.iter().all(|w| w.is_finite());
    let max = row.iter().fold(0f32, |m, &w| m.max(w.abs()));
    finite.then_some(if max > 0.0 { max / levels as f32 } else { 1.0 })
}

/// One weight row in steps of `scale`. Packing and [`QuantLinear::matches_row`] share it, so a
/// stored matrix can be checked against the weights it claims to come from, bit for bit.
#[inline(always)]
fn quantise_weights(row: &[f32], scale: f32, out: &mut [i16]) {
    let inverse = 1.0 / scale;
    for (q, &w) in out.iter_mut().zip(row) {
        *q = (w * inverse).round_ties_even() as i16;
    }
}

/// An integer kernel: `Σ_i x[r][i] · w[c][i]` for `rows` quantised rows of `kpad` inputs and
/// every column of every panel of `packed`, handed to `sink(r, panel, sums)` one row of one
/// panel at a time, each exactly once. Panels are the outer loop, so each is read from memory
/// once per call however many rows there are.
trait Kernel: Copy {
    fn gemm(
        self,
        x: &[i16],
        rows: usize,
        kpad: usize,
        packed: &[i16],
        sink: &mut impl FnMut(usize, usize, &[i32; NR]),
    );
}

/// Quantises one token's inputs to `±levels` and returns the f32 value of one step. A row of
/// zeros gets step 0 (its products are 0 anyway); a row holding NaN or infinity gets a NaN step,
/// so the output says so instead of a plausible number.
#[inline(always)]
fn quantise_row(x: &[f32], q: &mut [i16], levels: i32) -> f32 {
    let max = x.iter().fold(0f32, |m, &v| m.max(v.abs()));
    if !max.is_finite() || x.iter().any(|v| v.is_nan()) {
        q.fill(0);
        return f32::NAN;
    }
    if max == 0.0 {
        q.fill(0);
        return 0.0;
    }
    let inverse = levels as f32 / max;
    for (q, &v) in q.iter_mut().zip(x) {
        *q = (v * inverse).round_ties_even() as i16;
    }
    max / levels as f32
}
