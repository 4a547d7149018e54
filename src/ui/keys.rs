//! The session's keys, each defined once: which key codes, where the footer hints at it, what the
//! help overlay says, and what it does. [`on_key`], the footer and the help overlay all read
//! [`NORMAL`]; the help overlay's own keys are [`HELP`].

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App, Mode, Severity};
use crate::knobs::{KnobChange, Knobs, Strategy};

/// Chart windows `z` cycles through, in seconds.
pub const WINDOWS: [u32; 5] = [60, 120, 300, 600, 1800];

/// One key (or a few keys that do the same thing).
pub struct Binding {
    /// The keys; hints show the first, help shows them all.
    pub codes: &'static [KeyCode],
    /// Needs Ctrl held. Such keys act in every mode (Ctrl-C quits while typing a command too).
    pub ctrl: bool,
    /// How the footer shows it.
    pub hint: Hint,
    /// What the help overlay says it does.
    pub help: &'static str,
    /// What it does; gets the code pressed, for bindings of several codes.
    pub does: fn(&mut App, KeyCode) -> Option<Action>,
}

/// A key's place in the footer's hints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hint {
    /// Not in the footer.
    Hidden,
    /// Starts a hint with this word (`+ depth`), shown while there is room.
    Starts(&'static str),
    /// Joins the hint before it (`+` then `-` show as `+/- depth`).
    Joins,
    /// A hint shown however narrow the footer is.
    Always(&'static str),
}

const fn key(
    codes: &'static [KeyCode],
    hint: Hint,
    help: &'static str,
    does: fn(&mut App, KeyCode) -> Option<Action>,
) -> Binding {
    Binding {
        codes,
        ctrl: false,
        hint,
        help,
        does,
    }
}

use Hint::{Always, Hidden, Joins, Starts};
use KeyCode::Char;

/// The keys of the normal screen, in the order help lists them.
pub static NORMAL: &[Binding] = &[
    key(
        &[Char('1'), Char('2'), Char('3'), Char('4'), Char('5')],
        Starts("strategy"),
        "pick a strategy by its number (the strategies below)",
        |_, code| {
            let Char(digit @ '1'..='5') = code else {
                return None;
            };
            change(KnobChange::new(
                &crate::knobs::STRATEGY,
                Strategy::ALL[(digit as u8 - b'1') as usize],
            ))
        },
    ),
    key(&[KeyCode::Tab], Hidden, "next strategy", |app, _| {
        change(KnobChange::new(
            &crate::knobs::STRATEGY,
            app.knobs.strategy.next(),
        ))
    }),
    key(
        &[Char('+'), Char('=')],
        Starts("depth"),
        "double the depth (writes in flight / chains)",
        |app, _| {
            change(KnobChange::new(
                &crate::knobs::DEPTH,
                grow(app.knobs.depth, depth_max(&app.knobs)),
            ))
        },
    ),
    key(&[Char('-')], Joins, "halve the depth", |app, _| {
        change(KnobChange::new(
            &crate::knobs::DEPTH,
            shrink(app.knobs.depth),
        ))
    }),
    key(&[Char('>')], Hidden, "depth one more", |app, _| {
        change(KnobChange::new(
            &crate::knobs::DEPTH,
            (app.knobs.depth + 1).min(depth_max(&app.knobs)),
        ))
    }),
    key(&[Char('<')], Hidden, "depth one less", |app, _| {
        change(KnobChange::new(
            &crate::knobs::DEPTH,
            app.knobs.depth.saturating_sub(1).max(1),
        ))
    }),
    key(
        &[Char('[')],
        Starts("batch"),
        "halve the batch",
        |app, _| {
            change(KnobChange::new(
                &crate::knobs::BATCH,
                shrink(app.knobs.batch),
            ))
        },
    ),
    key(&[Char(']')], Joins, "double the batch", |app, _| {
        change(KnobChange::new(
            &crate::knobs::BATCH,
            grow(app.knobs.batch, depth_max(&app.knobs)),
        ))
    }),
    key(&[Char('{')], Hidden, "batch one less", |app, _| {
        change(KnobChange::new(
            &crate::knobs::BATCH,
            app.knobs.batch.saturating_sub(1).max(1),
        ))
    }),
    key(&[Char('}')], Hidden, "batch one more", |app, _| {
        change(KnobChange::new(
            &crate::knobs::BATCH,
            (app.knobs.batch + 1).min(depth_max(&app.knobs)),
        ))
    }),
    key(
        &[Char('w')],
        Starts("workers"),
        "one worker more",
        |app, _| {
            change(KnobChange::new(
                &crate::knobs::WORKERS,
                (app.knobs.workers + 1).min(count_max(&crate::knobs::WORKERS)),
            ))
        },
    ),
    key(&[Char('W')], Joins, "one worker less", |app, _| {
        change(KnobChange::new(
            &crate::knobs::WORKERS,
            app.knobs.workers.saturating_sub(1).max(1),
        ))
    }),
    key(
        &[Char('r')],
        Starts("rate"),
        "double the target rate",
        |app, _| {
            if app.knobs.rate > 0.0 {
                return change(KnobChange::new(&crate::knobs::RATE, app.knobs.rate * 2.0));
            }
            tell(
                app,
                "rate is open (as fast as the strategy allows); R sets a target, :rate N an exact one",
            );
            None
        },
    ),
    key(
        &[Char('R')],
        Joins,
        "halve the target rate (from open: half the current throughput)",
        |app, _| {
            let base = if app.knobs.rate > 0.0 {
                app.knobs.rate
            } else {
                app.snapshot.interval.throughput
            };
            change(KnobChange::new(&crate::knobs::RATE, round_rate(base / 2.0)))
        },
    ),
    key(
        &[Char('p'), Char(' ')],
        Starts("pause"),
        "pause / resume",
        |app, _| change(KnobChange::new(&crate::knobs::PAUSED, !app.knobs.paused)),
    ),
    key(&[Char('f')], Hidden, "capture a CPU profile", |_, _| {
        Some(Action::Profile)
    }),
    key(
        &[Char(':')],
        Starts("command"),
        "command line for exact values (the commands below)",
        |app, _| {
            app.mode = Mode::Command(String::new());
            None
        },
    ),
    key(
        &[Char('z')],
        Starts("zoom"),
        "zoom the chart window",
        |app, _| {
            let index = WINDOWS.iter().position(|w| *w == app.window_secs);
            app.window_secs = WINDOWS[index.map(|i| (i + 1) % WINDOWS.len()).unwrap_or(0)];
            let text = format!("chart window {} s", app.window_secs);
            tell(app, text);
            None
        },
    ),
    key(
        &[Char('?'), KeyCode::F(1)],
        Always("help"),
        "this help",
        |app, _| {
            app.mode = Mode::Help;
            app.help_scroll = 0;
            None
        },
    ),
    key(&[KeyCode::Esc], Hidden, "clear the message", |app, _| {
        app.message = None;
        None
    }),
    key(
        &[Char('q')],
        Always("quit"),
        "quit: writes in flight finish, the summary prints",
        |app, _| quit(app),
    ),
    Binding {
        codes: &[Char('c'), Char('C')],
        ctrl: true,
        hint: Hidden,
        help: "quit; a second Ctrl-C leaves at once, without waiting for writes in flight",
        does: |app, _| {
            if app.quitting {
                Some(Action::QuitNow)
            } else {
                quit(app)
            }
        },
    },
];

/// The keys that scroll help; any other key closes it (and `q` still quits).
pub static HELP: &[Binding] = &[
    key(&[KeyCode::Up, Char('k')], Hidden, "scroll up", |app, _| {
        scroll_help(app, -1)
    }),
    key(
        &[KeyCode::Down, Char('j')],
        Hidden,
        "scroll down",
        |app, _| scroll_help(app, 1),
    ),
    key(&[KeyCode::PageUp], Hidden, "a page up", |app, _| {
        scroll_help(app, -i32::from(app.help_view.page))
    }),
    key(&[KeyCode::PageDown], Hidden, "a page down", |app, _| {
        scroll_help(app, i32::from(app.help_view.page))
    }),
    key(
        &[KeyCode::Home, Char('g')],
        Hidden,
        "to the top",
        |app, _| scroll_help(app, -i32::from(u16::MAX)),
    ),
    key(
        &[KeyCode::End, Char('G')],
        Hidden,
        "to the end",
        |app, _| scroll_help(app, i32::from(u16::MAX)),
    ),
];

/// Handles one key; returns what the engine (or the session) should do.
pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if let Some(binding) = anywhere(&key) {
        return (binding.does)(app, key.code);
    }
    match std::mem::replace(&mut app.mode, Mode::Normal) {
        Mode::Help => on_help_key(app, key),
        Mode::Command(text) => app.on_command_key(text, key),
        Mode::Normal => on_normal_key(app, key),
    }
}

