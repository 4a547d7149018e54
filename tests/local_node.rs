//! The local node comes up through `casstop local up`'s own code path and takes real writes.

mod common;

use casstop::local::LocalNode;

#[test]
fn local_node_takes_a_write_and_reads_it_back() {
    let settings = common::settings("roundtrip");
    common::fresh_table(&settings);
    let cluster = settings.cluster.clone();
    let (version, payload) = common::with_session(&settings, async move |session| {
        let version = casstop::cluster::release_version(session).await?;
        let insert = format!(
            "INSERT INTO {}.{} (key, payload) VALUES (?, ?)",
            cluster.keyspace, cluster.table
        );
        session
            .query_unpaged(insert, (42i64, vec![1u8, 2, 3]))
            .await?;
        let select = format!(
            "SELECT payload FROM {}.{} WHERE key = ?",
            cluster.keyspace, cluster.table
        );
        let rows = session
            .query_unpaged(select, (42i64,))
            .await?
            .into_rows_result()?;
        let (payload,) = rows.first_row::<(Vec<u8>,)>()?;
        Ok((version, payload))
    });
    assert!(version.starts_with("5.0."), "server version {version}");
    assert_eq!(payload, vec![1, 2, 3]);
    assert_eq!(common::count_rows(&settings), 1);
}

#[test]
fn up_twice_is_harmless_and_status_sees_the_node() {
    let pid = common::node_pid();
    let settings = casstop::config::Settings::default();
    let node = LocalNode::new(&settings.local);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    struct Silent;
    impl casstop::local::Progress for Silent {
        fn update(&mut self, _: &str) {}
        fn finish(&mut self, _: &str) {}
    }
    let again = runtime.block_on(node.up(&settings, &mut Silent)).unwrap();
    assert_eq!(again.pid, pid, "the running node is reused");
    assert!(again.boot_time.is_none(), "no second boot");
    let status = runtime.block_on(node.status(&settings));
    assert_eq!(status.pid, Some(pid));
    assert!(status.answers_cql);
    assert!(status.installed);
    assert!(status.data_bytes > 0);
    assert!(node.log_tail(5).unwrap().len() == 5);
}
