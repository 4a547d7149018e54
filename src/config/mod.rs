//! Layered settings: the shipped `config.toml` (the built-in defaults) < a config file (`--config
//! PATH`, `$CASSTOP_CONFIG` or `./config.toml`) < `CASSTOP_*` environment < command-line flags.
//!
//! Every layer is turned into TOML values and merged into one table before a single typed
//! deserialisation, so a wrong key, a wrong type or an out-of-range value is reported the same way
//! whichever layer it came from, naming the culprit: `config.toml:12`, `CASSTOP_LOAD_DEPTH` or
//! `--depth`. The knobs' keys are read by the registry ([`crate::knobs`]), which also checks them;
//! the rest by serde into [`schema`]'s structs, checked in [`validate`].

mod loaded;
mod schema;
mod secret;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::knobs::{self, Knobs, Value};
pub use crate::knobs::{DEFAULT_CONFIG_TOML, duration_serde as duration};
pub use crate::workload::is_cql_identifier;
pub use loaded::{ConfigError, Loaded, Origin};
pub use schema::*;
pub use secret::Secret;
pub use validate::{heap_bytes, port_of};

/// Environment variables with the `CASSTOP_` prefix that are not settings.
const NON_SETTING_VARS: &[&str] = &["CASSTOP_CONFIG", "CASSTOP_LOG", "CASSTOP_CONTROL_TOKEN"];

/// A value given on the command line, by its config key (`load.depth`) and flag (`--depth`).
#[derive(Clone, Debug)]
pub struct FlagOverride {
    pub key: String,
    pub flag: String,
    pub value: toml::Value,
}

impl FlagOverride {
    /// A flag's value as TOML; a value TOML cannot hold (none that flags take) becomes its text.
    pub fn new(key: impl Into<String>, flag: impl Into<String>, value: impl Serialize) -> Self {
        let value = toml::Value::try_from(&value).unwrap_or_else(|_| {
            toml::Value::String(serde_json::to_string(&value).unwrap_or_default())
        });
        FlagOverride {
            key: key.into(),
            flag: flag.into(),
            value,
        }
    }

    /// A knob's flag, with a value the registry has read.
    pub fn knob(def: &knobs::KnobDef, value: Value) -> Self {
        FlagOverride {
            key: def.key(),
            flag: def.flag(),
            value: toml_of(value),
        }
    }
}

/// A knob's value as config TOML holds it.
pub fn toml_of(value: Value) -> toml::Value {
    match value {
        Value::Count(v) => toml::Value::Integer(v),
        Value::Rate(v) => toml::Value::Float(v),
        Value::Flag(v) => toml::Value::Boolean(v),
        Value::Duration(d) => toml::Value::String(knobs::format_duration(d)),
        other => toml::Value::String(other.to_string()),
    }
}

/// Which config file to read: `--config PATH`, else `$CASSTOP_CONFIG`, else `./config.toml` when
/// present, else none (built-in defaults only).
pub fn config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("CASSTOP_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let local = PathBuf::from("config.toml");
    local.exists().then_some(local)
}

/// Loads settings from every layer: `path` (see [`config_path`]), then `env`, then `flags`.
/// The environment is passed in, not read here, so tests stay hermetic.
pub fn load(
    path: Option<&Path>,
    env: &[(String, String)],
    flags: &[FlagOverride],
) -> Result<Loaded, ConfigError> {
    let mut origins = BTreeMap::new();
    let mut table = defaults_table();
    let mut file = None;

    if let Some(path) = path {
        let source = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        merge(&mut table, parse_file(&source, path, &mut origins)?);
        file = Some(path.to_path_buf());
    }

    for (var, raw) in env {
        let Some(rest) = var.strip_prefix("CASSTOP_") else {
            continue;
        };
        if NON_SETTING_VARS.contains(&var.as_str()) {
            continue;
        }
        let key = env_key(rest).ok_or_else(|| ConfigError::Invalid {
            origin: Origin::Env(var.clone()),
            message: format!(
                "not a casstop setting: expected CASSTOP_<SECTION>_<KEY> with a section of {}",
                SECTIONS.join(", ")
            ),
        })?;
        // A password is taken as written: `123456` or `true` is a password, not a number.
        let value = if key == "auth.password" {
            toml::Value::String(raw.clone())
        } else {
            env_value(raw)
        };
        set_path(&mut table, &key, value);
        origins.insert(key, Origin::Env(var.clone()));
    }

    for flag in flags {
        set_path(&mut table, &flag.key, flag.value.clone());
        origins.insert(flag.key.clone(), Origin::Flag(flag.flag.clone()));
    }

    let knobs = take_knobs(&mut table, &origins)?;
    let mut settings: Settings = serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|err| deserialize_error(err, &origins))?;
    settings.knobs = knobs;
    resolve_profile(&mut settings, &origins)?;
    let loaded = Loaded::new(settings, file, origins);
    validate::validate(&loaded)?;
    Ok(loaded)
}

