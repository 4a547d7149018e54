//! The interactive session's state and the `:` command line, which turns into [`Action`]s. Keys
//! are [`super::keys`]'s, which hands them here while a command is typed. Pure functions of the
//! state and the key, so they are tested without a terminal.

use crate::knobs;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};

use crate::engine::EngineInfo;
use crate::hop::HopSettings;
use crate::knobs::{KnobChange, Knobs};
use crate::local::NodeAction;
use crate::metrics::Snapshot;

/// What a key asks for, beyond changing the app's own state.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Change(KnobChange),
    /// Change the latency hop's round trip live: the run's hop, or node N's own.
    SetRtt(Option<u8>, Duration),
    Profile,
    /// Under `attach`: send knob changes to this loader (counted from 0), or to all.
    Target(Option<usize>),
    /// Stop, kill or start node N (from 1) of the local cluster.
    Node(u8, NodeAction),
    Quit,
    /// A second Ctrl-C: leave now, without waiting for writes in flight.
    QuitNow,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Normal,
    /// Typing a `:` command; the text typed so far.
    Command(String),
    Help,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Severity {
    Info,
    Error,
}

/// Everything drawn on screen; drawing is a pure function of this.
pub struct App {
    pub info: EngineInfo,
    pub snapshot: Arc<Snapshot>,
    /// The knobs with every change asked for (the engine's `knobs()`), ahead of the snapshot by
    /// up to an interval: the header shows a key's effect at once, and the next key's relative
    /// change (`+` doubles) starts from it.
    pub knobs: Knobs,
    pub window_secs: u32,
    pub mode: Mode,
    /// Feedback on the last key or command.
    pub message: Option<(String, Severity)>,
    pub quitting: bool,
    /// Where the load goes, for the header.
    pub node_label: String,
    /// Seconds a running CPU profile capture has left, if one runs.
    pub capture_left_s: Option<f64>,
    /// The last finished capture.
    pub last_profile: Option<crate::profiler::ProfileSummary>,
    /// The latency hop the session goes through, if any.
    pub hop: Option<HopView>,
    /// The first help line shown: help scrolls when it does not fit.
    pub help_scroll: u16,
    /// How the last frame drawn showed help, which help pages and scrolls by.
    pub help_view: HelpView,
    /// Under `casstop attach`: the loaders the screen merges, and the one knob changes go to
    /// (`None`: all of them).
    pub loaders: Option<Vec<crate::control::remote::LoaderView>>,
    pub target: Option<usize>,
}

/// How help fits the screen it was last drawn on: the draw sets it, the keys scroll by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelpView {
    /// The lines one page shows.
    pub page: u16,
    /// The furthest help scrolls: its last line at the bottom.
    pub end: u16,
}

/// What the header says about the latency hop: `rtt 2ms (hop :9043)`.
#[derive(Clone, Debug, PartialEq)]
pub struct HopView {
    pub port: u16,
    pub settings: HopSettings,
}

impl App {
    pub fn new(info: EngineInfo, snapshot: Arc<Snapshot>, window_secs: u32) -> Self {
        let node_label = format!(
            "{} · Cassandra {}",
            info.hosts.join(","),
            info.server_version
        );
        App {
            info,
            knobs: snapshot.knobs.clone(),
            snapshot,
            window_secs,
            mode: Mode::Normal,
            message: None,
            quitting: false,
            node_label,
            capture_left_s: None,
            last_profile: None,
            hop: None,
            help_scroll: 0,
            help_view: HelpView { page: 20, end: 0 },
            loaders: None,
            target: None,
        }
    }

    fn say(&mut self, text: impl Into<String>, severity: Severity) {
        self.message = Some((text.into(), severity));
    }

