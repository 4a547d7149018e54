//! `casstop` (or `casstop tui`): the interactive session against the cluster, recorded.

use anyhow::Result;

use crate::cli::TuiArgs;
use crate::config::Settings;
use crate::record::Recorder;
use crate::run::print_result;
use crate::stdout::say;
use crate::{target, ui};

pub fn run(args: &TuiArgs, mut settings: Settings, runtime: tokio::runtime::Runtime) -> Result<()> {
    // Before the node is started or anything is connected: a session that cannot draw should
    // not cost half a minute of booting first.
    ui::check_terminal()?;
    let node_pid = runtime.block_on(target::prepare_cluster(&mut settings))?;
    drop(runtime);
    let hop = target::route_through_hop(&mut settings, args.rtt.is_some())?;
    let recorder = settings
        .output
        .record
        .then(|| Recorder::start(&settings, "session"))
        .transpose()?;
    let control = super::listen::control_api(&settings, Box::new(ui::interrupt))?;
    let result = ui::run(
        &settings,
        node_pid,
        recorder.as_ref(),
        hop.as_ref(),
        control.as_ref(),
    );
    let outcome = recorder.map(|r| r.finish(result.as_ref().ok()));
    let result = result?;
    say!("session summary");
    print_result(&result);
    if let Some(outcome) = outcome {
        say!("{}", outcome.describe());
    }
    Ok(())
}
