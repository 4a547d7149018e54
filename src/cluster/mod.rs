//! Connecting to the cluster and creating the keyspace and table the load writes into.

pub mod coordinator;

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use scylla::client::PoolSize;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::statement::unprepared::Statement;

use crate::config::{ClusterSettings, Settings};

/// The contact points with the default port filled in: `host:port`.
pub fn contact_points(cluster: &ClusterSettings) -> Vec<String> {
    cluster
        .hosts
        .iter()
        .map(|host| with_port(host.trim(), cluster.port))
        .collect()
}

fn with_port(host: &str, port: u16) -> String {
    // A bare IPv6 address has colons but no port; "[::1]:9042" has one.
    let has_port = crate::config::port_of(host).is_some_and(|port| port.parse::<u16>().is_ok());
    if has_port {
        host.to_string()
    } else if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Opens a driver session to the configured cluster. Fails within the connect timeout (plus a
/// little slack) with a message naming the hosts, never hangs.
pub async fn connect(settings: &Settings) -> Result<Session> {
    let cluster = &settings.cluster;
    let hosts = contact_points(cluster);
    let token_aware = settings.knobs.routing == crate::knobs::Routing::TokenAware;
    let mut policy = DefaultPolicy::builder().token_aware(token_aware);
    if !cluster.local_datacenter.is_empty() {
        policy = policy
            .prefer_datacenter(cluster.local_datacenter.clone())
            .permit_dc_failover(true);
    }
    let profile = ExecutionProfile::builder()
        .consistency(settings.knobs.consistency.to_driver())
        .request_timeout(Some(settings.knobs.request_timeout))
        .load_balancing_policy(std::sync::Arc::new(coordinator::Noting(policy.build())))
        .build();
    let mut builder = SessionBuilder::new()
        .known_nodes(&hosts)
        .connection_timeout(cluster.connect_timeout)
        .default_execution_profile_handle(profile.into_handle())
        .tcp_nodelay(true)
        .pool_size(PoolSize::PerHost(
            NonZeroUsize::new(settings.knobs.connections_per_host as usize)
                .unwrap_or(NonZeroUsize::MIN),
        ))
        // Token-aware routing needs the written keyspace's replication (the driver computes
        // each row's replicas from it); the rest of the schema is not fetched.
        .fetch_schema_metadata(true)
        .keyspaces_to_fetch([cluster.keyspace.clone()]);
    if !settings.auth.username.is_empty() {
        builder = builder.user(&settings.auth.username, settings.auth.password.expose());
    }
    if settings.tls.enabled {
        let config = crate::tls::client_config(&settings.tls)?;
        builder = builder.tls_context(Some(config));
    }
    if cluster.through_hop.is_some() || !cluster.node_hops.is_empty() {
        // A ScyllaDB node would also advertise its shard-aware port, which the driver dials
        // directly (untranslated): through a hop, only the hop's port may be used.
        builder = builder
            .address_translator(std::sync::Arc::new(ThroughHop {
                all: cluster.through_hop,
                nodes: cluster.node_hops.clone(),
            }))
            .disallow_shard_aware_port(true);
    }
    // The driver bounds only the TCP connect by the timeout; this outer bound covers the CQL
    // handshake and the metadata fetch too, so a host that never answers cannot hang us.
    let deadline = cluster.connect_timeout;
    let started = Instant::now();
    match tokio::time::timeout(deadline, builder.build()).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(err)) => {
            if let Some(refused) = Refused::diagnose(&err, settings, &hosts) {
                return Err(refused.into());
            }
            let text = err.to_string();
            let hint = if text.contains("Connection refused") {
                " (nothing listens there: is the node up, and is the port right? `casstop local up` starts a local node)"
            } else if answered_not_cql_at_all(&err) {
                " (what answers there does not speak CQL: is this the node's CQL port?)"
            } else {
                ""
            };
            bail!(
                "cannot connect to {} (after {:.1}s; connect timeout {}): {text}{hint}",
                hosts.join(", "),
                started.elapsed().as_secs_f64(),
                humantime::format_duration(cluster.connect_timeout)
            )
        }
        Err(_) => bail!(
            "cannot connect to {}: no CQL answer within {} (cluster.connect_timeout)",
            hosts.join(", "),
            humantime::format_duration(deadline)
        ),
    }
}

