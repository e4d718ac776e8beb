//! `egressd`: the command-line entry point.

mod cli;
mod cmd_config;
mod cmd_trace;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Config { command } => cmd_config::run(command),
        cli::Command::Trace(args) => cmd_trace::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("egressd: {message}");
            ExitCode::from(2)
        }
    }
}
