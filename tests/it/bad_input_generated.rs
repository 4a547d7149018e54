//! Generated bad (and good) input, thousands of cases: flags, environment values, config values
//! and `:` commands. Never a panic; a refusal is one line naming the culprit; a refused change
//! changes nothing.

use casstop::cli::Cli;
use casstop::config;
use casstop::knobs::{self, Knobs};
use casstop::ui::app::{CommandLine, parse_command};
use clap::Parser;
use proptest::prelude::*;

/// Values people type, and values nobody should: signs, exponents, huge and tiny numbers,
/// units, words, unicode, empty.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        (-400i32..400).prop_map(|e| format!("1e{e}")),
        (0u64..u64::MAX).prop_map(|v| format!("{v}0")),
        "[0-9]{1,30}(k|M|ms|s|m|h|us|/s)?",
        "-?[0-9]{0,5}\\.?[0-9]{0,5}(e-?[0-9]{1,4})?",
        "[a-z_]{0,12}",
        "\\PC{0,8}",
        Just(String::new()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("9223372036854775808".to_string()),
    ]
}

fn knob() -> impl Strategy<Value = &'static knobs::KnobDef> {
    (0..knobs::ALL.len()).prop_map(|i| knobs::ALL[i])
}

fn one_line(message: &str) -> bool {
    !message.is_empty() && message.lines().count() == 1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn flags_parse_or_are_refused_in_one_line(def in knob(), text in value()) {
        let _load = crate::common::loading();
        let flag = def.flag();
        // `--flag=value`: a value that starts with `-` is still the flag's.
        let arg = format!("{flag}={text}");
        match Cli::try_parse_from(["casstop", "bench", arg.as_str()]) {
            Err(err) => {
                prop_assert_eq!(err.exit_code(), 2);
                let message = err.to_string();
                prop_assert!(message.contains(&flag), "{}", message);
            }
            Ok(cli) => {
                if let Err(err) = config::load(None, &[], &cli.flag_overrides()) {
                    let message = err.to_string();
                    prop_assert!(one_line(&message), "{}", message);
                    prop_assert!(message.starts_with("--"), "names a flag: {}", message);
                }
            }
        }
    }

    #[test]
    fn environment_values_load_or_are_refused_naming_the_variable(def in knob(), text in value()) {
        let _load = crate::common::loading();
        let env = vec![(def.env_var(), text.clone())];
        match config::load(None, &env, &[]) {
            Ok(loaded) => prop_assert!(loaded.settings.knobs.validate().is_ok()),
            Err(err) => {
                let message = err.to_string();
                prop_assert!(one_line(&message), "{}", message);
                prop_assert!(message.starts_with(&def.env_var()), "{}", message);
            }
        }
    }

    #[test]
    fn config_values_load_or_are_refused_naming_key_and_line(def in knob(), text in value()) {
        let _load = crate::common::loading();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        // As a string and as a bare TOML value (which may not be TOML at all).
        for raw in [format!("{text:?}"), text.clone()] {
            std::fs::write(&path, format!("[{}]\n{} = {raw}\n", def.section, def.name)).unwrap();
            if let Err(err) = config::load(Some(&path), &[], &[]) {
                let message = err.to_string();
                prop_assert!(one_line(&message), "{}", message);
                prop_assert!(message.contains("c.toml:"), "{}", message);
            }
        }
    }

    #[test]
    fn commands_change_within_range_or_change_nothing(line in "[a-z_ ]{0,20}", text in value()) {
        let _load = crate::common::loading();
        let knobs = Knobs::default();
        for typed in [line.clone(), format!("{} {text}", line.trim())] {
            match parse_command(&typed) {
                Err(message) => prop_assert!(one_line(&message), "{}", message),
                Ok(CommandLine::Change(change)) => match knobs.apply(&change) {
                    Ok(next) => prop_assert!(next.validate().is_ok()),
                    Err(message) => {
                        prop_assert!(one_line(&message), "{}", message);
                        prop_assert!(message.starts_with(change.knob.name), "{}", message);
                        prop_assert_eq!(&knobs, &Knobs::default(), "nothing applied");
                    }
                },
                Ok(_) => {}
            }
        }
    }
}

