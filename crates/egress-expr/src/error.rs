//! The one error type of the crate: a message and the column it concerns.

/// A parse, type or compile error, pointing at the offending token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ExprError {
    /// 1-based column, counted in chars, of the offending token (input length + 1 at end of input).
    pub column: usize,
    /// What is wrong, naming the input.
    pub message: String,
}

impl ExprError {
    pub(crate) fn new(column: usize, message: impl Into<String>) -> Self {
        ExprError {
            column,
            message: message.into(),
        }
    }
}
