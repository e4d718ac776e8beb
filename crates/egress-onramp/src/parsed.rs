/// The outcome of parsing a message from the start of a receive buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole message: `head` is it, `consumed` is how many bytes of the buffer it took.
    /// Bytes after `consumed` belong to whatever follows (body, tunnel, next message).
    Complete { head: T, consumed: usize },
    /// The buffer holds a valid prefix: read more bytes and parse again from the start.
    Partial,
}

impl<T> Parsed<T> {
    /// The message, if complete.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Parsed::Complete { head, consumed } => Some((head, consumed)),
            Parsed::Partial => None,
        }
    }

    /// Whether more bytes are needed.
    pub fn is_partial(&self) -> bool {
        matches!(self, Parsed::Partial)
    }
}
