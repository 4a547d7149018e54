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
