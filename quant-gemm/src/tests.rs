//! The quantised product against exact integer and f32 references.

use super::*;

#[cfg(target_arch = "x86_64")]
use x86::gemm as fast_gemm;

#[cfg(not(target_arch = "x86_64"))]
fn fast_gemm(_: &[i16], _: usize, _: usize, _: &[i16], _: &mut [i32]) -> bool {
    false
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn int(&mut self, bound: i32) -> i16 {
        ((self.next() % (2 * bound as u64 + 1)) as i32 - bound) as i16
    }
    fn float(&mut self) -> f32 {
        (self.next() % 2_000_001) as f32 / 1_000_000.0 - 1.0
    }
}

/// A kernel sink that writes each row of each panel's sums into a `rows × width` matrix, the
/// layout [`reference_sums`] gives.
pub(super) fn into_matrix(
    sums: &mut [i32],
    width: usize,
) -> impl FnMut(usize, usize, &[i32; NR]) + '_ {
    move |r, panel, acc| {
        let at = r * width + panel * NR;
        sums[at..at + NR].copy_from_slice(acc);
    }
}

fn reference_sums(x: &[i16], rows: usize, kpad: usize, w: &QuantLinear) -> Vec<i32> {
    let width = w.packed.len() / kpad;
    let mut sums = vec![0i32; rows * width];
    for r in 0..rows {
        for col in 0..width {
            let (panel, lane) = (col / NR, col % NR);
            let mut sum = 0i64;
            for i in 0..kpad {
                let weight = w.packed[panel * kpad * NR + (i / 2 * NR + lane) * 2 + i % 2];
                sum += i64::from(x[r * kpad + i]) * i64::from(weight);
            }
            sums[r * width + col] = i32::try_from(sum).expect("no overflow at these levels");
        }
    }
    sums
}

#[test]
fn kernels_compute_the_exact_integer_sums_for_every_shape_and_tail() {
    let mut numbers = Numbers(0x9E37_79B9_7F4A_7C15);
    for &(rows, n, k) in &[
        (1, 1, 1),
        (5, 63, 2),
        (6, 64, 33),
        (7, 65, 384),
        // Tails of 2 and 4 rows after whole blocks: each tail size runs a block of its own.
        (8, 64, 384),
        (10, 70, 384),
        (13, 130, 384),
        (24, 192, 1536),
        (3, 384, 1536),
    ] {
        let weights: Vec<f32> = (0..n * k).map(|_| numbers.float()).collect();
        let w = QuantLinear::from_rows(&weights, n, k).expect("test value");
        // Activations at the extremes of the range included, where an overflow would show.
        let mut x: Vec<i16> = (0..rows * w.kpad)
            .map(|i| match i % 7 {
                0 => w.levels as i16,
                1 => -(w.levels as i16),
                _ => numbers.int(w.levels),
            })
            .collect();
        for r in 0..rows {
            for i in k..w.kpad {
                x[r * w.kpad + i] = 0;
            }
        }
        let expected = reference_sums(&x, rows, w.kpad, &w);
        let mut portable = vec![0i32; expected.len()];
        let width = w.packed.len() / w.kpad;
        portable::Portable.gemm(
            &x,
            rows,
            w.kpad,
            &w.packed,
            &mut into_matrix(&mut portable, width),
        );
        assert_eq!(portable, expected, "portable kernel, {rows}×{n}×{k}");
        let mut fast = vec![0i32; expected.len()];
        if fast_gemm(&x, rows, w.kpad, &w.packed, &mut fast) {
            assert_eq!(fast, expected, "AVX-512 kernel, {rows}×{n}×{k}");
        } else {
            eprintln!("this CPU has no AVX-512 VNNI: only the portable kernel was checked");
        }
    }
}

#[test]
fn the_largest_products_cannot_overflow() {
    for k in [1, 2, 384, 1536, 4096, 30_000] {
        let levels = i64::from(levels(k).expect("test value"));
        assert!(k as i64 * levels * levels <= i64::from(i32::MAX), "k = {k}");
        assert!(levels <= i64::from(i16::MAX));
    }
    assert_eq!(levels(384), Some(2364));
    assert_eq!(levels(1536), Some(1182));
    assert_eq!(levels(200_000), None, "fewer levels than int8 is refused");
}

