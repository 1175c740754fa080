//! `loginstorm sig`: mint and check UserSigs.

use clap::{Args, Subcommand};

use crate::server::{DEV_KEY, DEV_SDKAPPID};

#[derive(Subcommand, Debug)]
pub enum SigCommand {
    /// Print a new UserSig for a user.
    Gen(SigGenArgs),
    /// Decode a UserSig, print its fields and whether it verifies (exit 0 valid, 1 invalid).
    Verify(SigVerifyArgs),
}

/// The app a sig belongs to and the key that signs it (`sig gen` and `sig verify`).
#[derive(Args, Debug)]
pub struct SigApp {
    /// SDKAppID of the sig.
    #[arg(long, default_value_t = DEV_SDKAPPID, value_name = "N")]
    pub sdkappid: u64,
    /// Secret key (default: the development key the reference server uses by default).
    #[arg(long, default_value = DEV_KEY, value_name = "KEY", hide_default_value = true,
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub key: String,
}

#[derive(Args, Debug)]
pub struct SigGenArgs {
    #[command(flatten)]
    pub app: SigApp,
    /// The userID the sig identifies.
    #[arg(long, value_name = "USER")]
    pub user: String,
    /// Lifetime in seconds (default 180 days, as the official libraries).
    #[arg(long, default_value_t = 180 * 86400, value_name = "SECS")]
    pub expire: u64,
    /// Issue time, unix seconds (default: now).
    #[arg(long, value_name = "UNIX")]
    pub time: Option<u64>,
    /// Optional user buffer (its bytes are signed as base64).
    #[arg(long, value_name = "TEXT")]
    pub userbuf: Option<String>,
}

#[derive(Args, Debug)]
pub struct SigVerifyArgs {
    #[command(flatten)]
    pub app: SigApp,
    /// The userID the sig must identify.
    #[arg(long, value_name = "USER")]
    pub user: String,
    /// Judge expiry at this unix second instead of now.
    #[arg(long, value_name = "UNIX")]
    pub now: Option<u64>,
    /// The UserSig to check.
    pub sig: String,
}
