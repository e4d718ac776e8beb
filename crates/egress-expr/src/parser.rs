//! Recursive descent over the tokens, checking each literal against the type of its field.
//!
//! ```text
//! expr       = and ( ("or" | "||") and )*
//! and        = unary ( ("and" | "&&") unary )*
//! unary      = ("not" | "!") unary | "(" expr ")" | comparison
//! comparison = field op value
//!            | "any" "(" "identity.groups.name" "[" "*" "]" ("==" | "in" | "matches") value ")"
//! op         = "==" | "eq" | "!=" | "ne" | "in" | "not" "in" | "matches" | "~"
//! value      = literal | "{" ( literal ","? )* "}"
//! ```

use crate::ast::{Column, Comparison, Expr, Node, Op, StrLit, Test, Values};
use crate::compile::build_regex;
use crate::field::{unknown_field_message, Field, Kind};
use crate::lexer::{tokenize, Tok, Token};
use crate::literal::{expectation, ip_item, port_item};
use crate::ExprError;

/// Deep enough for any hand-written rule, shallow enough that recursion cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

const KEYWORDS: [&str; 8] = ["and", "or", "not", "in", "eq", "ne", "matches", "any"];

pub(crate) fn parse(src: &str) -> Result<Expr, ExprError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        depth: 0,
    };
    if parser.peek().tok == Tok::Eof {
        return Ok(Expr::new(None));
    }
    let root = parser.or()?;
    let token = parser.peek();
    match token.tok {
        Tok::Eof => Ok(Expr::new(Some(root))),
        Tok::RParen => Err(ExprError::new(
            token.column,
            "unbalanced parenthesis: `)` has no matching `(`",
        )),
        _ => Err(ExprError::new(
            token.column,
            format!("expected `and`, `or` or end of input, found {}", token.tok),
        )),
    }
}

struct Parser<'s> {
    /// Always ends with `Tok::Eof`.
    tokens: Vec<Token<'s>>,
    next: usize,
    depth: usize,
}

impl<'s> Parser<'s> {
    fn peek(&self) -> &Token<'s> {
        &self.tokens[self.next.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token<'s> {
        let token = self.peek().clone();
        if token.tok != Tok::Eof {
            self.next += 1;
        }
        token
    }

    fn at_word(&self, word: &str) -> bool {
        self.peek().tok == Tok::Word(word)
    }

