//! Writes small MaxMind DB files, so that tests can check what geolocation databases say about
//! egress addresses without shipping a vendor's database.
//!
//! Written from the public MaxMind DB format specification (version 2.0): a binary search tree
//! over address bits, 16 zero bytes, a data section of typed values, then the marker
//! `\xAB\xCD\xEFMaxMind.com` and a metadata map. Only what fixtures need is supported: an IPv6
//! tree (IPv4 networks live under `::/96`, where readers look for them), 32-bit records, and no
//! pointers in the data section.

mod value;

use std::net::IpAddr;

use ipnet::IpNet;

pub use value::Value;

/// Separates the search tree from the data section.
const DATA_SECTION_SEPARATOR: [u8; 16] = [0; 16];
/// Starts the metadata section.
const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";
/// Bits per record: two records per node, 8 bytes a node.
const RECORD_SIZE: u16 = 32;

/// One side of a tree node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Record {
    /// No network here: lookups end with "not found".
    Empty,
    /// Another node.
    Node(u32),
    /// A value at this offset of the data section.
    Data(u32),
}

/// A MaxMind DB under construction.
#[derive(Debug, Clone)]
pub struct MmdbWriter {
    database_type: String,
    build_epoch: u64,
    nodes: Vec<[Record; 2]>,
    data: Vec<u8>,
}

impl MmdbWriter {
    /// An empty database whose metadata names `database_type` (such as `GeoIP2-City`).
    pub fn new(database_type: &str) -> MmdbWriter {
        MmdbWriter {
            database_type: database_type.to_string(),
            build_epoch: 1_700_000_000,
            nodes: vec![[Record::Empty; 2]],
            data: Vec::new(),
        }
    }

    /// Maps every address of `network` to `value`. A later, longer network inside an earlier
    /// one overrides it for its own addresses.
    ///
    /// # Panics
    /// On a zero-length prefix, which no fixture needs.
    pub fn insert(&mut self, network: IpNet, value: &Value) -> &mut MmdbWriter {
        let (bits, len) = match network.trunc() {
            IpNet::V4(n) => (
                u128::from(u32::from(n.network())),
                96 + u32::from(n.prefix_len()),
            ),
            IpNet::V6(n) => (u128::from(n.network()), u32::from(n.prefix_len())),
        };
        assert!(
            len > 0,
            "a fixture maps a network, not the whole address space"
        );
        let offset = u32::try_from(self.data.len()).expect("fixtures stay below 4 GiB");
        value.encode(&mut self.data);
        let mut node = 0usize;
        for depth in 0..len {
            let bit = ((bits >> (127 - depth)) & 1) as usize;
            if depth == len - 1 {
                self.nodes[node][bit] = Record::Data(offset);
                break;
            }
            node = match self.nodes[node][bit] {
                Record::Node(next) => next as usize,
                // Split an empty or covering record: both halves keep what it said.
                inherited => {
                    let next = self.nodes.len();
                    self.nodes.push([inherited; 2]);
                    self.nodes[node][bit] =
                        Record::Node(u32::try_from(next).expect("fixtures stay small"));
                    next
                }
            };
        }
        self
    }

    /// Maps one address to `value`.
    pub fn insert_addr(&mut self, addr: IpAddr, value: &Value) -> &mut MmdbWriter {
        self.insert(IpNet::from(addr), value)
    }

    /// The database file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let node_count = u32::try_from(self.nodes.len()).expect("fixtures stay small");
        let mut out = Vec::with_capacity(self.nodes.len() * 8 + self.data.len() + 256);
        for node in &self.nodes {
            for record in node {
                let value = match *record {
                    Record::Empty => node_count,
                    Record::Node(n) => n,
                    Record::Data(offset) => node_count + 16 + offset,
                };
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
        out.extend_from_slice(&DATA_SECTION_SEPARATOR);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(METADATA_MARKER);
        self.metadata(node_count).encode(&mut out);
        out
    }

    /// Writes the database to `path`.
    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_bytes())
    }

    fn metadata(&self, node_count: u32) -> Value {
        Value::map([
            ("node_count", Value::U32(node_count)),
            ("record_size", Value::U16(RECORD_SIZE)),
            ("ip_version", Value::U16(6)),
            ("database_type", Value::from(self.database_type.as_str())),
            ("languages", Value::Array(vec![Value::from("en")])),
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(self.build_epoch)),
            (
                "description",
                Value::map([("en", Value::from("egressd test fixture"))]),
            ),
        ])
    }
}

/// A record shaped like those of GeoIP2/GeoLite2 City databases: country ISO code, the first
/// subdivision's ISO code (`CA` for `US-CA`) and the city's English name. Leave `city` out for
/// a country-level database.
pub fn city_record(country: &str, subdivision: Option<&str>, city: Option<&str>) -> Value {
    let mut fields = vec![(
        "country",
        Value::map([
            ("iso_code", Value::from(country)),
            ("names", Value::map([("en", Value::from(country))])),
        ]),
    )];
    if let Some(code) = subdivision {
        fields.push((
            "subdivisions",
            Value::Array(vec![Value::map([("iso_code", Value::from(code))])]),
        ));
    }
    if let Some(name) = city {
        fields.push((
            "city",
            Value::map([("names", Value::map([("en", Value::from(name))]))]),
        ));
    }
    Value::map(fields)
}
