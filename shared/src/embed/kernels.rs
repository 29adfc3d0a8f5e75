//! Fused CPU kernels for the BERT forward pass in [`super::bert`], as candle custom ops.
//!
//! candle runs each elementwise step (bias add, residual add, mask add, GELU) as its own pass
//! over memory, most of them on one thread, and its GELU calls a scalar `erff` per element. On
//! two cores that overhead was about half of an embedding call next to the matrix
//! multiplications (perf, bench texts). Each kernel here does one step of the model in a single
//! pass, row-parallel on candle's own rayon pool:
//!
//! - [`bias_gelu`]: `gelu(x + bias)` with a branch-free, vectorisable `erf`;
//! - [`add_norm`]: `layer_norm(x + residual + bias)`, the end of every BERT sub-block;
//! - [`split_heads`]: adds the QKV bias and lays the fused projection out as
//!   `(3, batch, heads, seq, head_dim)`, so queries, keys and values are contiguous per head;
//! - [`masked_softmax`]: adds the padding mask and takes the softmax over the last dimension.
//!
//! Every kernel takes f32 tensors only and checks its shapes, returning a candle error rather
//! than reading out of bounds. The unit tests compare each against the same computation written
//! with candle's ordinary ops.

use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, bail,
};
use rayon::prelude::*;

/// Rows handed to one rayon task at least: fewer would spend more on scheduling than on work.
const MIN_ROWS_PER_TASK: usize = 8;

/// The contiguous f32 data of a custom op operand, or an error naming the op.
fn f32_slice<'a>(op: &str, storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        bail!("{op}: expects f32 tensors")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op}: expects contiguous tensors"),
    }
}

/// Runs `op` compiled for the widest vector instructions this CPU has (AVX-512 or AVX2 and FMA on
/// x86-64 where present, NEON on arm64), chosen at run time: `pulp` (already in the build through
/// candle's gemm) calls [`Row::run`] inside a function with those target features enabled, so the
/// plain loops inlined into it vectorise at that width instead of the 4-lane SSE2 that a portable
/// x86-64 binary is otherwise limited to. No `unsafe` on this side.
///
/// Why a trait and not a closure: a closure's body is a function of its own that LLVM compiled
/// outside the target features and did not inline (perf showed the softmax closure as its own
/// symbol, 12% of a pass over long passages, in SSE2); an `#[inline(always)]` trait method is
/// inlined into the dispatched function and compiled with its features.
#[inline(always)]
fn simd(op: impl Row) {
    pulp::Arch::new().dispatch(Dispatch(op));
}

/// One row's work for [`simd`]; implementations are `#[inline(always)]`.
trait Row {
    fn run(self);
}

struct Dispatch<R>(R);

impl<R: Row> pulp::WithSimd for Dispatch<R> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        self.0.run();
    }
}

/// Lanes of the partial sums in [`lane_sum`] and [`lane_max`]: a float reduction in one
/// accumulator is a serial chain the compiler may not reorder; eight independent ones vectorise.
const LANES: usize = 8;

