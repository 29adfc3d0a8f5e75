//! The BERT encoder behind [`super::MiniLm`]: its configuration, its weights (checked tensor by
//! tensor when loaded) and an inference-only forward pass on the CPU.
//!
//! It computes what Hugging Face's `BertModel` computes in eval mode (absolute positions, exact
//! GELU, post-layer-norm blocks), arranged for speed on a small CPU: the query, key and value
//! projections are one matrix multiplication per layer, the attention scale is folded into the
//! query weights at load time, and every elementwise step runs in a fused kernel
//! ([`super::kernels`]). The four projections of each layer are multiplied in 16-bit integers
//! (`quant-gemm`, through [`super::quant`]) or in f32 with candle's GEMM, as [`Precision`] says;
//! attention's own products (scores and context) stay f32.

use std::collections::HashMap;

use candle_core::Tensor;
use quant_gemm::QuantLinear;
use serde::Deserialize;

use super::kernels;
use super::quant::{Precision, Projection};
use super::word_table::WordTable;

/// The fields of a Hugging Face BERT `config.json` that the forward pass depends on; the rest
/// (dropout rates, initialiser range, ...) only matter for training.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: usize,
    #[serde(default = "absolute")]
    pub position_embedding_type: String,
}

fn absolute() -> String {
    "absolute".to_owned()
}

impl BertConfig {
    /// Rejects configurations this forward pass would compute wrongly rather than fail on.
    pub fn check(&self) -> Result<(), String> {
        if self.hidden_act != "gelu" {
            return Err(format!(
                "hidden_act {:?} is not supported (only \"gelu\")",
                self.hidden_act
            ));
        }
        if self.position_embedding_type != "absolute" {
            return Err(format!(
                "position_embedding_type {:?} is not supported (only \"absolute\")",
                self.position_embedding_type
            ));
        }
        let heads = self.num_attention_heads;
        if heads == 0 || !self.hidden_size.is_multiple_of(heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {heads}",
                self.hidden_size
            ));
        }
        if self.num_hidden_layers == 0 || self.intermediate_size == 0 || self.type_vocab_size == 0 {
            return Err(
                "num_hidden_layers, intermediate_size and type_vocab_size must be > 0".into(),
            );
        }
        if self.pad_token_id >= self.vocab_size {
            return Err(format!(
                "pad_token_id {} is outside the vocabulary ({})",
                self.pad_token_id, self.vocab_size
            ));
        }
        Ok(())
    }
}

/// One encoder layer's weights, in the layout the forward pass wants.
struct Layer {
    /// Query, key and value projections stacked: `(3 * hidden, hidden)`, queries pre-scaled.
    qkv_weight: Projection,
    /// Their biases, `(3 * hidden)`, the query part pre-scaled.
    qkv_bias: Tensor,
    /// Attention output projection, `(hidden, hidden)`.
    out_weight: Projection,
    /// `[out bias, layer-norm gamma, layer-norm beta]`, `(3, hidden)`.
    out_norm: Tensor,
    /// Feed-forward up projection `(intermediate, hidden)` and its bias.
    up_weight: Projection,
    up_bias: Tensor,
    /// Feed-forward down projection `(hidden, intermediate)`.
    down_weight: Projection,
    /// `[down bias, layer-norm gamma, layer-norm beta]`, `(3, hidden)`.
    down_norm: Tensor,
}

/// A loaded BERT encoder. Immutable after loading, so one instance serves every thread.
pub(super) struct Bert {
    /// Read row by row on first use ([`WordTable`]).
    word_embeddings: WordTable,
    position_embeddings: Tensor,
    /// `[token type 0 embedding, gamma, beta]`: single-segment inputs only ever use type 0.
    embeddings_norm: Tensor,
    layers: Vec<Layer>,
    heads: usize,
    eps: f32,
}

/// Where loading failed: the tensor's name and what was wrong with it.
pub(super) type WeightError = String;

/// The named tensors of a checkpoint, handed out once each with their shape checked, and the
/// projections read already quantised ([`super::packed`]), by the name of their f32 weight.
struct Weights {
    tensors: HashMap<String, Tensor>,
    packed: HashMap<String, QuantLinear>,
}

/// Takes `name` out of `map`, under its own name or the "bert." prefix that checkpoints saved
/// from `BertForMaskedLM` and friends put before every name.
fn remove_named<T>(map: &mut HashMap<String, T>, name: &str) -> Option<T> {
    map.remove(name)
        .or_else(|| map.remove(&format!("bert.{name}")))
}

impl Weights {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Tensor, WeightError> {
        let tensor = remove_named(&mut self.tensors, name)
            .ok_or_else(|| format!("tensor {name} is missing"))?;
        if tensor.dims() != shape {
            return Err(format!(
                "tensor {name} has shape {:?}, expected {shape:?}",
                tensor.dims()
            ));
        }
        Ok(tensor)
    }

