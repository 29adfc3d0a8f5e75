//! Reads a safetensors checkpoint straight into tensors: each tensor's bytes go from the file
//! into the buffer the tensor then owns, with nothing in between.
//!
//! The generic route (read the whole file into one buffer, then copy every tensor out of it)
//! touches 90 MB of memory twice and frees one copy again; on a cold start that was a third of
//! the model's load time. Memory-mapping would avoid even the one read, but needs `unsafe`,
//! which this workspace forbids.
//!
//! Only what the model needs is supported: little-endian f32 tensors, and i16 ones (the packed
//! projections of `model.int16.safetensors`, [`super::packed`]); other integer buffers stored
//! beside them, such as BERT's `position_ids`, are skipped. Everything in the header
//! is checked against the file before any tensor is allocated (sizes, offsets that tile the
//! data section exactly, the file's length), so a truncated or tampered file is reported as
//! corrupt instead of producing garbage weights.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::Deserialize;

/// Headers are a few KB for a BERT; a larger one is not a checkpoint this code should parse.
const MAX_HEADER_BYTES: u64 = 16 << 20;

/// Why a checkpoint could not be read: the file could not be read at all, or its content is
/// not a valid f32 safetensors file (the reason says what).
#[derive(Debug)]
pub(super) enum CheckpointError {
    Io(std::io::Error),
    Corrupt(String),
}

/// What a short read means here: the header promised more data than the file holds.
const TRUNCATED: &str = "the file ends before the data its header describes";

impl From<std::io::Error> for CheckpointError {
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::UnexpectedEof {
            Self::Corrupt(TRUNCATED.into())
        } else {
            Self::Io(err)
        }
    }
}

fn corrupt<T>(reason: impl Into<String>) -> Result<T, CheckpointError> {
    Err(CheckpointError::Corrupt(reason.into()))
}

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

/// Bytes per element of the dtypes a checkpoint may hold: F32 weights, which are read, and
/// integer buffers, which are skipped. Other floating-point types would be weights this model
/// cannot use as they are, so they are not accepted.
fn element_size(dtype: &str) -> Option<u64> {
    match dtype {
        "BOOL" | "U8" | "I8" => Some(1),
        "I16" | "U16" => Some(2),
        "F32" | "I32" | "U32" => Some(4),
        "I64" | "U64" => Some(8),
        _ => None,
    }
}

/// An F32 tensor left in the file: where its data starts (from the start of the file) and its
/// shape, for a caller that reads it piece by piece.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Deferred {
    pub offset: u64,
    pub shape: Vec<usize>,
}

/// An I16 tensor: candle has no 16-bit integer type, and these feed the quantised kernels
/// directly.
pub(super) struct Integers {
    pub shape: Vec<usize>,
    pub values: Vec<i16>,
}

/// What [`read`] found: the tensors it read, the ones it was asked to leave in the file, and the
/// header's `__metadata__` strings.
pub(super) struct Checkpoint {
    pub tensors: HashMap<String, Tensor>,
    pub integers: HashMap<String, Integers>,
    pub deferred: HashMap<String, Deferred>,
    pub metadata: HashMap<String, String>,
}