/// Reads the profile `[workload]` names (or builds the built-in table's) into
/// [`Settings::profile`]: its keyspace and table become the cluster's, and the knob values it
/// starts with are taken where the user set none of their own.
fn resolve_profile(
    settings: &mut Settings,
    origins: &BTreeMap<String, Origin>,
) -> Result<(), ConfigError> {
    use crate::workload::{self, Profile};
    let origin = |key: &str| origins.get(key).cloned().unwrap_or(Origin::Default);
    let workload = &settings.workload;
    let cluster = &settings.cluster;
    let profile = if !workload.file.as_os_str().is_empty() {
        if workload.columns > 0 {
            return Err(ConfigError::Invalid {
                origin: origin("workload.columns"),
                message: "workload.columns builds the python benchmarks' table, and \
                          workload.file names a profile: give one of them"
                    .into(),
            });
        }
        workload::load(&workload.file).map_err(|err| ConfigError::Invalid {
            origin: origin("workload.file"),
            message: format!("workload profile {err}"),
        })?
    } else if workload.columns > 0 {
        Profile::columns(
            &cluster.keyspace,
            &cluster.table,
            workload.columns,
            &workload.column_type,
        )
        .map_err(|message| ConfigError::Invalid {
            origin: origin("workload.column_type"),
            message,
        })?
    } else {
        Profile::default_table(&cluster.keyspace, &cluster.table)
    };
    for (name, raw) in &profile.knob_defaults {
        let Some(def) = knobs::find(name) else {
            continue;
        };
        // A value of the user's own wins: a flag, a variable, or a config file's value other
        // than the built-in one (a copy of the shipped config.toml sets every key).
        let own = match origins.get(&def.key()) {
            None | Some(Origin::Default) => false,
            Some(Origin::File { .. }) => def.get(&settings.knobs) != def.get(&Knobs::default()),
            Some(_) => true,
        };
        if own {
            continue;
        }
        let value = def.parse(raw).map_err(|m| ConfigError::Invalid {
            origin: origin("workload.file"),
            message: format!("the profile's {} {m}", def.name),
        })?;
        settings.knobs.set(def, value);
    }
    settings.cluster.keyspace = profile.keyspace.clone();
    settings.cluster.table = profile.table.clone();
    settings.profile = std::sync::Arc::new(profile);
    Ok(())
}

/// The shipped config.toml as a table: the bottom layer, so every key has a value.
fn defaults_table() -> toml::Table {
    DEFAULT_CONFIG_TOML
        .parse()
        .unwrap_or_else(|err| panic!("the shipped config.toml is not TOML: {err}"))
}

impl Default for Settings {
    /// The shipped config.toml's settings.
    fn default() -> Self {
        load(None, &[], &[])
            .unwrap_or_else(|err| panic!("the shipped config.toml does not load: {err}"))
            .settings
    }
}

impl Settings {
    /// The settings as a config file that loads them back, knobs in their sections.
    pub fn to_toml(&self) -> Result<toml::Table, toml::ser::Error> {
        let mut table = toml::Table::try_from(self)?;
        for def in knobs::ALL {
            set_path(&mut table, &def.key(), toml_of(def.get(&self.knobs)));
        }
        Ok(table)
    }
}

/// `layer` over `base`: tables merge key by key, anything else (a list too) replaces.
fn merge(base: &mut toml::Table, layer: toml::Table) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over)) => merge(inner, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Takes the knobs' keys out of `table` and reads them through the registry, which is also where
/// they are checked; `[load]` holds knobs only.
fn take_knobs(
    table: &mut toml::Table,
    origins: &BTreeMap<String, Origin>,
) -> Result<Knobs, ConfigError> {
    let origin = |key: &str| origins.get(key).cloned().unwrap_or(Origin::Default);
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        origin: origin(key),
        message,
    };
    let mut knobs = Knobs::default();
    for def in knobs::ALL {
        let key = def.key();
        let Some(section) = table.get_mut(def.section).and_then(|s| s.as_table_mut()) else {
            continue;
        };
        let Some(raw) = section.remove(def.name) else {
            continue;
        };
        let value = def.from_scalar(knobs::scalar_of(&raw)).map_err(|m| {
            let sep = if m.starts_with("invalid type") {
                ":"
            } else {
                ""
            };
            invalid(&key, format!("`{key}`{sep} {m}"))
        })?;
        knobs.set(def, value);
    }
    if let Some(toml::Value::Table(load)) = table.remove("load")
        && let Some(unknown) = load.keys().next()
    {
        let key = format!("load.{unknown}");
        let known: Vec<&str> = knobs::in_section("load").map(|d| d.name).collect();
        let message = format!(
            "unknown key `{key}` (known keys here: {})",
            known.join(", ")
        );
        return Err(invalid(&key, message));
    }
    // A rule between knobs broken by one the user set is blamed on it, not on a default; the
    // search runs only when something is wrong.
    let checked = knobs.validate().map_err(|first| {
        knobs::ALL
            .iter()
            .filter(|def| origins.contains_key(&def.key()))
            .find_map(|def| knobs.validate_blaming(def).err())
            .unwrap_or(first)
    });
    checked.map_err(|(def, m)| {
        let key = def.key();
        invalid(&key, format!("`{key}` {m}"))
    })?;
    Ok(knobs)
}