    /// The stored quantised form of weight `name`, if there is one, with its shape checked.
    fn take_packed(
        &mut self,
        name: &str,
        shape: [usize; 2],
    ) -> Result<Option<QuantLinear>, WeightError> {
        let Some(matrix) = remove_named(&mut self.packed, name) else {
            return Ok(None);
        };
        if [matrix.outputs(), matrix.inputs()] != shape {
            return Err(format!(
                "quantised {name} is {} × {}, expected {shape:?}",
                matrix.outputs(),
                matrix.inputs()
            ));
        }
        Ok(Some(matrix))
    }

    /// A projection: its stored quantised form where there is one, its f32 weight otherwise.
    fn projection(&mut self, name: &str, shape: [usize; 2]) -> Result<Projection, WeightError> {
        match self.take_packed(name, shape)? {
            Some(matrix) => Ok(Projection::quantised(matrix)),
            None => Ok(Projection::new(self.take(name, &shape)?)),
        }
    }

    /// A sub-block's output bias and layer norm, `{prefix}.dense.bias` and
    /// `{prefix}.LayerNorm.{weight,bias}`, stacked as [`kernels::add_norm`] takes them.
    fn bias_and_norm(&mut self, prefix: &str, hidden: usize) -> Result<Tensor, WeightError> {
        let bias = self.take(&format!("{prefix}.dense.bias"), &[hidden])?;
        let gamma = self.take(&format!("{prefix}.LayerNorm.weight"), &[hidden])?;
        let beta = self.take(&format!("{prefix}.LayerNorm.bias"), &[hidden])?;
        Tensor::stack(&[&bias, &gamma, &beta], 0)
            .map_err(|err| format!("{prefix} layer norm: {err}"))
    }
}

/// Layer `p`'s query, key and value projections as one `(3 * hidden, hidden)` product, the
/// query scaled by `scale`: stacked from their stored quantised forms (the scale goes into the
/// query's steps: the same integers as quantising the scaled weights, steps within a rounding of
/// theirs), or from their f32 weights.
fn qkv_projection(
    weights: &mut Weights,
    p: &str,
    hidden: usize,
    scale: f64,
) -> Result<Projection, WeightError> {
    let names = ["query", "key", "value"].map(|part| format!("{p}.attention.self.{part}.weight"));
    let [query, key, value] =
        [&names[0], &names[1], &names[2]].map(|name| weights.take_packed(name, [hidden, hidden]));
    match (query?, key?, value?) {
        (Some(query), Some(key), Some(value)) => {
            let query = query.scaled(scale as f32)?;
            let stacked = QuantLinear::stack(&[&query, &key, &value])
                .map_err(|err| format!("{p} qkv: {err}"))?;
            Ok(Projection::quantised(stacked))
        }
        (None, None, None) => {
            let query = (weights.take(&names[0], &[hidden, hidden])? * scale)
                .map_err(|err| format!("query scale: {err}"))?;
            let key = weights.take(&names[1], &[hidden, hidden])?;
            let value = weights.take(&names[2], &[hidden, hidden])?;
            let qkv =
                Tensor::cat(&[&query, &key, &value], 0).map_err(|err| format!("qkv: {err}"))?;
            Ok(Projection::new(qkv))
        }
        _ => Err(format!(
            "{p}: the query, key and value weights must all be stored quantised or none"
        )),
    }
}