/// Every F32 and I16 tensor in the safetensors file at `path`, by name, on the CPU, except the
/// F32 ones `defer` picks (by name and shape), which are only located (after the same checks as
/// the others).
pub(super) fn read(
    path: &Path,
    defer: impl Fn(&str, &[usize]) -> bool,
) -> Result<Checkpoint, CheckpointError> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 16, file);

    let mut len = [0u8; 8];
    reader.read_exact(&mut len)?;
    let header_len = u64::from_le_bytes(len);
    if header_len > MAX_HEADER_BYTES || 8 + header_len > file_len {
        return corrupt(format!(
            "header length {header_len} does not fit a {file_len}-byte file"
        ));
    }
    let mut header = vec![0u8; header_len as usize];
    reader.read_exact(&mut header)?;
    let mut entries: HashMap<String, serde_json::Value> = match serde_json::from_slice(&header) {
        Ok(entries) => entries,
        Err(err) => return corrupt(format!("header is not safetensors JSON: {err}")),
    };
    let metadata = match entries.remove("__metadata__") {
        None => HashMap::new(),
        Some(value) => match serde_json::from_value(value) {
            Ok(metadata) => metadata,
            Err(err) => return corrupt(format!("__metadata__ is not a map of strings: {err}")),
        },
    };
    let mut entries = entries
        .into_iter()
        .map(
            |(name, value)| match serde_json::from_value::<Entry>(value) {
                Ok(entry) => Ok((name, entry)),
                Err(err) => corrupt(format!("header entry {name}: {err}")),
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|(_, entry)| entry.data_offsets[0]);

    // The tensors must tile the data section exactly, in order, and end where the file ends.
    let mut expected_start = 0u64;
    for (name, entry) in &entries {
        let [start, end] = entry.data_offsets;
        let Some(element) = element_size(&entry.dtype) else {
            return corrupt(format!(
                "tensor {name} has dtype {}, which is not supported (weights must be F32)",
                entry.dtype
            ));
        };
        let bytes = entry
            .shape
            .iter()
            .try_fold(element, |acc, &dim| acc.checked_mul(dim as u64));
        if start != expected_start || end < start || bytes != Some(end - start) {
            return corrupt(format!(
                "tensor {name}: offsets {start}..{end} do not fit shape {:?} at byte {expected_start}",
                entry.shape
            ));
        }
        expected_start = end;
    }
    // `8 + header_len <= file_len` was checked above, so this cannot underflow.
    if expected_start != file_len - 8 - header_len {
        return corrupt(format!(
            "the header describes {expected_start} bytes of data but the file holds {}",
            file_len - 8 - header_len
        ));
    }

    let data_start = 8 + header_len;
    let mut tensors = HashMap::with_capacity(entries.len());
    let mut deferred = HashMap::new();
    let mut integers = HashMap::new();
    for (name, entry) in entries {
        let size = entry.data_offsets[1] - entry.data_offsets[0];
        if entry.dtype == "F32" && defer(&name, &entry.shape) {
            // The offsets were checked to lie inside the file above, so the skip stays in it.
            reader.seek_relative(size as i64)?;
            deferred.insert(
                name,
                Deferred {
                    offset: data_start + entry.data_offsets[0],
                    shape: entry.shape,
                },
            );
            continue;
        }
        if entry.dtype == "I16" {
            let mut values = vec![0i16; (size / 2) as usize];
            reader.read_exact(bytemuck::cast_slice_mut(&mut values))?;
            if cfg!(target_endian = "big") {
                for value in &mut values {
                    *value = i16::from_le(*value);
                }
            }
            let shape = entry.shape;
            integers.insert(name, Integers { shape, values });
            continue;
        }
        if entry.dtype != "F32" {
            // Integer buffers saved with the weights (BERT's `position_ids`) are not weights.
            let skipped = std::io::copy(&mut (&mut reader).take(size), &mut std::io::sink())?;
            if skipped != size {
                return corrupt(TRUNCATED);
            }
            continue;
        }
        let count = (size / 4) as usize;
        let mut values = vec![0f32; count];
        reader.read_exact(bytemuck::cast_slice_mut(&mut values))?;
        if cfg!(target_endian = "big") {
            for value in &mut values {
                *value = f32::from_bits(u32::from_le(value.to_bits()));
            }
        }
        let tensor = match Tensor::from_vec(values, entry.shape.as_slice(), &Device::Cpu) {
            Ok(tensor) => tensor,
            Err(err) => return corrupt(format!("tensor {name}: {err}")),
        };
        tensors.insert(name, tensor);
    }
    Ok(Checkpoint {
        tensors,
        integers,
        deferred,
        metadata,
    })
}

