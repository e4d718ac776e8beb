//! `egressd config …`.

use std::process::ExitCode;

use egress_model::{Config, ConfigError};

use crate::cli::ConfigCommand;

pub fn run(command: ConfigCommand, store: Option<&str>) -> Result<ExitCode, String> {
    match command {
        ConfigCommand::Import { file, data_dir } => {
            crate::cmd_store::import(&file, data_dir.as_deref(), store)
        }
        ConfigCommand::Export { revision, data_dir } => {
            crate::cmd_store::export(revision, data_dir.as_deref(), store)
        }
        ConfigCommand::Check { file } => match Config::load(&file) {
            Ok(config) => {
                let policies: usize = config.accounts.iter().map(|a| a.policies.len()).sum();
                println!(
                    "{}: valid ({} locations, {} nodes, {} accounts, {} egress policies)",
                    file.display(),
                    config.locations.len(),
                    config.nodes.len(),
                    config.accounts.len(),
                    policies
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(ConfigError::Invalid(errors)) => {
                for e in &errors {
                    println!("{e}");
                }
                println!("{}: {} problems", file.display(), errors.len());
                Ok(ExitCode::FAILURE)
            }
            Err(other) => {
                println!("{other}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}