/// `xs.iter().map(f).sum()`, in [`LANES`] interleaved partial sums.
#[inline(always)]
fn lane_sum(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for chunk in chunks {
        for (acc, &x) in acc.iter_mut().zip(chunk) {
            *acc += f(x);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The largest value of `xs` (`-inf` for none), in [`LANES`] interleaved partial maxima.
#[inline(always)]
fn lane_max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for chunk in chunks {
        for (acc, &x) in acc.iter_mut().zip(chunk) {
            *acc = acc.max(x);
        }
    }
    acc.iter().fold(tail, |m, &x| m.max(x))
}

/// `erf(x)` for f32 to within 1e-6 absolute (tested): the rational approximation Eigen and XLA
/// use for f32. No branches and no calls, so the compiler vectorises loops over it, unlike libm's
/// `erff`.
#[inline(always)]
// The coefficients as published (Eigen's `generic_fast_erf_float`), not rounded to f32 by hand.
#[allow(clippy::excessive_precision)]
pub(super) fn erf(x: f32) -> f32 {
    // Beyond ±4, erf is ±1 to f32 precision. Plain multiply-adds rather than `mul_add`, which is a
    // library call on x86-64 builds without the FMA target feature.
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08;
    p = x2 * p - 2.10102402082508e-06;
    p = x2 * p - 5.69250639462346e-05;
    p = x2 * p - 7.34990630326855e-04;
    p = x2 * p - 2.95459980854025e-03;
    p = x2 * p - 1.60960333262415e-02;
    let mut q = x2 * -1.45660718464996e-05 - 2.13374055278905e-04;
    q = x2 * q - 1.68282697438203e-03;
    q = x2 * q - 7.37332916720468e-03;
    q = x2 * q - 1.42647390514189e-02;
    x * p / q
}

/// `e^x` for f32 `x <= 0` (softmax arguments after the maximum is subtracted), to within 2e-7
/// relative (tested: 5e-7 is the bound checked), Cephes' `expf` polynomial. Like [`erf`], it has no branches and no calls,
/// so the softmax loop vectorises instead of calling libm's `expf` once per score.
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub(super) fn exp(x: f32) -> f32 {
    // e^x = 2^n * e^r with n = round(x / ln 2) and |r| <= ln 2 / 2. Adding and subtracting
    // 1.5 * 2^23 rounds to the nearest integer without a call to `roundf`.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 0.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    // ln 2 split in two so that n * ln 2 is exact to f32 precision.
    let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let e_r = p * r * r + r + 1.0;
    // 2^n through the exponent bits; n is in [-126, 0] after the clamp, a normal f32.
    e_r * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// BERT's exact (erf) GELU, as in `torch.nn.functional.gelu` with its default `approximate="none"`.
#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

struct BiasGelu;

impl CustomOp2 for BiasGelu {
    fn name(&self) -> &'static str {
        "bias-gelu"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let xs_data = f32_slice(self.name(), xs, xs_layout)?;
        let bias = f32_slice(self.name(), bias, bias_layout)?;
        let width = bias.len();
        if width == 0 || xs_layout.dims().last() != Some(&width) || bias_layout.dims().len() != 1 {
            bail!(
                "bias-gelu: bias {:?} does not match the last dimension of {:?}",
                bias_layout.dims(),
                xs_layout.dims()
            )
        }
        let mut out = vec![0f32; xs_data.len()];
        out.par_chunks_mut(width)
            .zip(xs_data.par_chunks(width))
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|(out, row)| simd(GeluRow { out, row, bias }));
        Ok((CpuStorage::F32(out), xs_layout.shape().clone()))
    }
}

struct GeluRow<'a> {
    out: &'a mut [f32],
    row: &'a [f32],
    bias: &'a [f32],
}

impl Row for GeluRow<'_> {
    #[inline(always)]
    fn run(self) {
        for ((out, &x), &b) in self.out.iter_mut().zip(self.row).zip(self.bias) {
            *out = gelu(x + b);
        }
    }
}

/// `gelu(xs + bias)`, `bias` broadcast over the last dimension of `xs`.
pub(super) fn bias_gelu(xs: &Tensor, bias: &Tensor) -> Result<Tensor> {
    xs.apply_op2_no_bwd(bias, &BiasGelu)
}

struct AddNorm {
    eps: f32,
}

impl CustomOp3 for AddNorm {
    fn name(&self) -> &'static str {
        "add-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        residual: &CpuStorage,
        residual_layout: &Layout,
        params: &CpuStorage,
        params_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let xs_data = f32_slice(self.name(), xs, xs_layout)?;
        let residual = f32_slice(self.name(), residual, residual_layout)?;
        let params = f32_slice(self.name(), params, params_layout)?;
        let &[3, width] = params_layout.dims() else {
            bail!(
                "add-norm: params must be (3, width) [bias, gamma, beta], got {:?}",
                params_layout.dims()
            )
        };
        if width == 0
            || xs_layout.dims() != residual_layout.dims()
            || xs_layout.dims().last() != Some(&width)
        {
            bail!(
                "add-norm: {:?} + {:?} does not match width {width}",
                xs_layout.dims(),
                residual_layout.dims()
            )
        }
        let (bias, rest) = params.split_at(width);
        let (gamma, beta) = rest.split_at(width);
        let eps = self.eps;
        let mut out = vec![0f32; xs_data.len()];
        out.par_chunks_mut(width)
            .zip(xs_data.par_chunks(width).zip(residual.par_chunks(width)))
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|(out, (row, res))| {
                simd(NormRow {
                    out,
                    row,
                    res,
                    bias,
                    gamma,
                    beta,
                    eps,
                })
            });
        Ok((CpuStorage::F32(out), xs_layout.shape().clone()))
    }
}

