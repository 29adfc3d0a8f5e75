//! The AVX-512 kernel of this crate: six tokens × one packed panel of [`NR`] columns per block,
//! in 24 accumulators of 16 i32 lanes, each step one 4-byte broadcast per token and four 64-byte
//! weight loads for 24 multiply-add instructions (`vpmaddwd` + `vpaddd`, fused into `vpdpwssd`
//! by the compiler where VNNI makes that pay).
//!
//! `pulp` enters the function compiled with these target features after checking the CPU at
//! run time; everything here is its safe wrappers, so no `unsafe` is needed on this side.

use core::arch::x86_64::__m512i;

use super::{Kernel, NR, QuantLinear};

pulp::simd_type! {
    /// x86-64-v4 (AVX-512 F, BW, CD, DQ, VL with AVX2 and FMA below it) plus AVX-512 VNNI:
    /// Ice Lake and later Xeons, Zen 4 and later EPYCs.
    struct Avx512Vnni {
        sse: "sse", sse2: "sse2", fxsr: "fxsr", sse3: "sse3", ssse3: "ssse3",
        sse41: "sse4.1", sse42: "sse4.2", popcnt: "popcnt", avx: "avx", avx2: "avx2",
        bmi1: "bmi1", bmi2: "bmi2", fma: "fma", lzcnt: "lzcnt",
        avx512f: "avx512f", avx512bw: "avx512bw", avx512cd: "avx512cd",
        avx512dq: "avx512dq", avx512vl: "avx512vl", avx512vnni: "avx512vnni",
    }
}

/// Tokens per block: 24 accumulators + 4 weight vectors + a broadcast fit the 32 registers.
const MR: usize = 6;

pub(super) fn available() -> bool {
    Avx512Vnni::is_available()
}

/// One task's rows with this kernel; `false` (nothing written) when the CPU lacks the features.
pub(super) fn rows(weight: &QuantLinear, x: &[f32], out: &mut [f32]) -> bool {
    let Some(simd) = Avx512Vnni::try_new() else {
        return false;
    };
    simd.vectorize(Rows {
        simd,
        weight,
        x,
        out,
    });
    true
}

/// The work handed to `vectorize`, as a type of its own rather than a closure: a closure is
/// called through `FnOnce::call_once`, a shim the compiler may keep out of line, and code
/// inlined into it (rather than into the function `pulp` compiles with AVX-512 enabled) calls
/// every intrinsic as a function: 20× slower than f32, seen in a release build.
struct Rows<'a> {
    simd: Avx512Vnni,
    weight: &'a QuantLinear,
    x: &'a [f32],
    out: &'a mut [f32],
}

impl pulp::NullaryFnOnce for Rows<'_> {
    type Output = ();

    #[inline(always)]
    fn call(self) {
        self.weight.rows_with(self.simd, self.x, self.out);
    }
}

impl Kernel for Avx512Vnni {
    #[inline(always)]
    fn gemm(
        self,
        x: &[i16],
        rows: usize,
        kpad: usize,
        packed: &[i16],
        sink: &mut impl FnMut(usize, usize, &[i32; NR]),
    ) {
        panels(self, x, rows, kpad, packed, sink);
    }
}

/// The kernel alone, for the tests that hold it to the portable one; `None` without the
/// features.
#[cfg(test)]
pub(super) fn gemm(x: &[i16], rows: usize, kpad: usize, packed: &[i16], sums: &mut [i32]) -> bool {
    struct Gemm<'a>(
        Avx512Vnni,
        &'a [i16],
        usize,
        usize,
        &'a [i16],
        &'a mut [i32],
    );
    impl pulp::NullaryFnOnce for Gemm<'_> {
        type Output = ();
        #[inline(always)]
        fn call(self) {
            let width = self.4.len() / self.3;
            let sink = &mut super::tests::into_matrix(self.5, width);
            panels(self.0, self.1, self.2, self.3, self.4, sink)
        }
    }
    let Some(simd) = Avx512Vnni::try_new() else {
        return false;
    };
    simd.vectorize(Gemm(simd, x, rows, kpad, packed, sums));
    true
}

#[inline(always)]
fn panels(
    simd: Avx512Vnni,
    x: &[i16],
    rows: usize,
    kpad: usize,
    packed: &[i16],
    sink: &mut impl FnMut(usize, usize, &[i32; NR]),
) {
    for (panel_index, panel) in packed.chunks_exact(kpad * NR).enumerate() {
        let mut start = 0;
        let mut store = |start: usize, acc: &[[i32; NR]]| {
            for (r, acc) in acc.iter().enumerate() {
                sink(start + r, panel_index, acc);
            }
        };
        let row = |r: usize| &x[r * kpad..(r + 1) * kpad];
        while start + MR <= rows {
            let acc = block::<MR>(simd, std::array::from_fn(|r| row(start + r)), panel);
            store(start, &acc);
            start += MR;
        }
        // The last 1–5 tokens in one block of their own size: one at a time would load every
        // weight vector once per token.
        match rows - start {
            0 => {}
            1 => store(start, &block::<1>(simd, [row(start)], panel)),
            2 => store(
                start,
                &block::<2>(simd, std::array::from_fn(|r| row(start + r)), panel),
            ),
            3 => store(
                start,
                &block::<3>(simd, std::array::from_fn(|r| row(start + r)), panel),
            ),
            4 => store(
                start,
                &block::<4>(simd, std::array::from_fn(|r| row(start + r)), panel),
            ),
            _ => store(
                start,
                &block::<5>(simd, std::array::from_fn(|r| row(start + r)), panel),
            ),
        }
    }
}

/// One 64-byte vector from 32 i16s.
#[inline(always)]
fn load(values: &[i16]) -> __m512i {
    let values: &[i16; 32] = values.try_into().expect("a 32-value slice");
    bytemuck::cast(*values)
}

/// `R` rows × one panel. The loops over rows and the four vectors have constant bounds and are
/// unrolled, so the accumulators stay in registers; they are read out once, at the end.
#[inline(always)]
fn block<const R: usize>(simd: Avx512Vnni, x: [&[i16]; R], panel: &[i16]) -> [[i32; NR]; R] {
    let zero = simd.avx512f._mm512_setzero_si512();
    let mut acc = [[zero; 4]; R];
    for (pair, w) in panel.chunks_exact(2 * NR).enumerate() {
        let w = [
            load(&w[0..32]),
            load(&w[32..64]),
            load(&w[64..96]),
            load(&w[96..128]),
        ];
        for (acc, x) in acc.iter_mut().zip(&x) {
            // Both inputs of the pair in one i32, broadcast: vpmaddwd multiplies them with
            // the pair of every column and adds the two products.
            let both = (x[2 * pair] as u16 as u32 | (x[2 * pair + 1] as u16 as u32) << 16) as i32;
            let both = simd.avx512f._mm512_set1_epi32(both);
            for (acc, &w) in acc.iter_mut().zip(&w) {
                let products = simd.avx512bw._mm512_madd_epi16(both, w);
                *acc = simd.avx512f._mm512_add_epi32(*acc, products);
            }
        }
    }
    acc.map(|acc| {
        let mut out = [0i32; NR];
        for (out, acc) in out.chunks_exact_mut(16).zip(acc) {
            out.copy_from_slice(&bytemuck::cast::<__m512i, [i32; 16]>(acc));
        }
        out
    })
}