/// Sends the nodes the driver discovers to their latency hop. After connecting to the contact
/// point (the hop), the driver reads the node's own address from `system.local` / `system.peers`
/// and would open its pool there — around the hop. A hop in front of the single local node
/// (`all`) takes every discovered address; a hop of one node's own takes that node's.
#[derive(Debug)]
struct ThroughHop {
    all: Option<std::net::SocketAddr>,
    nodes: Vec<(std::net::SocketAddr, std::net::SocketAddr)>,
}

#[async_trait::async_trait]
impl scylla::policies::address_translator::AddressTranslator for ThroughHop {
    async fn translate_address(
        &self,
        peer: &scylla::policies::address_translator::UntranslatedPeer,
    ) -> Result<std::net::SocketAddr, scylla::errors::TranslationError> {
        let address = peer.untranslated_address();
        let own = self.nodes.iter().find(|(node, _)| *node == address);
        Ok(own.map(|(_, hop)| *hop).or(self.all).unwrap_or(address))
    }
}

/// The peer answered, but not in CQL (an HTTP server, say): a wrong port, not a TLS node — a
/// TLS node closes the connection on plain bytes instead of answering.
fn answered_not_cql(broken: &scylla::errors::BrokenConnectionError) -> bool {
    use scylla::errors::BrokenConnectionErrorKind;
    use scylla::frame::frame_errors::FrameHeaderParseError as Header;
    matches!(
        broken.downcast_ref::<BrokenConnectionErrorKind>(),
        Some(BrokenConnectionErrorKind::FrameHeaderParseError(
            Header::FrameFromClient
                | Header::FrameFromServer
                | Header::VersionNotSupported(_)
                | Header::UnknownResponseOpcode(_)
        ))
    )
}

/// Whether the last connection attempt of a failed session got an answer that is not CQL.
fn answered_not_cql_at_all(err: &scylla::errors::NewSessionError) -> bool {
    use scylla::errors::{ConnectionError, ConnectionSetupRequestErrorKind as Setup};
    let Some(last_connection_error) = last_connection_error(err) else {
        return false;
    };
    match last_connection_error {
        ConnectionError::ConnectionSetupRequestError(setup) => {
            matches!(&setup.error, Setup::BrokenConnection(broken) if answered_not_cql(broken))
        }
        ConnectionError::BrokenConnection(broken) => answered_not_cql(broken),
        _ => false,
    }
}

/// The error of the driver's last connection attempt, when a session failed because its pool
/// could not connect: where refusals (credentials, TLS) and wrong ports show.
fn last_connection_error(
    err: &scylla::errors::NewSessionError,
) -> Option<&scylla::errors::ConnectionError> {
    use scylla::errors::{ConnectionPoolError, MetadataError, NewSessionError};
    match err {
        NewSessionError::MetadataError(MetadataError::ConnectionPoolError(
            ConnectionPoolError::Broken {
                last_connection_error,
            },
        )) => Some(last_connection_error),
        _ => None,
    }
}

/// The cluster turned casstop away for a reason the settings can fix: credentials or TLS. Exit
/// code 2, like any other configuration error.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(
        "{hosts}: the node refused the login of user `{user}`: {reason} (check auth.username and \
         auth.password / CASSTOP_AUTH_PASSWORD)"
    )]
    WrongCredentials {
        hosts: String,
        user: String,
        reason: String,
    },
    #[error(
        "{hosts}: the node requires authentication, but no credentials are set: set \
         auth.username and auth.password (or CASSTOP_AUTH_PASSWORD)"
    )]
    NoCredentials { hosts: String },
    #[error(
        "{hosts}: the node closed the connection during the CQL handshake; it probably requires \
         TLS (tls.enabled is false: set it and tls.ca_file)"
    )]
    TlsRequired { hosts: String },
    #[error(
        "{hosts}: TLS handshake failed: the node does not speak TLS on this port ({reason}); set \
         tls.enabled = false or connect to its TLS port"
    )]
    NotTls { hosts: String, reason: String },
    #[error("{hosts}: TLS handshake failed: {reason} (tls.ca_file {ca_file})")]
    Untrusted {
        hosts: String,
        reason: String,
        ca_file: String,
    },
}