struct NormRow<'a> {
    out: &'a mut [f32],
    row: &'a [f32],
    res: &'a [f32],
    bias: &'a [f32],
    gamma: &'a [f32],
    beta: &'a [f32],
    eps: f32,
}

impl Row for NormRow<'_> {
    #[inline(always)]
    fn run(self) {
        let out = self.out;
        let width = out.len() as f32;
        for (((out, &x), &r), &b) in out.iter_mut().zip(self.row).zip(self.res).zip(self.bias) {
            *out = x + r + b;
        }
        let mean = lane_sum(out, |v| v) / width;
        let var = lane_sum(out, |v| (v - mean) * (v - mean)) / width;
        let inv = 1.0 / (var + self.eps).sqrt();
        for ((out, &g), &b) in out.iter_mut().zip(self.gamma).zip(self.beta) {
            *out = (*out - mean) * inv * g + b;
        }
    }
}

/// `layer_norm(xs + residual + bias) * gamma + beta` over the last dimension; `params` holds the
/// rows `[bias, gamma, beta]`, shape `(3, width)`.
pub(super) fn add_norm(
    xs: &Tensor,
    residual: &Tensor,
    params: &Tensor,
    eps: f32,
) -> Result<Tensor> {
    xs.apply_op3_no_bwd(residual, params, &AddNorm { eps })
}

/// Where each sequence of a packed batch sits: sequence `b` is rows `starts[b]..starts[b] +
/// lengths[b]` of the packed `(tokens, width)` activations, and position `s < seq` of the padded
/// `(batch, heads, seq, head_dim)` layout attention uses.
#[derive(Debug, Clone)]
pub(super) struct Packing {
    starts: Vec<usize>,
    lengths: Vec<usize>,
    tokens: usize,
    seq: usize,
}

impl Packing {
    pub(super) fn new(lengths: &[usize]) -> Self {
        let mut starts = Vec::with_capacity(lengths.len());
        let mut tokens = 0;
        for &len in lengths {
            starts.push(tokens);
            tokens += len;
        }
        Self {
            starts,
            lengths: lengths.to_vec(),
            tokens,
            seq: lengths.iter().copied().max().unwrap_or(0),
        }
    }

    fn batch(&self) -> usize {
        self.lengths.len()
    }
}

struct SplitHeads<'a> {
    packing: &'a Packing,
    heads: usize,
}

