//! casstop's own profile form, TOML: the table as CQL (so every type the node knows is there),
//! each column's distributions in cassandra-stress's syntax, and starting values of knobs.
//!
//! ```toml
//! keyspace = "casstop_ts"
//! table = "readings"
//! table_definition = "CREATE TABLE readings (sensor bigint, at bigint, v double, PRIMARY KEY (sensor, at))"
//! [columns.at]
//! cluster = "fixed(1000)"
//! [knobs]
//! rows_per_request = 10
//! ```

use std::path::Path;

use super::dist::Dist;
use super::profile::{
    AROUND_MS, ColumnSpec, Format, Profile, ProfileError, Query, Source, is_cql_identifier, line_of,
};

const TOP_KEYS: &[&str] = &[
    "keyspace",
    "keyspace_definition",
    "table",
    "table_definition",
    "types",
    "extra_definitions",
    "columns",
    "knobs",
    "queries",
    "seed",
];

const COLUMN_KEYS: &[&str] = &["size", "population", "cluster", "alphabet"];

pub fn read(path: &Path, text: &str, table: toml::Table) -> Result<Profile, ProfileError> {
    let fail = |key: &str, line: usize, message: String| ProfileError {
        path: path.to_path_buf(),
        line,
        key: key.to_string(),
        message,
    };
    let at = |key: &str| line_of(text, key, 1);
    for key in table.keys() {
        if !TOP_KEYS.contains(&key.as_str()) {
            return Err(fail(
                key,
                at(key),
                format!("not a key of a casstop profile ({})", TOP_KEYS.join(", ")),
            ));
        }
    }
    let string = |key: &str| -> Result<Option<String>, ProfileError> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(fail(
                key,
                at(key),
                format!("must be a string, got {}", other.type_str()),
            )),
        }
    };
    let strings = |key: &str| -> Result<Vec<String>, ProfileError> {
        match table.get(key) {
            None => Ok(vec![]),
            Some(toml::Value::String(s)) => Ok(vec![s.clone()]),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| fail(key, at(key), "must be a list of CQL strings".into()))
                })
                .collect(),
            Some(_) => Err(fail(key, at(key), "must be a list of CQL strings".into())),
        }
    };
    let required = |key: &str| -> Result<String, ProfileError> {
        string(key)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| fail(key, 0, "is required".into()))
    };
    let keyspace = required("keyspace")?.to_ascii_lowercase();
    let table_name = required("table")?.to_ascii_lowercase();
    for (key, name) in [("keyspace", &keyspace), ("table", &table_name)] {
        if !is_cql_identifier(name) {
            return Err(fail(
                key,
                at(key),
                format!("`{name}` is not a CQL name (letters, digits, _)"),
            ));
        }
    }
    let table_cql = required("table_definition")?;
    let seed = match table.get("seed") {
        None => 0,
        Some(toml::Value::Integer(v)) if *v >= 0 => *v as u64,
        Some(_) => {
            return Err(fail(
                "seed",
                at("seed"),
                "must be a whole number ≥ 0".into(),
            ));
        }
    };

    let mut columns = vec![];
    if let Some(value) = table.get("columns") {
        let toml::Value::Table(specs) = value else {
            return Err(fail(
                "columns",
                at("columns"),
                "must be a table of columns".into(),
            ));
        };
        for (name, spec) in specs {
            let line = line_of(text, &format!("columns.{name}"), 1).max(line_of(
                text,
                name,
                at("columns"),
            ));
            let toml::Value::Table(spec) = spec else {
                return Err(fail(
                    &format!("columns.{name}"),
                    line,
                    "must be a table".into(),
                ));
            };
            let mut column = ColumnSpec {
                name: name.clone(),
                line,
                ..ColumnSpec::default()
            };
            for (key, value) in spec {
                let full = format!("columns.{name}.{key}");
                let key_line = line_of(text, key, line.max(1));
                let Some(text_value) = value.as_str() else {
                    return Err(fail(&full, key_line, "must be a string".into()));
                };
                let dist = || Dist::parse(text_value).map_err(|m| fail(&full, key_line, m));
                match key.as_str() {
                    "size" => column.size = Some(dist()?),
                    "population" => column.population = Some(dist()?),
                    "cluster" => column.cluster = Some(dist()?),
                    "alphabet" if !text_value.is_empty() => {
                        column.alphabet = Some(text_value.into())
                    }
                    "alphabet" => return Err(fail(&full, key_line, "must not be empty".into())),
                    _ => {
                        return Err(fail(
                            &full,
                            key_line,
                            format!("not a column key ({})", COLUMN_KEYS.join(", ")),
                        ));
                    }
                }
            }
            columns.push(column);
        }
    }

    let mut knob_defaults = vec![];
    if let Some(value) = table.get("knobs") {
        let toml::Value::Table(knobs) = value else {
            return Err(fail(
                "knobs",
                at("knobs"),
                "must be a table of knob = value".into(),
            ));
        };
        for (name, value) in knobs {
            let line = line_of(text, name, at("knobs"));
            let knob = crate::knobs::find(name).ok_or_else(|| {
                fail(
                    &format!("knobs.{name}"),
                    line,
                    "no knob is called that".into(),
                )
            })?;
            let raw = match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            knob.parse(&raw)
                .map_err(|m| fail(&format!("knobs.{name}"), line, format!("{} {m}", knob.name)))?;
            knob_defaults.push((knob.name, raw));
        }
    }

    let mut queries = vec![];
    if let Some(value) = table.get("queries") {
        let toml::Value::Table(named) = value else {
            return Err(fail(
                "queries",
                at("queries"),
                "must be a table of named queries".into(),
            ));
        };
        for (name, query) in named {
            let line = line_of(text, name, at("queries"));
            let cql = query
                .get("cql")
                .and_then(toml::Value::as_str)
                .ok_or_else(|| {
                    fail(
                        &format!("queries.{name}"),
                        line,
                        "needs `cql = \"SELECT ...\"`".into(),
                    )
                })?;
            let fields = query.get("fields").and_then(toml::Value::as_str);
            let multirow = super::profile::multirow(fields).map_err(|why| {
                fail(
                    &format!("queries.{name}.fields"),
                    line_of(text, "fields", line),
                    why,
                )
            })?;
            queries.push(Query {
                name: name.clone(),
                cql: cql.into(),
                line,
                multirow,
            });
        }
    }

    let mut before_table = strings("types")?;
    let mut after_table = vec![];
    for statement in strings("extra_definitions")? {
        if super::text::creates_type(&statement) {
            before_table.push(statement);
        } else {
            after_table.push(statement);
        }
    }
    Ok(Profile {
        source: Source::File {
            path: path.to_path_buf(),
            format: Format::Toml,
        },
        keyspace,
        table: table_name,
        keyspace_cql: string("keyspace_definition")?.filter(|s| !s.is_empty()),
        before_table,
        table_cql,
        after_table,
        columns,
        knob_defaults,
        queries,
        seed,
        around_ms: AROUND_MS,
    })
}
