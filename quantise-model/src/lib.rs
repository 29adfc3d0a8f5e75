//! Quantises a BERT checkpoint's projection weights once, ahead of time, into the file the
//! embedding model loads at cold start (`model.int16.safetensors`, laid out as
//! [`quant_gemm::stored`] says).
//!
//! Quantising at load costs a cold start twice: the 42 MB of f32 projections must be read, and
//! the first requests run in f32 until the integers are ready. The stored integers are half the
//! bytes and ready to multiply. The f32 checkpoint stays the source of truth (the model reads its
//! other tensors and the word table from it, and `EMBEDDING_PRECISION=f32` all of it); this file
//! only saves work, and the model checks it against the checkpoint before trusting it.
//!
//! The result depends only on the checkpoint's bytes (IEEE arithmetic, rounding to even, no
//! fused operations), so the same checkpoint gives the same file on every machine, and setup
//! can pin its sha256.

use std::borrow::Cow;

use quant_gemm::{QuantLinear, stored};
use safetensors::tensor::{Dtype, SafeTensors, View};

/// An owned tensor to serialise.
struct Owned {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Owned {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// What [`quantise`] did: the file's bytes and how many weights went into it.
pub struct Quantised {
    pub bytes: Vec<u8>,
    pub matrices: usize,
    pub weights: usize,
}

/// The quantised projections of the f32 safetensors `checkpoint`, as a safetensors file.
/// Refuses a checkpoint that is not valid safetensors, holds no projection, or has a
/// projection with a non-finite weight (the reason names the tensor).
pub fn quantise(checkpoint: &[u8]) -> Result<Quantised, String> {
    let tensors = SafeTensors::deserialize(checkpoint)
        .map_err(|err| format!("not a readable safetensors file: {err}"))?;
    let mut out: Vec<(String, Owned)> = Vec::new();
    let mut weights = 0;
    let mut names = tensors.names();
    names.sort();
    for name in names {
        let view = tensors
            .tensor(name)
            .map_err(|err| format!("tensor {name}: {err}"))?;
        if view.dtype() != Dtype::F32 || !stored::is_projection(name, view.shape()) {
            continue;
        }
        let &[n, k] = view.shape() else {
            continue;
        };
        // The data may sit at any byte offset: decode rather than reinterpret.
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let matrix =
            QuantLinear::from_rows(&values, n, k).map_err(|err| format!("tensor {name}: {err}"))?;
        weights += n * k;
        out.push((
            format!("{name}{}", stored::PACKED),
            Owned {
                dtype: Dtype::I16,
                shape: stored::shape(n, k).to_vec(),
                bytes: matrix
                    .packed()
                    .iter()
                    .flat_map(|q| q.to_le_bytes())
                    .collect(),
            },
        ));
        out.push((
            format!("{name}{}", stored::SCALES),
            Owned {
                dtype: Dtype::F32,
                shape: vec![n],
                bytes: matrix
                    .scales()
                    .iter()
                    .flat_map(|s| s.to_le_bytes())
                    .collect(),
            },
        ));
    }
    // The f32 scales first, then the integers, each in name order: every tensor starts on a
    // multiple of its element size, as safetensors' own writer arranges them.
    out.sort_by(|(a, ta), (b, tb)| {
        (ta.dtype != Dtype::F32, a.as_str()).cmp(&(tb.dtype != Dtype::F32, b.as_str()))
    });
    if out.is_empty() {
        return Err("the checkpoint holds no encoder projection weights to quantise".into());
    }
    let matrices = out.len() / 2;
    let metadata = [
        (stored::FORMAT_KEY, stored::FORMAT.to_owned()),
        (stored::SOURCE_BYTES_KEY, checkpoint.len().to_string()),
    ];
    let bytes = serialize(&out, &metadata);
    Ok(Quantised {
        bytes,
        matrices,
        weights,
    })
}

/// A safetensors file holding `tensors` in the order given, with `metadata`, byte for byte the
/// same on every run: keys in a fixed order, data offsets back to back, the header padded with
/// spaces to a multiple of 8 bytes as the format's own writer does.
fn serialize(tensors: &[(String, Owned)], metadata: &[(&str, String)]) -> Vec<u8> {
    let quote = |text: &str| serde_json::Value::from(text).to_string();
    let mut entries = Vec::with_capacity(tensors.len() + 1);
    let fields: Vec<String> = metadata
        .iter()
        .map(|(key, value)| format!("{}:{}", quote(key), quote(value)))
        .collect();
    entries.push(format!("\"__metadata__\":{{{}}}", fields.join(",")));
    let mut offset = 0;
    for (name, tensor) in tensors {
        let shape: Vec<String> = tensor.shape.iter().map(usize::to_string).collect();
        let end = offset + tensor.bytes.len();
        entries.push(format!(
            "{}:{{\"dtype\":\"{:?}\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            quote(name),
            tensor.dtype,
            shape.join(",")
        ));
        offset = end;
    }
    let mut header = format!("{{{}}}", entries.join(",")).into_bytes();
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend((header.len() as u64).to_le_bytes());
    bytes.extend(header);
    for (_, tensor) in tensors {
        bytes.extend(&tensor.bytes);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(tensors: &[(&str, Dtype, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
        let owned: Vec<(String, Owned)> = tensors
            .iter()
            .map(|(name, dtype, shape, values)| {
                (
                    (*name).to_owned(),
                    Owned {
                        dtype: *dtype,
                        shape: shape.clone(),
                        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    },
                )
            })
            .collect();
        safetensors::serialize(owned.iter().map(|(n, t)| (n.as_str(), t)), None)
            .expect("test checkpoint")
    }

    #[test]
    fn quantises_the_projections_and_nothing_else() {
        let weights: Vec<f32> = (0..70 * 3).map(|i| (i as f32 * 0.37).sin()).collect();
        let source = checkpoint(&[
            (
                "encoder.layer.0.attention.self.query.weight",
                Dtype::F32,
                vec![70, 3],
                weights.clone(),
            ),
            (
                "encoder.layer.0.attention.self.query.bias",
                Dtype::F32,
                vec![70],
                vec![0.5; 70],
            ),
            (
                "embeddings.word_embeddings.weight",
                Dtype::F32,
                vec![4, 3],
                vec![1.0; 12],
            ),
        ]);
        let out = quantise(&source).expect("quantised");
        assert_eq!((out.matrices, out.weights), (1, 210));
        let file = SafeTensors::deserialize(&out.bytes).expect("a valid file");
        let mut names = file.names();
        names.sort();
        assert_eq!(
            names,
            [
                "encoder.layer.0.attention.self.query.weight.packed",
                "encoder.layer.0.attention.self.query.weight.scales"
            ]
        );
        let (_, metadata) = SafeTensors::read_metadata(&out.bytes).expect("header");
        let metadata = metadata.metadata().clone().expect("metadata");
        assert_eq!(metadata[stored::FORMAT_KEY], stored::FORMAT);
        assert_eq!(metadata[stored::SOURCE_BYTES_KEY], source.len().to_string());

        // What was stored is the matrix quantising the weights gives, and checks out row by row.
        let packed = file
            .tensor("encoder.layer.0.attention.self.query.weight.packed")
            .expect("packed");
        assert_eq!(packed.dtype(), Dtype::I16);
        assert_eq!(packed.shape(), &[2, 2, 64, 2]);
        let values: Vec<i16> = packed
            .data()
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let scales: Vec<f32> = file
            .tensor("encoder.layer.0.attention.self.query.weight.scales")
            .expect("scales")
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let matrix = QuantLinear::from_parts(70, 3, scales, values).expect("a sound matrix");
        for row in 0..70 {
            assert!(
                matrix.matches_row(row, &weights[row * 3..row * 3 + 3]),
                "row {row}"
            );
        }
        // The same checkpoint always gives the same bytes: setup pins the file's sha256, so the
        // header's keys must not come out in a different order from one run to the next.
        let header = String::from_utf8_lossy(&out.bytes[8..120]).into_owned();
        assert!(
            header.starts_with(r#"{"__metadata__":{"format":"quant-gemm/"#),
            "{header}"
        );
        assert_eq!(quantise(&source).expect("again").bytes, out.bytes);
    }

    #[test]
    fn refuses_what_it_cannot_quantise() {
        let err = quantise(b"not a checkpoint").err().expect("an error");
        assert!(err.contains("not a readable safetensors file"), "{err}");
        let none = checkpoint(&[(
            "embeddings.LayerNorm.weight",
            Dtype::F32,
            vec![3],
            vec![1.0; 3],
        )]);
        let err = quantise(&none).err().expect("an error");
        assert!(err.contains("no encoder projection"), "{err}");
        let nan = checkpoint(&[(
            "encoder.layer.2.output.dense.weight",
            Dtype::F32,
            vec![2, 2],
            vec![1.0, f32::NAN, 0.0, 1.0],
        )]);
        let err = quantise(&nan).err().expect("an error");
        assert!(
            err.contains("encoder.layer.2.output.dense.weight") && err.contains("not finite"),
            "{err}"
        );
    }
}