impl CustomOp2 for SplitHeads<'_> {
    fn name(&self) -> &'static str {
        "split-heads"
    }

    fn cpu_fwd(
        &self,
        qkv: &CpuStorage,
        qkv_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let qkv = f32_slice(self.name(), qkv, qkv_layout)?;
        let bias = f32_slice(self.name(), bias, bias_layout)?;
        let (packing, heads) = (self.packing, self.heads);
        let (batch, seq) = (packing.batch(), packing.seq);
        let width = bias.len();
        if heads == 0
            || seq == 0
            || width == 0
            || !width.is_multiple_of(3 * heads)
            || qkv_layout.dims() != [packing.tokens, width]
        {
            bail!(
                "split-heads: {:?} is not ({}, {width}) with {heads} heads",
                qkv_layout.dims(),
                packing.tokens
            )
        }
        let head_dim = width / (3 * heads);
        // Output row (part, b, h, s) of length head_dim, taken from packed row starts[b] + s at
        // column part*heads*head_dim + h*head_dim; rows past the sequence's end stay zero.
        // Parallel over (part, b, h) blocks of `seq` rows.
        let mut out = vec![0f32; 3 * batch * heads * seq * head_dim];
        out.par_chunks_mut(seq * head_dim)
            .enumerate()
            .for_each(|(block, out)| {
                let (part, b, h) = (
                    block / (batch * heads),
                    block / heads % batch,
                    block % heads,
                );
                let column = part * heads * head_dim + h * head_dim;
                let bias = &bias[column..column + head_dim];
                let (start, len) = (packing.starts[b], packing.lengths[b]);
                for (s, out) in out.chunks_mut(head_dim).take(len).enumerate() {
                    let from = (start + s) * width + column;
                    for ((out, &x), &b) in out.iter_mut().zip(&qkv[from..from + head_dim]).zip(bias)
                    {
                        *out = x + b;
                    }
                }
            });
        Ok((
            CpuStorage::F32(out),
            Shape::from((3, batch, heads, seq, head_dim)),
        ))
    }
}

/// Adds `bias` to the fused projection `qkv` (packed `(tokens, 3*heads*head_dim)`, columns
/// ordered queries | keys | values) and returns it padded as `(3, batch, heads, seq, head_dim)`.
pub(super) fn split_heads(
    qkv: &Tensor,
    bias: &Tensor,
    packing: &Packing,
    heads: usize,
) -> Result<Tensor> {
    qkv.apply_op2_no_bwd(bias, &SplitHeads { packing, heads })
}

struct MergeHeads<'a> {
    packing: &'a Packing,
}

impl CustomOp1 for MergeHeads<'_> {
    fn name(&self) -> &'static str {
        "merge-heads"
    }

    fn cpu_fwd(&self, context: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let context = f32_slice(self.name(), context, layout)?;
        let packing = self.packing;
        let &[batch, heads, seq, head_dim] = layout.dims() else {
            bail!(
                "merge-heads: expects (batch, heads, seq, head_dim), got {:?}",
                layout.dims()
            )
        };
        if batch != packing.batch() || seq != packing.seq || heads * head_dim == 0 {
            bail!(
                "merge-heads: {:?} does not fit {} sequences of at most {} tokens",
                layout.dims(),
                packing.batch(),
                packing.seq
            )
        }
        let width = heads * head_dim;
        // Packed row t (position s of sequence b) is the concatenation over heads of the padded
        // rows (b, h, s): the inverse of `split_heads`, dropping the padding.
        let mut out = vec![0f32; packing.tokens * width];
        out.par_chunks_mut(width)
            .enumerate()
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|(token, out)| {
                let b = packing.starts.partition_point(|&start| start <= token) - 1;
                let s = token - packing.starts[b];
                for (h, out) in out.chunks_mut(head_dim).enumerate() {
                    let from = ((b * heads + h) * seq + s) * head_dim;
                    out.copy_from_slice(&context[from..from + head_dim]);
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((packing.tokens, width))))
    }
}

/// Attention's `(batch, heads, seq, head_dim)` output back to packed `(tokens, heads*head_dim)`
/// rows, padding dropped.
pub(super) fn merge_heads(context: &Tensor, packing: &Packing) -> Result<Tensor> {
    context.apply_op1_no_bwd(&MergeHeads { packing })
}

