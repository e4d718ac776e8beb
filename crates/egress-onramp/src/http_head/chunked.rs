use super::HeadError;

/// Longest chunk-size line (size, extensions, CRLF) accepted.
const MAX_SIZE_LINE: usize = 4096;
/// Most trailer bytes accepted after the last chunk.
const MAX_TRAILER_BYTES: usize = 16 * 1024;

/// Finds the end of a chunked body (RFC 9112 §7.1) without changing it.
///
/// The relay forwards the raw bytes; this only tells how many of them belong to the body, and
/// refuses the malformed framings that let a request be read differently by the origin.
#[derive(Debug, Clone, Default)]
pub struct ChunkedDecoder {
    state: State,
    /// Bytes of the current size line or of the trailer section so far.
    line_bytes: usize,
}

/// What one [`ChunkedDecoder::feed`] call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkedProgress {
    /// Bytes of the input that belong to the body; forward exactly these.
    pub consumed: usize,
    /// The body ended within them; bytes after `consumed` are the next message.
    pub done: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// At the start of a chunk-size line.
    #[default]
    SizeStart,
    Size {
        size: u64,
    },
    /// After the size: only whitespace, `;` or CR.
    SizeSpace {
        size: u64,
    },
    Extension {
        size: u64,
    },
    SizeLf {
        size: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    TrailerLineStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
    Failed,
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the whole body, trailers included, has been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes body bytes. Once `done`, further calls consume nothing. After an error the
    /// decoder stays failed.
    pub fn feed(&mut self, input: &[u8]) -> Result<ChunkedProgress, HeadError> {
        let mut at = 0;
        while at < input.len() {
            match self.state {
                State::Done => break,
                State::Data { remaining } => {
                    let available = (input.len() - at) as u64;
                    let take = remaining.min(available);
                    at += take as usize;
                    self.state = match remaining - take {
                        0 => State::DataCr,
                        left => State::Data { remaining: left },
                    };
                }
                _ => {
                    let byte = input[at];
                    at += 1;
                    if let Err(problem) = self.step(byte) {
                        self.state = State::Failed;
                        return Err(HeadError::BadChunk(problem));
                    }
                }
            }
        }
        Ok(ChunkedProgress {
            consumed: at,
            done: self.is_done(),
        })
    }

    fn step(&mut self, byte: u8) -> Result<(), &'static str> {
        if self.in_size_line() {
            self.line_bytes += 1;
            if self.line_bytes > MAX_SIZE_LINE {
                return Err("chunk-size line too long");
            }
        } else if self.in_trailers() {
            self.line_bytes += 1;
            if self.line_bytes > MAX_TRAILER_BYTES {
                return Err("trailer section too large");
            }
        }
        self.state = match (self.state, byte) {
            (State::SizeStart, _) => State::Size {
                size: hex_digit(byte)?,
            },
            (State::Size { size }, _) if byte.is_ascii_hexdigit() => {
                let digit = hex_digit(byte)?;
                let size = size.checked_mul(16).and_then(|s| s.checked_add(digit));
                State::Size {
                    size: size.ok_or("chunk size overflows 64 bits")?,
                }
            }
            (State::Size { size } | State::SizeSpace { size }, b' ' | b'\t') => {
                State::SizeSpace { size }
            }
            (State::Size { size } | State::SizeSpace { size }, b';') => State::Extension { size },
            (
                State::Size { size } | State::SizeSpace { size } | State::Extension { size },
                b'\r',
            ) => State::SizeLf { size },
            (State::Size { .. } | State::SizeSpace { .. }, _) => {
                return Err("unexpected byte in chunk size")
            }
            (State::Extension { size }, _) if is_field_byte(byte) => State::Extension { size },
            (State::Extension { .. }, _) => return Err("control byte in chunk extension"),
            (State::SizeLf { size }, b'\n') => {
                self.line_bytes = 0;
                match size {
                    0 => State::TrailerLineStart,
                    remaining => State::Data { remaining },
                }
            }
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::SizeStart,
            (State::DataCr | State::DataLf, _) => return Err("chunk data not followed by CRLF"),
            (State::TrailerLineStart, b'\r') => State::FinalLf,
            (State::TrailerLineStart | State::TrailerName, _) if is_tchar(byte) => {
                State::TrailerName
            }
            (State::TrailerName, b':') => State::TrailerValue,
            (State::TrailerLineStart | State::TrailerName, _) => {
                return Err("bad trailer field name")
            }
            (State::TrailerValue, b'\r') => State::TrailerLf,
            (State::TrailerValue, _) if is_field_byte(byte) => State::TrailerValue,
            (State::TrailerValue, _) => return Err("control byte in trailer field"),
            (State::TrailerLf, b'\n') => State::TrailerLineStart,
            (State::FinalLf, b'\n') => State::Done,
            (State::SizeLf { .. } | State::TrailerLf | State::FinalLf, _) => {
                return Err("CR not followed by LF")
            }
            (State::Failed, _) => return Err("decoder already failed"),
            (State::Data { .. } | State::Done, _) => {
                unreachable!("feed handles data and done without step")
            }
        };
        Ok(())
    }

    fn in_size_line(&self) -> bool {
        matches!(
            self.state,
            State::SizeStart
                | State::Size { .. }
                | State::SizeSpace { .. }
                | State::Extension { .. }
                | State::SizeLf { .. }
        )
    }

    fn in_trailers(&self) -> bool {
        matches!(
            self.state,
            State::TrailerLineStart
                | State::TrailerName
                | State::TrailerValue
                | State::TrailerLf
                | State::FinalLf
        )
    }
}

fn hex_digit(byte: u8) -> Result<u64, &'static str> {
    (byte as char)
        .to_digit(16)
        .map(u64::from)
        .ok_or("chunk size is not hexadecimal")
}

/// Visible bytes, space, tab and obs-text: what a field value or chunk extension may hold.
fn is_field_byte(byte: u8) -> bool {
    byte == b'\t' || byte == b' ' || byte.is_ascii_graphic() || byte >= 0x80
}

/// RFC 9110 §5.6.2 token character.
pub(crate) fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}
