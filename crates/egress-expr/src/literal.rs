//! Reads the words that stand for IP addresses, CIDRs, ports and ranges, with errors pointing at
//! the part that is wrong.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::ast::IpItem;
use crate::field::{Field, Kind};
use crate::ExprError;

/// What a field accepts, for "expects …" messages.
pub(crate) fn expectation(kind: Kind, in_set: bool) -> &'static str {
    match (kind, in_set) {
        (Kind::Ip, false) => "an IP address or CIDR",
        (Kind::Ip, true) => "an IP address, CIDR or IP range",
        (Kind::Port, false) => "a port",
        (Kind::Port, true) => "a port or port range",
        (Kind::Str | Kind::StrArray, _) => "a string",
    }
}

/// How a bare word reads, for "found …" messages.
pub(crate) fn describe_word(word: &str) -> String {
    if is_number(word) {
        format!("number {word}")
    } else if word.parse::<IpAddr>().is_ok() {
        format!("IP address {word}")
    } else if word.parse::<IpNet>().is_ok() {
        format!("CIDR {word}")
    } else if word.contains("..") {
        format!("range {word}")
    } else {
        format!("`{word}`")
    }
}

fn is_number(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

fn mismatch(field: Field, in_set: bool, word: &str, column: usize) -> ExprError {
    ExprError::new(
        column,
        format!(
            "{field} expects {}, found {}",
            expectation(field.kind(), in_set),
            describe_word(word)
        ),
    )
}

fn range_needs_in(field: Field, word: &str, column: usize) -> ExprError {
    ExprError::new(
        column,
        format!("a range needs a set: write `{field} in {{{word}}}`"),
    )
}

/// An IP address, CIDR or (in sets) range `start..end`.
pub(crate) fn ip_item(
    field: Field,
    word: &str,
    column: usize,
    in_set: bool,
) -> Result<IpItem, ExprError> {
    if let Some((start_text, end_text)) = word.split_once("..") {
        if !in_set {
            return Err(range_needs_in(field, word, column));
        }
        let start = address(field, in_set, start_text, column)?;
        let end = address(field, in_set, end_text, column + start_text.len() + 2)?;
        if start.is_ipv4() != end.is_ipv4() {
            return Err(ExprError::new(
                column,
                format!("IP range {word} mixes IPv4 and IPv6"),
            ));
        }
        if start > end {
            return Err(ExprError::new(
                column,
                format!("range start {start} is greater than end {end}"),
            ));
        }
        return Ok(IpItem::Range(start, end));
    }
    let Some((addr_text, len_text)) = word.split_once('/') else {
        return Ok(IpItem::Net(IpNet::from(address(
            field, in_set, word, column,
        )?)));
    };
    let addr = address(field, in_set, addr_text, column)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len_column = column + addr_text.len() + 1;
    let len = match len_text.parse::<u8>() {
        Ok(len) if is_number(len_text) && len <= max => len,
        _ if is_number(len_text) => {
            return Err(ExprError::new(
                len_column,
                format!("invalid CIDR {word}: prefix length {len_text} is longer than {max}"),
            ))
        }
        _ => {
            return Err(ExprError::new(
                len_column,
                format!("invalid CIDR {word}: prefix length `{len_text}` is not a number"),
            ))
        }
    };
    let net = IpNet::new(addr, len).expect("prefix length was checked against the family");
    if net.network() != addr {
        return Err(ExprError::new(
            column,
            format!(
                "invalid CIDR {word}: host bits are set (did you mean {}?)",
                net.trunc()
            ),
        ));
    }
    Ok(IpItem::Net(net))
}

fn address(field: Field, in_set: bool, text: &str, column: usize) -> Result<IpAddr, ExprError> {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => Err(ExprError::new(
            column,
            format!(
                "write the IPv4-mapped address {v6} as {} (such addresses are compared as IPv4)",
                v6.to_canonical()
            ),
        )),
        Ok(addr) => Ok(addr),
        Err(_) if looks_like_address(text) => {
            Err(ExprError::new(column, format!("invalid IP address {text}")))
        }
        Err(_) => Err(mismatch(field, in_set, text, column)),
    }
}

/// Dotted digits or anything with a colon: meant as an address, but malformed.
fn looks_like_address(text: &str) -> bool {
    text.contains(':')
        || (text.contains('.') && text.bytes().all(|b| b == b'.' || b.is_ascii_digit()))
}

