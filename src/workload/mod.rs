//! The user's write: a table of their own, how each column's values are drawn, and how rows group
//! into partitions and requests. Read from a cassandra-stress user profile as it is, or from
//! casstop's own TOML form ([`load`] tells them apart by content), or built in: casstop's own
//! `(key bigint, payload blob)` table and the python benchmarks' `thekey text, col0..colN`.
//!
//! A profile names columns; their types come from the table the node created from the profile's
//! own CQL ([`rows::Rows`] is built from the driver's metadata), so every CQL type the node knows
//! is written without casstop parsing a `CREATE TABLE`. Every value is a pure function of the
//! profile's seed and the row's key, and the key a pure function of the operation number: any row
//! can be regenerated, which is how `casstop verify` checks what it reads back.

pub mod dist;
pub mod literal;
mod own;
mod profile;
pub mod rows;
mod stress;
mod text;
mod values;

use std::path::Path;

pub use dist::Dist;
pub use profile::{ColumnSpec, Format, Profile, ProfileError, Query, Source, is_cql_identifier};
pub use text::if_not_exists;

/// Reads the profile at `path`: TOML when the text is TOML, else a cassandra-stress YAML profile.
pub fn load(path: &Path) -> Result<Profile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|err| ProfileError {
        path: path.to_path_buf(),
        line: 0,
        key: "file".into(),
        message: format!("cannot be read: {err}"),
    })?;
    parse(path, &text)
}

/// [`load`] on text already read.
pub fn parse(path: &Path, text: &str) -> Result<Profile, ProfileError> {
    match text.parse::<toml::Table>() {
        Ok(table) => own::read(path, text, table),
        // A stress profile is YAML; a TOML file with a mistake still looks like TOML (`key =`).
        Err(err) if looks_like_toml(text) => Err(ProfileError {
            path: path.to_path_buf(),
            line: err
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1)
                .unwrap_or(0),
            key: "toml".into(),
            message: err.message().to_string(),
        }),
        Err(_) => stress::read(path, text),
    }
}

/// Whether the first meaningful line is `key = value` or `[section]`.
fn looks_like_toml(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .is_some_and(|line| {
            line.starts_with('[')
                || line
                    .split_once('=')
                    .is_some_and(|(key, _)| !key.contains(':') && !key.trim().contains(' '))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, key) of the refusal of `text`.
    fn refused(text: &str) -> (usize, String) {
        let err = parse(Path::new("p"), text).expect_err("refused");
        (err.line, err.key)
    }

    const STRESS: &str = "keyspace: ks\ntable: t\ntable_definition: |\n  CREATE TABLE t (k int PRIMARY KEY, v text)\ncolumnspec:\n  - name: v\n    size: uniform(1..10)\n";

    #[test]
    fn a_stress_profile_is_refused_at_the_line_and_key_it_cannot_honour() {
        assert!(parse(Path::new("p"), STRESS).is_ok());
        let visits = format!("{STRESS}insert:\n  partitions: fixed(1)\n  visits: fixed(3)\n");
        assert_eq!(refused(&visits), (10, "insert.visits".into()));
        let size = STRESS.replace("uniform(1..10)", "poisson(1..10)");
        assert_eq!(refused(&size), (7, "columnspec.v.size".into()));
        let spec_key = format!("{STRESS}    spread: fixed(1)\n");
        assert_eq!(refused(&spec_key), (8, "columnspec.v.spread".into()));
        let top = format!("{STRESS}token_range_queries:\n  q:\n    columns: '*'\n");
        assert_eq!(refused(&top), (8, "token_range_queries".into()));
    }

    const OWN: &str = "keyspace = \"ks\"\ntable = \"t\"\ntable_definition = \"CREATE TABLE t (k int PRIMARY KEY, v text)\"\n\n[columns.v]\nsize = \"uniform(1..10)\"\n";

    #[test]
    fn a_toml_profile_is_refused_at_the_line_and_key_it_cannot_honour() {
        assert!(parse(Path::new("p"), OWN).is_ok());
        assert_eq!(
            refused(&OWN.replace("[columns.v]", "[colums.v]")),
            (5, "colums".into())
        );
        assert_eq!(
            refused(&OWN.replace("size =", "sizes =")),
            (6, "columns.v.sizes".into())
        );
        assert_eq!(
            refused(&OWN.replace("uniform(1..10)", "uniform(10..1)")),
            (6, "columns.v.size".into())
        );
        // A TOML mistake is named as TOML, at its line, not taken for YAML.
        assert_eq!(
            refused(&OWN.replace("size = ", "size = = ")),
            (6, "toml".into())
        );
    }
}
