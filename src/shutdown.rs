//! How casstop is asked to stop: SIGINT (Ctrl-C), SIGTERM and SIGHUP are counted, never acted on
//! inside the handler. The first asks for a clean stop (writes in flight drain, the summary is
//! printed); a second one means "leave now".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};

/// The number of stop signals received so far; installs the handlers on first use.
pub fn requests() -> Result<Arc<AtomicUsize>> {
    static COUNT: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    if let Some(count) = COUNT.get() {
        return Ok(count.clone());
    }
    let count = Arc::new(AtomicUsize::new(0));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        let count = count.clone();
        // SAFETY: the handler only touches an atomic, which is async-signal-safe.
        unsafe {
            signal_hook::low_level::register(signal, move || {
                count.fetch_add(1, Ordering::SeqCst);
            })
        }
        .context("installing signal handlers")?;
    }
    Ok(COUNT.get_or_init(|| count).clone())
}