    /// A key while typing a `:` command.
    pub(super) fn on_command_key(&mut self, mut text: String, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Esc => None,
            KeyCode::Enter => self.run_command(&text),
            KeyCode::Backspace => {
                if text.pop().is_some() {
                    self.mode = Mode::Command(text);
                }
                None
            }
            KeyCode::Char(c) => {
                text.push(c);
                self.mode = Mode::Command(text);
                None
            }
            _ => {
                self.mode = Mode::Command(text);
                None
            }
        }
    }

    fn run_command(&mut self, text: &str) -> Option<Action> {
        match parse_command(text) {
            // Checked where every change is: the engine's `change` (its refusal is shown).
            Ok(CommandLine::Change(change)) => Some(Action::Change(change)),
            Ok(CommandLine::Quit) => {
                self.quitting = true;
                Some(Action::Quit)
            }
            Ok(CommandLine::Profile) => Some(Action::Profile),
            Ok(CommandLine::Node(index, action)) => Some(Action::Node(index, action)),
            Ok(CommandLine::Loader(target)) => {
                match (&self.loaders, target) {
                    (None, _) => {
                        self.say(
                        "`:loader` picks a loader under `casstop attach`; this session drives its own load",
                        Severity::Error,
                    );
                        None
                    }
                    (Some(loaders), Some(i)) if i >= loaders.len() => {
                        self.say(
                        format!("there are {} loaders: `:loader 1` to `:loader {}`, or `:loader all`", loaders.len(), loaders.len()),
                        Severity::Error,
                    );
                        None
                    }
                    _ => Some(Action::Target(target)),
                }
            }
            Ok(CommandLine::Rtt(Some(node), rtt)) => Some(Action::SetRtt(Some(node), rtt)),
            Ok(CommandLine::Rtt(None, rtt)) => {
                if self.hop.is_some() {
                    Some(Action::SetRtt(None, rtt))
                } else {
                    self.say(
                        "no latency hop in this session: start it with --rtt 1ms (or `casstop local up --rtt 1ms`)",
                        Severity::Error,
                    );
                    None
                }
            }
            Ok(CommandLine::Help) => {
                self.mode = Mode::Help;
                None
            }
            Ok(CommandLine::Nothing) => None,
            Err(message) => {
                self.say(message, Severity::Error);
                None
            }
        }
    }
}

/// A parsed `:` command.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandLine {
    Change(KnobChange),
    Rtt(Option<u8>, Duration),
    Node(u8, NodeAction),
    Profile,
    /// `:loader N` (from 1 as shown; held from 0) or `:loader all`.
    Loader(Option<usize>),
    Quit,
    Help,
    Nothing,
}

/// The session's own `:` commands, beside one per knob: `(name, aliases, what it takes)`.
pub const SESSION_COMMANDS: &[(&str, &[&str], &str)] = &[
    (
        "rtt",
        &[],
        "round trip the latency hop adds, e.g. 1ms, 0; `nodeN 5ms` for node N's own hop",
    ),
    ("pause", &[], "issue no new writes"),
    ("resume", &[], "issue writes again"),
    ("profile", &[], "capture a CPU profile"),
    (
        "node",
        &[],
        "N stop|kill|start: a node of the local cluster, e.g. `:node 2 kill`",
    ),
    (
        "loader",
        &[],
        "attach: send knob changes to loader N (as numbered), or all",
    ),
    ("help", &["h"], "this help"),
    ("quit", &["q"], "drain and leave"),
];