#[test]
fn the_product_matches_f32_within_the_quantisation_step() {
    let mut numbers = Numbers(7);
    let (m, n, k) = (37, 200, 384);
    let weights: Vec<f32> = (0..n * k).map(|_| numbers.float()).collect();
    // Activations with an outlier per row, as BERT's hidden states have.
    let x: Vec<f32> = (0..m * k)
        .map(|i| if i % k == 5 { 8.0 } else { numbers.float() })
        .collect();
    let w = QuantLinear::from_rows(&weights, n, k).expect("test value");
    for fast in [false, true] {
        let y = w.matmul(&x, fast);
        for r in 0..m {
            for c in 0..n {
                let row = &x[r * k..(r + 1) * k];
                let col = &weights[c * k..(c + 1) * k];
                let exact: f64 = row
                    .iter()
                    .zip(col)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum();
                // Rounding each operand moves it by at most half a step; summed over k products.
                let row_step = 8.0 / f64::from(w.levels);
                let col_step = f64::from(w.scales[c]);
                let bound = (0..k)
                    .map(|i| {
                        row_step / 2.0 * f64::from(col[i].abs())
                            + col_step / 2.0 * f64::from(row[i].abs())
                            + row_step * col_step / 4.0
                    })
                    .sum::<f64>();
                let got = f64::from(y[r * n + c]);
                assert!(
                    (got - exact).abs() <= bound * 1.01 + 1e-5,
                    "({r}, {c}): {got} vs {exact}, bound {bound}"
                );
            }
        }
    }
}

#[test]
fn zero_and_non_finite_rows_are_kept_honest() {
    let w = QuantLinear::from_rows(&[1.0, -2.0, 0.5, 0.25], 2, 2).expect("test value");
    let y = w.matmul(&[0.0, 0.0, f32::NAN, 1.0, f32::INFINITY, 1.0], true);
    assert_eq!(&y[..2], &[0.0, 0.0], "a row of zeros gives zeros");
    assert!(
        y[2..].iter().all(|v| v.is_nan()),
        "NaN or infinite inputs give NaN, not numbers: {y:?}"
    );
}

#[test]
fn bad_weights_are_refused_with_a_reason() {
    let err = QuantLinear::from_rows(&[1.0, f32::NAN], 1, 2)
        .err()
        .expect("test value");
    assert!(err.contains("not finite"), "{err}");
    // The first bad row is named, wherever the rows were checked.
    let mut rows = vec![0.5f32; 64 * 4];
    rows[37 * 4 + 2] = f32::INFINITY;
    rows[50 * 4] = f32::NAN;
    let err = QuantLinear::from_rows(&rows, 64, 4)
        .err()
        .expect("test value");
    assert!(err.contains("row 37 "), "{err}");
    let err = QuantLinear::from_rows(&[1.0, 2.0, 3.0], 2, 2)
        .err()
        .expect("test value");
    assert!(err.contains("2 × 2"), "{err}");
    // A row of zeros is fine: its outputs are zero.
    let w = QuantLinear::from_rows(&[0.0, 0.0, 1.0, 1.0], 2, 2).expect("test value");
    let y = w.matmul(&[3.0, 4.0], false);
    assert_eq!(y[0], 0.0);
    assert!((y[1] - 7.0).abs() < 1e-3, "{y:?}");
}

#[test]
fn a_stored_matrix_comes_back_only_when_it_is_sound() {
    let mut numbers = Numbers(11);
    let (n, k) = (70, 33);
    let weights: Vec<f32> = (0..n * k).map(|_| numbers.float()).collect();
    let w = QuantLinear::from_rows(&weights, n, k).expect("test value");
    let back = QuantLinear::from_parts(n, k, w.scales().to_vec(), w.packed().to_vec())
        .expect("the parts of a matrix make it again");
    let x: Vec<f32> = (0..5 * k).map(|_| numbers.float()).collect();
    assert_eq!(back.matmul(&x, true), w.matmul(&x, true));

    let err = QuantLinear::from_parts(n, k, w.scales()[1..].to_vec(), w.packed().to_vec())
        .err()
        .expect("a scale is missing");
    assert!(err.contains("69 scales for 70 rows"), "{err}");
    let err = QuantLinear::from_parts(n, k, w.scales().to_vec(), w.packed()[1..].to_vec())
        .err()
        .expect("a value is missing");
    assert!(err.contains("packed values"), "{err}");
    let mut scales = w.scales().to_vec();
    scales[3] = f32::NAN;
    let err = QuantLinear::from_parts(n, k, scales, w.packed().to_vec())
        .err()
        .expect("a NaN scale");
    assert!(err.contains("row 3"), "{err}");
    // An integer past the levels could overflow the kernels' i32 sums.
    let mut packed = w.packed().to_vec();
    let last = packed.len() - 1;
    packed[last] = w.levels as i16 + 1;
    let err = QuantLinear::from_parts(n, k, w.scales().to_vec(), packed)
        .err()
        .expect("a value beyond the levels");
    assert!(err.contains("panel 1 "), "{err}");
}

