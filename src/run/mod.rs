//! Running the engine to an end: signals (first drains, second leaves), a headless run with its
//! progress line, and what a run came to.

pub mod control;
pub mod headless;
pub mod summary;

pub use control::RunControl;
pub use headless::{progress_line, run_one, run_one_recorded};
pub use summary::{BenchResult, DEFAULT_DURATION, print_matrix, print_result, write_json};
