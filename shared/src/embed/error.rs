//! [`EmbedError`]: every way loading or running an embedding model can fail, worded for the
//! operator who has to fix it (which file, what is wrong with it, what to run).

use std::path::PathBuf;

/// Why a model could not be loaded or could not embed.
///
/// Load-time variants carry the offending path; messages end with the fix, because they surface
/// in Lambda cold-start logs where nobody has the code at hand.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model directory or one of its files does not exist.
    #[error(
        "embedding model {what} not found at {}: run scripts/setup.sh to download and verify \
         the model, or point MODEL_DIR at a directory holding model.safetensors, tokenizer.json \
         and config.json",
        path.display()
    )]
    ModelMissing {
        /// The directory or file that was looked for.
        path: PathBuf,
        /// What was expected there, e.g. "directory" or "weights file model.safetensors".
        what: &'static str,
    },

    /// A model file exists but could not be read (permissions, I/O error).
    #[error(
        "embedding model file {} exists but cannot be read: {source}; check its permissions \
         and that the disk is healthy",
        path.display()
    )]
    Unreadable {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A model file was read but its content is not what all-MiniLM-L6-v2 ships: truncated
    /// download, wrong model, or garbage.
    #[error(
        "embedding model file {} is corrupt or not all-MiniLM-L6-v2: {reason}; delete the model \
         directory and run scripts/setup.sh to download and verify it again",
        path.display()
    )]
    Corrupt {
        /// The file whose content was rejected.
        path: PathBuf,
        /// What exactly was wrong with it.
        reason: String,
    },

    /// A setting of the model (an environment variable) has a value it does not take.
    #[error("embedding model setting is invalid: {0}")]
    Setting(String),

    /// The tokenizer rejected an input text.
    #[error("tokenizing the input failed: {0}")]
    Tokenizer(String),

    /// The model's forward pass failed (shape error, out of memory).
    #[error("embedding inference failed: {0}")]
    Inference(String),
}
