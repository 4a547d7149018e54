//! The control API for the long-running commands (session, bench, sweep): started when
//! `control.listen` names an address.

use anyhow::Result;

use crate::config;
use crate::control::{Control, StopAction};

/// [`control_api`] for a headless command (bench, sweep): `POST /stop` counts as a stop signal.
pub fn control_api_headless(settings: &config::Settings) -> Result<Option<Control>> {
    let stop_requests = crate::run::control::requests()?;
    control_api(
        settings,
        Box::new(move || {
            stop_requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }),
    )
}

/// The control API, when `control.listen` names an address; its address, and the token when it
/// was generated, are printed once on stderr. `stop` is what a first Ctrl-C does to the command.
pub fn control_api(settings: &config::Settings, stop: StopAction) -> Result<Option<Control>> {
    if settings.control.listen.is_empty() {
        return Ok(None);
    }
    let tls = if settings.control.cert_file.is_empty() {
        None
    } else {
        Some(crate::tls::server_config(
            &settings.control.cert_file,
            &settings.control.key_file,
        )?)
    };
    let (control, token) = Control::start(&settings.control.listen, tls, stop)?;
    match token {
        Some(token) => eprintln!(
            "control API on {} (token for PATCH and POST: {token})",
            control.url()
        ),
        None => eprintln!(
            "control API on {} (token from {})",
            control.url(),
            crate::control::TOKEN_VAR
        ),
    }
    Ok(Some(control))
}