const SECTIONS: &[&str] = &[
    "cluster", "auth", "tls", "load", "workload", "ui", "profiler", "output", "control", "sweep",
    "local",
];

/// `LOAD_PAYLOAD_BYTES` → `load.payload_bytes`: sections are single words, keys may hold `_`.
fn env_key(rest: &str) -> Option<String> {
    let lower = rest.to_ascii_lowercase();
    let (section, key) = lower.split_once('_')?;
    (SECTIONS.contains(&section) && !key.is_empty()).then(|| format!("{section}.{key}"))
}

/// An environment value is read as a TOML value when it is one (`5`, `true`, `["a","b"]`), else
/// as a plain string (`callbacks`, `127.0.0.1,127.0.0.2`).
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            unreachable!("just made a table")
        };
        current = next;
    }
    current.insert(last.to_string(), value);
}

fn parse_file(
    source: &str,
    path: &Path,
    origins: &mut BTreeMap<String, Origin>,
) -> Result<toml::Table, ConfigError> {
    let line_of = |offset: usize| source[..offset.min(source.len())].matches('\n').count() + 1;
    let spanned = toml::de::DeTable::parse(source).map_err(|err| ConfigError::Invalid {
        origin: Origin::File {
            path: path.to_path_buf(),
            line: err.span().map(|s| line_of(s.start)).unwrap_or(1),
        },
        message: format!("not valid TOML: {}", err.message().trim()),
    })?;
    record_lines(spanned.get_ref(), "", &line_of, path, origins);
    source
        .parse::<toml::Table>()
        .map_err(|err| ConfigError::Invalid {
            origin: Origin::File {
                path: path.to_path_buf(),
                line: err.span().map(|s| line_of(s.start)).unwrap_or(1),
            },
            message: format!("not valid TOML: {}", err.message().trim()),
        })
}

fn record_lines(
    table: &toml::de::DeTable<'_>,
    prefix: &str,
    line_of: &dyn Fn(usize) -> usize,
    path: &Path,
    origins: &mut BTreeMap<String, Origin>,
) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        origins.insert(
            full.clone(),
            Origin::File {
                path: path.to_path_buf(),
                line: line_of(key.span().start),
            },
        );
        if let Some(inner) = value.get_ref().as_table() {
            record_lines(inner, &full, line_of, path, origins);
        }
    }
}

fn deserialize_error(
    err: serde_path_to_error::Error<toml::de::Error>,
    origins: &BTreeMap<String, Origin>,
) -> ConfigError {
    let path = err.path().to_string();
    let message = err.inner().message().trim().to_string();
    // For an unknown field the path already ends with the field's own name.
    let (key, message) = match unknown_field(&message) {
        Some((field, expected)) => {
            let key = if path == "." || path.is_empty() {
                field.to_string()
            } else {
                path.clone()
            };
            let message = match expected {
                Some(expected) => format!("unknown key `{key}` (known keys here: {expected})"),
                None => format!("unknown key `{key}`"),
            };
            (key, message)
        }
        None => (path.clone(), format!("`{path}`: {message}")),
    };
    let origin = origins
        .get(&key)
        .or_else(|| origins.get(key.rsplit_once('.').map(|(p, _)| p).unwrap_or("")))
        .cloned()
        .unwrap_or(Origin::Default);
    ConfigError::Invalid { origin, message }
}

fn unknown_field(message: &str) -> Option<(&str, Option<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, tail) = rest.split_once('`')?;
    let expected = tail
        .split_once("expected one of ")
        .map(|(_, list)| list.replace('`', ""))
        .or_else(|| {
            tail.split_once("expected ")
                .map(|(_, one)| one.replace('`', ""))
        });
    Some((field, expected))
}

#[cfg(test)]
mod tests;
