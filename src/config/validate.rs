//! Range checks of the settings that are not knobs (the registry checks those) and that the
//! types alone cannot express.

use std::time::Duration;

use super::loaded::{ConfigError, Loaded};
use super::schema::Settings;
use crate::workload::is_cql_identifier;

/// Names the key and its origin in an error.
struct Checker<'a> {
    loaded: &'a Loaded,
}

impl Checker<'_> {
    fn check(&self, ok: bool, key: &str, message: String) -> Result<(), ConfigError> {
        if ok {
            Ok(())
        } else {
            Err(self.loaded.error(key, format!("`{key}` {message}")))
        }
    }

    fn within(&self, value: u64, min: u64, max: u64, key: &str) -> Result<(), ConfigError> {
        self.check(
            (min..=max).contains(&value),
            key,
            format!("must be between {min} and {max}, got {value}"),
        )
    }
}

/// The digits after the last `:` of `host:port` or `[v6]:port`, when a host names a port; a
/// bare IPv6 address's last group is not one. The driver's contact points add the configured
/// port to a host without one (`cluster::contact_points`).
pub fn port_of(host: &str) -> Option<&str> {
    let (head, tail) = host.rsplit_once(':')?;
    let names_port = !tail.is_empty()
        && tail.chars().all(|c| c.is_ascii_digit())
        && (!head.contains(':') || head.ends_with(']'));
    names_port.then_some(tail)
}

/// The port a host names when it is no TCP port: 0, or above 65535.
fn bad_port(host: &str) -> Option<&str> {
    port_of(host).filter(|port| !port.parse::<u16>().is_ok_and(|port| port > 0))
}

pub(super) fn validate(loaded: &Loaded) -> Result<(), ConfigError> {
    let c = Checker { loaded };
    let s = &loaded.settings;
    cluster(&c, s)?;
    security(&c, s)?;
    session(&c, s)?;
    local(&c, s)
}

fn cluster(c: &Checker, s: &Settings) -> Result<(), ConfigError> {
    c.check(
        !s.cluster.hosts.is_empty() && s.cluster.hosts.iter().all(|h| !h.trim().is_empty()),
        "cluster.hosts",
        "needs at least one non-empty host".into(),
    )?;
    for host in &s.cluster.hosts {
        let port = bad_port(host.trim());
        c.check(
            port.is_none(),
            "cluster.hosts",
            format!(
                "names port {} in `{host}`, but TCP ports go from 1 to 65535",
                port.unwrap_or_default()
            ),
        )?;
    }
    c.check(s.cluster.port > 0, "cluster.port", "must not be 0".into())?;
    c.check(
        is_cql_identifier(&s.cluster.keyspace),
        "cluster.keyspace",
        format!(
            "must be 1-48 letters, digits or underscores starting with a letter, got `{}`",
            s.cluster.keyspace
        ),
    )?;
    c.check(
        is_cql_identifier(&s.cluster.table),
        "cluster.table",
        format!(
            "must be 1-48 letters, digits or underscores starting with a letter, got `{}`",
            s.cluster.table
        ),
    )?;
    c.within(
        s.cluster.replication_factor.into(),
        1,
        100,
        "cluster.replication_factor",
    )?;
    c.check(
        !s.cluster.connect_timeout.is_zero(),
        "cluster.connect_timeout",
        "must be more than 0s".into(),
    )?;
    Ok(())
}

fn security(c: &Checker, s: &Settings) -> Result<(), ConfigError> {
    if s.tls.enabled {
        if s.tls.ca_file.is_empty() {
            // Blame where TLS was switched on: the empty CA file is only the default.
            return Err(c.loaded.error(
                "tls.enabled",
                "`tls.enabled` is true but `tls.ca_file` is empty: give the PEM file of the CA \
                 that signed the node's certificate",
            ));
        }
        c.check(
            s.tls.cert_file.is_empty() == s.tls.key_file.is_empty(),
            if s.tls.cert_file.is_empty() {
                "tls.key_file"
            } else {
                "tls.cert_file"
            },
            "is set without its pair: a client certificate needs both `tls.cert_file` and \
             `tls.key_file`"
                .into(),
        )?;
    }
    c.check(
        s.auth.password.is_empty() || !s.auth.username.is_empty(),
        "auth.password",
        "is set but `auth.username` is empty".into(),
    )?;
    Ok(())
}

