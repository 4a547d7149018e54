//! What the control API's handlers share with the command that serves it: the token, the run
//! attached now, and the stop counter.

use std::sync::Mutex;

use crate::engine::EngineHandle;
use crate::profiler::Category;

/// What a capture asked for through the API uses: the run's profiler settings.
#[derive(Clone, Debug)]
pub struct ProfileSetup {
    pub frequency_hz: u32,
    pub duration: std::time::Duration,
    pub categories: Vec<Category>,
    pub dir: std::path::PathBuf,
}

impl ProfileSetup {
    /// The run's profiler settings, its captures going under `dir`.
    pub fn of(settings: &crate::config::Settings, dir: std::path::PathBuf) -> Self {
        ProfileSetup {
            frequency_hz: settings.profiler.frequency_hz,
            duration: settings.profiler.duration,
            categories: settings.profiler.categories.clone(),
            dir,
        }
    }
}

/// The run the API steers, while there is one (a matrix or sweep runs several in turn).
#[derive(Clone)]
pub struct Attached {
    pub engine: EngineHandle,
    pub profile: ProfileSetup,
}

/// Asks the command serving the API to stop as a first Ctrl-C would.
pub type StopAction = Box<dyn Fn() + Send + Sync>;

/// What the handlers share.
pub struct Shared {
    pub(super) token: String,
    pub(super) run: Mutex<Option<Attached>>,
    /// What a first Ctrl-C does to the command serving the API: `POST /stop` does the same.
    pub(super) stop: StopAction,
}

impl Shared {
    /// The run attached now, if any. The lock is held for a clone only; the engine never takes
    /// it.
    pub fn run(&self) -> Option<Attached> {
        self.run.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