/// Reads `out.len()` little-endian f32 values stored at byte `at` of `file`: a row of a tensor
/// left in the file ([`Deferred`]). Moves the file's position, so callers sharing the file across
/// threads hold a lock around it.
pub(super) fn read_floats_at(mut file: &File, at: u64, out: &mut [f32]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(bytemuck::cast_slice_mut(out))?;
    if cfg!(target_endian = "big") {
        for value in out.iter_mut() {
            *value = f32::from_bits(u32::from_le(value.to_bits()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file from its parts: header JSON and raw data.
    fn write(name: &str, header: &str, data: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!(
            "checkpoint-{}-{name}.safetensors",
            std::process::id()
        ));
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        std::fs::write(&path, bytes).expect("writing test checkpoint");
        path
    }

    fn floats(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn reason(result: Result<Checkpoint, CheckpointError>) -> String {
        match result {
            Err(CheckpointError::Corrupt(reason)) => reason,
            Err(CheckpointError::Io(err)) => panic!("expected corrupt, got io error {err}"),
            Ok(_) => panic!("expected corrupt, got tensors"),
        }
    }

    #[test]
    fn reads_tensors_in_any_header_order_and_skips_integer_buffers() {
        let header = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[3],"data_offsets":[16,28]},"ids":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"q":{"dtype":"I16","shape":[3],"data_offsets":[28,34]}}"#;
        let mut data = floats(&[1.0, 2.0]);
        data.extend_from_slice(&7i64.to_le_bytes());
        data.extend_from_slice(&floats(&[3.0, 4.0, 5.0]));
        data.extend([-3i16, 0, 300].iter().flat_map(|v| v.to_le_bytes()));
        let path = write("ok", header, &data);
        let checkpoint = read(&path, |_, _| false).expect("valid checkpoint");
        assert_eq!(checkpoint.metadata["format"], "pt");
        assert_eq!(checkpoint.integers["q"].shape, vec![3]);
        assert_eq!(checkpoint.integers["q"].values, vec![-3, 0, 300]);
        assert_eq!(checkpoint.integers.len(), 1, "I64 buffers are skipped");
        let tensors = checkpoint.tensors;
        assert!(checkpoint.deferred.is_empty());
        assert_eq!(tensors.len(), 2);
        let a = tensors["a"].to_vec2::<f32>().expect("a");
        assert_eq!(a, vec![vec![1.0], vec![2.0]]);
        assert_eq!(
            tensors["b"].to_vec1::<f32>().expect("b"),
            vec![3.0, 4.0, 5.0]
        );
        // Deferring "a" locates it instead: its data starts right after the header.
        let checkpoint = read(&path, |name, _| name == "a").expect("valid checkpoint");
        let _ = std::fs::remove_file(&path);
        assert_eq!(checkpoint.tensors.len(), 1);
        assert_eq!(
            checkpoint.deferred["a"],
            Deferred {
                offset: 8 + header.len() as u64,
                shape: vec![2, 1]
            }
        );
        assert_eq!(
            checkpoint.tensors["b"].to_vec1::<f32>().expect("b"),
            vec![3.0, 4.0, 5.0]
        );
    }

    #[test]
    fn rejects_what_does_not_add_up() {
        let data = floats(&[1.0, 2.0, 3.0]);
        let cases = [
            // Shape says 4 values, offsets say 3.
            (
                "shape",
                r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}"#,
                &data[..],
            ),
            // A gap between tensors.
            (
                "gap",
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                &data[..],
            ),
            // Data left over after the last tensor.
            (
                "trailing",
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                &data[..],
            ),
            // The file ends early.
            (
                "short",
                r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#,
                &data[..8],
            ),
            (
                "dtype",
                r#"{"a":{"dtype":"F16","shape":[6],"data_offsets":[0,12]}}"#,
                &data[..],
            ),
            // An integer buffer whose size does not match its shape is still caught.
            (
                "int",
                r#"{"a":{"dtype":"I64","shape":[2],"data_offsets":[0,12]}}"#,
                &data[..],
            ),
            ("json", r#"{"a":{"dtype":"F32","shape":[3]}}"#, &data[..]),
            (
                "metadata",
                r#"{"__metadata__":{"format":3},"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#,
                &data[..],
            ),
            ("not-json", "this is not a header", &data[..]),
        ];
        for (name, header, data) in cases {
            let path = write(name, header, data);
            let reason = reason(read(&path, |name, _| name == "a"));
            let _ = std::fs::remove_file(&path);
            assert!(!reason.is_empty(), "{name}");
        }
        // A header length larger than the file.
        let path =
            std::env::temp_dir().join(format!("checkpoint-{}-len.safetensors", std::process::id()));
        std::fs::write(&path, u64::MAX.to_le_bytes()).expect("writing");
        let reason = reason(read(&path, |name, _| name == "a"));
        let _ = std::fs::remove_file(&path);
        assert!(reason.contains("header length"), "{reason}");
    }
}