struct MaskedSoftmax;

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(
        &self,
        scores: &CpuStorage,
        scores_layout: &Layout,
        mask: &CpuStorage,
        mask_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let scores = f32_slice(self.name(), scores, scores_layout)?;
        let mask = f32_slice(self.name(), mask, mask_layout)?;
        let (&[batch, heads, rows, seq], &[mask_batch, mask_seq]) =
            (scores_layout.dims(), mask_layout.dims())
        else {
            bail!(
                "masked-softmax: scores must be (batch, heads, rows, seq) and the mask (batch, seq), got {:?} and {:?}",
                scores_layout.dims(),
                mask_layout.dims()
            )
        };
        if (mask_batch, mask_seq) != (batch, seq) || seq == 0 {
            bail!(
                "masked-softmax: mask ({mask_batch}, {mask_seq}) does not fit scores ({batch}, _, _, {seq})"
            )
        }
        let mut out = vec![0f32; scores.len()];
        out.par_chunks_mut(seq)
            .zip(scores.par_chunks(seq))
            .enumerate()
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|(row, (out, scores))| {
                let mask = &mask[row / (heads * rows) * seq..][..seq];
                // A padding position's own attention row is never read (its output is dropped
                // when the heads are merged back into packed rows): skip the work.
                if rows == seq && mask[row % rows] != 0.0 {
                    return;
                }
                simd(SoftmaxRow { out, scores, mask })
            });
        Ok((CpuStorage::F32(out), scores_layout.shape().clone()))
    }
}

struct SoftmaxRow<'a> {
    out: &'a mut [f32],
    scores: &'a [f32],
    mask: &'a [f32],
}

impl Row for SoftmaxRow<'_> {
    #[inline(always)]
    fn run(self) {
        let out = self.out;
        for ((out, &s), &m) in out.iter_mut().zip(self.scores).zip(self.mask) {
            *out = s + m;
        }
        let max = lane_max(out);
        for out in out.iter_mut() {
            // Padding sits ~3.4e38 below the maximum: its weight is exactly 0, as in Hugging
            // Face's softmax; e^-80 is already negligible next to 1.
            let shifted = *out - max;
            *out = if shifted < -80.0 { 0.0 } else { exp(shifted) };
        }
        let sum = lane_sum(out, |v| v);
        let inv = 1.0 / sum;
        for out in out.iter_mut() {
            *out *= inv;
        }
    }
}

