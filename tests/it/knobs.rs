//! Every knob of the registry, walked: settable under its one name from a config file, the
//! environment, a flag and a `:` command; shown in help and (when live) on the header; present
//! under that name in `bench --json` and `intervals.jsonl`; an out-of-range value refused with one
//! line that names the knob and its range. A new knob is covered without a line here.

use crate::common;

use std::time::Duration;

use casstop::cli::Cli;
use casstop::config::{self, toml_of};
use casstop::knobs::{self, KnobDef, Knobs, Range, Strategy, Value};
use casstop::ui::app::{CommandLine, commands, parse_command};
use clap::{CommandFactory, Parser};

/// A value of the knob other than its default, within its range and the other knobs' rules.
fn other_value(def: &KnobDef) -> Value {
    let default = def.get(&Knobs::default());
    match (default, def.range) {
        (Value::Count(v), _) => Value::Count(v + 1),
        (Value::Rate(_), _) => Value::Rate(5_000.0),
        (Value::Duration(d), Range::Duration { min, .. }) => Value::Duration(if d == min {
            min + Duration::from_millis(500)
        } else {
            min
        }),
        (Value::Flag(v), _) => Value::Flag(!v),
        (Value::Shard(_), _) => Value::Shard(knobs::Shard { index: 1, count: 2 }),
        // Every workload has `insert`.
        (Value::Mix(_), _) => Value::Mix("insert=2".parse().unwrap()),
        (other, _) => {
            // A choice: the first name that is not the default.
            let shape = def.shape();
            let name = shape
                .split(" | ")
                .find(|name| *name != other.to_string())
                .expect("a second choice");
            def.parse(name).expect("its own name parses")
        }
    }
}

/// A value just outside the knob's range, if it has one.
fn out_of_range(def: &KnobDef) -> Option<String> {
    match def.range {
        Range::Count { max, .. } => Some((max + 1).to_string()),
        Range::Rate { max, .. } => Some(format!("{}", max * 10.0)),
        Range::Duration { max, .. } => {
            // Twice the limit: one word, as a `:` command takes it.
            Some(knobs::format_duration(max * 2))
        }
        Range::Any => None,
    }
}

fn load_file(text: &str) -> Result<config::Loaded, config::ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("knobs.toml");
    std::fs::write(&path, text).unwrap();
    config::load(Some(&path), &[], &[])
}

#[test]
fn every_knob_is_set_the_same_way_from_config_env_flag_and_command() {
    let _load = crate::common::loading();
    for def in knobs::ALL {
        let value = other_value(def);
        let text = value.to_string();
        let file = format!("[{}]\n{} = {}\n", def.section, def.name, toml_of(value));
        let loaded = load_file(&file).unwrap_or_else(|e| panic!("{}: {e}", def.name));
        assert_eq!(def.get(&loaded.settings.knobs), value, "config {file}");

        let env = vec![(def.env_var(), text.clone())];
        let loaded = config::load(None, &env, &[]).unwrap_or_else(|e| panic!("{}: {e}", def.name));
        assert_eq!(
            def.get(&loaded.settings.knobs),
            value,
            "{}={text}",
            def.env_var()
        );

        let cli = Cli::try_parse_from(["casstop", "bench", &def.flag(), &text])
            .unwrap_or_else(|e| panic!("{} {text}: {e}", def.flag()));
        let loaded = config::load(None, &[], &cli.flag_overrides()).unwrap();
        assert_eq!(
            def.get(&loaded.settings.knobs),
            value,
            "{} {text}",
            def.flag()
        );

        let parsed = parse_command(&format!("{} {text}", def.name));
        let Ok(CommandLine::Change(change)) = parsed else {
            panic!(":{} {text} gave {parsed:?}", def.name);
        };
        assert_eq!((change.knob.name, change.value), (def.name, value));
        let applied = Knobs::default().apply(&change);
        if def.live {
            assert_eq!(def.get(&applied.unwrap()), value, ":{} {text}", def.name);
        } else {
            let refusal = applied.unwrap_err();
            assert!(refusal.contains("fixed for the run"), "{refusal}");
        }
    }
}

