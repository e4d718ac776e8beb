//! Necessary conditions on the destination, so that callers can index policies by address and
//! port instead of testing every expression.

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};

use crate::ast::{Comparison, Expr, IpItem, Node, Op, Test, Values};
use crate::field::Field;
use crate::sets::merge;

/// Where the destination must lie for an expression to match. `None` means no constraint was
/// found; `Some(vec![])` means the expression can never match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexHints {
    /// Some(prefixes) when the expression can only match if net.dst.ip lies in one of them
    /// (and so never when net.dst.ip is absent). Prefixes are aggregated and sorted; IP ranges
    /// are split into the CIDRs that cover them exactly.
    pub dst_ip: Option<Vec<IpNet>>,
    /// Some(ranges) when it can only match if net.dst.port lies in one of the inclusive ranges
    /// (sorted, merged).
    pub dst_port: Option<Vec<(u16, u16)>>,
}

impl Expr {
    /// Constraints on net.dst.ip and net.dst.port implied by the expression: from positive `==`
    /// and `in` terms, intersected through `and`, united through `or` when every branch has
    /// one. Negations give no constraint.
    pub fn index_hints(&self) -> IndexHints {
        let Some(root) = &self.root else {
            return IndexHints::default();
        };
        IndexHints {
            dst_ip: hint(root, &dst_ip_leaf, intersect_nets, union_nets),
            dst_port: hint(root, &dst_port_leaf, intersect_ports, union_ports),
        }
    }
}

fn hint<T>(
    node: &Node,
    leaf: &impl Fn(&Comparison) -> Option<T>,
    intersect: fn(T, T) -> T,
    union: fn(Vec<T>) -> T,
) -> Option<T> {
    match node {
        Node::Cmp(cmp) => leaf(cmp),
        Node::Not(inner) => match &**inner {
            Node::Not(twice) => hint(twice, leaf, intersect, union),
            _ => None,
        },
        Node::And(nodes) => nodes
            .iter()
            .filter_map(|node| hint(node, leaf, intersect, union))
            .reduce(intersect),
        Node::Or(nodes) => nodes
            .iter()
            .map(|node| hint(node, leaf, intersect, union))
            .collect::<Option<Vec<T>>>()
            .map(union),
    }
}

/// The values of a positive `==` / `in` test on `field`.
fn positive_values(cmp: &Comparison, field: Field) -> Option<&Values> {
    match &cmp.test {
        Test::Member(Op::Eq | Op::In, values) if cmp.field == field => Some(values),
        _ => None,
    }
}

fn dst_ip_leaf(cmp: &Comparison) -> Option<Vec<IpNet>> {
    let Values::Ip(items) = positive_values(cmp, Field::DstIp)? else {
        return None;
    };
    let mut nets = Vec::new();
    for item in items {
        match *item {
            IpItem::Net(net) => nets.push(net),
            IpItem::Range(std::net::IpAddr::V4(start), std::net::IpAddr::V4(end)) => {
                nets.extend(Ipv4Subnets::new(start, end, 0).map(IpNet::V4))
            }
            IpItem::Range(std::net::IpAddr::V6(start), std::net::IpAddr::V6(end)) => {
                nets.extend(Ipv6Subnets::new(start, end, 0).map(IpNet::V6))
            }
            IpItem::Range(..) => return None,
        }
    }
    Some(IpNet::aggregate(&nets))
}

fn dst_port_leaf(cmp: &Comparison) -> Option<Vec<(u16, u16)>> {
    match positive_values(cmp, Field::DstPort)? {
        Values::Port(ranges) => Some(merge(ranges.clone()).into_vec()),
        _ => None,
    }
}

/// Two prefixes overlap only when one contains the other; the overlap is then the smaller.
fn intersect_nets(a: Vec<IpNet>, b: Vec<IpNet>) -> Vec<IpNet> {
    let mut both = Vec::new();
    for x in &a {
        for y in &b {
            if x.contains(y) {
                both.push(*y);
            } else if y.contains(x) {
                both.push(*x);
            }
        }
    }
    IpNet::aggregate(&both)
}

fn union_nets(lists: Vec<Vec<IpNet>>) -> Vec<IpNet> {
    IpNet::aggregate(&lists.concat())
}

fn intersect_ports(a: Vec<(u16, u16)>, b: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    let mut both = Vec::new();
    for &(a_start, a_end) in &a {
        for &(b_start, b_end) in &b {
            let (start, end) = (a_start.max(b_start), a_end.min(b_end));
            if start <= end {
                both.push((start, end));
            }
        }
    }
    merge(both).into_vec()
}

fn union_ports(lists: Vec<Vec<(u16, u16)>>) -> Vec<(u16, u16)> {
    merge(lists.concat()).into_vec()
}
