//! The projections stored quantised beside the checkpoint (`model.int16.safetensors`, written
//! by the `quantise-model` tool that setup runs), read at cold start instead of the f32 ones.
//!
//! Quantising at load meant reading 42 MB of f32 projections, running the first requests in f32
//! while a background thread packed the integers, and keeping both copies in memory. The stored
//! integers are 21 MB, ready to multiply from the first request, and the f32 projections are
//! never read. The f32 checkpoint stays the source of truth, so this file is only trusted when
//! it provably comes from it: its format must be the one this build packs, it must name the
//! checkpoint's byte length, it must hold every projection the checkpoint has with the same
//! shape and sound integers ([`QuantLinear::from_parts`]), and three rows of every projection
//! (first, middle, last), re-read from the checkpoint and quantised here, must match it bit for
//! bit. Anything else (a file from another model or another quantiser) is set aside with a
//! warning, and the model quantises its f32 weights as if the file were not there.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use quant_gemm::{QuantLinear, stored};

use super::checkpoint::{self, Deferred};

/// The file's name, beside `model.safetensors`.
pub(super) const FILE: &str = "model.int16.safetensors";

/// The stored projections of the checkpoint open as `source` (`source_len` bytes), by weight
/// name, checked against the f32 weights `projections` locates in it; the error says why the
/// file cannot be used.
pub(super) fn read(
    path: &Path,
    source: &File,
    source_len: u64,
    projections: &HashMap<String, Deferred>,
) -> Result<HashMap<String, QuantLinear>, String> {
    let checkpoint::Checkpoint {
        mut tensors,
        mut integers,
        metadata,
        ..
    } = checkpoint::read(path, |_, _| false).map_err(|err| match err {
        checkpoint::CheckpointError::Io(err) => format!("cannot read it: {err}"),
        checkpoint::CheckpointError::Corrupt(reason) => {
            format!("not a readable safetensors file: {reason}")
        }
    })?;
    let format = metadata.get(stored::FORMAT_KEY).map(String::as_str);
    if format != Some(stored::FORMAT) {
        return Err(format!(
            "its format is {format:?}, this build reads {:?}",
            stored::FORMAT
        ));
    }
    let made_from = metadata.get(stored::SOURCE_BYTES_KEY);
    if made_from.map(String::as_str) != Some(source_len.to_string().as_str()) {
        return Err(format!(
            "it was made from a checkpoint of {} bytes, this one has {source_len}",
            made_from.map_or("unknown", String::as_str)
        ));
    }
    if projections.is_empty() {
        return Err("the checkpoint has no projection weights".into());
    }

    let mut matrices = HashMap::with_capacity(projections.len());
    for (name, location) in projections {
        let &[n, k] = location.shape.as_slice() else {
            return Err(format!("{name} is not a matrix"));
        };
        let packed = integers
            .remove(&format!("{name}{}", stored::PACKED))
            .ok_or_else(|| format!("it has no {name}{}", stored::PACKED))?;
        if packed.shape != stored::shape(n, k) {
            return Err(format!(
                "{name}{} has shape {:?}, a {n} × {k} weight packs to {:?}",
                stored::PACKED,
                packed.shape,
                stored::shape(n, k)
            ));
        }
        let scales = tensors
            .remove(&format!("{name}{}", stored::SCALES))
            .ok_or_else(|| format!("it has no {name}{}", stored::SCALES))?
            .to_vec1::<f32>()
            .map_err(|err| format!("{name}{}: {err}", stored::SCALES))?;
        let matrix = QuantLinear::from_parts(n, k, scales, packed.values)
            .map_err(|err| format!("{name}: {err}"))?;
        for row in [0, n / 2, n - 1] {
            let mut weights = vec![0f32; k];
            let at = location.offset + (row * k * 4) as u64;
            checkpoint::read_floats_at(source, at, &mut weights)
                .map_err(|err| format!("re-reading row {row} of {name}: {err}"))?;
            if !matrix.matches_row(row, &weights) {
                return Err(format!(
                    "row {row} of {name} is not what quantising the checkpoint gives"
                ));
            }
        }
        matrices.insert(name.clone(), matrix);
    }
    Ok(matrices)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch file unique to this test process and name, removed on drop.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str, bytes: &[u8]) -> Self {
            let path = std::env::temp_dir().join(format!("packed-{}-{name}", std::process::id()));
            std::fs::write(&path, bytes).expect("writing a scratch file");
            Self(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    const NAME: &str = "encoder.layer.0.output.dense.weight";

    /// A one-projection f32 checkpoint (70 × 3, plus a bias that is not quantised).
    fn checkpoint(weights: &[f32]) -> Vec<u8> {
        let data: Vec<u8> = weights.iter().flat_map(|w| w.to_le_bytes()).collect();
        let header = format!(
            r#"{{"{NAME}":{{"dtype":"F32","shape":[70,3],"data_offsets":[0,840]}},"encoder.layer.0.output.dense.bias":{{"dtype":"F32","shape":[3],"data_offsets":[840,852]}}}}"#
        );
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&data);
        bytes.extend([0u8; 12]);
        bytes
    }

    fn open(path: &Path) -> File {
        File::open(path).expect("opening the test checkpoint")
    }

    fn projections(path: &Path) -> HashMap<String, Deferred> {
        checkpoint::read(path, stored::is_projection)
            .map(|c| c.deferred)
            .unwrap_or_else(|_| panic!("reading the test checkpoint"))
    }

    #[test]
    fn reads_what_the_tool_wrote_and_refuses_what_does_not_match() {
        let weights: Vec<f32> = (0..210).map(|i| (i as f32 * 0.71).cos()).collect();
        let source_bytes = checkpoint(&weights);
        let source = Scratch::new("source", &source_bytes);
        let len = source_bytes.len() as u64;
        let stored_bytes = quantise_model::quantise(&source_bytes)
            .expect("quantised")
            .bytes;
        let stored = Scratch::new("stored", &stored_bytes);
        let located = projections(&source.0);
        assert_eq!(located.len(), 1, "the bias is not a projection");

        let matrices = read(&stored.0, &open(&source.0), len, &located).expect("a matching file");
        assert_eq!((matrices[NAME].outputs(), matrices[NAME].inputs()), (70, 3));

        let err = read(&stored.0, &open(&source.0), len + 1, &located)
            .err()
            .expect("other length");
        assert!(err.contains("made from a checkpoint of"), "{err}");

        let mut more = located.clone();
        more.insert(
            "encoder.layer.1.output.dense.weight".into(),
            located[NAME].clone(),
        );
        let err = read(&stored.0, &open(&source.0), len, &more)
            .err()
            .expect("a missing matrix");
        assert!(err.contains("it has no encoder.layer.1"), "{err}");

        // Another packing: the format in the header is not this build's.
        let text = String::from_utf8_lossy(&stored_bytes).into_owned();
        let at = text
            .find(stored::FORMAT)
            .expect("the format is in the header");
        let mut other = stored_bytes.clone();
        other[at + stored::FORMAT.len() - 1] = b'9';
        let other = Scratch::new("format", &other);
        let err = read(&other.0, &open(&source.0), len, &located)
            .err()
            .expect("other format");
        assert!(err.contains("its format is"), "{err}");

        // Weights changed after the file was made: the row check sees it.
        let mut changed = weights.clone();
        changed[69 * 3 + 1] += 0.5;
        let changed_source = Scratch::new("changed", &checkpoint(&changed));
        let err = read(
            &stored.0,
            &open(&changed_source.0),
            len,
            &projections(&changed_source.0),
        )
        .err()
        .expect("stale");
        assert!(err.contains("row 69 of"), "{err}");

        let garbage = Scratch::new("garbage", b"not a file of tensors");
        let err = read(&garbage.0, &open(&source.0), len, &located)
            .err()
            .expect("garbage");
        assert!(err.contains("not a readable safetensors file"), "{err}");
    }
}
