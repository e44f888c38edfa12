//! `portcullis`: the command line. It parses arguments, loads the configuration, sets up
//! logging and hands over to the roles; the roles themselves live in library crates.
//!
//! This library is what the `portcullis` executable runs ([`main`]); the end-to-end tests link
//! it into their own executable so they always drive the code under test.

mod cli;
mod dev;
mod health;
mod health_probe;
mod metrics;
mod policy_test;
mod reload;
mod roles;
mod run;
mod telemetry;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};

/// Exit status for a configuration that does not validate (BSD `EX_USAGE`).
const EXIT_CONFIG: u8 = 64;

/// Runs the command line: parses `std::env::args`, returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run(cli.run)) {
        Command::Run(args) => match load(&args.config) {
            Ok(config) => run::run(config, args.config),
            Err(code) => code,
        },
        Command::Validate(args) => match load(&args.config) {
            Ok(config) => {
                println!("{}: ok ({})", args.config.display(), run::summary(&config));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Policy(cli::PolicyCommand::Test(args)) => match load(&args.config.config) {
            Ok(config) => policy_test::run(&args, &config).unwrap_or_else(|e| {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }),
            Err(code) => code,
        },
        Command::Dev(args) => crate::dev::run(&args),
        Command::Health(args) => crate::health_probe::run(&args),
        Command::GenSecret => {
            println!("{}", cli::gen_secret());
            ExitCode::SUCCESS
        }
    }
}

/// Loads the configuration, printing every problem and returning exit status 64 on failure.
fn load(path: &std::path::Path) -> Result<portcullis_config::Config, ExitCode> {
    portcullis_config::load(path).map_err(|err| {
        eprintln!("{err}");
        match err {
            portcullis_config::ConfigError::Read { .. } => ExitCode::from(66), // EX_NOINPUT
            _ => ExitCode::from(EXIT_CONFIG),
        }
    })
}