impl Refused {
    /// Tells a refusal from any other failure to connect, from the error of the last connection
    /// attempt the driver made.
    fn diagnose(
        err: &scylla::errors::NewSessionError,
        settings: &Settings,
        hosts: &[String],
    ) -> Option<Refused> {
        use scylla::errors::{ConnectionError, ConnectionSetupRequestErrorKind as Setup, DbError};
        let last_connection_error = last_connection_error(err)?;
        let hosts = hosts.join(", ");
        let closed = |kind: std::io::ErrorKind| {
            use std::io::ErrorKind::*;
            matches!(
                kind,
                UnexpectedEof | ConnectionReset | BrokenPipe | ConnectionAborted
            )
        };
        match last_connection_error {
            ConnectionError::ConnectionSetupRequestError(setup) => match &setup.error {
                Setup::DbError(DbError::AuthenticationError, reason) => {
                    Some(Refused::WrongCredentials {
                        hosts,
                        user: settings.auth.username.clone(),
                        reason: reason.trim().trim_end_matches('.').to_string(),
                    })
                }
                Setup::MissingAuthentication => Some(Refused::NoCredentials { hosts }),
                Setup::BrokenConnection(broken)
                    if !settings.tls.enabled && !answered_not_cql(broken) =>
                {
                    Some(Refused::TlsRequired { hosts })
                }
                _ => None,
            },
            ConnectionError::BrokenConnection(broken)
                if !settings.tls.enabled && !answered_not_cql(broken) =>
            {
                Some(Refused::TlsRequired { hosts })
            }
            ConnectionError::IoError(io) if settings.tls.enabled => {
                let rustls_error = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
                match rustls_error {
                    Some(rustls::Error::InvalidCertificate(_))
                    | Some(rustls::Error::InvalidCertRevocationList(_)) => {
                        Some(Refused::Untrusted {
                            hosts,
                            reason: rustls_error.map(|e| e.to_string()).unwrap_or_default(),
                            ca_file: settings.tls.ca_file.clone(),
                        })
                    }
                    Some(other) => Some(Refused::NotTls {
                        hosts,
                        reason: other.to_string(),
                    }),
                    None if closed(io.kind()) => Some(Refused::NotTls {
                        hosts,
                        reason: io.to_string(),
                    }),
                    None => None,
                }
            }
            ConnectionError::IoError(io) if closed(io.kind()) => {
                Some(Refused::TlsRequired { hosts })
            }
            _ => None,
        }
    }
}

/// How long casstop's own statements (schema, truncate, version, counts) may take. They are not
/// the load: a `request_timeout` of a few milliseconds, right for the writes, would fail a
/// `CREATE TABLE` on a node that has just restarted, which takes seconds.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(120);

/// One of casstop's own statements (or one it prepares), bounded by [`ADMIN_TIMEOUT`] rather
/// than the load's knob.
pub fn admin(text: impl Into<String>) -> Statement {
    let mut statement = Statement::new(text.into());
    statement.set_request_timeout(Some(ADMIN_TIMEOUT));
    statement
}

/// A statement that only `node` coordinates: for its node-local tables (`system.peers`,
/// `system_views.*`).
pub fn on_node(text: &str, node: std::net::SocketAddr) -> Statement {
    use scylla::policies::load_balancing::{NodeIdentifier, SingleTargetLoadBalancingPolicy};
    let mut statement = admin(text);
    statement.set_load_balancing_policy(Some(SingleTargetLoadBalancingPolicy::new(
        NodeIdentifier::NodeAddress(node),
        None,
    )));
    statement
}

/// The server's `release_version` (e.g. "5.0.9").
pub async fn release_version(session: &Session) -> Result<String> {
    let result = session
        .query_unpaged(admin("SELECT release_version FROM system.local"), &[])
        .await
        .context("querying system.local")?
        .into_rows_result()
        .context("reading system.local")?;
    let (version,) = result
        .first_row::<(String,)>()
        .context("reading release_version")?;
    Ok(version)
}

