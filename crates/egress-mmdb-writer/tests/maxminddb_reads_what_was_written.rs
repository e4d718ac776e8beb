//! The files this crate writes are read back by the `maxminddb` crate as written.

use std::net::IpAddr;

use egress_mmdb_writer::{city_record, MmdbWriter, Value};
use maxminddb::{path, Reader};

fn lookup(
    reader: &Reader<Vec<u8>>,
    addr: &str,
    path: &[maxminddb::PathElement<'_>],
) -> Option<String> {
    let ip: IpAddr = addr.parse().expect("an address");
    reader
        .lookup(ip)
        .expect("lookup")
        .decode_path::<String>(path)
        .expect("decodes")
}

#[test]
fn networks_of_both_families_read_back_with_their_values() {
    let mut w = MmdbWriter::new("GeoIP2-City");
    w.insert(
        "203.0.113.0/24".parse().expect("net"),
        &city_record("US", Some("CA"), Some("Los Angeles")),
    )
    .insert(
        "203.0.113.20/32".parse().expect("net"),
        &city_record("DE", Some("HE"), Some("Frankfurt am Main")),
    )
    .insert(
        "2001:db8:e000:10::/64".parse().expect("net"),
        &city_record("US", None, None),
    );
    let reader = Reader::from_source(w.to_bytes()).expect("a valid database");
    assert_eq!(reader.metadata().database_type, "GeoIP2-City");
    reader
        .verify()
        .expect("passes the reader's own verification");

    let country = path!["country", "iso_code"];
    let city = path!["city", "names", "en"];
    let region = path!["subdivisions", 0, "iso_code"];
    assert_eq!(
        lookup(&reader, "203.0.113.10", &country).as_deref(),
        Some("US")
    );
    assert_eq!(
        lookup(&reader, "203.0.113.10", &city).as_deref(),
        Some("Los Angeles")
    );
    assert_eq!(
        lookup(&reader, "203.0.113.10", &region).as_deref(),
        Some("CA")
    );
    assert_eq!(
        lookup(&reader, "203.0.113.20", &country).as_deref(),
        Some("DE")
    );
    assert_eq!(
        lookup(&reader, "203.0.113.21", &country).as_deref(),
        Some("US")
    );
    assert_eq!(
        lookup(&reader, "2001:db8:e000:10::5", &country).as_deref(),
        Some("US")
    );
    assert_eq!(lookup(&reader, "2001:db8:e000:10::5", &city), None);
    let missing = reader
        .lookup("198.51.100.1".parse().expect("an address"))
        .expect("lookup");
    assert!(!missing.has_data());
}

#[test]
fn long_strings_and_wide_integers_use_the_longer_size_forms() {
    let long = "x".repeat(300);
    let record = Value::map([
        ("long", Value::from(long.as_str())),
        ("mid", Value::from("y".repeat(100).as_str())),
        ("big", Value::U64(u64::MAX)),
        ("zero", Value::U32(0)),
        ("flag", Value::Bool(true)),
        ("pi", Value::Double(3.5)),
    ]);
    let mut w = MmdbWriter::new("Test");
    w.insert("192.0.2.0/24".parse().expect("net"), &record);
    let reader = Reader::from_source(w.to_bytes()).expect("a valid database");
    let result = reader
        .lookup("192.0.2.1".parse().expect("ip"))
        .expect("lookup");
    assert_eq!(
        result.decode_path::<String>(&path!["long"]).expect("ok"),
        Some(long)
    );
    assert_eq!(
        result.decode_path::<u64>(&path!["big"]).expect("ok"),
        Some(u64::MAX)
    );
    assert_eq!(
        result.decode_path::<u32>(&path!["zero"]).expect("ok"),
        Some(0)
    );
    assert_eq!(
        result.decode_path::<bool>(&path!["flag"]).expect("ok"),
        Some(true)
    );
    assert_eq!(
        result.decode_path::<f64>(&path!["pi"]).expect("ok"),
        Some(3.5)
    );
    assert_eq!(
        result
            .decode_path::<String>(&path!["mid"])
            .expect("ok")
            .map(|s| s.len()),
        Some(100)
    );
}
