//! Reading a configuration from TOML text or a file.

use std::path::Path;

use crate::config::Config;
use crate::validate::ValidationError;

/// A TOML document that does not describe a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}:{column}: {message}")]
pub struct ParseError {
    /// File name or other origin of the text.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What the TOML reader said.
    pub message: String,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read configuration: {source}")]
    Read {
        /// The path.
        origin: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not valid TOML or does not fit the schema.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The document breaks one or more rules.
    #[error("{}", render_invalid(.0))]
    Invalid(Vec<ValidationError>),
}

fn render_invalid(errors: &[ValidationError]) -> String {
    let mut out = format!("configuration is invalid ({} problems):", errors.len());
    for e in errors {
        out.push_str("\n  ");
        out.push_str(&e.to_string());
    }
    out
}

impl Config {
    /// Parses TOML text without validating it; `origin` names the text in errors.
    pub fn parse_toml(text: &str, origin: &str) -> Result<Config, ParseError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            ParseError {
                origin: origin.to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config = Config::parse_toml(text, origin)?;
        let errors = config.validate(origin);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(errors))
        }
    }

    /// Reads, parses and validates a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            origin: origin.clone(),
            source,
        })?;
        Config::from_toml(&text, &origin)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serialises to TOML")
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_names_origin_line_and_column() {
        let text = "[[locations]]\ncode = \"lax\"\ncity = 3\n";
        let err = Config::parse_toml(text, "bad.toml").expect_err("city must be a string");
        assert_eq!(err.origin, "bad.toml");
        assert_eq!(err.line, 3);
        assert!(err.message.contains("string"), "{}", err.message);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = "colour = \"blue\"\nlocations = []\n";
        let err = Config::parse_toml(text, "x.toml").expect_err("unknown field");
        assert!(
            err.message.contains("unknown field `colour`"),
            "{}",
            err.message
        );
        assert_eq!((err.line, err.column), (1, 1));
    }

    #[test]
    fn unreadable_file_says_which() {
        let err = Config::load(Path::new("/nonexistent/egressd.toml")).expect_err("missing");
        assert!(err
            .to_string()
            .starts_with("/nonexistent/egressd.toml: cannot read"));
    }
}