/// A port or (in sets) an inclusive range `start..end`.
pub(crate) fn port_item(
    field: Field,
    word: &str,
    column: usize,
    in_set: bool,
) -> Result<(u16, u16), ExprError> {
    let Some((start_text, end_text)) = word.split_once("..") else {
        let port = port(field, in_set, word, column)?;
        return Ok((port, port));
    };
    if !in_set {
        return Err(range_needs_in(field, word, column));
    }
    let start = port(field, in_set, start_text, column)?;
    let end = port(field, in_set, end_text, column + start_text.len() + 2)?;
    if start > end {
        return Err(ExprError::new(
            column,
            format!("range start {start} is greater than end {end}"),
        ));
    }
    Ok((start, end))
}

fn port(field: Field, in_set: bool, text: &str, column: usize) -> Result<u16, ExprError> {
    if !is_number(text) {
        return Err(mismatch(field, in_set, text, column));
    }
    text.parse::<u16>()
        .map_err(|_| ExprError::new(column, format!("port {text} is out of range (0 to 65535)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(word: &str) -> Result<IpItem, ExprError> {
        ip_item(Field::DstIp, word, 1, true)
    }

    #[test]
    fn addresses_cidrs_and_ranges_are_read() {
        let addr = |s: &str| s.parse::<IpAddr>().expect("test address");
        assert_eq!(
            ip("10.0.0.1"),
            Ok(IpItem::Net(IpNet::from(addr("10.0.0.1"))))
        );
        assert_eq!(
            ip("2001:db8::/32"),
            Ok(IpItem::Net("2001:db8::/32".parse().expect("test net")))
        );
        assert_eq!(
            ip("10.0.0.1..10.0.0.9"),
            Ok(IpItem::Range(addr("10.0.0.1"), addr("10.0.0.9")))
        );
    }

    #[test]
    fn cidr_errors_point_at_the_wrong_part() {
        let err = ip("10.0.0.0/33").expect_err("too long");
        assert_eq!(err.column, 10);
        assert_eq!(
            err.message,
            "invalid CIDR 10.0.0.0/33: prefix length 33 is longer than 32"
        );
        let err = ip("10.0.0.1/8").expect_err("host bits");
        assert_eq!(err.column, 1);
        assert_eq!(
            err.message,
            "invalid CIDR 10.0.0.1/8: host bits are set (did you mean 10.0.0.0/8?)"
        );
        let err = ip("10.0.0.0/x").expect_err("not a number");
        assert_eq!(
            err.message,
            "invalid CIDR 10.0.0.0/x: prefix length `x` is not a number"
        );
    }

    #[test]
    fn range_errors_name_both_ends() {
        let err = ip("10.0.0.9..10.0.0.1").expect_err("backwards");
        assert_eq!(
            err.message,
            "range start 10.0.0.9 is greater than end 10.0.0.1"
        );
        let err = ip("10.0.0.1..::1").expect_err("mixed");
        assert_eq!(err.message, "IP range 10.0.0.1..::1 mixes IPv4 and IPv6");
        let err = ip("10.0.0.1..10.0.0.300").expect_err("bad end");
        assert_eq!(err.column, 11);
        assert_eq!(err.message, "invalid IP address 10.0.0.300");
    }

    #[test]
    fn ipv4_mapped_addresses_are_refused_with_their_ipv4_form() {
        let err = ip("::ffff:10.0.0.1").expect_err("mapped");
        assert_eq!(
            err.message,
            "write the IPv4-mapped address ::ffff:10.0.0.1 as 10.0.0.1 (such addresses are compared as IPv4)"
        );
    }

    #[test]
    fn ports_and_port_ranges_are_checked() {
        assert_eq!(port_item(Field::DstPort, "443", 1, false), Ok((443, 443)));
        assert_eq!(
            port_item(Field::DstPort, "8000..8999", 1, true),
            Ok((8000, 8999))
        );
        let err = port_item(Field::DstPort, "1..70000", 5, true).expect_err("range");
        assert_eq!(err.column, 8);
        assert_eq!(err.message, "port 70000 is out of range (0 to 65535)");
        let err = port_item(Field::DstPort, "9..8", 1, true).expect_err("backwards");
        assert_eq!(err.message, "range start 9 is greater than end 8");
        let err = port_item(Field::DstPort, "1..2", 1, false).expect_err("not in a set");
        assert_eq!(
            err.message,
            "a range needs a set: write `net.dst.port in {1..2}`"
        );
    }

    #[test]
    fn found_words_are_described_by_what_they_look_like() {
        assert_eq!(describe_word("443"), "number 443");
        assert_eq!(describe_word("::1"), "IP address ::1");
        assert_eq!(describe_word("10.0.0.0/8"), "CIDR 10.0.0.0/8");
        assert_eq!(describe_word("1..2"), "range 1..2");
        assert_eq!(describe_word("tcp"), "`tcp`");
    }
}
