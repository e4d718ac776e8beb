//! The egress policy expression language: the wirefilter dialect of Cloudflare Gateway.
//!
//! ```text
//! net.dst.ip in {203.0.113.0/24 2001:db8::/32} and net.dst.port == 443
//! net.fqdn.domains in {"example.com"} or net.fqdn.host matches "^api\.example\.org$"
//! any(identity.groups.name[*] in {"finance"}) and not identity.email == "intern@example.com"
//! ```
//!
//! [`parse`] reads and type-checks an expression; [`Matcher::compile`] builds its sets, ranges
//! and regexes; [`Matcher::matches`] tests a [`Subject`] without allocating.
//!
//! # Syntax
//!
//! - Operators: `==` (`eq`), `!=` (`ne`), `in {…}`, `not in {…}`, `matches "regex"` (`~`),
//!   `and` (`&&`), `or` (`||`), `not` (`!`), parentheses. `not` binds tighter than `and`, which
//!   binds tighter than `or`.
//! - Sets list members separated by spaces or commas. IP fields take addresses, CIDRs and ranges
//!   (`10.0.0.1..10.0.0.9`); port fields take ports and ranges (`8000..8999`); string fields
//!   take `"double-quoted"` strings (`\"` and `\\` are escapes, other backslashes stay as
//!   written) or raw strings `r"…"` / `r#"…"#`.
//! - `==` on an IP field takes an address or a CIDR; a CIDR means containment.
//! - `identity.groups.name` is an array: it is used only as
//!   `any(identity.groups.name[*] in {…})`, `== "…"` or `matches "…"` inside `any(…)`.
//! - The empty expression (only whitespace) is always true.
//!
//! # Semantics
//!
//! - **Absent fields**: any comparison on an absent field (`None`, or no groups) is false,
//!   including `!=` and `not in`. `net.dst.port != 22` means "there is a destination port and it
//!   is not 22". Only `not (…)` turns a false comparison into true: `not net.dst.port == 22` also
//!   matches when the port is unknown.
//! - `net.fqdn.host`, `net.fqdn.domains` and `identity.email` are case-insensitive: literals are
//!   lowercased (host names also lose a trailing dot) and `matches` ignores case; subjects must
//!   carry lowercase values.
//! - `net.fqdn.domains == "example.com"` (or `in {…}`) matches the host `example.com` and every
//!   subdomain such as `a.b.example.com`, not `badexample.com`; `matches` on it tests the host.
//! - `matches` searches (is not anchored): write `^…$` to match a whole value.
//! - IPv4-mapped IPv6 subject addresses (`::ffff:10.0.0.1`) are compared as IPv4; such literals
//!   are refused in favour of their IPv4 form.

mod ast;
mod compile;
mod error;
mod field;
mod hints;
mod lexer;
mod literal;
mod parser;
mod sets;
mod subject;

#[cfg(test)]
mod model_tests;

pub use ast::Expr;
pub use compile::Matcher;
pub use error::ExprError;
pub use field::Field;
pub use hints::IndexHints;
pub use subject::Subject;

/// Parses and type-checks `src`, including that each regex builds; builds no matcher.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    parser::parse(src)
}

/// Parses `src` and compiles it into a [`Matcher`].
pub fn compile(src: &str) -> Result<Matcher, ExprError> {
    Matcher::compile(&parse(src)?)
}
