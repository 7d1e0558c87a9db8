//! JumpCloud HTTP client.
