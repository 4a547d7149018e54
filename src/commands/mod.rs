//! The commands: `casstop` (the session), `bench`, `sweep`, `report`, `local`. Each has its own
//! file; this one parses, loads the settings, dispatches, and turns the outcome into an exit code.

mod attach;
mod bench;
mod listen;
mod local;
mod report;
mod session;
pub mod sweep;
pub mod verify;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{Cli, Command, LocalAction, LocalArgs};
use crate::config::{self, ConfigError, Loaded};
use crate::error::UsageError;
use crate::{cluster, tls};

/// Parses `args`, runs the command and maps the outcome to an exit code: 0 success, 1 failure,
/// 2 a usage or configuration error. Errors go to stderr as one line per cause.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) if err.use_stderr() => {
            // One line, like every other error: clap's own text spreads over several.
            eprintln!("casstop: {} (see --help)", clap_one_line(&err.to_string()));
            return ExitCode::from(err.exit_code().clamp(0, 255) as u8);
        }
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(err.exit_code().clamp(0, 255) as u8);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("casstop: {}", one_line(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

/// clap's error text up to its usage section, on one line and without the `error: ` prefix.
fn clap_one_line(text: &str) -> String {
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .filter(|line| !line.is_empty() && !line.starts_with("tip:"))
        .collect();
    message.join(" ").trim_start_matches("error: ").to_string()
}

/// The error and its causes, as `error: cause: cause`.
fn one_line(err: &anyhow::Error) -> String {
    err.chain()
        .map(|cause| cause.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

fn exit_code(err: &anyhow::Error) -> u8 {
    // Credentials or TLS the cluster turns away are settings to fix, like a misspelt key.
    let usage = err.chain().any(|cause| {
        cause.is::<ConfigError>()
            || cause.is::<UsageError>()
            || cause.is::<cluster::Refused>()
            || cause.is::<tls::TlsFileError>()
    });
    if usage { 2 } else { 1 }
}

/// Loads the settings for `cli` from every layer, and checks the TLS files they name (a missing
/// or unparsable file is a setting to fix, named by its key).
pub fn load_settings(cli: &Cli) -> Result<Loaded> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let path = config::config_path(cli.config.as_deref());
    Ok(load_checked(path.as_deref(), &env, &cli.flag_overrides())?)
}

/// [`config::load`], then the TLS files checked.
pub fn load_checked(
    path: Option<&std::path::Path>,
    env: &[(String, String)],
    flags: &[config::FlagOverride],
) -> Result<Loaded, ConfigError> {
    let loaded = config::load(path, env, flags)?;
    if loaded.settings.tls.enabled
        && let Err(err) = tls::client_config(&loaded.settings.tls)
    {
        return Err(loaded.error(err.key, err.to_string()));
    }
    Ok(loaded)
}

/// Logs go to a file (`~/.local/state/casstop/casstop.log`), never to the screen; `CASSTOP_LOG`
/// sets the filter (default `info`). Logging that cannot start is not a reason to stop.
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = dirs::state_dir()
        .or_else(dirs::data_local_dir)?
        .join("casstop");
    std::fs::create_dir_all(&dir).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("casstop.log"))
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASSTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> Result<()> {
    let _log_guard = init_logging();
    tracing::info!(command = ?cli.command, "casstop starting");
    if let Some(Command::Local(LocalArgs {
        action: LocalAction::HopServe(args),
    })) = &cli.command
    {
        return local::hop_serve(args);
    }
    let loaded = load_settings(&cli)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("casstop-main")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        None => session::run(&cli.session, loaded.settings, runtime),
        Some(Command::Tui(ref args)) => session::run(args, loaded.settings, runtime),
        Some(Command::Bench(ref args)) => bench::run(args, loaded.settings, runtime),
        Some(Command::Sweep(ref args)) => sweep::run(args, loaded.settings, runtime),
        Some(Command::Report(ref args)) => report::run(args),
        Some(Command::Verify(ref args)) => verify::run(args, loaded.settings, runtime),
        Some(Command::Attach(ref args)) => attach::run(args, &loaded.settings),
        Some(Command::Local(args)) => runtime.block_on(local::run(args.action, &loaded)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casstop.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn load_text_checked(text: &str) -> Result<Loaded, ConfigError> {
        let (_dir, path) = write_config(text);
        load_checked(Some(&path), &[], &[])
    }

    fn message(result: Result<Loaded, ConfigError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn tls_needs_a_ca_file_that_exists_and_parses() {
        let text = message(load_text_checked("[tls]\nenabled = true\n"));
        assert!(
            text.contains(":2: `tls.enabled` is true but `tls.ca_file` is empty"),
            "{text}"
        );

        let text = message(load_text_checked(
            "[tls]\nenabled = true\nca_file = \"/nonexistent/ca.pem\"\n",
        ));
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains(":3: `tls.ca_file` /nonexistent/ca.pem: cannot read"),
            "{text}"
        );

        let (_dir, path) = write_config("not a certificate\n");
        let env = vec![
            ("CASSTOP_TLS_ENABLED".to_string(), "true".to_string()),
            (
                "CASSTOP_TLS_CA_FILE".to_string(),
                path.display().to_string(),
            ),
        ];
        let text = message(load_checked(None, &env, &[]));
        assert!(
            text.starts_with(&format!(
                "CASSTOP_TLS_CA_FILE: `tls.ca_file` {}: no PEM certificate",
                path.display()
            )),
            "{text}"
        );
    }

    #[test]
    fn client_certificate_needs_its_key() {
        let (_dir, ca) = write_config("");
        let text = message(load_text_checked(&format!(
            "[tls]\nenabled = true\nca_file = \"{}\"\ncert_file = \"client.pem\"\n",
            ca.display()
        )));
        assert!(
            text.contains(":4: `tls.cert_file` is set without its pair"),
            "{text}"
        );
    }
}
