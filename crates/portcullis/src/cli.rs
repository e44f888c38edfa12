//! Command-line arguments.

use std::path::PathBuf;

use base64::Engine as _;

/// Zero-trust, identity-aware access proxy: one binary, four roles.
#[derive(Debug, clap::Parser)]
#[command(
    name = "portcullis",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// Run the roles named by `services` (the default command).
    #[command(flatten)]
    pub(crate) run: ConfigArgs,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Start the roles named by the configuration's `services` (default: all).
    Run(ConfigArgs),
    /// Check a configuration and print every problem with its key and line (exit 64 if any).
    Validate(ConfigArgs),
    /// Try portcullis out: everything in one process with a built-in development identity
    /// provider and a demo app, on http://*.localhost (never for production).
    Dev(crate::dev::DevArgs),
    /// Probe a running portcullis: ask `/readyz`, exit 0 when ready, 1 when not (for
    /// container health checks).
    Health(crate::health_probe::HealthArgs),
    /// Print a fresh random 32-byte secret, base64-encoded, for `shared_secret` or `cookie_secret`.
    GenSecret,
    /// Policy tools.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum PolicyCommand {
    /// Evaluate a route's policy against a request and identity; print allow/deny and the
    /// reasons (exit 0 on allow, 1 on deny, 2 on a usage error).
    Test(Box<crate::policy_test::PolicyTestArgs>),
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConfigArgs {
    /// The YAML configuration file. Every key can also be set by an environment variable
    /// (upper-cased key; secrets also as `<KEY>_FILE`).
    #[arg(
        short,
        long,
        env = "PORTCULLIS_CONFIG",
        default_value = "portcullis.yaml"
    )]
    pub(crate) config: PathBuf,
}

/// 32 random bytes from the operating system, base64.
pub(crate) fn gen_secret() -> String {
    use ring::rand::SecureRandom as _;
    let mut key = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .expect("the operating system's random number generator failed");
    base64::engine::general_purpose::STANDARD.encode(key)
}