    fn expect(&mut self, tok: Tok<'static>, context: &str) -> Result<Token<'s>, ExprError> {
        let token = self.bump();
        if token.tok == tok {
            Ok(token)
        } else {
            Err(ExprError::new(
                token.column,
                format!("expected {tok} {context}, found {}", token.tok),
            ))
        }
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        let mut nodes = vec![self.and()?];
        while self.peek().tok == Tok::OrOr || self.at_word("or") {
            self.bump();
            nodes.push(self.and()?);
        }
        Ok(single_or(nodes, Node::Or))
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let mut nodes = vec![self.unary()?];
        while self.peek().tok == Tok::AndAnd || self.at_word("and") {
            self.bump();
            nodes.push(self.unary()?);
        }
        Ok(single_or(nodes, Node::And))
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        let token = self.peek().clone();
        if token.tok == Tok::Bang || token.tok == Tok::Word("not") {
            self.bump();
            return self.nested(token.column, |parser| {
                Ok(Node::Not(Box::new(parser.unary()?)))
            });
        }
        if token.tok == Tok::LParen {
            self.bump();
            let inner = self.nested(token.column, Self::or)?;
            let close = self.bump();
            return match close.tok {
                Tok::RParen => Ok(inner),
                Tok::Eof => Err(ExprError::new(
                    token.column,
                    "unbalanced parenthesis: `(` is never closed",
                )),
                other => Err(ExprError::new(
                    close.column,
                    format!("expected `and`, `or` or `)`, found {other}"),
                )),
            };
        }
        self.comparison()
    }

    fn nested(
        &mut self,
        column: usize,
        parse: impl FnOnce(&mut Self) -> Result<Node, ExprError>,
    ) -> Result<Node, ExprError> {
        if self.depth == MAX_DEPTH {
            return Err(ExprError::new(
                column,
                format!("expression nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        let node = parse(self);
        self.depth -= 1;
        node
    }

    fn field(&mut self) -> Result<(Field, usize), ExprError> {
        let token = self.bump();
        match token.tok {
            Tok::Word(word) if KEYWORDS.contains(&word) => Err(ExprError::new(
                token.column,
                format!("expected a field name, found keyword `{word}`"),
            )),
            Tok::Word(word) => word
                .parse::<Field>()
                .map(|field| (field, token.column))
                .map_err(|_| ExprError::new(token.column, unknown_field_message(word))),
            other => Err(ExprError::new(
                token.column,
                format!("expected a field name, found {other}"),
            )),
        }
    }

    fn comparison(&mut self) -> Result<Node, ExprError> {
        if self.at_word("any")
            && self.tokens.get(self.next + 1).map(|t| &t.tok) == Some(&Tok::LParen)
        {
            return self.any();
        }
        let (field, column) = self.field()?;
        if field.kind() == Kind::StrArray {
            return Err(ExprError::new(
                column,
                format!(
                    "{field} is an array: write `any({field}[*] in {{\"name\"}})`, \
                     `any({field}[*] == \"name\")` or `any({field}[*] matches \"regex\")`"
                ),
            ));
        }
        if self.peek().tok == Tok::LBracket {
            return Err(ExprError::new(
                self.peek().column,
                format!("{field} is not an array; only identity.groups.name[*] takes `[*]`"),
            ));
        }
        let test = self.test(field)?;
        Ok(Node::Cmp(Comparison { field, test }))
    }

    /// `any(identity.groups.name[*] …)`, the only use of the array field.
    fn any(&mut self) -> Result<Node, ExprError> {
        self.bump();
        let open = self.expect(Tok::LParen, "after `any`")?;
        let (field, column) = self.field()?;
        if field.kind() != Kind::StrArray {
            return Err(ExprError::new(
                column,
                format!("any() takes identity.groups.name[*]; {field} is not an array"),
            ));
        }
        self.expect(Tok::LBracket, "after identity.groups.name inside any()")?;
        self.expect(Tok::Star, "inside `[]`: only `[*]` is supported")?;
        self.expect(Tok::RBracket, "after `[*`")?;
        let op_column = self.peek().column;
        let test = self.test(field)?;
        if let Test::Member(op, _) = &test {
            if op.negated() {
                return Err(ExprError::new(
                    op_column,
                    "inside any(), use `==`, `in` or `matches`; negate with `not any(…)`",
                ));
            }
        }
        let close = self.bump();
        match close.tok {
            Tok::RParen => Ok(Node::Cmp(Comparison { field, test })),
            Tok::Eof => Err(ExprError::new(
                open.column,
                "unbalanced parenthesis: `any(` is never closed",
            )),
            other => Err(ExprError::new(
                close.column,
                format!("expected `)` closing any(, found {other}"),
            )),
        }
    }

    /// The operator and value(s) after `field`.
    fn test(&mut self, field: Field) -> Result<Test, ExprError> {
        let token = self.bump();
        let op = match token.tok {
            Tok::EqEq | Tok::Word("eq") => Op::Eq,
            Tok::NotEq | Tok::Word("ne") => Op::Ne,
            Tok::Word("in") => Op::In,
            Tok::Word("not") if self.at_word("in") => {
                self.bump();
                Op::NotIn
            }
            Tok::Tilde | Tok::Word("matches") => return self.matches(field, token.column),
            other => {
                return Err(ExprError::new(
                    token.column,
                    format!(
                        "expected an operator (`==`, `!=`, `in`, `not in`, `matches`) after \
                         {field}, found {other}"
                    ),
                ))
            }
        };
        let values = match op {
            Op::Eq | Op::Ne => {
                let mut values = empty_values(field);
                self.literal(field, false, &mut values)?;
                values
            }
            Op::In | Op::NotIn => self.set(field)?,
        };
        Ok(Test::Member(op, values))
    }

    fn matches(&mut self, field: Field, column: usize) -> Result<Test, ExprError> {
        if !matches!(field.kind(), Kind::Str | Kind::StrArray) {
            return Err(ExprError::new(
                column,
                format!("`matches` applies to string fields; {field} is not a string"),
            ));
        }
        let token = self.bump();
        let Tok::Str(pattern) = token.tok else {
            return Err(ExprError::new(
                token.column,
                format!("`matches` expects a regex string, found {}", token.tok),
            ));
        };
        let pattern = StrLit {
            value: pattern,
            column: Column(token.column),
        };
        // Built here too, and thrown away, so that compiling a parsed expression cannot fail.
        build_regex(field, &pattern)?;
        Ok(Test::Matches(pattern))
    }

    /// `{ member ,? … }`
    fn set(&mut self, field: Field) -> Result<Values, ExprError> {
        let open = self.expect(Tok::LBrace, "after `in`")?;
        let mut values = empty_values(field);
        loop {
            match self.peek().tok {
                Tok::RBrace => {
                    self.bump();
                    return Ok(values);
                }
                Tok::Eof => {
                    return Err(ExprError::new(
                        open.column,
                        "unterminated set: `{` is never closed",
                    ))
                }
                _ => {}
            }
            self.literal(field, true, &mut values)?;
            if self.peek().tok == Tok::Comma {
                self.bump();
            }
        }
    }

    /// One literal of the field's type, appended to `values` (which has that type).
    fn literal(
        &mut self,
        field: Field,
        in_set: bool,
        values: &mut Values,
    ) -> Result<(), ExprError> {
        let token = self.bump();
        let column = token.column;
        let kind = field.kind();
        match (values, token.tok) {
            (Values::Ip(items), Tok::Word(word)) => {
                items.push(ip_item(field, word, column, in_set)?);
                Ok(())
            }
            (Values::Port(ranges), Tok::Word(word)) => {
                ranges.push(port_item(field, word, column, in_set)?);
                Ok(())
            }
            (Values::Str(strings), Tok::Str(value)) => {
                if field == Field::Protocol && !matches!(value.as_str(), "tcp" | "udp") {
                    return Err(ExprError::new(
                        column,
                        format!("{field} expects \"tcp\" or \"udp\", found {value:?}"),
                    ));
                }
                strings.push(StrLit {
                    value,
                    column: Column(column),
                });
                Ok(())
            }
            (_, other) => {
                let hint = match (&other, kind) {
                    (Tok::Str(_), Kind::Ip | Kind::Port) => " (write it without quotes)",
                    (Tok::Word(_), Kind::Str | Kind::StrArray) => " (strings are double-quoted)",
                    _ => "",
                };
                let found = match &other {
                    Tok::Word(word) => crate::literal::describe_word(word),
                    other => other.to_string(),
                };
                Err(ExprError::new(
                    column,
                    format!(
                        "{field} expects {}, found {found}{hint}",
                        expectation(kind, in_set)
                    ),
                ))
            }
        }
    }
}

fn single_or(mut nodes: Vec<Node>, combine: fn(Vec<Node>) -> Node) -> Node {
    if nodes.len() == 1 {
        nodes.pop().expect("one node")
    } else {
        combine(nodes)
    }
}

fn empty_values(field: Field) -> Values {
    match field.kind() {
        Kind::Ip => Values::Ip(Vec::new()),
        Kind::Port => Values::Port(Vec::new()),
        Kind::Str | Kind::StrArray => Values::Str(Vec::new()),
    }
}

#[cfg(test)]
mod tests;