impl Bert {
    /// Builds the encoder from a checkpoint's f32 tensors (as [`super::checkpoint::read`] returns
    /// them) and the projections stored quantised (`packed`, by weight name; empty when there are
    /// none), checking that every tensor the forward pass uses is present with the configured
    /// shape.
    pub fn load(
        tensors: HashMap<String, Tensor>,
        packed: HashMap<String, QuantLinear>,
        word_embeddings: WordTable,
        config: &BertConfig,
    ) -> Result<Self, WeightError> {
        config.check()?;
        let mut weights = Weights { tensors, packed };
        let hidden = config.hidden_size;
        let inter = config.intermediate_size;
        let head_dim = hidden / config.num_attention_heads;
        fn op(what: &'static str) -> impl Fn(candle_core::Error) -> WeightError {
            move |err| format!("{what}: {err}")
        }

        if (word_embeddings.rows(), word_embeddings.width()) != (config.vocab_size, hidden) {
            return Err(format!(
                "tensor embeddings.word_embeddings.weight has shape [{}, {}], expected [{}, {hidden}]",
                word_embeddings.rows(),
                word_embeddings.width(),
                config.vocab_size
            ));
        }
        let position_embeddings = weights.take(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, hidden],
        )?;
        let token_types = weights.take(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, hidden],
        )?;
        let embeddings_norm = Tensor::stack(
            &[
                &token_types.get(0).map_err(op("token type 0"))?,
                &weights.take("embeddings.LayerNorm.weight", &[hidden])?,
                &weights.take("embeddings.LayerNorm.bias", &[hidden])?,
            ],
            0,
        )
        .map_err(op("embeddings layer norm"))?;

        // Scaling the query projection by 1/sqrt(head_dim) scales the attention scores the same
        // way, without a pass over the (batch, heads, seq, seq) scores.
        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{index}");
            let name = |name: &str| format!("{p}.{name}");
            let qkv_weight = qkv_projection(&mut weights, &p, hidden, scale)?;
            let query_bias = (weights.take(&name("attention.self.query.bias"), &[hidden])? * scale)
                .map_err(op("query scale"))?;
            let key_bias = weights.take(&name("attention.self.key.bias"), &[hidden])?;
            let value_bias = weights.take(&name("attention.self.value.bias"), &[hidden])?;
            let out_weight =
                weights.projection(&name("attention.output.dense.weight"), [hidden, hidden])?;
            let up_weight =
                weights.projection(&name("intermediate.dense.weight"), [inter, hidden])?;
            let up_bias = weights.take(&name("intermediate.dense.bias"), &[inter])?;
            let down_weight = weights.projection(&name("output.dense.weight"), [hidden, inter])?;
            layers.push(Layer {
                qkv_weight,
                qkv_bias: Tensor::cat(&[&query_bias, &key_bias, &value_bias], 0)
                    .map_err(op("qkv bias"))?,
                out_weight,
                out_norm: weights.bias_and_norm(&format!("{p}.attention.output"), hidden)?,
                up_weight,
                up_bias,
                down_weight,
                down_norm: weights.bias_and_norm(&format!("{p}.output"), hidden)?,
            });
        }
        Ok(Self {
            word_embeddings,
            position_embeddings,
            embeddings_norm,
            layers,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps as f32,
        })
    }

    /// Quantises the projections as `precision` says ([`super::quant::quantise_all`]): called
    /// once the model has loaded and passed its check, so a background quantising does not
    /// compete with either.
    pub fn quantise(&self, precision: Precision) -> Result<(), WeightError> {
        let projections = self
            .layers
            .iter()
            .flat_map(|l| [&l.qkv_weight, &l.out_weight, &l.up_weight, &l.down_weight])
            .cloned()
            .collect();
        super::quant::quantise_all(projections, precision)
    }

    /// Hidden states of the last layer for a batch of token sequences, packed: `ids` holds the
    /// sequences one after another (`lengths[i]` tokens each, no padding) and the result is
    /// `(ids.len(), hidden)`, row for row.
    ///
    /// Every step but attention works on single tokens, so it runs on the packed rows and no
    /// multiplication is spent on padding; only attention lays the batch out padded to its
    /// longest sequence (with the padding masked), because it mixes the tokens of a sequence.
    pub fn forward(&self, ids: &[u32], lengths: &[usize]) -> candle_core::Result<Tensor> {
        let tokens: usize = lengths.iter().sum();
        let seq = lengths.iter().copied().max().unwrap_or(0);
        if tokens != ids.len() || tokens == 0 || lengths.contains(&0) {
            candle_core::bail!(
                "{} token ids do not make {} non-empty sequences of {lengths:?} tokens",
                ids.len(),
                lengths.len()
            );
        }
        if seq > self.position_embeddings.dim(0)? {
            candle_core::bail!("sequence of {seq} tokens is longer than the position table");
        }
        let device = self.position_embeddings.device();
        let words = self
            .word_embeddings
            .gather(ids)
            .map_err(candle_core::Error::msg)?;
        let words = Tensor::from_vec(words, (tokens, self.word_embeddings.width()), device)?;
        let positions: Vec<u32> = lengths.iter().flat_map(|&len| 0..len as u32).collect();
        let positions = self
            .position_embeddings
            .index_select(&Tensor::from_vec(positions, tokens, device)?, 0)?;
        let mut xs = kernels::add_norm(&words, &positions, &self.embeddings_norm, self.eps)?;

        // Padding gets the most negative f32 added to its scores, as Hugging Face does, so its
        // softmax weight is exactly 0.
        let mask_bias: Vec<f32> = lengths
            .iter()
            .flat_map(|&len| (0..seq).map(move |s| if s < len { 0.0 } else { f32::MIN }))
            .collect();
        let mask_bias = Tensor::from_vec(mask_bias, (lengths.len(), seq), device)?;
        let layout = kernels::Packing::new(lengths);
        for layer in &self.layers {
            xs = self.layer(layer, &xs, &mask_bias, &layout)?;
        }
        Ok(xs)
    }

    fn layer(
        &self,
        layer: &Layer,
        xs: &Tensor,
        mask_bias: &Tensor,
        layout: &kernels::Packing,
    ) -> candle_core::Result<Tensor> {
        let qkv = layer.qkv_weight.apply(xs)?;
        let qkv = kernels::split_heads(&qkv, &layer.qkv_bias, layout, self.heads)?;
        let (queries, keys, values) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let scores = queries.matmul(&keys.t()?)?; // (batch, heads, seq, seq)
        let probs = kernels::masked_softmax(&scores, mask_bias)?;
        let context = probs.matmul(&values)?; // (batch, heads, seq, head_dim)
        let context = kernels::merge_heads(&context, layout)?; // (tokens, hidden)
        let attended = layer.out_weight.apply(&context)?;
        let xs = kernels::add_norm(&attended, xs, &layer.out_norm, self.eps)?;

        let up = kernels::bias_gelu(&layer.up_weight.apply(&xs)?, &layer.up_bias)?;
        let down = layer.down_weight.apply(&up)?;
        kernels::add_norm(&down, &xs, &layer.down_norm, self.eps)
    }
}
