//! The chat port on any OpenAI-compatible `POST {base}/chat/completions` server.
