//! `casstop attach`: the session's screen over running headless loaders. The [`Remote`] poller
//! merges their intervals into one snapshot; keys become knob changes sent to every loader or to
//! the one `:loader N` picked. Leaving (`q`, Ctrl-C) detaches: the loaders go on.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::app::{Action, App, Severity};
use super::input::Inputs;
use super::screen::Screen;
use super::session::next_action;
use crate::config::Settings;
use crate::control::client::Client;
use crate::control::remote::{Command, Remote};
use crate::engine::EngineInfo;

pub fn run(settings: &Settings, clients: Vec<Client>) -> Result<()> {
    super::check_terminal()?;
    let addrs: Vec<String> = clients.iter().map(|c| c.addr.clone()).collect();
    let remote = Remote::start(clients)?;
    let info = EngineInfo {
        hosts: addrs.to_vec(),
        server_version: "?".into(),
        runtime: settings.knobs.runtime,
        threads: settings.knobs.os_threads(),
        interval: settings.knobs.interval,
        cpu_rounds_per_us: 0.0,
        run_nonce: 0,
        workload: settings.profile.label(),
        table: format!("{}.{}", settings.cluster.keyspace, settings.cluster.table),
        // The loaders' own tables are not known here.
        counter_table: false,
        ops: vec![],
        unsynced_window: None,
    };
    let mut app = App::new(
        info,
        remote.latest().snapshot.clone(),
        settings.ui.window_secs,
    );
    app.node_label = format!("attached to {} loaders: {}", addrs.len(), addrs.join(", "));
    let frame = Duration::from_secs_f64(1.0 / f64::from(settings.ui.fps.max(1)));
    let mut inputs = Inputs::start()?;
    let mut screen = Screen::take()?;
    while !app.quitting {
        refresh(&mut app, &remote);
        if screen.draw(&mut app).is_err() {
            break;
        }
        if let Some(action) = next_action(
            &mut app,
            &mut inputs,
            &mut screen,
            Instant::now() + frame,
            false,
        ) {
            apply(&mut app, &remote, action);
        }
    }
    drop(inputs);
    drop(screen);
    drop(remote);
    crate::stdout::say!("casstop: detached from {} loaders; they go on", addrs.len());
    Ok(())
}

/// The poller's latest view, and the replies to what was sent.
fn refresh(app: &mut App, remote: &Remote) {
    let view = remote.latest();
    app.snapshot = view.snapshot.clone();
    // The header shows the knobs of the loader changes go to (the first answering for all).
    app.knobs = app
        .target
        .and_then(|i| view.loaders.get(i))
        .and_then(|l| l.knobs.clone())
        .unwrap_or_else(|| view.snapshot.knobs.clone());
    app.loaders = Some(view.loaders.clone());
    while let Some((line, error)) = remote.reply() {
        let severity = if error {
            Severity::Error
        } else {
            Severity::Info
        };
        app.message = Some((line, severity));
    }
}

fn targets(app: &App) -> Vec<usize> {
    let count = app.loaders.as_ref().map_or(0, Vec::len);
    match app.target {
        Some(i) => vec![i],
        None => (0..count).collect(),
    }
}

fn apply(app: &mut App, remote: &Remote, action: Action) {
    let to = targets(app);
    let whom = match app.target {
        Some(i) => format!("loader {}", i + 1),
        None => format!("all {} loaders", to.len()),
    };
    match action {
        Action::Change(change) => {
            // Checked here as the loaders will, so a refusal shows at once.
            if let Err(why) = app.knobs.apply(&change) {
                app.message = Some((why, Severity::Error));
                return;
            }
            let what = format!("{} {}", change.knob.name, change.value);
            let body = serde_json::json!({ change.knob.name: change.value }).to_string();
            app.message = Some((format!("{what} → sent to {whom}"), Severity::Info));
            remote.send(Command::Knobs { to, body, what });
        }
        Action::Profile => {
            app.message = Some((format!("CPU profile asked of {whom}"), Severity::Info));
            remote.send(Command::Post {
                to,
                path: "/profile".into(),
                what: "profile written".into(),
            });
        }
        Action::Target(target) => {
            app.target = target;
            let text = match target {
                Some(i) => format!("knob changes now go to loader {} only", i + 1),
                None => "knob changes now go to all loaders".into(),
            };
            app.message = Some((text, Severity::Info));
        }
        Action::SetRtt(..) => {
            app.message = Some((
                "`:rtt` changes a latency hop this process started; attach started none".into(),
                Severity::Error,
            ));
        }
        Action::Node(..) => {
            app.message = Some((
                "`:node` acts on the local cluster from the session that drives it; under attach, \
                 use `casstop local stop|kill|start N`"
                    .into(),
                Severity::Error,
            ));
        }
        Action::Quit | Action::QuitNow => app.quitting = true,
    }
}
