//! A workload as its file describes it, before the node has the table.

use std::path::PathBuf;

use super::dist::Dist;

/// Where a profile came from, for the screen, the reports and error messages.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// casstop's own `(key bigint PRIMARY KEY, payload blob)`.
    Default,
    /// `--columns N --column-type T`: the python benchmarks' table.
    Columns { count: u32, column_type: String },
    /// A profile file, in one of the two formats.
    File { path: PathBuf, format: Format },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A cassandra-stress user profile (YAML).
    Stress,
    /// casstop's TOML form.
    Toml,
}

/// A workload as its file describes it, before the node has the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub source: Source,
    pub keyspace: String,
    pub table: String,
    /// `CREATE KEYSPACE ...`; `None`: casstop's SimpleStrategy keyspace with
    /// `cluster.replication_factor`.
    pub keyspace_cql: Option<String>,
    /// Statements run (in the keyspace) before the table: types.
    pub before_table: Vec<String>,
    /// `CREATE TABLE ...`, unqualified or qualified; run in the keyspace.
    pub table_cql: String,
    /// Statements run after the table: indexes, views.
    pub after_table: Vec<String>,
    /// How columns the profile names are drawn; columns it does not name get defaults.
    pub columns: Vec<ColumnSpec>,
    /// Starting values the profile gives knobs (`rows_per_request 10`, `statement literal`):
    /// a setting of the user's own (config, environment, flag) wins.
    pub knob_defaults: Vec<(&'static str, String)>,
    /// Named read queries: operations the `mix` knob names (see `engine::workload::ReadOp`).
    pub queries: Vec<Query>,
    /// Mixed into every value: two profiles differing only in seed write different values.
    pub seed: u64,
    /// Timestamps, dates and time UUIDs fall around this instant (ms since the Unix epoch), a
    /// fixed one so that values regenerate on any day.
    pub around_ms: i64,
}

/// How one column's values are drawn; `None` keeps the type's default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnSpec {
    pub name: String,
    /// Length of text and blobs, elements of collections.
    pub size: Option<Dist>,
    /// The numbers values are made from (for keys: which partitions, which rows).
    pub population: Option<Dist>,
    /// Distinct values of a clustering column within one partition (rows per partition is the
    /// product over clustering columns).
    pub cluster: Option<Dist>,
    /// Characters text is drawn from.
    pub alphabet: Option<String>,
    /// The profile's line that names the column, for messages.
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub name: String,
    pub cql: String,
    pub line: usize,
    /// cassandra-stress's `fields: multirow`: each marker other than the partition key's is
    /// bound from its own row of the partition (any written one); else all from one row.
    pub multirow: bool,
}

/// A query's `fields` (cassandra-stress's, in both formats): whether it is `multirow`;
/// anything but `samerow` or `multirow` is refused with what it may be.
pub fn multirow(fields: Option<&str>) -> Result<bool, String> {
    match fields {
        None | Some("samerow") => Ok(false),
        Some("multirow") => Ok(true),
        Some(other) => Err(format!("`{other}`: samerow or multirow")),
    }
}

/// 2026-01-01T00:00:00Z.
pub const AROUND_MS: i64 = 1_767_225_600_000;

impl Profile {
    /// casstop's own table, in `keyspace.table`.
    pub fn default_table(keyspace: &str, table: &str) -> Profile {
        Profile {
            source: Source::Default,
            keyspace: keyspace.into(),
            table: table.into(),
            keyspace_cql: None,
            before_table: vec![],
            table_cql: format!(
                "CREATE TABLE IF NOT EXISTS {table} (key bigint PRIMARY KEY, payload blob)"
            ),
            after_table: vec![],
            columns: vec![],
            knob_defaults: vec![],
            queries: vec![],
            seed: 0,
            around_ms: AROUND_MS,
        }
    }

    /// The python benchmarks' table: `thekey text PRIMARY KEY` and `count` columns `col0..` of
    /// `column_type`, in `keyspace` as `<table>_<count>_<type>` (so it never meets the default
    /// table's different columns under one name).
    pub fn columns(
        keyspace: &str,
        table: &str,
        count: u32,
        column_type: &str,
    ) -> Result<Profile, String> {
        const TYPES: &[&str] = &[
            "int",
            "bigint",
            "text",
            "ascii",
            "varchar",
            "float",
            "double",
            "uuid",
            "timeuuid",
            "timestamp",
            "blob",
            "boolean",
            "smallint",
            "tinyint",
            "date",
            "time",
            "inet",
            "decimal",
            "varint",
        ];
        let column_type = column_type.trim().to_ascii_lowercase();
        if !TYPES.contains(&column_type.as_str()) {
            return Err(format!(
                "workload.column_type `{column_type}` is not one of {}",
                TYPES.join(", ")
            ));
        }
        if count == 0 {
            return Err("workload.columns must be at least 1 (0 = casstop's own table)".into());
        }
        let name = format!("{table}_{count}_{column_type}");
        let columns: String = (0..count)
            .map(|i| format!(", col{i} {column_type}"))
            .collect();
        Ok(Profile {
            source: Source::Columns {
                count,
                column_type: column_type.clone(),
            },
            table_cql: format!(
                "CREATE TABLE IF NOT EXISTS {name} (thekey text PRIMARY KEY{columns})"
            ),
            table: name,
            ..Profile::default_table(keyspace, table)
        })
    }

    /// Whether this is casstop's own `(key, payload)` table, whose payload follows the
    /// `payload_bytes` knob.
    pub fn is_default(&self) -> bool {
        self.source == Source::Default
    }

    /// How the screen and the reports name it: `default`, `columns 2×text`, the file's name.
    pub fn label(&self) -> String {
        match &self.source {
            Source::Default => "default".into(),
            Source::Columns { count, column_type } => format!("{count}×{column_type} columns"),
            Source::File { path, .. } => path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
        }
    }

    /// The spec of `column`, when the profile names it.
    pub fn spec(&self, column: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|spec| spec.name == column)
    }
}

impl Default for Profile {
    /// casstop's own table under the shipped config's names.
    fn default() -> Profile {
        Profile::default_table("casstop", "writes")
    }
}

/// Why a profile cannot be used: the file, the line and the key, and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}: {key}: {message}", path.display())]
pub struct ProfileError {
    pub path: PathBuf,
    /// 1-based; 0 when no line can be named.
    pub line: usize,
    pub key: String,
    pub message: String,
}

/// The 1-based line where `key` first appears as a key (`key:`, `key =`, or a TOML table header
/// `[key]`, `[key.sub]`, `[[key]]`) at or after `from`.
pub fn line_of(text: &str, key: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, line)| {
            let line = line.trim_start().trim_start_matches("- ");
            if let Some(header) = line.strip_prefix('[') {
                let header = header.trim_start_matches('[').trim_start();
                return header.strip_prefix(key).is_some_and(|rest| {
                    let rest = rest.trim_start();
                    rest.starts_with(']') || rest.starts_with('.')
                });
            }
            line.strip_prefix(key).is_some_and(|rest| {
                let rest = rest.trim_start_matches(['"', '\'']).trim_start();
                rest.starts_with(':') || rest.starts_with('=')
            })
        })
        .map(|(at, _)| at + 1)
        .unwrap_or(0)
}

/// An unquoted CQL name: a letter, then letters, digits and underscores; at most 48 characters.
pub fn is_cql_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 48
}