#[test]
fn every_knob_is_in_help_and_every_live_one_on_the_header_and_the_command_line() {
    let _load = crate::common::loading();
    let help = Cli::command()
        .find_subcommand_mut("bench")
        .unwrap()
        .render_long_help()
        .to_string();
    let session_commands: Vec<&str> = commands().iter().map(|(name, _, _)| *name).collect();
    for def in knobs::ALL {
        assert!(
            help.contains(&def.flag()),
            "bench --help lacks {}",
            def.flag()
        );
        assert!(help.contains(def.help.split(' ').next().unwrap()));
        if !def.live {
            continue;
        }
        assert!(
            session_commands.contains(&def.name),
            ":{} missing",
            def.name
        );
        if def.name == knobs::PAUSED.name {
            continue; // the header shows the run's state instead
        }
        let knobs = Knobs {
            strategy: match def.name {
                "batch" => Strategy::Batches,
                "throttle_cap" => Strategy::Throttle,
                _ => Strategy::Callbacks,
            },
            // The slack matters, and shows, only under a rate.
            rate: if def.name == "pacer_slack" {
                1_000.0
            } else {
                0.0
            },
            // A batch's type and spread matter, and show, only for requests of several rows.
            rows_per_request: if matches!(def.name, "batch_type" | "batch_spread") {
                10
            } else {
                1
            },
            ..Knobs::default()
        };
        let header = knobs.header();
        assert!(
            header.iter().any(|(name, _)| *name == def.name),
            "{} not on the header {header:?}",
            def.name
        );
    }
}

#[test]
fn every_out_of_range_value_is_refused_in_one_line_naming_knob_and_range() {
    let _load = crate::common::loading();
    for def in knobs::ALL {
        let Some(text) = out_of_range(def) else {
            continue;
        };
        let env = vec![(def.env_var(), text.clone())];
        let message = config::load(None, &env, &[]).unwrap_err().to_string();
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(message.starts_with(&def.env_var()), "{message}");
        assert!(message.contains(&format!("`{}`", def.key())), "{message}");
        assert!(message.contains("must be"), "{message}");

        let change = parse_command(&format!("{} {text}", def.name));
        let Ok(CommandLine::Change(change)) = change else {
            panic!("{change:?}");
        };
        let refusal = Knobs::default().apply(&change).unwrap_err();
        assert!(refusal.starts_with(def.name), "{refusal}");
        assert_eq!(refusal.lines().count(), 1);
    }
}

#[test]
fn every_knob_is_in_bench_json_and_in_each_recorded_interval_under_its_name() {
    let _load = common::loading();
    let settings = common::settings("knob_names");
    common::fresh_table(&settings);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let output = crate::common::casstop()
        .args(["bench", "--ops", "300", "--quiet", "--interval", "200ms"])
        .args(["--json", json.to_str().unwrap()])
        .env("CASSTOP_CLUSTER_TABLE", &settings.cluster.table)
        .env("CASSTOP_CLUSTER_KEYSPACE", &settings.cluster.keyspace)
        .env("CASSTOP_OUTPUT_DIR", dir.path())
        .output()
        .expect("casstop runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let run_dir = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run directory");
    let intervals = std::fs::read_to_string(run_dir.join("intervals.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(intervals.lines().next().unwrap()).unwrap();
    for def in knobs::ALL {
        assert!(
            result.get(def.name).is_some(),
            "bench JSON lacks {}",
            def.name
        );
        assert!(
            first["knobs"].get(def.name).is_some(),
            "intervals.jsonl lacks {}: {first}",
            def.name
        );
    }
    assert_eq!(result["interval"], "200ms");
}
