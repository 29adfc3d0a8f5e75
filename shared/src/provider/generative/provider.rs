//! [`GenerativeProvider`]: the intents on top of any [`super::ChatModel`].

/// Answers every intent with a language model behind a [`super::ChatModel`].
pub struct GenerativeProvider;
