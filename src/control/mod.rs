//! The control API: steer and watch a run from outside, over HTTP on `--listen ADDR` (config
//! `control.listen`; off by default). `GET /status` and `GET /metrics` (Prometheus) are open;
//! `PATCH /knobs`, `POST /pause`, `POST /resume`, `POST /profile` and `POST /stop` need the bearer
//! token. The server runs on a thread and runtime of its own: it reads the engine's snapshots and
//! sends it knob changes through an [`EngineHandle`], and never waits on the engine, nor the
//! engine on it.

pub mod api;
pub mod client;
mod https;
pub mod prometheus;
pub mod remote;
pub mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result, bail};

pub use state::{Attached, ProfileSetup, Shared, StopAction};

/// The environment variable a token may come from (else one is generated and printed once).
pub const TOKEN_VAR: &str = "CASSTOP_CONTROL_TOKEN";

/// A listening control API; dropping it closes the port.
pub struct Control {
    addr: SocketAddr,
    https: bool,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The token to require: the environment's, or a new random one (then printed by the caller).
pub fn token_from_env() -> Option<String> {
    std::env::var(TOKEN_VAR).ok().filter(|t| !t.is_empty())
}

fn generated_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("generating the control API token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Control {
    /// Binds `listen` and starts serving, over HTTPS when `tls` is given. A token from the
    /// environment is required for an address other than loopback: a generated one would be
    /// printed on a screen others may see the port of, and nothing else guards it.
    pub fn start(
        listen: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
        stop: StopAction,
    ) -> Result<(Control, Option<String>)> {
        let addr: SocketAddr = listen.parse().map_err(|_| {
            crate::error::UsageError(format!(
                "control.listen `{listen}` is not an address with a port (e.g. 127.0.0.1:9180)"
            ))
        })?;
        let from_env = token_from_env();
        if !addr.ip().is_loopback() && from_env.is_none() {
            bail!(crate::error::UsageError(format!(
                "control.listen {addr} is not loopback: set {TOKEN_VAR} to the token the API \
                 must require"
            )));
        }
        let (token, shown) = match from_env {
            Some(token) => (token, None),
            None => {
                let token = generated_token()?;
                (token.clone(), Some(token))
            }
        };
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("control API: listening on {addr}"))?;
        listener
            .set_nonblocking(true)
            .context("control API: a non-blocking listener")?;
        let addr = listener.local_addr().context("control API: its address")?;
        let shared = Arc::new(Shared {
            token,
            run: Mutex::new(None),
            stop,
        });
        let (shutdown, on_shutdown) = tokio::sync::oneshot::channel::<()>();
        let router = api::router(shared.clone());
        let https = tls.is_some();
        let thread = std::thread::Builder::new()
            .name("casstop-control".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        eprintln!("casstop: the control API could not start: {err}");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => {
                            eprintln!("casstop: the control API could not listen: {err}");
                            return;
                        }
                    };
                    if let Some(config) = tls {
                        https::serve(listener, router, config, on_shutdown).await;
                        return;
                    }
                    let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                        let _ = on_shutdown.await;
                    });
                    if let Err(err) = serve.await {
                        eprintln!("casstop: the control API stopped: {err}");
                    }
                });
            })
            .context("starting the control API thread")?;
        Ok((
            Control {
                addr,
                https,
                shared,
                shutdown: Some(shutdown),
                thread: Some(thread),
            },
            shown,
        ))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// From now on the API steers this run, until the guard is dropped.
    pub fn attach(&self, run: Attached) -> AttachedRun<'_> {
        *self.shared.run.lock().unwrap_or_else(|e| e.into_inner()) = Some(run);
        AttachedRun(self)
    }

    /// The run has ended: `/status` says so until the next one is attached.
    fn detach(&self) {
        *self.shared.run.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// A run steered by the API; dropped (however the run ends), the API lets go of it.
pub struct AttachedRun<'a>(&'a Control);

impl Drop for AttachedRun<'_> {
    fn drop(&mut self) {
        self.0.detach();
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // A client holding a connection open must not hold the exit up: the thread is left to
        // end with the process if it has not ended within a moment.
        if let Some(thread) = self.thread.take() {
            let until = std::time::Instant::now() + std::time::Duration::from_millis(500);
            while !thread.is_finished() && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}