/// Creates the keyspace (SimpleStrategy) and the write table when they do not exist. A
/// replication factor above the number of nodes is refused up front: Cassandra would create the
/// keyspace and then fail every write at quorum as unavailable.
pub async fn create_schema(session: &Session, settings: &Settings) -> Result<()> {
    let cluster = &settings.cluster;
    let nodes = session.get_cluster_state().get_nodes_info().len();
    if cluster.replication_factor as usize > nodes {
        return Err(crate::error::UsageError(format!(
            "cluster.replication_factor is {} but the cluster has {nodes} node{}: every write at {} would fail as unavailable; use at most {nodes}",
            cluster.replication_factor,
            if nodes == 1 { "" } else { "s" },
            settings.knobs.consistency
        ))
        .into());
    }
    let profile = &settings.profile;
    let keyspace = match &profile.keyspace_cql {
        Some(cql) => cql.clone(),
        None => format!(
            "CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': {}}}",
            cluster.keyspace, cluster.replication_factor
        ),
    };
    ddl(
        session,
        keyspace,
        &format!("keyspace `{}`", cluster.keyspace),
    )
    .await?;
    // The profile's CQL names its table and types without a keyspace, as cassandra-stress runs
    // it: in the keyspace.
    session
        .use_keyspace(&cluster.keyspace, false)
        .await
        .with_context(|| format!("using keyspace `{}`", cluster.keyspace))?;
    // The default table takes its name from cluster.table as it is now, not as it was when the
    // profile was resolved: a caller may point the same settings at another table.
    let default_table;
    let table_cql = if profile.is_default() {
        default_table =
            crate::workload::Profile::default_table(&cluster.keyspace, &cluster.table).table_cql;
        &default_table
    } else {
        &profile.table_cql
    };
    let statements = profile
        .before_table
        .iter()
        .chain(std::iter::once(table_cql))
        .chain(&profile.after_table);
    for statement in statements {
        let what = format!("`{}` (from {})", one_line(statement), profile.label());
        ddl(session, crate::workload::if_not_exists(statement), &what).await?;
    }
    // A keyspace created just now is not in the metadata the session fetched at connect;
    // without it every write would be routed as if token awareness were off.
    session
        .refresh_metadata()
        .await
        .context("reading the keyspace's replication back")?;
    Ok(())
}

/// The first line of a statement, shortened for a message.
fn one_line(cql: &str) -> String {
    let line = cql.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(72) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// The rows of the profile's table, from the driver's metadata of the table the node created.
pub fn rows_of(
    session: &Session,
    profile: &crate::workload::Profile,
) -> Result<crate::workload::rows::Rows> {
    let state = session.get_cluster_state();
    let keyspace = state.get_keyspace(&profile.keyspace).with_context(|| {
        format!(
            "the driver has no metadata of keyspace `{}`",
            profile.keyspace
        )
    })?;
    let table = keyspace.tables.get(&profile.table).with_context(|| {
        format!(
            "keyspace `{}` has no table `{}` after running the profile's table_definition: does \
             it create a table of that name?",
            profile.keyspace, profile.table
        )
    })?;
    crate::workload::rows::Rows::new(profile, table)
        .map_err(|message| anyhow::anyhow!("workload {}: {message}", profile.label()))
}

/// Creates `what` and waits until every node agrees on the schema: each DDL may go to another
/// node, and the next one (a table after its keyspace) must not get there first.
async fn ddl(session: &Session, text: String, what: &str) -> Result<()> {
    session
        .query_unpaged(admin(text), &[])
        .await
        .with_context(|| format!("creating {what}"))?;
    session
        .await_schema_agreement()
        .await
        .with_context(|| format!("waiting for schema agreement on the {what}"))?;
    Ok(())
}

/// Empties the write table, so its row count can be compared with the successes of one run.
pub async fn truncate(session: &Session, cluster: &ClusterSettings) -> Result<()> {
    session
        .query_unpaged(
            admin(format!("TRUNCATE {}.{}", cluster.keyspace, cluster.table)),
            &[],
        )
        .await
        .with_context(|| format!("truncating `{}.{}`", cluster.keyspace, cluster.table))?;
    Ok(())
}

/// Counts the rows of the write table (a full scan: for tests and checks, not for big tables).
pub async fn count_rows(session: &Session, cluster: &ClusterSettings) -> Result<i64> {
    let statement = admin(format!(
        "SELECT COUNT(*) FROM {}.{}",
        cluster.keyspace, cluster.table
    ));
    let result = session
        .query_unpaged(statement, &[])
        .await
        .context("counting rows")?
        .into_rows_result()?;
    let (count,) = result.first_row::<(i64,)>()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_points_get_the_default_port() {
        assert_eq!(with_port("127.0.0.1", 9042), "127.0.0.1:9042");
        assert_eq!(with_port("db1:9043", 9042), "db1:9043");
        assert_eq!(with_port("::1", 9042), "[::1]:9042");
        assert_eq!(with_port("[::1]:9999", 9042), "[::1]:9999");
        assert_eq!(with_port("localhost", 19042), "localhost:19042");
    }
}
