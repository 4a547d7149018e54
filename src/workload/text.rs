//! Small rewrites of a profile's CQL: casstop re-runs a profile's DDL on every start, so each
//! `CREATE` must tolerate what the last start created.

/// `CREATE TABLE t` → `CREATE TABLE IF NOT EXISTS t` (and for keyspaces, types, indexes, views),
/// leaving a statement that already says it, or is no `CREATE`, as it is.
pub fn if_not_exists(cql: &str) -> String {
    let trimmed = cql.trim().trim_end_matches(';').trim();
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    let upper: Vec<String> = words
        .iter()
        .take(5)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let object_words = match upper.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["CREATE", "MATERIALIZED", "VIEW", ..] => 3,
        ["CREATE", "CUSTOM", "INDEX", ..] => 3,
        [
            "CREATE",
            "TABLE" | "KEYSPACE" | "TYPE" | "INDEX" | "COLUMNFAMILY",
            ..,
        ] => 2,
        _ => return trimmed.to_string(),
    };
    let already = upper.get(object_words).is_some_and(|w| w == "IF");
    if already {
        return trimmed.to_string();
    }
    // Splice after the object words, keeping the rest of the text (and its layout) as written.
    let mut rest = trimmed;
    for _ in 0..object_words {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    let head = &trimmed[..trimmed.len() - rest.len()];
    format!("{head} IF NOT EXISTS{rest}")
}

/// Whether `cql` creates a type, which a table using it needs first.
pub fn creates_type(cql: &str) -> bool {
    let upper: Vec<String> = cql
        .split_whitespace()
        .take(2)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    upper == ["CREATE", "TYPE"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_tolerate_an_earlier_start() {
        assert_eq!(
            if_not_exists("CREATE TABLE t (k int PRIMARY KEY);"),
            "CREATE TABLE IF NOT EXISTS t (k int PRIMARY KEY)"
        );
        assert_eq!(
            if_not_exists("create type ks.addr (street text)"),
            "create type IF NOT EXISTS ks.addr (street text)"
        );
        assert_eq!(
            if_not_exists("CREATE MATERIALIZED VIEW v AS SELECT"),
            "CREATE MATERIALIZED VIEW IF NOT EXISTS v AS SELECT"
        );
        let kept = "CREATE TABLE IF NOT EXISTS t (k int PRIMARY KEY)";
        assert_eq!(if_not_exists(kept), kept);
        assert_eq!(
            if_not_exists("ALTER TABLE t WITH x"),
            "ALTER TABLE t WITH x"
        );
        assert!(creates_type("CREATE  TYPE a (b int)"));
        assert!(!creates_type("CREATE TABLE a (b int)"));
    }
}
