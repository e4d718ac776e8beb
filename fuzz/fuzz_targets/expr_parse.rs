//! Any text either fails to parse with an error, or parses to an expression whose printed form
//! parses back to the same expression and compiles into a matcher that evaluates.
#![no_main]

use egress_expr::{parse, Matcher, Subject};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let expr = match parse(src) {
        Ok(expr) => expr,
        Err(err) => {
            assert!(
                err.column >= 1 && err.column <= src.chars().count() + 1,
                "column {} outside {src:?}",
                err.column
            );
            return;
        }
    };
    let printed = expr.to_string();
    let reparsed = parse(&printed)
        .unwrap_or_else(|err| panic!("printed form {printed:?} of {src:?} fails: {err}"));
    assert_eq!(
        reparsed, expr,
        "printed form {printed:?} of {src:?} differs"
    );
    let _ = expr.index_hints();
    let _ = expr.fields().count();
    if let Ok(matcher) = Matcher::compile(&expr) {
        let _ = matcher.matches(&Subject::default());
        let groups = ["a".to_string()];
        let _ = matcher.matches(&Subject {
            dst_ip: "10.0.0.1".parse().ok(),
            dst_port: Some(443),
            fqdn_host: Some("a.example.com"),
            identity_groups: &groups,
            ..Subject::default()
        });
    }
});