#[test]
fn rows_are_checked_against_the_weights_they_came_from() {
    let mut numbers = Numbers(5);
    let (n, k) = (130, 384);
    let mut weights: Vec<f32> = (0..n * k).map(|_| numbers.float()).collect();
    let w = QuantLinear::from_rows(&weights, n, k).expect("test value");
    for row in [0, 63, 64, 129] {
        assert!(
            w.matches_row(row, &weights[row * k..(row + 1) * k]),
            "row {row}"
        );
    }
    assert!(!w.matches_row(1, &weights[..k]), "another row's weights");
    assert!(!w.matches_row(130, &weights[..k]), "a row past the end");
    assert!(!w.matches_row(0, &weights[..k - 1]), "a short row");
    // A weight that moves by less than a step changes nothing; one that moves by more does.
    weights[7] += w.scales()[0] * 3.0;
    assert!(!w.matches_row(0, &weights[..k]), "a changed weight");
}

#[test]
fn stacking_and_scaling_give_what_quantising_the_stacked_weights_gives() {
    let mut numbers = Numbers(3);
    let k = 384;
    let parts: Vec<Vec<f32>> = [64, 130, 7]
        .iter()
        .map(|&n| (0..n * k).map(|_| numbers.float()).collect())
        .collect();
    let quantised: Vec<QuantLinear> = parts
        .iter()
        .map(|rows| QuantLinear::from_rows(rows, rows.len() / k, k).expect("test value"))
        .collect();
    // BERT's query weights are scaled by 1/sqrt(64) before the three are stacked.
    let first = QuantLinear::from_rows(&parts[0], 64, k)
        .and_then(|q| q.scaled(0.125))
        .expect("test value");
    let stacked = QuantLinear::stack(&[&first, &quantised[1], &quantised[2]]).expect("test value");
    let mut all: Vec<f32> = parts[0].iter().map(|w| w * 0.125).collect();
    all.extend(parts[1].iter().chain(&parts[2]));
    let direct = QuantLinear::from_rows(&all, 201, k).expect("test value");
    assert_eq!(stacked.scales(), direct.scales());
    assert_eq!(stacked.packed(), direct.packed());

    let odd = QuantLinear::from_rows(&[1.0; 6], 2, 3).expect("test value");
    let err = QuantLinear::stack(&[&quantised[0], &odd])
        .err()
        .expect("different widths");
    assert!(err.contains("384 and 3"), "{err}");
    assert!(QuantLinear::stack(&[]).is_err());
    assert!(
        odd.scaled(f32::NAN).is_err()
            && QuantLinear::from_rows(&[1.0], 1, 1)
                .expect("test value")
                .scaled(0.0)
                .is_err()
    );
}

#[test]
fn tasks_split_the_tokens_evenly_over_the_threads_in_whole_blocks() {
    // 150 tokens on two threads: 78 + 72, not seven tasks of 24 (four on one thread).
    assert_eq!(rows_per_task(150, 2), 78);
    assert_eq!(rows_per_task(20, 2), 12);
    assert_eq!(rows_per_task(1, 2), 6);
    assert_eq!(rows_per_task(960, 2), 96);
    assert_eq!(rows_per_task(961, 2), 84, "12 tasks of at most 96");
    assert_eq!(
        rows_per_task(100, 1),
        54,
        "one thread: two tasks of at most 96"
    );
    assert_eq!(rows_per_task(5, 0), 6, "no threads is taken as one");
    for m in 1..400 {
        for threads in 1..5 {
            let rows = rows_per_task(m, threads);
            assert!(
                rows.is_multiple_of(6) && rows <= MAX_ROWS_PER_TASK,
                "{m} on {threads}: {rows}"
            );
        }
    }
}

#[test]
fn the_product_does_not_depend_on_how_the_rows_are_split() {
    let mut numbers = Numbers(13);
    let (n, k) = (130, 384);
    let weights: Vec<f32> = (0..n * k).map(|_| numbers.float()).collect();
    let w = QuantLinear::from_rows(&weights, n, k).expect("test value");
    for m in [1, 5, 7, 150, 211] {
        let x: Vec<f32> = (0..m * k).map(|_| numbers.float()).collect();
        let on = |threads: usize, fast: bool| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a pool")
                .install(|| w.matmul(&x, fast))
        };
        // Each row is computed alone, so one thread or three, fast kernel or portable, give
        // the same bits.
        let one = on(1, false);
        assert_eq!(on(3, false), one, "{m} rows, portable");
        assert_eq!(on(1, true), one, "{m} rows, fast, one thread");
        assert_eq!(on(3, true), one, "{m} rows, fast, three threads");
    }
}
