//! A revision's document (the whole configuration as TOML, the same text in every backend) and
//! what a write of one asks for.

use egress_model::{Config, ConfigError};

use crate::error::StoreError;
use crate::model::AuditAction;

/// Which revision a write must follow.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Base {
    /// Exactly this one (`None` = an empty store), or the write is a conflict.
    Expected(Option<u64>),
    /// Whatever is latest.
    Latest,
}

/// One write of a configuration, with what goes into the revision and the audit log.
#[derive(Debug)]
pub(crate) struct Change<'a> {
    pub base: Base,
    pub action: AuditAction,
    pub author: &'a str,
    pub comment: &'a str,
}

impl<'a> Change<'a> {
    /// A commit based on revision `expected` (`None` = an empty store).
    pub(crate) fn commit(expected: Option<u64>, author: &'a str, comment: &'a str) -> Self {
        Change {
            base: Base::Expected(expected),
            action: AuditAction::ConfigCommit,
            author,
            comment,
        }
    }

    /// An import that replaces whatever is latest; `source` names where it came from.
    pub(crate) fn import(author: &'a str, source: &'a str) -> Self {
        Change {
            base: Base::Latest,
            action: AuditAction::ConfigImport,
            author,
            comment: source,
        }
    }
}

/// Origin named in validation errors of a document on its way in.
const INCOMING: &str = "new revision";

/// The TOML text of a valid `config`, checked to read back equal so that what is stored always
/// loads.
pub(crate) fn checked_document(config: &Config) -> Result<String, StoreError> {
    let errors = config.validate(INCOMING);
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let document = config.to_toml();
    // Equal to a validated config, so parsing suffices; validating again would double the cost.
    match Config::parse_toml(&document, INCOMING) {
        Ok(back) if back == *config => Ok(document),
        Ok(_) => Err(StoreError::NotRepresentable {
            detail: "the document read back differs from the one written".to_string(),
        }),
        Err(e) => Err(StoreError::NotRepresentable {
            detail: e.to_string(),
        }),
    }
}

/// Reads the stored document of revision `number` back into a configuration.
pub(crate) fn parse_document(number: u64, document: &str) -> Result<Config, StoreError> {
    Config::from_toml(document, &format!("revision {number}")).map_err(|e| {
        let detail = match e {
            ConfigError::Invalid(errors) => errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        StoreError::Corrupt {
            revision: number,
            detail,
        }
    })
}
