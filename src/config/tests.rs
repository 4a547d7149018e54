//! The loader's tests: layers, and errors that name key, origin and line.

use std::path::{Path, PathBuf};

use super::validate::is_heap_size;
use super::*;
use crate::knobs::Strategy;

fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("casstop.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn load_text(text: &str) -> Result<Loaded, ConfigError> {
    let (_dir, path) = write_config(text);
    load(Some(&path), &[], &[])
}

fn message(result: Result<Loaded, ConfigError>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn layers_override_in_order() {
    let (_dir, path) = write_config("[load]\ndepth = 10\nbatch = 20\nworkers = 3\n");
    let env = vec![
        ("CASSTOP_LOAD_BATCH".to_string(), "30".to_string()),
        ("CASSTOP_LOAD_WORKERS".to_string(), "4".to_string()),
        (
            "CASSTOP_CLUSTER_HOSTS".to_string(),
            "10.0.0.1, 10.0.0.2".to_string(),
        ),
        ("CASSTOP_LOAD_STRATEGY".to_string(), "pipeline".to_string()),
        ("HOME".to_string(), "/root".to_string()),
        ("CASSTOP_CONFIG".to_string(), "ignored".to_string()),
    ];
    let flags = vec![FlagOverride::new("load.workers", "--workers", 5u32)];
    let loaded = load(Some(&path), &env, &flags).unwrap();
    let load = &loaded.settings.knobs;
    assert_eq!(load.depth, 10, "file beats default");
    assert_eq!(load.batch, 30, "environment beats file");
    assert_eq!(load.workers, 5, "flag beats environment");
    assert_eq!(load.strategy, Strategy::Pipeline);
    assert_eq!(load.payload_bytes, 100, "default stays");
    assert_eq!(loaded.settings.cluster.hosts, vec!["10.0.0.1", "10.0.0.2"]);
    assert_eq!(
        loaded.origin("load.depth"),
        Origin::File {
            path: path.clone(),
            line: 2
        }
    );
    assert_eq!(
        loaded.origin("load.batch"),
        Origin::Env("CASSTOP_LOAD_BATCH".into())
    );
    assert_eq!(
        loaded.origin("load.workers"),
        Origin::Flag("--workers".into())
    );
    assert_eq!(loaded.origin("load.rate"), Origin::Default);
}

#[test]
fn misspelt_key_names_key_file_and_line() {
    let (_dir, path) = write_config("[cluster]\nport = 9042\n\n[load]\ndepht = 5\n");
    let text = message(load(Some(&path), &[], &[]));
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with(&format!("{}:5: unknown key `load.depht`", path.display())),
        "{text}"
    );
    assert!(text.contains("depth"), "lists the known keys: {text}");
}

#[test]
fn unknown_section_is_named() {
    let text = message(load_text("[laod]\ndepth = 5\n"));
    assert!(text.contains(":1: unknown key `laod`"), "{text}");
}

#[test]
fn wrong_type_names_key_and_line() {
    let text = message(load_text("[load]\nstrategy = \"sync\"\ndepth = \"deep\"\n"));
    assert!(text.contains(":3: `load.depth`"), "{text}");
    assert!(text.contains("takes a whole number"), "{text}");
}

#[test]
fn unknown_enum_value_is_named() {
    let text = message(load_text("[load]\nstrategy = \"fastest\"\n"));
    assert!(text.contains(":2: `load.strategy`"), "{text}");
    assert!(
        text.contains("callbacks"),
        "lists the accepted values: {text}"
    );
}

#[test]
fn out_of_range_values_name_key_and_line() {
    let text = message(load_text("[load]\n\ndepth = 0\n"));
    assert!(
        text.ends_with(":3: `load.depth` must be between 1 and 1000000, got 0"),
        "{text}"
    );
    let text = message(load_text("[load]\nrate = -5.0\n"));
    assert!(text.contains(":2: `load.rate` must be 0 (open)"), "{text}");
    let text = message(load_text("[load]\nbatch = 500\nthrottle_cap = 100\n"));
    assert!(
        text.contains("`load.batch` (500) is bigger than the in-flight cap"),
        "{text}"
    );
}

