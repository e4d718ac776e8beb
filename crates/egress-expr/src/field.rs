//! The fields an expression can test, their names and their types.

use std::fmt;
use std::str::FromStr;

use crate::ExprError;

/// A field of the traffic or identity of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `net.src.ip`: the client's address as the gateway sees it.
    SrcIp,
    /// `net.src.port`
    SrcPort,
    /// `net.dst.ip`
    DstIp,
    /// `net.dst.port`
    DstPort,
    /// `net.protocol`: `"tcp"` or `"udp"`.
    Protocol,
    /// `net.fqdn.host`: the requested host name (case-insensitive).
    FqdnHost,
    /// `net.fqdn.domains`: the requested host and all its parent domains (case-insensitive).
    FqdnDomains,
    /// `net.proxy_endpoint`
    ProxyEndpoint,
    /// `net.src.internal_src_ip`: the client's address inside its own network.
    InternalSrcIp,
    /// `net.dst.geo.country`
    DstGeoCountry,
    /// `net.dst.geo.continent`
    DstGeoContinent,
    /// `net.src.geo.country`
    SrcGeoCountry,
    /// `net.src.geo.continent`
    SrcGeoContinent,
    /// `identity.email` (case-insensitive).
    IdentityEmail,
    /// `identity.name`
    IdentityName,
    /// `identity.groups.name`: an array, usable only inside `any(identity.groups.name[*] …)`.
    IdentityGroupsName,
}

/// The type of the values a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ip,
    Port,
    Str,
    /// An array of strings.
    StrArray,
}

impl Field {
    /// Every field, in declaration order.
    pub const ALL: [Field; 16] = [
        Field::SrcIp,
        Field::SrcPort,
        Field::DstIp,
        Field::DstPort,
        Field::Protocol,
        Field::FqdnHost,
        Field::FqdnDomains,
        Field::ProxyEndpoint,
        Field::InternalSrcIp,
        Field::DstGeoCountry,
        Field::DstGeoContinent,
        Field::SrcGeoCountry,
        Field::SrcGeoContinent,
        Field::IdentityEmail,
        Field::IdentityName,
        Field::IdentityGroupsName,
    ];

    /// The name used in expressions, e.g. `net.dst.ip`.
    pub fn name(&self) -> &'static str {
        match self {
            Field::SrcIp => "net.src.ip",
            Field::SrcPort => "net.src.port",
            Field::DstIp => "net.dst.ip",
            Field::DstPort => "net.dst.port",
            Field::Protocol => "net.protocol",
            Field::FqdnHost => "net.fqdn.host",
            Field::FqdnDomains => "net.fqdn.domains",
            Field::ProxyEndpoint => "net.proxy_endpoint",
            Field::InternalSrcIp => "net.src.internal_src_ip",
            Field::DstGeoCountry => "net.dst.geo.country",
            Field::DstGeoContinent => "net.dst.geo.continent",
            Field::SrcGeoCountry => "net.src.geo.country",
            Field::SrcGeoContinent => "net.src.geo.continent",
            Field::IdentityEmail => "identity.email",
            Field::IdentityName => "identity.name",
            Field::IdentityGroupsName => "identity.groups.name",
        }
    }

    /// Whether the field describes who is connecting rather than the traffic itself.
    pub fn is_identity(&self) -> bool {
        matches!(
            self,
            Field::IdentityEmail | Field::IdentityName | Field::IdentityGroupsName
        )
    }

    pub(crate) fn kind(self) -> Kind {
        match self {
            Field::SrcIp | Field::DstIp | Field::InternalSrcIp => Kind::Ip,
            Field::SrcPort | Field::DstPort => Kind::Port,
            Field::IdentityGroupsName => Kind::StrArray,
            _ => Kind::Str,
        }
    }

    /// Whether values are compared case-insensitively: literals are lowercased when compiled and
    /// callers pass lowercase subject values.
    pub(crate) fn case_insensitive(self) -> bool {
        matches!(
            self,
            Field::FqdnHost | Field::FqdnDomains | Field::IdentityEmail
        )
    }

    pub(crate) fn bit(self) -> u32 {
        1 << self as u32
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Field {
    type Err = ExprError;

    /// Parses a field name; the error (column 1) names the closest field when there is one.
    fn from_str(name: &str) -> Result<Field, ExprError> {
        Field::ALL
            .into_iter()
            .find(|field| field.name() == name)
            .ok_or_else(|| ExprError::new(1, unknown_field_message(name)))
    }
}

pub(crate) fn unknown_field_message(name: &str) -> String {
    match closest_field(name) {
        Some(field) => format!("unknown field `{name}` (did you mean `{field}`?)"),
        None => format!("unknown field `{name}`"),
    }
}

/// The field whose name is within a few edits of `name`, if any.
fn closest_field(name: &str) -> Option<Field> {
    let limit = (name.chars().count() / 3).clamp(1, 4);
    Field::ALL
        .into_iter()
        .map(|field| (edit_distance(name, field.name()), field))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, field)| field)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_field() {
        for field in Field::ALL {
            assert_eq!(field.name().parse::<Field>(), Ok(field));
            assert_eq!(field.to_string(), field.name());
        }
    }

    #[test]
    fn unknown_name_suggests_the_closest_field() {
        let err = "net.dst.prot".parse::<Field>().expect_err("not a field");
        assert_eq!(err.column, 1);
        assert_eq!(
            err.message,
            "unknown field `net.dst.prot` (did you mean `net.dst.port`?)"
        );
    }

    #[test]
    fn unknown_name_far_from_every_field_has_no_suggestion() {
        let err = "http.request.uri"
            .parse::<Field>()
            .expect_err("not a field");
        assert_eq!(err.message, "unknown field `http.request.uri`");
    }

    #[test]
    fn only_identity_fields_are_identity() {
        let identity: Vec<Field> = Field::ALL.into_iter().filter(Field::is_identity).collect();
        assert_eq!(
            identity,
            [
                Field::IdentityEmail,
                Field::IdentityName,
                Field::IdentityGroupsName
            ]
        );
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }
}
