//! Multiply-adds per second of the quantised product on MiniLM's shapes, one thread and the
//! whole rayon pool: `cargo run --release -p quant-gemm --example throughput [tokens]`.
//!
//! A figure printer, not a test: it asserts nothing about time.

use std::time::Instant;

use quant_gemm::QuantLinear;

/// MiniLM's projections per layer, `(outputs, inputs)`: query+key+value stacked, attention
/// output, intermediate, output.
const SHAPES: [(usize, usize); 4] = [(1152, 384), (384, 384), (1536, 384), (384, 1536)];

fn main() {
    let tokens: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("tokens: a whole number"))
        .unwrap_or(150);
    let fast = quant_gemm::fast_kernel();
    println!("tokens {tokens}, AVX-512 VNNI kernel: {fast}");
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut float = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 2_000_001) as f32 / 1_000_000.0 - 1.0
    };
    // The matrices first, on the global pool, and then every product on pools of their own:
    // a pool still spinning after building a matrix would compete with the one being timed.
    let matrices: Vec<(QuantLinear, Vec<f32>)> = SHAPES
        .iter()
        .map(|&(n, k)| {
            let weights: Vec<f32> = (0..n * k).map(|_| float()).collect();
            let x: Vec<f32> = (0..tokens * k).map(|_| float()).collect();
            (QuantLinear::from_rows(&weights, n, k).expect("a matrix"), x)
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    for threads in [1, rayon::current_num_threads()] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a rayon pool");
        let mut layer_seconds = 0.0;
        for (w, x) in &matrices {
            let (n, k) = (w.outputs(), w.inputs());
            let seconds = pool.install(|| {
                let mut best = f64::MAX;
                for _ in 0..30 {
                    let started = Instant::now();
                    std::hint::black_box(w.matmul(std::hint::black_box(x), fast));
                    best = best.min(started.elapsed().as_secs_f64());
                }
                best
            });
            layer_seconds += seconds;
            let macs = (tokens * n * k) as f64;
            println!(
                "threads {threads}  {n:>5} x {k:>4}: {:>7.1} µs  {:>6.1} GMAC/s",
                seconds * 1e6,
                macs / seconds / 1e9
            );
        }
        println!(
            "threads {threads}  six layers' projections: {:.2} ms",
            layer_seconds * 6.0 * 1e3
        );
    }
}