/// The binding of a Ctrl key, which acts in every mode.
pub fn anywhere(key: &KeyEvent) -> Option<&'static Binding> {
    if !key.modifiers.contains(KeyModifiers::CONTROL) {
        return None;
    }
    NORMAL
        .iter()
        .find(|binding| binding.ctrl && binding.codes.contains(&key.code))
}

/// A key on the normal screen.
pub fn on_normal_key(app: &mut App, key: KeyEvent) -> Option<Action> {
    let binding = NORMAL
        .iter()
        .find(|binding| !binding.ctrl && binding.codes.contains(&key.code))?;
    (binding.does)(app, key.code)
}

/// A key while help is shown: [`HELP`] scrolls it, any other key closes it; `q` still quits.
pub fn on_help_key(app: &mut App, key: KeyEvent) -> Option<Action> {
    if let Some(binding) = HELP
        .iter()
        .find(|binding| binding.codes.contains(&key.code))
    {
        return (binding.does)(app, key.code);
    }
    app.help_scroll = 0;
    if key.code == Char('q') {
        return quit(app);
    }
    None
}

/// Moves help by `lines` (up when negative), within what the last frame's size shows; help
/// stays open.
fn scroll_help(app: &mut App, lines: i32) -> Option<Action> {
    let end = i32::from(app.help_view.end);
    app.help_scroll = (i32::from(app.help_scroll) + lines).clamp(0, end) as u16;
    app.mode = Mode::Help;
    None
}