/// A recording damaged the ways a kill, a full disk or a hand edit damages one: a file cut at
/// any byte, a line replaced by junk, a file emptied or removed.
#[derive(Clone, Debug)]
enum Damage {
    Cut {
        file: usize,
        at: f64,
    },
    Junk {
        file: usize,
        line: usize,
        junk: String,
    },
    Empty {
        file: usize,
    },
    Remove {
        file: usize,
    },
}

const RECORDING_FILES: [&str; 5] = [
    "intervals.jsonl",
    "latency.hlog",
    "events.jsonl",
    "summary.json",
    "meta.json",
];

fn damage() -> impl Strategy<Value = Damage> {
    let file = 0..RECORDING_FILES.len();
    prop_oneof![
        (file.clone(), 0.0..1.0f64).prop_map(|(file, at)| Damage::Cut { file, at }),
        (file.clone(), 0..20usize, "\\PC{0,40}").prop_map(|(file, line, junk)| Damage::Junk {
            file,
            line,
            junk
        }),
        file.clone().prop_map(|file| Damage::Empty { file }),
        file.prop_map(|file| Damage::Remove { file }),
    ]
}

fn apply(damage: &Damage, run: &std::path::Path) {
    let path = |file: usize| run.join(RECORDING_FILES[file]);
    let (Damage::Cut { file, .. }
    | Damage::Junk { file, .. }
    | Damage::Empty { file }
    | Damage::Remove { file }) = damage;
    if !path(*file).exists() {
        return; // removed by an earlier damage
    }
    match damage {
        Damage::Cut { file, at } => {
            let bytes = std::fs::read(path(*file)).unwrap();
            let keep = (bytes.len() as f64 * at) as usize;
            std::fs::write(path(*file), &bytes[..keep]).unwrap();
        }
        Damage::Junk { file, line, junk } => {
            let text = std::fs::read_to_string(path(*file)).unwrap();
            let mut lines: Vec<&str> = text.lines().collect();
            let at = line % lines.len().max(1);
            if lines.is_empty() {
                lines.push(junk);
            } else {
                lines[at] = junk;
            }
            std::fs::write(path(*file), lines.join("\n") + "\n").unwrap();
        }
        Damage::Empty { file } => std::fs::write(path(*file), "").unwrap(),
        Damage::Remove { file } => std::fs::remove_file(path(*file)).unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// `casstop report` on a damaged recording: a report or a one-line error naming a file,
    /// never a panic or a hang, and nothing created when it fails.
    #[test]
    fn a_damaged_recording_is_reported_or_refused_and_a_refusal_creates_nothing(
        damages in proptest::collection::vec(damage(), 1..3)
    ) {
        let _load = crate::common::loading();
        let run = tempfile::tempdir().unwrap();
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench-pipeline");
        for file in RECORDING_FILES {
            std::fs::copy(fixture.join(file), run.path().join(file)).unwrap();
        }
        for damage in &damages {
            apply(damage, run.path());
        }
        let out = run.path().join("report");
        let started = std::time::Instant::now();
        let result = casstop::report::write_report(&[run.path().to_path_buf()], &out);
        // A bound for hangs, far above the ~0.1 s a report takes: not a speed target.
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", damages);
        match result {
            Ok(files) => prop_assert!(files.markdown.exists()),
            Err(err) => {
                let message = format!("{err:#}");
                prop_assert!(one_line(&message), "{}", message);
                prop_assert!(
                    RECORDING_FILES.iter().any(|f| message.contains(f))
                        || message.contains("not a casstop run directory"),
                    "names the file: {}", message
                );
                prop_assert!(!out.exists(), "a failed report created {}", out.display());
            }
        }
    }
}
