//! Which precision the model's projections are multiplied in ([`Precision`],
//! `EMBEDDING_PRECISION`), and the candle op that runs them in 16-bit integers through the
//! `quant-gemm` crate.
//!
//! Quantised is the default where this CPU has the fast kernel (x86-64 with AVX-512 BW and
//! VNNI): about twice the f32 GEMM's multiply-adds per cycle, embeddings within 1e-4 cosine of
//! the f32 model's (`model_tests`). Elsewhere (AVX2-only x86, Lambda's arm64) candle's f32 GEMM
//! is the faster of the two, so `auto` keeps it.

use std::sync::{Arc, OnceLock};

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};
use quant_gemm::QuantLinear;

/// How the model's projections are multiplied: `EMBEDDING_PRECISION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// 16-bit integers where this CPU has the fast kernel, f32 elsewhere. The default.
    Auto,
    /// f32 weights and candle's GEMM everywhere: the reference the quantised path is measured
    /// against.
    F32,
    /// 16-bit integers on any CPU (the portable kernel where the fast one is missing).
    Int16,
}

impl Precision {
    /// The environment variable that selects the precision.
    pub const VARIABLE: &'static str = "EMBEDDING_PRECISION";

    /// Parses `auto`, `f32` or `int16`; `None` (unset or blank) is [`Precision::Auto`].
    pub fn parse(value: Option<&str>) -> std::result::Result<Self, String> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None | Some("auto") => Ok(Self::Auto),
            Some("f32") => Ok(Self::F32),
            Some("int16") => Ok(Self::Int16),
            Some(other) => Err(format!(
                "{} is {other:?}; expected auto (the default), f32 or int16",
                Self::VARIABLE
            )),
        }
    }

    /// `EMBEDDING_PRECISION` from the environment.
    pub fn from_env() -> std::result::Result<Self, String> {
        Self::parse(std::env::var(Self::VARIABLE).ok().as_deref())
    }

    /// [`Precision::Auto`] decided for this CPU ([`Precision::Int16`] or [`Precision::F32`]), so
    /// the weights are quantised at load rather than in the background: for tools that report
    /// on the model and must not see a first few vectors computed in f32.
    pub fn resolved(self) -> Self {
        match self {
            Self::Auto if quant_gemm::fast_kernel() => Self::Int16,
            Self::Auto => Self::F32,
            other => other,
        }
    }

    /// Whether the projections are quantised on this CPU.
    pub fn quantised(self) -> bool {
        match self {
            Self::Auto => quant_gemm::fast_kernel(),
            Self::F32 => false,
            Self::Int16 => true,
        }
    }
}

/// A projection's weight `(outputs, inputs)`: in f32, in 16-bit integers, or both.
///
/// Read from the checkpoint in f32, it is quantised as [`quantise_all`] says; with
/// [`Precision::Auto`] that runs on a background thread after the model has loaded (about 35 ms
/// of CPU for MiniLM, which would otherwise add to every cold start), and until it is done the
/// f32 weights answer, so the first requests of a new instance may be computed in f32 (their
/// vectors differ from the quantised ones by less than 1e-4 cosine). Read already quantised
/// ([`super::packed`]), it has no f32 form at all.
#[derive(Clone)]
pub(super) struct Projection {
    weight: Option<Tensor>,
    quantised: Arc<OnceLock<QuantMatmul>>,
}

impl Projection {
    pub fn new(weight: Tensor) -> Self {
        Self {
            weight: Some(weight),
            quantised: Arc::new(OnceLock::new()),
        }
    }

    /// A projection stored quantised: multiplied in integers from the first request.
    pub fn quantised(matrix: QuantLinear) -> Self {
        let quantised = OnceLock::new();
        let _ = quantised.set(QuantMatmul::new(matrix));
        Self {
            weight: None,
            quantised: Arc::new(quantised),
        }
    }

    /// Whether the integer form is ready.
    pub fn is_quantised(&self) -> bool {
        self.quantised.get().is_some()
    }

    /// Quantises the weight (once; later calls do nothing).
    pub fn quantise(&self) -> std::result::Result<(), String> {
        if self.quantised.get().is_some() {
            return Ok(());
        }
        let Some(weight) = &self.weight else {
            return Err("a projection has neither f32 nor quantised weights".into());
        };
        let (n, k) = weight
            .dims2()
            .map_err(|err| format!("a projection weight must be a matrix: {err}"))?;
        // The weights are read where the tensor holds them: a copy would be 44 MB of writes
        // and page faults on every cold start.
        let (storage, layout) = weight.storage_and_layout();
        let candle_core::Storage::Cpu(CpuStorage::F32(data)) = &*storage else {
            return Err("a projection weight must be f32 on the CPU".into());
        };
        let Some(data) = layout
            .contiguous_offsets()
            .and_then(|(start, end)| data.get(start..end))
        else {
            return Err("a projection weight must be contiguous".into());
        };
        let op = QuantMatmul::new(QuantLinear::from_rows(data, n, k)?);
        drop(storage);
        let _ = self.quantised.set(op);
        Ok(())
    }

