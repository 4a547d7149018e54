//! The interactive session's state and its input handling: keys (defined in [`super::keys`]) and
//! the `:` command line turn into [`Action`]s. Pure functions of the state and the key, so they are
//! tested without a terminal.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use ratatui::layout::Size;

use super::keys;
use crate::engine::EngineInfo;
use crate::engine::knobs::{Consistency, KnobChange, Knobs};
use crate::hop::HopSettings;
use crate::metrics::Snapshot;

/// What a key asks for, beyond changing the app's own state.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Change(KnobChange),
    /// Change the latency hop's round trip live.
    SetRtt(Duration),
    Profile,
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
    /// The size of the last frame drawn, which help pages by.
    pub screen: Size,
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
            screen: Size::new(80, 24),
        }
    }

    fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    fn say(&mut self, text: impl Into<String>, severity: Severity) {
        self.message = Some((text.into(), severity));
    }

    /// Handles one key; returns what the engine (or the session) should do.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if let Some(binding) = keys::anywhere(&key) {
            return (binding.does)(self, key.code);
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Help => keys::on_help_key(self, key),
            Mode::Command(text) => self.on_command_key(text, key),
            Mode::Normal => keys::on_normal_key(self, key),
        }
    }

    /// A key while typing a `:` command.
    fn on_command_key(&mut self, mut text: String, key: KeyEvent) -> Option<Action> {
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
            Ok(CommandLine::Change(change)) => match self.knobs().apply(&change) {
                Ok(_) => Some(Action::Change(change)),
                Err(message) => {
                    self.say(message, Severity::Error);
                    None
                }
            },
            Ok(CommandLine::Quit) => {
                self.quitting = true;
                Some(Action::Quit)
            }
            Ok(CommandLine::Profile) => Some(Action::Profile),
            Ok(CommandLine::Rtt(rtt)) => {
                if self.hop.is_some() {
                    Some(Action::SetRtt(rtt))
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
    Rtt(Duration),
    Profile,
    Quit,
    Help,
    Nothing,
}

/// The knobs as `:` commands take them: `(name, aliases, what it takes)`.
pub const COMMANDS: &[(&str, &[&str], &str)] = &[
    (
        "strategy",
        &["s"],
        "sync|batches|pipeline|throttle|callbacks",
    ),
    ("depth", &["d"], "writes in flight / chains, 1.."),
    ("batch", &["b"], "writes per round, 1.."),
    ("workers", &["w"], "independent workers, 1..256"),
    ("rate", &[], "target writes/s, 0 = open"),
    ("payload_bytes", &["payload"], "bytes per row"),
    ("cpu_work_us", &["cpu"], "µs of client CPU work per write"),
    (
        "rows_per_request",
        &["rows"],
        "1 = INSERT, more = UNLOGGED BATCH",
    ),
    ("consistency", &["cl"], "one, local_quorum, ..."),
    (
        "request_timeout",
        &["timeout"],
        "client deadline per write, e.g. 2s",
    ),
    ("retry", &[], "default | never"),
    (
        "throttle_cap",
        &["cap"],
        "safety cap in flight for throttle",
    ),
    ("rtt", &[], "round trip the latency hop adds, e.g. 1ms, 0"),
    ("pause", &[], ""),
    ("resume", &[], ""),
    ("profile", &[], "capture a CPU profile"),
    ("quit", &["q"], ""),
];

/// Parses `:depth 384`, `:rate 5000`, `:strategy pipeline`, `:cpu 50`, ...
pub fn parse_command(text: &str) -> Result<CommandLine, String> {
    let mut words = text.split_whitespace();
    let Some(name) = words.next() else {
        return Ok(CommandLine::Nothing);
    };
    let value = words.next();
    if let Some(extra) = words.next() {
        return Err(format!("`:{name}` takes one value; what is `{extra}`?"));
    }
    let canonical = COMMANDS
        .iter()
        .find(|(full, aliases, _)| *full == name || aliases.contains(&name))
        .map(|(full, _, _)| *full)
        .ok_or_else(|| {
            let names: Vec<&str> = COMMANDS.iter().map(|(n, _, _)| *n).collect();
            format!("unknown command `:{name}` (commands: {})", names.join(", "))
        })?;
    let need = |what: &str| -> Result<&str, String> {
        value.ok_or_else(|| format!("`:{canonical}` needs a value: {what}"))
    };
    let number = |what: &str| -> Result<u32, String> {
        let text = need(what)?;
        parse_count(text)
            .ok_or_else(|| format!("`:{canonical}` takes a whole number ({what}), not `{text}`"))
    };
    let no_value = |line: CommandLine| match value {
        Some(v) => Err(format!("`:{canonical}` takes no value, got `{v}`")),
        None => Ok(line),
    };
    Ok(CommandLine::Change(match canonical {
        "strategy" => {
            KnobChange::Strategy(need("sync|batches|pipeline|throttle|callbacks")?.parse()?)
        }
        "depth" => KnobChange::Depth(number("1 or more")?),
        "batch" => KnobChange::Batch(number("1 or more")?),
        "workers" => KnobChange::Workers(number("1 to 256")?),
        "rate" => {
            let text = need("writes/s, 0 = open")?;
            let rate = parse_rate(text).ok_or_else(|| {
                format!("`:rate` takes writes per second (e.g. 5000, 5k, 0 = open), not `{text}`")
            })?;
            KnobChange::Rate(rate)
        }
        "payload_bytes" => KnobChange::PayloadBytes(number("bytes")?),
        "cpu_work_us" => KnobChange::CpuWorkUs(number("microseconds")?),
        "rows_per_request" => KnobChange::RowsPerRequest(number("1 or more")?),
        "consistency" => {
            KnobChange::Consistency(need("e.g. one, local_quorum")?.parse::<Consistency>()?)
        }
        "request_timeout" => {
            let text = need("a duration, e.g. 500ms or 2s")?;
            KnobChange::RequestTimeout(crate::config::duration::parse(text)?)
        }
        "retry" => KnobChange::Retry(need("default | never")?.parse()?),
        "throttle_cap" => KnobChange::ThrottleCap(number("1 or more")?),
        "rtt" => {
            let text = need("a duration such as 1ms, 500us or 0")?;
            let rtt =
                crate::config::duration::parse(text).map_err(|err| format!("`:rtt`: {err}"))?;
            if rtt > Duration::from_secs(10) {
                return Err(format!("`:rtt` is at most 10s, got `{text}`"));
            }
            return Ok(CommandLine::Rtt(rtt));
        }
        "pause" => return no_value(CommandLine::Change(KnobChange::Paused(true))),
        "resume" => return no_value(CommandLine::Change(KnobChange::Paused(false))),
        "profile" => return no_value(CommandLine::Profile),
        "quit" => return no_value(CommandLine::Quit),
        _ => return Ok(CommandLine::Help),
    }))
}

/// `384`, `1,000`, `10k`, `1M`.
fn parse_count(text: &str) -> Option<u32> {
    let value = parse_rate(text)?;
    (value.fract() == 0.0 && value <= f64::from(u32::MAX)).then_some(value as u32)
}

fn parse_rate(text: &str) -> Option<f64> {
    let cleaned = text.replace(['_', ','], "").to_ascii_lowercase();
    let cleaned = cleaned.trim_end_matches("/s");
    let (digits, factor) = match cleaned.strip_suffix('k') {
        Some(d) => (d, 1e3),
        None => match cleaned.strip_suffix('m') {
            Some(d) => (d, 1e6),
            None => (cleaned, 1.0),
        },
    };
    let value = digits.parse::<f64>().ok()? * factor;
    (value.is_finite() && value >= 0.0).then_some(value)
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyModifiers;

    use super::*;
    use crate::config::LoadSettings;
    use crate::engine::knobs::Strategy;

    fn app() -> App {
        let knobs =
            LoadSettings::default().initial_knobs(&crate::config::ClusterSettings::default());
        App::new(
            EngineInfo::for_tests(),
            Arc::new(Snapshot::empty(knobs)),
            120,
        )
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn press(app: &mut App, code: KeyCode) -> Option<Action> {
        app.on_key(key(code))
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
            Some(Action::Change(KnobChange::Depth(384)))
        );
        assert_eq!(
            type_command(&mut app, "rate 5k"),
            Some(Action::Change(KnobChange::Rate(5000.0)))
        );
        assert_eq!(
            type_command(&mut app, "strategy pipeline"),
            Some(Action::Change(KnobChange::Strategy(Strategy::Pipeline)))
        );
        assert_eq!(
            type_command(&mut app, "cpu 50"),
            Some(Action::Change(KnobChange::CpuWorkUs(50)))
        );
        assert_eq!(
            type_command(&mut app, "rows 10"),
            Some(Action::Change(KnobChange::RowsPerRequest(10)))
        );
        assert_eq!(
            type_command(&mut app, "cl one"),
            Some(Action::Change(KnobChange::Consistency(Consistency::One)))
        );
        assert_eq!(
            type_command(&mut app, "pause"),
            Some(Action::Change(KnobChange::Paused(true)))
        );
        assert_eq!(type_command(&mut app, "q"), Some(Action::Quit));
    }

    #[test]
    fn command_line_explains_bad_values() {
        let mut app = app();
        let cases = [
            ("depth 0", "depth must be between 1"),
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
            Ok(CommandLine::Change(KnobChange::RequestTimeout(
                std::time::Duration::from_secs(2)
            )))
        );
        assert_eq!(
            parse_command("retry never"),
            Ok(CommandLine::Change(KnobChange::Retry(
                crate::engine::knobs::Retry::Never
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
            Some(Action::SetRtt(Duration::from_millis(1)))
        );
        assert_eq!(
            type_command(&mut app, "rtt 0"),
            Some(Action::SetRtt(Duration::ZERO))
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