/// Every `:` command, `(name, aliases, what it takes)`: each live knob of the registry, then
/// the session's own.
pub fn commands() -> Vec<(&'static str, &'static [&'static str], String)> {
    knobs::ALL
        .iter()
        .filter(|def| def.live)
        .map(|def| (def.name, def.aliases, def.accepts()))
        .chain(
            SESSION_COMMANDS
                .iter()
                .map(|(name, aliases, takes)| (*name, *aliases, takes.to_string())),
        )
        .collect()
}

/// Parses `:depth 384`, `:rate 5k`, `:strategy pipeline`, `:cpu 50`, `:rtt 2ms`, ... Any knob is
/// read by the registry; its range is checked when the engine applies the change.
pub fn parse_command(text: &str) -> Result<CommandLine, String> {
    let mut words = text.split_whitespace();
    let Some(name) = words.next() else {
        return Ok(CommandLine::Nothing);
    };
    let rest: Vec<&str> = words.collect();
    // A duration may be written in words (`1h 30m`, as durations are printed); else one value.
    let is_duration = knobs::find(name)
        .is_some_and(|def| matches!(def.parse("1s"), Ok(knobs::Value::Duration(_))));
    let value = match rest[..] {
        [] => None,
        [one] => Some(one.to_string()),
        _ if is_duration || name == "node" || name == "rtt" => Some(rest.join(" ")),
        [_, extra, ..] => {
            return Err(format!("`:{name}` takes one value; what is `{extra}`?"));
        }
    };
    let value = value.as_deref();
    if let Some((canonical, _, takes)) = SESSION_COMMANDS
        .iter()
        .find(|(full, aliases, _)| *full == name || aliases.contains(&name))
    {
        return session_command(canonical, value, takes);
    }
    let def = knobs::find(name).ok_or_else(|| {
        let names: Vec<&str> = commands().iter().map(|(n, _, _)| *n).collect();
        format!("unknown command `:{name}` (commands: {})", names.join(", "))
    })?;
    let text = value.ok_or_else(|| format!("`:{}` needs a value: {}", def.name, def.accepts()))?;
    let value = def
        .parse(text)
        .map_err(|m| format!("`:{}` {m}", def.name))?;
    Ok(CommandLine::Change(KnobChange { knob: def, value }))
}

fn session_command(name: &str, value: Option<&str>, takes: &str) -> Result<CommandLine, String> {
    let no_value = |line: CommandLine| match value {
        Some(v) => Err(format!("`:{name}` takes no value, got `{v}`")),
        None => Ok(line),
    };
    match name {
        "rtt" => {
            let text = value.ok_or_else(|| format!("`:rtt` needs a value: {takes}"))?;
            // `:rtt node3 5ms`: node 3's own hop.
            let (node, text) = match text.split_once(' ') {
                Some((first, rest)) if first.starts_with("node") => {
                    let index = first["node".len()..]
                        .parse::<u8>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| {
                            format!("`:rtt`: `{first}` names no node (node1, node2 …)")
                        })?;
                    (Some(index), rest.trim())
                }
                _ => (None, text),
            };
            let rtt = knobs::parse_duration(text).map_err(|err| format!("`:rtt`: {err}"))?;
            if rtt > Duration::from_secs(10) {
                return Err(format!("`:rtt` is at most 10s, got `{text}`"));
            }
            Ok(CommandLine::Rtt(node, rtt))
        }
        "pause" => no_value(CommandLine::Change(KnobChange::new(&knobs::PAUSED, true))),
        "resume" => no_value(CommandLine::Change(KnobChange::new(&knobs::PAUSED, false))),
        "profile" => no_value(CommandLine::Profile),
        "node" => {
            let usage =
                || format!("`:node` takes a node's number and stop, kill or start ({takes})");
            let text = value.ok_or_else(usage)?;
            let [index, action] = text.split_whitespace().collect::<Vec<_>>()[..] else {
                return Err(usage());
            };
            let index = index
                .parse::<u8>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("`:node` takes a node's number (from 1), got `{index}`"))?;
            let action = NodeAction::parse(action).map_err(|m| format!("`:node`: {m}"))?;
            Ok(CommandLine::Node(index, action))
        }
        "loader" => match value {
            Some("all") => Ok(CommandLine::Loader(None)),
            Some(n) => match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(CommandLine::Loader(Some(n - 1))),
                _ => Err(format!(
                    "`:loader` takes a loader's number (from 1) or `all`, got `{n}`"
                )),
            },
            None => Err(format!("`:loader` needs a value: {takes}")),
        },
        "help" => no_value(CommandLine::Help),
        _ => no_value(CommandLine::Quit),
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyModifiers;

    use super::*;
    use crate::knobs;
    use crate::knobs::{Consistency, Strategy};

    fn app() -> App {
        crate::ui::draw::testing::blank()
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn press(app: &mut App, code: KeyCode) -> Option<Action> {
        crate::ui::keys::on_key(app, key(code))
    }

    fn type_command(app: &mut App, text: &str) -> Option<Action> {
        press(app, KeyCode::Char(':'));
        for c in text.chars() {
            assert_eq!(press(app, KeyCode::Char(c)), None);
        }
        press(app, KeyCode::Enter)
    }

    #[test]
    fn command_line_sets_exact_values() {
        let mut app = app();
        assert_eq!(
            type_command(&mut app, "depth 384"),
            Some(Action::Change(KnobChange::new(&knobs::DEPTH, 384)))
        );
        assert_eq!(
            type_command(&mut app, "rate 5k"),
            Some(Action::Change(KnobChange::new(&knobs::RATE, 5000.0)))
        );
        assert_eq!(
            type_command(&mut app, "strategy pipeline"),
            Some(Action::Change(KnobChange::new(
                &knobs::STRATEGY,
                Strategy::Pipeline
            )))
        );
        assert_eq!(
            type_command(&mut app, "cpu 50"),
            Some(Action::Change(KnobChange::new(&knobs::CPU_WORK_US, 50)))
        );
        assert_eq!(
            type_command(&mut app, "rows 10"),
            Some(Action::Change(KnobChange::new(
                &knobs::ROWS_PER_REQUEST,
                10
            )))
        );
        assert_eq!(
            type_command(&mut app, "cl one"),
            Some(Action::Change(KnobChange::new(
                &knobs::CONSISTENCY,
                Consistency::One
            )))
        );
        assert_eq!(
            type_command(&mut app, "pause"),
            Some(Action::Change(KnobChange::new(&knobs::PAUSED, true)))
        );
        assert_eq!(type_command(&mut app, "q"), Some(Action::Quit));
    }

    #[test]
    fn command_line_explains_bad_values() {
        let mut app = app();
        // A value of the right type but out of range is the engine's to refuse (the one check).
        assert!(matches!(
            type_command(&mut app, "depth 0"),
            Some(Action::Change(_))
        ));
        let cases = [
            ("depth lots", "`:depth` takes a whole number"),
            ("depth", "`:depth` needs a value"),
            ("rate fast", "`:rate` takes writes per second"),
            ("strategy fastest", "unknown strategy `fastest`"),
            ("deepth 5", "unknown command `:deepth`"),
            ("depth 5 6", "takes one value"),
            ("pause now", "takes no value"),
        ];
        for (text, expected) in cases {
            assert_eq!(type_command(&mut app, text), None, "{text}");
            let (message, severity) = app.message.clone().expect("a message");
            assert_eq!(severity, Severity::Error);
            assert!(message.contains(expected), "{text}: {message}");
        }
    }

    #[test]
    fn request_timeout_and_retry_are_live_commands() {
        assert_eq!(
            parse_command("timeout 2s"),
            Ok(CommandLine::Change(KnobChange::new(
                &knobs::REQUEST_TIMEOUT,
                std::time::Duration::from_secs(2)
            )))
        );
        assert_eq!(
            parse_command("retry never"),
            Ok(CommandLine::Change(KnobChange::new(
                &knobs::RETRY,
                crate::knobs::Retry::Never
            )))
        );
        assert!(
            parse_command("retry sometimes")
                .unwrap_err()
                .contains("`sometimes`")
        );
        assert!(
            parse_command("timeout soon")
                .unwrap_err()
                .contains("`soon`")
        );
    }

    #[test]
    fn node_command_takes_a_number_and_an_action() {
        assert_eq!(
            parse_command("node 2 kill"),
            Ok(CommandLine::Node(2, NodeAction::Kill))
        );
        assert_eq!(
            parse_command("node 3 start"),
            Ok(CommandLine::Node(3, NodeAction::Start))
        );
        for (text, expected) in [
            ("node", "takes a node's number and stop, kill or start"),
            ("node 2", "takes a node's number and stop, kill or start"),
            ("node 0 kill", "from 1), got `0`"),
            ("node two kill", "got `two`"),
            ("node 2 reboot", "`reboot` is not a node action"),
            ("node 2 kill now", "takes a node's number and stop"),
        ] {
            let message = parse_command(text).unwrap_err();
            assert!(message.contains(expected), "{text}: {message}");
        }
        let mut app = app();
        assert_eq!(
            type_command(&mut app, "node 1 stop"),
            Some(Action::Node(1, NodeAction::Stop))
        );
    }

    #[test]
    fn rtt_command_names_a_node_for_its_own_hop() {
        assert_eq!(
            parse_command("rtt node3 5ms"),
            Ok(CommandLine::Rtt(Some(3), Duration::from_millis(5)))
        );
        assert!(
            parse_command("rtt node0 5ms")
                .unwrap_err()
                .contains("`node0` names no node")
        );
        // Without a hop of the session's own, a node's is still asked for (the node says).
        let mut app = app();
        assert_eq!(
            type_command(&mut app, "rtt node2 0"),
            Some(Action::SetRtt(Some(2), Duration::ZERO))
        );
    }

    #[test]
    fn rtt_command_needs_a_hop_and_a_duration() {
        let mut app = app();
        assert_eq!(type_command(&mut app, "rtt 1ms"), None);
        assert!(app.message.as_ref().unwrap().0.contains("no latency hop"));
        app.hop = Some(HopView {
            port: 9043,
            settings: HopSettings::default(),
        });
        assert_eq!(
            type_command(&mut app, "rtt 1ms"),
            Some(Action::SetRtt(None, Duration::from_millis(1)))
        );
        assert_eq!(
            type_command(&mut app, "rtt 0"),
            Some(Action::SetRtt(None, Duration::ZERO))
        );
        assert_eq!(type_command(&mut app, "rtt soon"), None);
        assert!(app.message.as_ref().unwrap().0.contains("500ms"));
        assert_eq!(type_command(&mut app, "rtt 1h"), None);
        assert!(app.message.as_ref().unwrap().0.contains("at most 10s"));
    }

    #[test]
    fn command_line_editing() {
        let mut app = app();
        press(&mut app, KeyCode::Char(':'));
        press(&mut app, KeyCode::Char('x'));
        press(&mut app, KeyCode::Backspace);
        assert_eq!(app.mode, Mode::Command(String::new()));
        press(&mut app, KeyCode::Esc);
        assert_eq!(app.mode, Mode::Normal);
    }
}