    /// `xs · Wᵀ` for `(tokens, inputs)` activations.
    pub fn apply(&self, xs: &Tensor) -> Result<Tensor> {
        match (self.quantised.get(), &self.weight) {
            (Some(op), _) => xs.apply_op1_no_bwd(op),
            (None, Some(weight)) => xs.matmul(&weight.t()?),
            (None, None) => bail!("a projection has neither f32 nor quantised weights"),
        }
    }
}

/// Quantises `projections` as `precision` says: now for [`Precision::Int16`] (asked for
/// explicitly, so a failure is the load's), on a background thread for [`Precision::Auto`] on a
/// CPU with the fast kernel (a failure there is logged and f32 stays), not at all otherwise.
pub(super) fn quantise_all(
    projections: Vec<Projection>,
    precision: Precision,
) -> std::result::Result<(), String> {
    match precision {
        Precision::F32 => Ok(()),
        Precision::Int16 => projections.iter().try_for_each(Projection::quantise),
        Precision::Auto if !quant_gemm::fast_kernel() => Ok(()),
        // Read quantised ([`super::packed`]): nothing left to do, no thread to start.
        Precision::Auto if projections.iter().all(Projection::is_quantised) => Ok(()),
        Precision::Auto => {
            let spawned = std::thread::Builder::new()
                .name("quantise-weights".into())
                .spawn(move || {
                    let started = std::time::Instant::now();
                    match projections.iter().try_for_each(Projection::quantise) {
                        Ok(()) => tracing::debug!(
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "embedding projections quantised"
                        ),
                        Err(err) => tracing::warn!(
                            error = %err,
                            "embedding projections stay f32: quantising them failed"
                        ),
                    }
                });
            if let Err(err) = spawned {
                tracing::warn!(error = %err, "embedding projections stay f32: no thread to quantise them");
            }
            Ok(())
        }
    }
}

/// `xs · Wᵀ` in 16-bit integers, as a candle op over a `(tokens, k)` f32 tensor so the forward
/// pass keeps its tensor plumbing.
pub(super) struct QuantMatmul {
    weight: Arc<QuantLinear>,
    fast: bool,
}

impl QuantMatmul {
    /// The op for `weight`, with this CPU's kernel.
    fn new(weight: QuantLinear) -> Self {
        Self {
            weight: Arc::new(weight),
            fast: quant_gemm::fast_kernel(),
        }
    }
}

impl CustomOp1 for QuantMatmul {
    fn name(&self) -> &'static str {
        "quant-matmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            bail!("quant-matmul: expects f32 inputs")
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("quant-matmul: expects a contiguous input")
        };
        let (m, k) = layout.shape().dims2()?;
        if k != self.weight.inputs() {
            bail!(
                "quant-matmul: {k} inputs per row, the weight takes {}",
                self.weight.inputs()
            )
        }
        let out = self.weight.matmul(&data[start..end], self.fast);
        Ok((
            CpuStorage::F32(out),
            Shape::from((m, self.weight.outputs())),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_parses_its_three_values_and_names_them_when_wrong() {
        assert_eq!(Precision::parse(None), Ok(Precision::Auto));
        assert_eq!(Precision::parse(Some(" ")), Ok(Precision::Auto));
        assert_eq!(Precision::parse(Some("auto")), Ok(Precision::Auto));
        assert_eq!(Precision::parse(Some("f32")), Ok(Precision::F32));
        assert_eq!(Precision::parse(Some("int16")), Ok(Precision::Int16));
        let err = Precision::parse(Some("int8")).expect_err("an error");
        assert!(
            err.contains("EMBEDDING_PRECISION") && err.contains("int8") && err.contains("f32"),
            "{err}"
        );
        assert!(!Precision::F32.quantised());
        assert!(Precision::Int16.quantised());
        assert_eq!(Precision::Auto.quantised(), quant_gemm::fast_kernel());
        let resolved = Precision::Auto.resolved();
        assert_ne!(resolved, Precision::Auto);
        assert_eq!(resolved.quantised(), Precision::Auto.quantised());
        assert_eq!(Precision::F32.resolved(), Precision::F32);
        assert_eq!(Precision::Int16.resolved(), Precision::Int16);
    }

    #[test]
    fn the_op_multiplies_a_tensor_and_checks_its_width() {
        let device = candle_core::Device::Cpu;
        let weight =
            Tensor::new(&[[1f32, -2.0], [0.5, 0.25], [0.0, 3.0]], &device).expect("test value");
        let xs = Tensor::new(&[[2f32, 1.0], [-1.0, 4.0]], &device).expect("test value");
        let expected = xs
            .matmul(&weight.t().expect("test value"))
            .expect("test value")
            .to_vec2::<f32>()
            .expect("test value");
        let projection = Projection::new(weight);
        projection.quantise().expect("test value");
        let got = projection
            .apply(&xs)
            .expect("test value")
            .to_vec2::<f32>()
            .expect("test value");
        for (got, expected) in got.iter().flatten().zip(expected.iter().flatten()) {
            assert!((got - expected).abs() < 1e-2, "{got} vs {expected}");
        }
        let narrow = Tensor::new(&[[1f32, 2.0, 3.0]], &device).expect("test value");
        let err = projection.apply(&narrow).expect_err("an error").to_string();
        assert!(err.contains("3 inputs per row"), "{err}");
    }
}