/// `softmax(scores + mask)` over the last dimension; `scores` is `(batch, heads, rows, seq)` and
/// `mask` `(batch, seq)` holds 0 for real tokens and a large negative number for padding.
pub(super) fn masked_softmax(scores: &Tensor, mask: &Tensor) -> Result<Tensor> {
    scores.apply_op2_no_bwd(mask, &MaskedSoftmax)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{D, Device};

    fn random(shape: &[usize], seed: u64) -> Tensor {
        // A small LCG: deterministic inputs without a dependency on a random-number crate.
        let count: usize = shape.iter().product();
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let data: Vec<f32> = (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 6.0
            })
            .collect();
        Tensor::from_vec(data, shape, &Device::Cpu).expect("tensor")
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.flatten_all())
            .and_then(|d| d.max(0))
            .and_then(|d| d.to_scalar::<f32>())
            .expect("difference")
    }

    #[test]
    fn erf_matches_libm_everywhere_that_matters() {
        let mut worst = 0f32;
        for i in -80_000..=80_000 {
            let x = i as f32 / 10_000.0;
            worst = worst.max((erf(x) - libm_erf(x)).abs());
        }
        assert!(worst < 1e-6, "max |erf - libm erff| on [-8, 8] is {worst}");
        assert_eq!(erf(0.0), 0.0);
        assert!(erf(f32::INFINITY) == 1.0 && erf(f32::NEG_INFINITY) == -1.0);
    }

    #[test]
    fn lane_reductions_match_plain_ones() {
        for len in [0usize, 1, 7, 8, 9, 31, 384] {
            let xs: Vec<f32> = (0..len).map(|i| ((i * 37) % 101) as f32 - 50.0).collect();
            assert_eq!(lane_sum(&xs, |v| v), xs.iter().sum::<f32>(), "sum of {len}");
            let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(lane_max(&xs), max, "max of {len}");
        }
    }

    #[test]
    fn exp_matches_libm_on_softmax_arguments() {
        let mut worst = 0f32;
        for i in 0..=870_000 {
            let x = -(i as f32) / 10_000.0;
            let (got, want) = (exp(x), x.exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(
            worst < 5e-7,
            "max relative error of exp on [-87, 0] is {worst}"
        );
        assert_eq!(exp(0.0), 1.0);
    }

    /// candle's own erf (libm's `erff`), through its `gelu_erf`: gelu(x)/(0.5x) - 1 = erf(x/√2).
    fn libm_erf(x: f32) -> f32 {
        let t = Tensor::new(&[x * std::f32::consts::SQRT_2], &Device::Cpu).expect("tensor");
        let g = t.gelu_erf().and_then(|g| g.to_vec1::<f32>()).expect("gelu")[0];
        if x == 0.0 {
            0.0
        } else {
            g / (0.5 * x * std::f32::consts::SQRT_2) - 1.0
        }
    }

    #[test]
    fn bias_gelu_matches_candle() {
        let xs = random(&[37, 24], 1);
        let bias = random(&[24], 2);
        let expected = xs
            .broadcast_add(&bias)
            .and_then(|x| x.gelu_erf())
            .expect("reference");
        let got = bias_gelu(&xs, &bias).expect("fused");
        assert!(max_abs_diff(&got, &expected) < 1e-5);
    }

    #[test]
    fn add_norm_matches_candle() {
        let (xs, residual) = (random(&[2, 19, 16], 3), random(&[2, 19, 16], 4));
        let (bias, gamma, beta) = (random(&[16], 5), random(&[16], 6), random(&[16], 7));
        let params = Tensor::stack(&[&bias, &gamma, &beta], 0).expect("params");
        let summed = (xs.broadcast_add(&bias).expect("bias") + &residual).expect("sum");
        let expected = (|| {
            let centered = summed.broadcast_sub(&summed.mean_keepdim(D::Minus1)?)?;
            let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
            let normed = centered.broadcast_div(&(var + 1e-12)?.sqrt()?)?;
            normed.broadcast_mul(&gamma)?.broadcast_add(&beta)
        })()
        .expect("reference");
        let got = add_norm(&xs, &residual, &params, 1e-12).expect("fused");
        assert!(max_abs_diff(&got, &expected) < 1e-4);
    }

    #[test]
    fn split_heads_matches_reshape_and_permute() {
        let (batch, seq, heads, head_dim) = (3, 5, 4, 2);
        let qkv = random(&[batch * seq, 3 * heads * head_dim], 8);
        let bias = random(&[3 * heads * head_dim], 9);
        let expected = qkv
            .broadcast_add(&bias)
            .and_then(|x| x.reshape((batch, seq, 3, heads, head_dim)))
            .and_then(|x| x.permute((2, 0, 3, 1, 4)))
            .and_then(|x| x.contiguous())
            .expect("reference");
        let got = split_heads(&qkv, &bias, &Packing::new(&[seq; 3]), heads).expect("fused");
        assert_eq!(max_abs_diff(&got, &expected), 0.0);
        // Merging the heads back gives the biased projection's rows again, part by part.
        let queries = got.get(0).expect("queries");
        let merged = merge_heads(&queries, &Packing::new(&[seq; 3])).expect("merged");
        let expected_queries = qkv
            .broadcast_add(&bias)
            .and_then(|x| x.narrow(1, 0, heads * head_dim))
            .expect("reference");
        assert_eq!(max_abs_diff(&merged, &expected_queries), 0.0);
    }

    #[test]
    fn packed_sequences_split_padded_and_merge_back_without_padding() {
        let (heads, head_dim, lengths) = (2, 3, [2usize, 4, 1]);
        let packing = Packing::new(&lengths);
        let qkv = random(&[7, 3 * heads * head_dim], 22);
        let bias = random(&[3 * heads * head_dim], 23);
        let got = split_heads(&qkv, &bias, &packing, heads).expect("split");
        assert_eq!(got.dims(), [3, 3, heads, 4, head_dim]);
        let biased = qkv.broadcast_add(&bias).expect("bias");
        let flat = got
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .expect("flat");
        let rows = biased.to_vec2::<f32>().expect("rows");
        let mut starts = 0;
        for (b, &len) in lengths.iter().enumerate() {
            for h in 0..heads {
                for s in 0..4 {
                    for part in 0..3 {
                        let at = (((part * 3 + b) * heads + h) * 4 + s) * head_dim;
                        let cell = &flat[at..at + head_dim];
                        if s < len {
                            let column = part * heads * head_dim + h * head_dim;
                            assert_eq!(cell, &rows[starts + s][column..column + head_dim]);
                        } else {
                            assert!(cell.iter().all(|&x| x == 0.0), "padding is zero");
                        }
                    }
                }
            }
            starts += len;
        }
        let merged = merge_heads(&got.get(2).expect("values"), &packing).expect("merged");
        let expected = biased
            .narrow(1, 2 * heads * head_dim, heads * head_dim)
            .expect("values");
        assert_eq!(max_abs_diff(&merged, &expected), 0.0);
    }

    #[test]
    fn masked_softmax_matches_candle_and_ignores_padding() {
        let (batch, heads, seq) = (2, 3, 6);
        let scores = random(&[batch, heads, seq, seq], 10);
        let keep = [1f32, 1., 1., 1., 0., 0., 1., 1., 1., 1., 1., 1.];
        let mask: Vec<f32> = keep.iter().map(|k| (1.0 - k) * f32::MIN).collect();
        let mask = Tensor::from_vec(mask, (batch, seq), &Device::Cpu).expect("mask");
        let expected = scores
            .broadcast_add(
                &mask
                    .unsqueeze(1)
                    .and_then(|m| m.unsqueeze(1))
                    .expect("mask"),
            )
            .and_then(|s| {
                let exp = s.broadcast_sub(&s.max_keepdim(D::Minus1)?)?.exp()?;
                exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)
            })
            .expect("reference");
        let got = masked_softmax(&scores, &mask).expect("fused");
        // Rows of real query positions match; the rows of padding positions are never read,
        // so they are left at zero.
        let (got_rows, expected_rows) = (
            got.flatten_to(2)
                .and_then(|t| t.to_vec2::<f32>())
                .expect("got"),
            expected
                .flatten_to(2)
                .and_then(|t| t.to_vec2::<f32>())
                .expect("expected"),
        );
        for (row, (g, e)) in got_rows.iter().zip(&expected_rows).enumerate() {
            let (b, query) = (row / (heads * seq), row % seq);
            if keep[b * seq + query] == 1.0 {
                for (g, e) in g.iter().zip(e) {
                    assert!((g - e).abs() < 1e-6);
                }
            } else {
                assert!(g.iter().all(|&x| x == 0.0));
            }
        }
        // The padded positions of the first sequence get no attention at all.
        let first = got
            .get(0)
            .and_then(|g| g.get(0))
            .and_then(|g| g.to_vec2::<f32>())
            .expect("row");
        assert!(first.iter().all(|row| row[4] == 0.0 && row[5] == 0.0));
    }

    #[test]
    fn kernels_reject_mismatched_shapes() {
        let xs = random(&[4, 8], 11);
        assert!(bias_gelu(&xs, &random(&[7], 12)).is_err());
        assert!(add_norm(&xs, &random(&[4, 7], 13), &random(&[3, 8], 14), 1e-12).is_err());
        assert!(add_norm(&xs, &random(&[4, 8], 13), &random(&[2, 8], 14), 1e-12).is_err());
        assert!(split_heads(&xs, &random(&[8], 15), &Packing::new(&[2, 2]), 3).is_err());
        assert!(merge_heads(&random(&[2, 2, 3, 2], 24), &Packing::new(&[3, 1, 1])).is_err());
        assert!(masked_softmax(&random(&[1, 2, 3, 4], 16), &random(&[1, 3], 17)).is_err());
        // Empty widths are refused rather than split into zero-length rows.
        assert!(bias_gelu(&random(&[4, 0], 18), &random(&[0], 19)).is_err());
        assert!(
            split_heads(
                &random(&[0, 6], 20),
                &random(&[6], 21),
                &Packing::new(&[0]),
                2
            )
            .is_err()
        );
        let ints = Tensor::new(&[[1u32, 2], [3, 4]], &Device::Cpu).expect("ints");
        assert!(bias_gelu(&ints, &Tensor::new(&[1u32, 2], &Device::Cpu).expect("ints")).is_err());
    }
}