fn session(c: &Checker, s: &Settings) -> Result<(), ConfigError> {
    c.check(
        s.control.listen.is_empty() || s.control.listen.parse::<std::net::SocketAddr>().is_ok(),
        "control.listen",
        format!(
            "must be an address with a port (e.g. 127.0.0.1:9180) or \"\" for off, got `{}`",
            s.control.listen
        ),
    )?;
    let (set, unset) = if s.control.cert_file.is_empty() {
        ("control.key_file", "control.cert_file")
    } else {
        ("control.cert_file", "control.key_file")
    };
    c.check(
        s.control.cert_file.is_empty() == s.control.key_file.is_empty(),
        set,
        format!(
            "is set but `{unset}` is empty: the control API serves HTTPS with both, plain HTTP \
             with neither"
        ),
    )?;
    c.within(s.ui.fps.into(), 1, 60, "ui.fps")?;
    c.within(s.ui.window_secs.into(), 10, 3600, "ui.window_secs")?;
    c.within(
        s.profiler.frequency_hz.into(),
        1,
        10_000,
        "profiler.frequency_hz",
    )?;
    c.check(
        s.profiler
            .categories
            .iter()
            .all(|c| !c.name.is_empty() && c.patterns.iter().all(|p| !p.is_empty())),
        "profiler.categories",
        "needs a name and non-empty patterns for every category".into(),
    )?;
    c.check(
        (Duration::from_millis(100)..=Duration::from_secs(600)).contains(&s.profiler.duration),
        "profiler.duration",
        format!(
            "must be between 100ms and 10m, got {}",
            crate::knobs::format_duration(s.profiler.duration)
        ),
    )?;
    c.check(
        s.output
            .label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "output.label",
        format!(
            "may hold only letters, digits, `-`, `_` and `.` (it names a directory), got `{}`",
            s.output.label
        ),
    )?;
    // A directory name is at most 255 bytes; the UTC time before the label takes 17.
    c.check(
        s.output.label.len() <= 100,
        "output.label",
        format!(
            "may be at most 100 characters (it names a directory), got {}",
            s.output.label.len()
        ),
    )?;
    let step_range = Duration::from_millis(100)..=Duration::from_secs(86_400);
    c.check(
        step_range.contains(&s.sweep.step),
        "sweep.step",
        format!(
            "must be between 100ms and 1day, got {}",
            crate::knobs::format_duration(s.sweep.step)
        ),
    )?;
    c.check(
        s.sweep.warmup <= Duration::from_secs(86_400),
        "sweep.warmup",
        format!(
            "must be at most 1day, got {}",
            crate::knobs::format_duration(s.sweep.warmup)
        ),
    )?;
    c.check(
        s.sweep.knee_gain.is_finite() && s.sweep.knee_gain > 0.0 && s.sweep.knee_gain <= 10.0,
        "sweep.knee_gain",
        format!(
            "must be a fraction between 0 and 10 (0.1 = 10 %), got {}",
            short(s.sweep.knee_gain)
        ),
    )?;
    Ok(())
}

fn local(c: &Checker, s: &Settings) -> Result<(), ConfigError> {
    c.check(
        s.local.version.starts_with("5.0."),
        "local.version",
        format!(
            "must be an Apache Cassandra 5.0.x release, got `{}`",
            s.local.version
        ),
    )?;
    c.check(
        is_heap_size(&s.local.heap),
        "local.heap",
        format!(
            "must be a JVM size such as 1G or 768M, got `{}`",
            s.local.heap
        ),
    )?;
    c.within(s.local.nodes.into(), 1, 16, "local.nodes")?;
    c.check(
        s.local.nodes == 1 || !s.local.tls,
        "local.tls",
        format!(
            "is not available for a cluster yet (`local.nodes` is {}): each node would get a \
             CA of its own; use one node for TLS",
            s.local.nodes
        ),
    )?;
    c.check(
        s.local.cql_port != s.local.storage_port,
        "local.storage_port",
        "must differ from `local.cql_port`".into(),
    )?;
    c.check(
        s.local.hop_port != s.local.cql_port && s.local.hop_port != s.local.storage_port,
        "local.hop_port",
        "must differ from `local.cql_port` and `local.storage_port`".into(),
    )?;
    c.check(
        s.local.rtt <= Duration::from_secs(10) && s.local.jitter <= Duration::from_secs(10),
        "local.rtt",
        "and `local.jitter` must be at most 10s (a hop emulates network distance, not outages)"
            .into(),
    )?;
    Ok(())
}
/// A number short enough for one line: 1e300 is not printed in full.
fn short(value: f64) -> String {
    if value.is_finite() && value.abs() < 1e6 {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

pub(super) fn is_heap_size(text: &str) -> bool {
    heap_bytes(text).is_some_and(|n| n > 0)
}

/// A heap size as `-Xmx` takes it (`512M`, `1G`, `1048576k`, plain bytes), in bytes.
pub fn heap_bytes(text: &str) -> Option<u64> {
    let (digits, shift) = match text.chars().last()? {
        'k' | 'K' => (&text[..text.len() - 1], 10),
        'm' | 'M' => (&text[..text.len() - 1], 20),
        'g' | 'G' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::bad_port;

    #[test]
    fn a_port_past_65535_or_zero_is_bad_and_an_ipv6_group_is_no_port() {
        assert_eq!(bad_port("127.0.0.1:70000"), Some("70000"));
        assert_eq!(bad_port("[::1]:0"), Some("0"));
        for fine in [
            "127.0.0.1:9042",
            "node1",
            "[::1]:9042",
            "::1",
            "fe80::1",
            "db:x",
        ] {
            assert_eq!(bad_port(fine), None, "{fine}");
        }
    }
}
