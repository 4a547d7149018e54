//! Lines to stdout that end quietly once the reader has gone (`casstop bench | head -1`): after
//! a closed pipe the rest is dropped, like every Unix tool, instead of the panic in `println!`
//! that would lose what the command still had to write (its JSON, its recording's end).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout failed: nobody reads what follows.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one line to stdout, or nothing once stdout is closed. Use [`say!`].
pub fn line(text: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if writeln!(std::io::stdout().lock(), "{text}").is_err() {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

/// `println!` for output a reader may stop reading: see the module.
macro_rules! say {
    () => {
        $crate::stdout::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::stdout::line(format_args!($($arg)*))
    };
}

pub(crate) use say;