#[test]
fn bad_duration_is_explained() {
    let text = message(load_text("[cluster]\nconnect_timeout = \"soon\"\n"));
    assert!(text.contains(":2: `cluster.connect_timeout`"), "{text}");
    assert!(text.contains("500ms"), "{text}");
}

#[test]
fn syntax_error_names_line() {
    let text = message(load_text("[load]\ndepth = = 3\n"));
    assert!(text.contains(":2: not valid TOML"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[test]
fn invalid_keyspace_name_is_refused() {
    let text = message(load_text("[cluster]\nkeyspace = \"my-keyspace\"\n"));
    assert!(text.contains(":2: `cluster.keyspace` must be"), "{text}");
}

#[test]
fn env_and_flag_errors_name_their_source() {
    let env = vec![("CASSTOP_LOAD_DEPTH".to_string(), "0".to_string())];
    let text = message(load(None, &env, &[]));
    assert!(
        text.starts_with("CASSTOP_LOAD_DEPTH: `load.depth`"),
        "{text}"
    );

    let env = vec![("CASSTOP_LOAD_DEPHT".to_string(), "5".to_string())];
    let text = message(load(None, &env, &[]));
    assert!(
        text.starts_with("CASSTOP_LOAD_DEPHT: unknown key `load.depht`"),
        "{text}"
    );

    let env = vec![("CASSTOP_NOPE".to_string(), "5".to_string())];
    let text = message(load(None, &env, &[]));
    assert!(
        text.starts_with("CASSTOP_NOPE: not a casstop setting"),
        "{text}"
    );

    let flags = vec![FlagOverride::new("load.batch", "--batch", 0u32)];
    let text = message(load(None, &[], &flags));
    assert!(
        text.starts_with("--batch: `load.batch` must be between 1"),
        "{text}"
    );
}

#[test]
fn missing_explicit_file_is_an_error() {
    let err = load(Some(Path::new("/nonexistent/casstop.toml")), &[], &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/casstop.toml"));
}

#[test]
fn password_never_shows_in_debug_display_or_serialised_settings() {
    let env = vec![
        ("CASSTOP_AUTH_USERNAME".to_string(), "cassandra".to_string()),
        ("CASSTOP_AUTH_PASSWORD".to_string(), "s3cret".to_string()),
    ];
    let loaded = load(None, &env, &[]).unwrap();
    let auth = &loaded.settings.auth;
    assert_eq!(auth.password.expose(), "s3cret", "the driver still gets it");
    assert_eq!(auth.password.to_string(), "***");
    for text in [
        format!("{loaded:?}"),
        format!("{:#?}", loaded.settings),
        toml::to_string(&loaded.settings).unwrap(),
        serde_json::to_string(&loaded.settings).unwrap(),
    ] {
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("***"), "{text}");
    }
    assert_eq!(format!("{:?}", Secret::default()), "\"\"");
}

#[test]
fn a_password_is_never_echoed_and_digits_from_the_environment_are_a_password() {
    let env = vec![
        ("CASSTOP_AUTH_USERNAME".to_string(), "u".to_string()),
        ("CASSTOP_AUTH_PASSWORD".to_string(), "987654".to_string()),
    ];
    let loaded = load(None, &env, &[]).unwrap();
    assert_eq!(loaded.settings.auth.password.expose(), "987654");

    for value in ["987654", "true", "1.5"] {
        let text = message(load_text(&format!(
            "[auth]\nusername = \"u\"\npassword = {value}\n"
        )));
        assert!(
            text.contains(":3: `auth.password`: must be a string in quotes"),
            "{text}"
        );
        assert!(!text.contains(value), "{text}");
    }
}

#[test]
fn heap_sizes() {
    assert!(is_heap_size("1G") && is_heap_size("768M") && is_heap_size("1048576k"));
    assert!(!is_heap_size("G") && !is_heap_size("1GB") && !is_heap_size("0G") && !is_heap_size(""));
}
