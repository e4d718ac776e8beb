//! Turns an [`Expr`] into a tree of prebuilt tests that evaluates without allocating.

use regex::{Regex, RegexBuilder};

use crate::ast::{self, Expr, StrLit, Values};
use crate::field::{Field, Kind};
use crate::sets::{IpSet, PortSet, StrSet};
use crate::subject::Subject;
use crate::ExprError;

/// A compiled expression, ready to test subjects.
#[derive(Debug)]
pub struct Matcher {
    /// `None` for the empty expression.
    root: Option<Node>,
}

#[derive(Debug)]
enum Node {
    Not(Box<Node>),
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Test {
        field: Field,
        /// `!=` and `not in`: true when the value is present and not a member.
        negated: bool,
        test: Test,
    },
}

#[derive(Debug)]
enum Test {
    Ip(IpSet),
    Port(PortSet),
    Str(StrSet),
    /// `net.fqdn.domains`: the host or one of its parent domains is in the set.
    Domains(StrSet),
    Regex(Regex),
    /// `any(identity.groups.name[*] == / in …)`
    AnyGroup(StrSet),
    /// `any(identity.groups.name[*] matches …)`
    AnyGroupMatches(Regex),
}

impl Matcher {
    /// Builds the sets, ranges and regexes of `expr`. [`crate::parse`] has already built each
    /// regex once, so this does not fail for a parsed expression; the `Result` reports a regex
    /// the `regex` crate refuses, pointing at its literal.
    pub fn compile(expr: &Expr) -> Result<Matcher, ExprError> {
        let root = expr.root.as_ref().map(compile_node).transpose()?;
        Ok(Matcher { root })
    }

    /// Whether `subject` satisfies the expression. Does not allocate (regex caches are built on
    /// a thread's first use of each regex).
    pub fn matches(&self, subject: &Subject<'_>) -> bool {
        self.root.as_ref().is_none_or(|root| root.eval(subject))
    }

    /// Whether the expression was empty, and so matches everything.
    pub fn always_true(&self) -> bool {
        self.root.is_none()
    }
}

impl Node {
    fn eval(&self, subject: &Subject<'_>) -> bool {
        match self {
            Node::Not(inner) => !inner.eval(subject),
            Node::And(nodes) => nodes.iter().all(|node| node.eval(subject)),
            Node::Or(nodes) => nodes.iter().any(|node| node.eval(subject)),
            Node::Test {
                field,
                negated,
                test,
            } => test
                .check(*field, subject)
                .is_some_and(|member| member != *negated),
        }
    }
}

impl Test {
    /// Whether the field's value passes, or `None` when the field is absent.
    fn check(&self, field: Field, subject: &Subject<'_>) -> Option<bool> {
        match self {
            Test::Ip(set) => subject.ip(field).map(|ip| set.contains(ip)),
            Test::Port(set) => subject.port(field).map(|port| set.contains(port)),
            Test::Str(set) => subject.str(field).map(|value| set.contains(value)),
            Test::Domains(set) => subject.str(field).map(|host| set.contains_domain_of(host)),
            Test::Regex(regex) => subject.str(field).map(|value| regex.is_match(value)),
            Test::AnyGroup(set) => {
                groups(subject).map(|groups| groups.iter().any(|g| set.contains(g)))
            }
            Test::AnyGroupMatches(regex) => {
                groups(subject).map(|groups| groups.iter().any(|g| regex.is_match(g)))
            }
        }
    }
}

fn groups<'a>(subject: &Subject<'a>) -> Option<&'a [String]> {
    Some(subject.identity_groups).filter(|groups| !groups.is_empty())
}

fn compile_node(node: &ast::Node) -> Result<Node, ExprError> {
    Ok(match node {
        ast::Node::Not(inner) => Node::Not(Box::new(compile_node(inner)?)),
        ast::Node::And(nodes) => Node::And(compile_all(nodes)?),
        ast::Node::Or(nodes) => Node::Or(compile_all(nodes)?),
        ast::Node::Cmp(cmp) => compile_comparison(cmp)?,
    })
}

fn compile_all(nodes: &[ast::Node]) -> Result<Box<[Node]>, ExprError> {
    nodes.iter().map(compile_node).collect()
}

fn compile_comparison(cmp: &ast::Comparison) -> Result<Node, ExprError> {
    let field = cmp.field;
    let (negated, test) = match &cmp.test {
        ast::Test::Matches(pattern) => {
            let regex = build_regex(field, pattern)?;
            let test = match field.kind() {
                Kind::StrArray => Test::AnyGroupMatches(regex),
                _ => Test::Regex(regex),
            };
            (false, test)
        }
        ast::Test::Member(op, values) => (op.negated(), member_test(field, values)),
    };
    Ok(Node::Test {
        field,
        negated,
        test,
    })
}

fn member_test(field: Field, values: &Values) -> Test {
    match values {
        Values::Ip(items) => Test::Ip(IpSet::new(items)),
        Values::Port(ranges) => Test::Port(PortSet::new(ranges)),
        Values::Str(strings) => {
            let strings = strings
                .iter()
                .map(|literal| normalize(field, &literal.value))
                .collect();
            match field {
                Field::FqdnDomains => Test::Domains(StrSet::new(strings)),
                Field::IdentityGroupsName => Test::AnyGroup(StrSet::new(strings)),
                _ => Test::Str(StrSet::new(strings)),
            }
        }
    }
}

/// The form of a string literal that subject values are compared with: lowercase for
/// case-insensitive fields, host names without a trailing dot.
pub(crate) fn normalize(field: Field, literal: &str) -> String {
    let value = if field.case_insensitive() {
        literal.to_lowercase()
    } else {
        literal.to_owned()
    };
    match field {
        Field::FqdnHost | Field::FqdnDomains => match value.strip_suffix('.') {
            Some(stripped) => stripped.to_owned(),
            None => value,
        },
        _ => value,
    }
}

/// The regex of a `matches` test; case-insensitive fields match regardless of case.
pub(crate) fn build_regex(field: Field, pattern: &StrLit) -> Result<Regex, ExprError> {
    RegexBuilder::new(&pattern.value)
        .case_insensitive(field.case_insensitive())
        .build()
        .map_err(|error| {
            let reason = match error {
                // The last line of the multi-line report says what is wrong.
                regex::Error::Syntax(text) => {
                    let last = text.lines().last().unwrap_or_default();
                    last.strip_prefix("error: ").unwrap_or(last).to_owned()
                }
                other => other.to_string(),
            };
            ExprError::new(
                pattern.column.0,
                format!("invalid regex {:?}: {reason}", pattern.value),
            )
        })
}