/// How help and hints name a key: `+`, `Tab`, `Space`, `Ctrl-C`.
pub fn key_name(code: KeyCode, ctrl: bool) -> String {
    let name = match code {
        Char(' ') => "Space".to_string(),
        Char(c) if ctrl => c.to_ascii_uppercase().to_string(),
        Char(c) => c.to_string(),
        KeyCode::F(n) => format!("F{n}"),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        other => other.to_string(),
    };
    if ctrl { format!("Ctrl-{name}") } else { name }
}

/// All of a binding's keys, as help lists them: `+ =`, `1-5`, `Ctrl-C`.
pub fn keys_label(binding: &Binding) -> String {
    if let Some(run) = run_label(binding) {
        return run;
    }
    let mut names: Vec<String> = binding
        .codes
        .iter()
        .map(|code| key_name(*code, binding.ctrl))
        .collect();
    names.dedup();
    names.join(" ")
}

/// The label of a footer hint: `1-5` for a run of keys, else the first key.
pub fn hint_label(binding: &Binding) -> String {
    run_label(binding).unwrap_or_else(|| {
        binding
            .codes
            .first()
            .map(|code| key_name(*code, binding.ctrl))
            .unwrap_or_default()
    })
}

/// `1-5` for three or more consecutive characters.
fn run_label(binding: &Binding) -> Option<String> {
    let chars: Vec<char> = binding
        .codes
        .iter()
        .map(|code| match code {
            Char(c) => Some(*c),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let consecutive = chars.windows(2).all(|w| w[1] as u32 == w[0] as u32 + 1);
    (chars.len() > 2 && consecutive).then(|| format!("{}-{}", chars[0], chars[chars.len() - 1]))
}

fn change(change: KnobChange) -> Option<Action> {
    Some(Action::Change(change))
}

fn quit(app: &mut App) -> Option<Action> {
    app.quitting = true;
    Some(Action::Quit)
}

fn tell(app: &mut App, text: impl Into<String>) {
    app.message = Some((text.into(), Severity::Info));
}

/// A whole-number knob's upper limit, from the registry.
fn count_max(def: &crate::knobs::KnobDef) -> u32 {
    match def.range {
        crate::knobs::Range::Count { max, .. } => u32::try_from(max).unwrap_or(u32::MAX),
        _ => u32::MAX,
    }
}

/// The deepest a key may take depth or batch: the registry's limit, and the throttle cap.
fn depth_max(k: &Knobs) -> u32 {
    count_max(&crate::knobs::DEPTH).min(k.throttle_cap)
}

fn grow(value: u32, max: u32) -> u32 {
    value.saturating_mul(2).clamp(1, max.max(1))
}

fn shrink(value: u32) -> u32 {
    (value / 2).max(1)
}

/// A rate rounded to two significant digits, at least 1/s.
fn round_rate(rate: f64) -> f64 {
    if rate < 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powi(rate.log10().floor() as i32 - 1);
    ((rate / magnitude).round() * magnitude).max(1.0)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn app() -> App {
        crate::ui::draw::testing::blank()
    }

    fn press(app: &mut App, code: KeyCode) -> Option<Action> {
        on_key(app, KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn number_keys_pick_strategies_and_tab_cycles() {
        let mut app = app();
        assert_eq!(
            press(&mut app, KeyCode::Char('1')),
            Some(Action::Change(KnobChange::new(
                &crate::knobs::STRATEGY,
                Strategy::Sync
            )))
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('3')),
            Some(Action::Change(KnobChange::new(
                &crate::knobs::STRATEGY,
                Strategy::Pipeline
            )))
        );
        assert_eq!(
            press(&mut app, KeyCode::Tab),
            Some(Action::Change(KnobChange::new(
                &crate::knobs::STRATEGY,
                Strategy::Sync
            )))
        );
    }

    #[test]
    fn depth_and_batch_keys() {
        let mut app = app();
        assert_eq!(
            press(&mut app, KeyCode::Char('+')),
            Some(Action::Change(KnobChange::new(&crate::knobs::DEPTH, 256)))
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('-')),
            Some(Action::Change(KnobChange::new(&crate::knobs::DEPTH, 64)))
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('>')),
            Some(Action::Change(KnobChange::new(&crate::knobs::DEPTH, 129)))
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('<')),
            Some(Action::Change(KnobChange::new(&crate::knobs::DEPTH, 127)))
        );
        assert_eq!(
            press(&mut app, KeyCode::Char(']')),
            Some(Action::Change(KnobChange::new(&crate::knobs::BATCH, 240)))
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('[')),
            Some(Action::Change(KnobChange::new(&crate::knobs::BATCH, 60)))
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('w')),
            Some(Action::Change(KnobChange::new(&crate::knobs::WORKERS, 2)))
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('W')),
            Some(Action::Change(KnobChange::new(&crate::knobs::WORKERS, 1)))
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('p')),
            Some(Action::Change(KnobChange::new(&crate::knobs::PAUSED, true)))
        );
    }

    #[test]
    fn rate_keys_from_open_and_paced() {
        let mut app = app();
        assert_eq!(press(&mut app, KeyCode::Char('r')), None, "open stays open");
        assert!(app.message.is_some());
        app.knobs.rate = 1000.0;
        assert_eq!(
            press(&mut app, KeyCode::Char('r')),
            Some(Action::Change(KnobChange::new(&crate::knobs::RATE, 2000.0)))
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('R')),
            Some(Action::Change(KnobChange::new(&crate::knobs::RATE, 500.0)))
        );
        assert_eq!(round_rate(12_345.0), 12_000.0);
        assert_eq!(round_rate(0.2), 1.0);
    }

    #[test]
    fn quit_then_second_ctrl_c_quits_now() {
        let mut first = app();
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(on_key(&mut first, ctrl_c), Some(Action::Quit));
        assert_eq!(on_key(&mut first, ctrl_c), Some(Action::QuitNow));
        let mut second = app();
        assert_eq!(press(&mut second, KeyCode::Char('q')), Some(Action::Quit));
    }

    #[test]
    fn zoom_cycles_windows_and_help_toggles() {
        let mut app = app();
        press(&mut app, KeyCode::Char('z'));
        assert_eq!(app.window_secs, 300);
        press(&mut app, KeyCode::Char('?'));
        assert_eq!(app.mode, Mode::Help);
        assert_eq!(
            press(&mut app, KeyCode::Char('1')),
            None,
            "help swallows the key"
        );
        assert_eq!(app.mode, Mode::Normal);
    }

    #[test]
    fn each_key_is_bound_once_and_named() {
        let mut seen = std::collections::HashSet::new();
        for binding in NORMAL {
            assert!(!binding.help.is_empty());
            for code in binding.codes {
                assert!(seen.insert((*code, binding.ctrl)), "{code:?} bound twice");
            }
        }
        let label = |code| {
            let binding = NORMAL.iter().find(|b| b.codes.contains(&code)).unwrap();
            (keys_label(binding), hint_label(binding))
        };
        assert_eq!(label(Char('1')), ("1-5".into(), "1-5".into()));
        assert_eq!(label(Char('+')), ("+ =".into(), "+".into()));
        assert_eq!(label(Char('p')), ("p Space".into(), "p".into()));
        assert_eq!(label(Char('?')), ("? F1".into(), "?".into()));
        assert_eq!(label(Char('c')), ("Ctrl-C".into(), "Ctrl-C".into()));
    }
}
