//! cassandra-stress user profiles (`cassandra-stress user profile=FILE`), read as they are: the
//! keys of its `StressProfile` that casstop honours are mapped onto a [`Profile`]; any other key,
//! or a value casstop cannot honour, is refused naming the line and the key — never ignored.

use std::path::Path;

use serde_yaml::Value;

use super::dist::Dist;
use super::profile::{
    AROUND_MS, ColumnSpec, Format, Profile, ProfileError, Query, Source, is_cql_identifier, line_of,
};
use super::text::{creates_type, if_not_exists};

const TOP_KEYS: &[&str] = &[
    "specname",
    "keyspace",
    "keyspace_definition",
    "table",
    "table_definition",
    "extra_definitions",
    "columnspec",
    "insert",
    "queries",
];

pub fn read(path: &Path, text: &str) -> Result<Profile, ProfileError> {
    let fail = |key: &str, line: usize, message: String| ProfileError {
        path: path.to_path_buf(),
        line,
        key: key.to_string(),
        message,
    };
    let at = |key: &str| line_of(text, key, 1);
    let root: Value = serde_yaml::from_str(text).map_err(|err| {
        fail(
            "yaml",
            err.location().map(|l| l.line()).unwrap_or(0),
            format!("neither TOML nor a YAML stress profile: {err}"),
        )
    })?;
    let Value::Mapping(root) = root else {
        return Err(fail(
            "yaml",
            1,
            "a stress profile is a mapping of keys (keyspace:, table:, ...)".into(),
        ));
    };
    let mut keys = vec![];
    for key in root.keys() {
        let Some(key) = key.as_str() else {
            return Err(fail("yaml", 0, format!("a key that is not text: {key:?}")));
        };
        if !TOP_KEYS.contains(&key) {
            let why = match key {
                "token_range_queries" => "token range queries are not run by casstop".to_string(),
                _ => format!(
                    "not a key casstop reads from a stress profile ({})",
                    TOP_KEYS.join(", ")
                ),
            };
            return Err(fail(key, at(key), why));
        }
        keys.push(key);
    }
    let string = |key: &str| -> Result<Option<String>, ProfileError> {
        match root.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(fail(key, at(key), "must be text".into())),
        }
    };
    let required = |key: &str| -> Result<String, ProfileError> {
        string(key)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| fail(key, 0, "is required".into()))
    };
    let keyspace = required("keyspace")?.to_ascii_lowercase();
    let table = required("table")?.to_ascii_lowercase();
    for (key, name) in [("keyspace", &keyspace), ("table", &table)] {
        if !is_cql_identifier(name) {
            return Err(fail(
                key,
                at(key),
                format!("`{name}` is not a CQL name (letters, digits, _)"),
            ));
        }
    }
    let table_cql = required("table_definition")?;

    let mut before_table = vec![];
    let mut after_table = vec![];
    match root.get("extra_definitions") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(items)) => {
            for item in items {
                let Some(cql) = item.as_str() else {
                    return Err(fail(
                        "extra_definitions",
                        at("extra_definitions"),
                        "must be a list of CQL statements".into(),
                    ));
                };
                if creates_type(cql) {
                    before_table.push(cql.trim().to_string());
                } else {
                    after_table.push(cql.trim().to_string());
                }
            }
        }
        Some(_) => {
            return Err(fail(
                "extra_definitions",
                at("extra_definitions"),
                "must be a list of CQL statements".into(),
            ));
        }
    }

    let mut columns = vec![];
    match root.get("columnspec") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(items)) => {
            let mut from = at("columnspec");
            for item in items {
                let Value::Mapping(spec) = item else {
                    return Err(fail(
                        "columnspec",
                        from,
                        "each entry is `- name: COLUMN` with size/population/cluster".into(),
                    ));
                };
                let name = spec
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| fail("columnspec", from, "an entry lacks `name:`".into()))?;
                let line = line_of(text, "name", from).max(from);
                from = line + 1;
                let mut column = ColumnSpec {
                    name: name.to_string(),
                    line,
                    ..ColumnSpec::default()
                };
                for (key, value) in spec {
                    let key = key.as_str().unwrap_or("?");
                    if key == "name" {
                        continue;
                    }
                    let key_line = line_of(text, key, line);
                    let full = format!("columnspec.{name}.{key}");
                    let value = scalar_text(value).ok_or_else(|| {
                        fail(
                            &full,
                            key_line,
                            "must be a distribution such as uniform(1..10)".into(),
                        )
                    })?;
                    let dist = || Dist::parse(&value).map_err(|m| fail(&full, key_line, m));
                    match key {
                        "size" => column.size = Some(dist()?),
                        "population" => column.population = Some(dist()?),
                        "cluster" => column.cluster = Some(dist()?),
                        _ => {
                            return Err(fail(&full, key_line, "not a columnspec key casstop reads (name, size, population, cluster)".into()));
                        }
                    }
                }
                columns.push(column);
            }
        }
        Some(_) => {
            return Err(fail(
                "columnspec",
                at("columnspec"),
                "must be a list of columns".into(),
            ));
        }
    }

    let mut knob_defaults: Vec<(&'static str, String)> = vec![];
    if let Some(insert) = root.get("insert") {
        let from = at("insert");
        let Value::Mapping(insert) = insert else {
            return Err(fail(
                "insert",
                from,
                "must be a mapping (partitions, select, batchtype)".into(),
            ));
        };
        let rows_per_partition: i64 = columns
            .iter()
            .filter_map(|c| c.cluster.as_ref())
            .map(Dist::most)
            .product::<i64>()
            .max(1);
        let mut partitions = 1i64;
        let mut select = (1i64, 1i64);
        for (key, value) in insert {
            let key = key.as_str().unwrap_or("?");
            let line = line_of(text, key, from);
            let full = format!("insert.{key}");
            let value =
                scalar_text(value).ok_or_else(|| fail(&full, line, "must be a value".into()))?;
            match key {
                "partitions" => {
                    let dist = Dist::parse(&value).map_err(|m| fail(&full, line, m))?;
                    if !dist.is_fixed() {
                        return Err(fail(
                            &full,
                            line,
                            format!(
                                "`{value}`: casstop sends a fixed number of partitions per batch (the rows_per_request and batch_spread knobs); use fixed(N)"
                            ),
                        ));
                    }
                    partitions = dist.min.max(1);
                }
                "select" | "row-population-ratio" => {
                    let (dist, denominator) = match value.split_once('/') {
                        Some((dist, d)) => (dist, d.trim().parse::<i64>().ok().filter(|d| *d > 0)),
                        None => (value.as_str(), Some(1)),
                    };
                    let dist = Dist::parse(dist).map_err(|m| fail(&full, line, m))?;
                    let Some(denominator) = denominator.filter(|_| dist.is_fixed()) else {
                        return Err(fail(
                            &full,
                            line,
                            format!(
                                "`{value}`: casstop takes a fixed share of a partition's rows per batch; use fixed(N)/D"
                            ),
                        ));
                    };
                    select = (dist.min.max(0), denominator);
                }
                "batchtype" => match value.to_ascii_uppercase().as_str() {
                    "LOGGED" => knob_defaults.push(("batch_type", "logged".into())),
                    "UNLOGGED" => knob_defaults.push(("batch_type", "unlogged".into())),
                    // A counter table's batches are counter batches whatever is asked.
                    "COUNTER" => {}
                    other => {
                        return Err(fail(
                            &full,
                            line,
                            format!("`{other}`: LOGGED, UNLOGGED or COUNTER"),
                        ));
                    }
                },
                "visits" | "revisit" => {
                    return Err(fail(&full, line, "casstop writes each partition's rows in one pass; visits/revisit are not honoured".into()));
                }
                _ => {
                    return Err(fail(
                        &full,
                        line,
                        "not an insert key casstop reads (partitions, select, batchtype)".into(),
                    ));
                }
            }
        }
        let rows_each = ((rows_per_partition * select.0 + select.1 - 1) / select.1).max(1);
        let rows = (partitions * rows_each).clamp(1, 65_535);
        if rows > 1 {
            knob_defaults.push(("rows_per_request", rows.to_string()));
            knob_defaults.push((
                "batch_spread",
                if partitions == 1 {
                    "partition"
                } else {
                    "scatter"
                }
                .into(),
            ));
        }
    }

    let mut queries = vec![];
    if let Some(value) = root.get("queries") {
        let from = at("queries");
        let Value::Mapping(named) = value else {
            return Err(fail(
                "queries",
                from,
                "must be a mapping of named queries".into(),
            ));
        };
        for (name, query) in named {
            let name = name.as_str().unwrap_or("?");
            let line = line_of(text, name, from);
            let cql = query.get("cql").and_then(Value::as_str).ok_or_else(|| {
                fail(
                    &format!("queries.{name}"),
                    line,
                    "needs `cql: SELECT ...`".into(),
                )
            })?;
            let fields = query.get("fields").and_then(Value::as_str);
            let multirow = super::profile::multirow(fields).map_err(|why| {
                fail(
                    &format!("queries.{name}.fields"),
                    line_of(text, "fields", line),
                    why,
                )
            })?;
            queries.push(Query {
                name: name.to_string(),
                cql: cql.trim().to_string(),
                line,
                multirow,
            });
        }
    }

    Ok(Profile {
        source: Source::File {
            path: path.to_path_buf(),
            format: Format::Stress,
        },
        keyspace,
        table,
        keyspace_cql: string("keyspace_definition")?
            .filter(|s| !s.is_empty())
            .map(|s| if_not_exists(&s)),
        before_table,
        table_cql,
        after_table,
        columns,
        knob_defaults,
        queries,
        seed: 0,
        around_ms: AROUND_MS,
    })
}

/// A YAML scalar as text: `fixed(1)`, `10`, `LOGGED`.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
