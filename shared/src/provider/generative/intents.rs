//! Schema, prompts and decoder of each intent.
