//! The quantised product in plain Rust, on the same packed layout as `x86`: what
//! CPUs without AVX-512 run when `EMBEDDING_PRECISION=int16` asks for it, and the reference the
//! fast kernel is tested against (integer sums, so the two must agree exactly).

use super::{Kernel, NR, QuantLinear};

/// Tokens per block: four rows of [`NR`] i32 sums stay in registers or L1.
const MR: usize = 4;

/// One task's rows with the portable kernel, compiled by `pulp` for the widest vector
/// instructions this CPU has (AVX2, NEON).
pub(super) fn rows(weight: &QuantLinear, x: &[f32], out: &mut [f32]) {
    pulp::Arch::new().dispatch(Rows { weight, x, out });
}

struct Rows<'a> {
    weight: &'a QuantLinear,
    x: &'a [f32],
    out: &'a mut [f32],
}

impl pulp::WithSimd for Rows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        self.weight.rows_with(Portable, self.x, self.out);
    }
}

/// The portable kernel; the tests call it directly to hold the AVX-512 one to it.
#[derive(Clone, Copy)]
pub(super) struct Portable;

impl Kernel for Portable {
    #[inline(always)]
    fn gemm(
        self,
        x: &[i16],
        rows: usize,
        kpad: usize,
        packed: &[i16],
        sink: &mut impl FnMut(usize, usize, &[i32; NR]),
    ) {
        for (panel_index, panel) in packed.chunks_exact(kpad * NR).enumerate() {
            let mut start = 0;
            while start < rows {
                let block = MR.min(rows - start);
                let mut acc = [[0i32; NR]; MR];
                for (pair, w) in panel.chunks_exact(2 * NR).enumerate() {
                    for (r, acc) in acc.iter_mut().enumerate().take(block) {
                        let row = &x[(start + r) * kpad..(start + r + 1) * kpad];
                        let (a, b) = (i32::from(row[2 * pair]), i32::from(row[2 * pair + 1]));
                        for (acc, w) in acc.iter_mut().zip(w.chunks_exact(2)) {
                            *acc += a * i32::from(w[0]) + b * i32::from(w[1]);
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate().take(block) {
                    sink(start + r, panel_index, acc);
                }
                start += block;
            }
        }
    }
}
