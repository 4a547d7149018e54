//! `casstop attach HOST:PORT[,...]`: the session's screen on running headless loaders.

use anyhow::Result;

use crate::cli::AttachArgs;
use crate::config::Settings;
use crate::control;
use crate::error::UsageError;

pub fn run(args: &AttachArgs, settings: &Settings) -> Result<()> {
    for addr in &args.loaders {
        let port = addr.rsplit_once(':').map(|(_, port)| port.parse::<u16>());
        if !matches!(port, Some(Ok(p)) if p > 0) {
            return Err(UsageError(format!(
                "`{addr}` is not a loader's HOST:PORT (the address its --listen was given, e.g. 127.0.0.1:9180)"
            ))
            .into());
        }
    }
    let token = control::token_from_env();
    if token.is_none() {
        return Err(UsageError(format!(
            "attach needs the loaders' token for their intervals and knobs: set {} to the token they were started with",
            control::TOKEN_VAR
        ))
        .into());
    }
    let tls = if settings.control.ca_file.is_empty() {
        None
    } else {
        Some(crate::tls::ca_client_config(&settings.control.ca_file)?)
    };
    let clients = args
        .loaders
        .iter()
        .map(|addr| {
            let client = control::client::Client::new(addr, token.clone());
            match &tls {
                Some(config) => client.with_tls(config.clone()),
                None => client,
            }
        })
        .collect();
    crate::ui::attach::run(settings, clients)
}
