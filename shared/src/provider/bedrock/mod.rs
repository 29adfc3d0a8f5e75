//! The chat port on Amazon Bedrock Converse.
