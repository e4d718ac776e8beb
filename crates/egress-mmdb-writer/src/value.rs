//! The typed values of a MaxMind DB data section and their encoding.

/// A value of the data section.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// UTF-8 string (type 2).
    String(String),
    /// IEEE 754 double (type 3).
    Double(f64),
    /// Unsigned 16-bit integer (type 5).
    U16(u16),
    /// Unsigned 32-bit integer (type 6).
    U32(u32),
    /// Map with string keys (type 7).
    Map(Vec<(String, Value)>),
    /// Unsigned 64-bit integer (extended type 9).
    U64(u64),
    /// Array (extended type 11).
    Array(Vec<Value>),
    /// Boolean (extended type 14).
    Bool(bool),
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::String(text.to_string())
    }
}

impl Value {
    /// A map from `(key, value)` pairs, in order.
    pub fn map<'k>(pairs: impl IntoIterator<Item = (&'k str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Appends the encoded value to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::String(text) => {
                control(out, 2, text.len());
                out.extend_from_slice(text.as_bytes());
            }
            Value::Double(x) => {
                control(out, 3, 8);
                out.extend_from_slice(&x.to_be_bytes());
            }
            Value::U16(n) => unsigned(out, 5, u64::from(*n)),
            Value::U32(n) => unsigned(out, 6, u64::from(*n)),
            Value::U64(n) => unsigned(out, 9, *n),
            Value::Map(pairs) => {
                control(out, 7, pairs.len());
                for (key, value) in pairs {
                    Value::String(key.clone()).encode(out);
                    value.encode(out);
                }
            }
            Value::Array(items) => {
                control(out, 11, items.len());
                for item in items {
                    item.encode(out);
                }
            }
            // A boolean's value is its size; it has no payload.
            Value::Bool(b) => control(out, 14, usize::from(*b)),
        }
    }
}

/// Big-endian, without leading zero bytes (zero has no bytes at all).
fn unsigned(out: &mut Vec<u8>, kind: u8, n: u64) {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, kind, bytes.len() - skip);
    out.extend_from_slice(&bytes[skip..]);
}

/// The control byte (type in the top 3 bits, size in the low 5), the extended type byte for
/// types above 7, then the size's extra bytes.
fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (short, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, Vec::new()),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => {
            let rest = u32::try_from(size - 65_821).expect("fixture values stay small");
            (31, rest.to_be_bytes()[1..].to_vec())
        }
    };
    if kind <= 7 {
        out.push((kind << 5) | short);
    } else {
        out.push(short);
        out.push(kind - 7);
    }
    out.extend_from_slice(&extra);
}
