//! Splits source text into tokens, each with the column it starts at.
//!
//! Field names, keywords, numbers, IP addresses, CIDRs and ranges are all "words" (runs of
//! letters, digits, `_`, `.`, `:` and `/`); the parser reads a word according to where it stands.

use std::fmt;

use crate::ExprError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'s> {
    Word(&'s str),
    /// A string literal, escapes resolved.
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Star,
    Comma,
    EqEq,
    NotEq,
    Tilde,
    AndAnd,
    OrOr,
    Bang,
    Eof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'s> {
    pub tok: Tok<'s>,
    /// 1-based, in chars.
    pub column: usize,
}

impl fmt::Display for Tok<'_> {
    /// How the token is named in error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbol = match self {
            Tok::Word(word) => return write!(f, "`{word}`"),
            Tok::Str(text) => return write!(f, "string {text:?}"),
            Tok::Eof => return f.write_str("end of input"),
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Star => "*",
            Tok::Comma => ",",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Tilde => "~",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
        };
        write!(f, "`{symbol}`")
    }
}

pub(crate) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/')
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token<'_>>, ExprError> {
    let mut lexer = Lexer {
        src,
        offset: 0,
        column: 1,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.tok == Tok::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer<'s> {
    src: &'s str,
    /// Byte offset of the next char.
    offset: usize,
    /// Column of the next char.
    column: usize,
}

impl<'s> Lexer<'s> {
    fn peek(&self) -> Option<char> {
        self.src[self.offset..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.src[self.offset..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        self.column += 1;
        Some(c)
    }

    fn next_token(&mut self) -> Result<Token<'s>, ExprError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        let column = self.column;
        let Some(c) = self.peek() else {
            return Ok(Token {
                tok: Tok::Eof,
                column,
            });
        };
        let tok = match c {
            '"' => Tok::Str(self.string(column)?),
            'r' if matches!(self.peek_second(), Some('"' | '#')) => {
                Tok::Str(self.raw_string(column)?)
            }
            c if is_word_char(c) => {
                let start = self.offset;
                while self.peek().is_some_and(is_word_char) {
                    self.bump();
                }
                Tok::Word(&self.src[start..self.offset])
            }
            _ => {
                self.bump();
                self.symbol(c, column)?
            }
        };
        Ok(Token { tok, column })
    }

    /// The token starting with `c` (already consumed) when it is punctuation.
    fn symbol(&mut self, c: char, column: usize) -> Result<Tok<'s>, ExprError> {
        let pair = |second: char, tok: Tok<'s>, lexer: &mut Self| {
            if lexer.peek() == Some(second) {
                lexer.bump();
                Ok(tok)
            } else {
                Err(ExprError::new(
                    column,
                    format!("unexpected `{c}` (did you mean `{c}{second}`?)"),
                ))
            }
        };
        Ok(match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '*' => Tok::Star,
            ',' => Tok::Comma,
            '~' => Tok::Tilde,
            '!' if self.peek() == Some('=') => {
                self.bump();
                Tok::NotEq
            }
            '!' => Tok::Bang,
            '=' => pair('=', Tok::EqEq, self)?,
            '&' => pair('&', Tok::AndAnd, self)?,
            '|' => pair('|', Tok::OrOr, self)?,
            other => {
                return Err(ExprError::new(
                    column,
                    format!("unexpected character {other:?}"),
                ))
            }
        })
    }

    /// A `"…"` string; `\"` and `\\` are escapes, any other backslash is kept as written so
    /// that regexes such as `"^api\.example\.com$"` read as intended.
    fn string(&mut self, column: usize) -> Result<String, ExprError> {
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err(unterminated(column)),
                Some('"') => return Ok(text),
                Some('\\') => match self.peek() {
                    Some(escaped @ ('"' | '\\')) => {
                        self.bump();
                        text.push(escaped);
                    }
                    _ => text.push('\\'),
                },
                Some(c) => text.push(c),
            }
        }
    }

    /// A raw string `r"…"` or `r#"…"#` (any number of `#`), without escapes.
    fn raw_string(&mut self, column: usize) -> Result<String, ExprError> {
        self.bump();
        let mut hashes = 0;
        while self.peek() == Some('#') {
            self.bump();
            hashes += 1;
        }
        if self.bump() != Some('"') {
            return Err(ExprError::new(
                column,
                "raw string must start with r\" or r#\"",
            ));
        }
        let start = self.offset;
        loop {
            let end = self.offset;
            match self.bump() {
                None => return Err(unterminated(column)),
                Some('"') => {
                    let closing = self.src[self.offset..]
                        .chars()
                        .take(hashes)
                        .take_while(|c| *c == '#')
                        .count();
                    if closing == hashes {
                        let text = self.src[start..end].to_owned();
                        for _ in 0..hashes {
                            self.bump();
                        }
                        return Ok(text);
                    }
                }
                Some(_) => {}
            }
        }
    }
}

fn unterminated(column: usize) -> ExprError {
    ExprError::new(column, "unterminated string (missing closing `\"`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        tokenize(src)
            .expect("valid tokens")
            .into_iter()
            .map(|token| token.tok)
            .collect()
    }

    #[test]
    fn words_and_symbols_split_where_word_chars_end() {
        assert_eq!(
            toks("net.dst.ip in{10.0.0.0/8,::1}&&!(a!=b)"),
            [
                Tok::Word("net.dst.ip"),
                Tok::Word("in"),
                Tok::LBrace,
                Tok::Word("10.0.0.0/8"),
                Tok::Comma,
                Tok::Word("::1"),
                Tok::RBrace,
                Tok::AndAnd,
                Tok::Bang,
                Tok::LParen,
                Tok::Word("a"),
                Tok::NotEq,
                Tok::Word("b"),
                Tok::RParen,
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn columns_count_chars_not_bytes() {
        let tokens = tokenize("\"é\" ==").expect("valid tokens");
        assert_eq!(tokens[1].column, 5);
        assert_eq!(tokens[2].column, 7);
    }

    #[test]
    fn strings_resolve_quote_and_backslash_escapes_only() {
        assert_eq!(
            toks(r#""a\"b\\c\.d""#),
            [Tok::Str(r#"a"b\c\.d"#.into()), Tok::Eof]
        );
    }

    #[test]
    fn raw_strings_keep_backslashes_and_end_at_matching_hashes() {
        assert_eq!(
            toks(r###"r"a\d" r#"say "hi""#"###),
            [
                Tok::Str(r"a\d".into()),
                Tok::Str(r#"say "hi""#.into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn unterminated_string_points_at_its_opening_quote() {
        let err = tokenize("a == \"abc").expect_err("unterminated");
        assert_eq!(err.column, 6);
        assert_eq!(err.message, "unterminated string (missing closing `\"`)");
        assert_eq!(tokenize("r#\"abc\"").expect_err("unterminated").column, 1);
    }

    #[test]
    fn single_equals_suggests_double() {
        let err = tokenize("a = 1").expect_err("single =");
        assert_eq!(err.column, 3);
        assert_eq!(err.message, "unexpected `=` (did you mean `==`?)");
    }

    #[test]
    fn unknown_character_is_named() {
        let err = tokenize("a == $list").expect_err("$");
        assert_eq!(err.column, 6);
        assert_eq!(err.message, "unexpected character '$'");
    }
}
