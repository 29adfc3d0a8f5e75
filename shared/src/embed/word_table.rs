//! The word-embedding table, read from the checkpoint one row at a time, the first time a token
//! needs it.
//!
//! The table is half of all-MiniLM-L6-v2's weights (30,522 rows × 384 f32, 47 MB), but a
//! request touches a few hundred distinct tokens and a warm execution environment a few thousand
//! in its life. Reading the whole table at cold start cost about as much as every other weight
//! together; reading rows on demand moves that cost off the cold start and spreads it over the
//! first requests, about a microsecond per new token. Memory-mapping would do the same with
//! less code but needs `unsafe`, which this workspace forbids.
//!
//! The checkpoint's header was validated when the model loaded (the table's byte range lies
//! inside the file), so a failed row read means the file changed or vanished underneath the
//! process; it is reported as an error, never answered with zeros.

use std::fs::File;
use std::sync::{Mutex, OnceLock};

/// Rows of a `(rows, width)` little-endian f32 table stored at `offset` in `file`.
pub(super) struct WordTable {
    file: Mutex<File>,
    offset: u64,
    width: usize,
    rows: Vec<OnceLock<Box<[f32]>>>,
}

impl WordTable {
    pub(super) fn new(file: File, offset: u64, rows: usize, width: usize) -> Self {
        Self {
            file: Mutex::new(file),
            offset,
            width,
            rows: (0..rows).map(|_| OnceLock::new()).collect(),
        }
    }

    pub(super) fn rows(&self) -> usize {
        self.rows.len()
    }

    pub(super) fn width(&self) -> usize {
        self.width
    }

    /// The rows of `ids`, one after another: `(ids.len(), width)` values.
    pub(super) fn gather(&self, ids: &[u32]) -> Result<Vec<f32>, String> {
        let mut out = Vec::with_capacity(ids.len() * self.width);
        for &id in ids {
            out.extend_from_slice(self.row(id)?);
        }
        Ok(out)
    }

    fn row(&self, id: u32) -> Result<&[f32], String> {
        let slot = self
            .rows
            .get(id as usize)
            .ok_or_else(|| format!("token id {id} is outside the vocabulary ({})", self.rows()))?;
        if let Some(row) = slot.get() {
            return Ok(row);
        }
        let mut row = vec![0f32; self.width].into_boxed_slice();
        {
            let file = self
                .file
                .lock()
                .map_err(|_| "the weights file lock is poisoned".to_owned())?;
            let at = self.offset + u64::from(id) * (self.width as u64 * 4);
            super::checkpoint::read_floats_at(&file, at, &mut row).map_err(|err| {
                format!("reading word embedding {id} from the weights file: {err}")
            })?;
        }
        // Two threads may read the same new row at once; both read the same bytes, and the
        // first to finish fills the slot.
        let _ = slot.set(row);
        slot.get()
            .map(|row| &row[..])
            .ok_or_else(|| format!("word embedding {id} was not stored"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_on_demand_and_refuses_unknown_ids() {
        let path = std::env::temp_dir().join(format!("word-table-{}.bin", std::process::id()));
        let mut bytes = b"header".to_vec();
        for value in 0..12 {
            bytes.extend_from_slice(&(value as f32).to_le_bytes());
        }
        std::fs::write(&path, &bytes).expect("writing test table");
        let table = WordTable::new(File::open(&path).expect("open"), 6, 4, 3);
        assert_eq!(
            table.gather(&[2, 0, 2]).expect("rows"),
            vec![6.0, 7.0, 8.0, 0.0, 1.0, 2.0, 6.0, 7.0, 8.0]
        );
        let err = table
            .gather(&[4])
            .expect_err("id 4 is outside a 4-row table");
        assert!(err.contains("outside the vocabulary"), "{err}");
        // A row that is already in memory no longer needs the file; a new one does.
        std::fs::write(&path, b"short").expect("truncating");
        assert_eq!(table.gather(&[0]).expect("cached row"), vec![0.0, 1.0, 2.0]);
        let err = table.gather(&[3]).expect_err("the file lost its data");
        assert!(err.contains("reading word embedding 3"), "{err}");
        let _ = std::fs::remove_file(&path);
    }
}
