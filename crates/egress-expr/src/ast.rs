//! The parsed, type-checked expression and its canonical printed form.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::field::Field;

/// A parsed and type-checked expression. Build one with [`crate::parse`]; turn it into a
/// [`crate::Matcher`] to evaluate it.
///
/// `Display` prints a canonical form that parses back to an equal `Expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// `None` for the empty expression, which is always true.
    pub(crate) root: Option<Node>,
}

impl Expr {
    pub(crate) fn new(root: Option<Node>) -> Expr {
        Expr { root }
    }

    /// Whether the expression was empty (only whitespace), and so always true.
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// The fields the expression refers to, each once, in [`Field::ALL`] order.
    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        let mut mask = 0;
        if let Some(root) = &self.root {
            root.collect_fields(&mut mask);
        }
        Field::ALL
            .into_iter()
            .filter(move |field| mask & field.bit() != 0)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Not(Box<Node>),
    /// Two or more operands.
    And(Vec<Node>),
    /// Two or more operands.
    Or(Vec<Node>),
    Cmp(Comparison),
}

impl Node {
    fn collect_fields(&self, mask: &mut u32) {
        match self {
            Node::Not(inner) => inner.collect_fields(mask),
            Node::And(nodes) | Node::Or(nodes) => {
                nodes.iter().for_each(|node| node.collect_fields(mask))
            }
            Node::Cmp(cmp) => *mask |= cmp.field.bit(),
        }
    }
}

/// `field op values`; for `identity.groups.name` it stands for `any(identity.groups.name[*] …)`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Comparison {
    pub field: Field,
    pub test: Test,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Test {
    /// `==`, `!=` hold exactly one value; `in`, `not in` any number. The values have the type
    /// of the field.
    Member(Op, Values),
    Matches(StrLit),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    In,
    NotIn,
}

impl Op {
    pub(crate) fn negated(self) -> bool {
        matches!(self, Op::Ne | Op::NotIn)
    }

    fn is_set(self) -> bool {
        matches!(self, Op::In | Op::NotIn)
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::In => "in",
            Op::NotIn => "not in",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Values {
    Ip(Vec<IpItem>),
    /// Inclusive ranges, start <= end; a single port is a range of one.
    Port(Vec<(u16, u16)>),
    Str(Vec<StrLit>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IpItem {
    /// A single address is a network of the full prefix length. Host bits are zero.
    Net(IpNet),
    /// Inclusive, same family, start <= end.
    Range(IpAddr, IpAddr),
}

/// A string literal and where it was written, for errors found when compiling it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StrLit {
    pub value: String,
    pub column: Column,
}

/// A source column that takes no part in equality, so that an expression printed and parsed
/// again compares equal to the original.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Column(pub usize);

impl PartialEq for Column {
    fn eq(&self, _: &Column) -> bool {
        true
    }
}

impl Eq for Column {}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            Some(root) => root.fmt(f),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Node {
    /// Parenthesises exactly where re-parsing would otherwise build a different tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Not(inner) => {
                f.write_str("not ")?;
                write_operand(f, inner, |node| matches!(node, Node::And(_) | Node::Or(_)))
            }
            Node::And(nodes) => write_joined(f, nodes, " and ", |node| {
                matches!(node, Node::And(_) | Node::Or(_))
            }),
            Node::Or(nodes) => write_joined(f, nodes, " or ", |node| matches!(node, Node::Or(_))),
            Node::Cmp(cmp) => cmp.fmt(f),
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    nodes: &[Node],
    separator: &str,
    needs_parens: fn(&Node) -> bool,
) -> fmt::Result {
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        write_operand(f, node, needs_parens)?;
    }
    Ok(())
}

fn write_operand(
    f: &mut fmt::Formatter<'_>,
    node: &Node,
    needs_parens: fn(&Node) -> bool,
) -> fmt::Result {
    if needs_parens(node) {
        write!(f, "({node})")
    } else {
        write!(f, "{node}")
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let array = self.field == Field::IdentityGroupsName;
        if array {
            write!(f, "any({}[*]", self.field)?;
        } else {
            write!(f, "{}", self.field)?;
        }
        match &self.test {
            Test::Matches(pattern) => {
                f.write_str(" matches ")?;
                write_str_literal(f, &pattern.value)?;
            }
            Test::Member(op, values) => {
                write!(f, " {} ", op.symbol())?;
                if op.is_set() {
                    f.write_char('{')?;
                }
                values.fmt(f)?;
                if op.is_set() {
                    f.write_char('}')?;
                }
            }
        }
        if array {
            f.write_char(')')?;
        }
        Ok(())
    }
}

impl fmt::Display for Values {
    /// Members separated by spaces, wirefilter style.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn join<T>(
            f: &mut fmt::Formatter<'_>,
            items: &[T],
            write_item: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
        ) -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_char(' ')?;
                }
                write_item(f, item)?;
            }
            Ok(())
        }
        match self {
            Values::Ip(items) => join(f, items, |f, item| match item {
                IpItem::Net(net) if net.prefix_len() == net.max_prefix_len() => {
                    write!(f, "{}", net.addr())
                }
                IpItem::Net(net) => write!(f, "{net}"),
                IpItem::Range(start, end) => write!(f, "{start}..{end}"),
            }),
            Values::Port(ranges) => join(f, ranges, |f, (start, end)| {
                if start == end {
                    write!(f, "{start}")
                } else {
                    write!(f, "{start}..{end}")
                }
            }),
            Values::Str(strings) => join(f, strings, |f, s| write_str_literal(f, &s.value)),
        }
    }
}

fn write_str_literal(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}
