//! Whether a port the local node needs is free, and what to say when it is not.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Result;

/// Fails when something listens on `address`. Within `grace` it asks again while something
/// does: a node killed a moment ago can hold its listening socket a little past its last thread.
pub fn check_port_free(address: SocketAddr, role: &str, grace: Duration) -> Result<()> {
    let asked = Instant::now();
    let taken = || TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok();
    while taken() {
        if asked.elapsed() >= grace {
            return Err(port_taken(address, role));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn port_taken(address: SocketAddr, role: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "another process already listens on {address}, the local node's {role} port, and it \
             is not a node casstop started; stop it, or point casstop at it with --hosts {address}, \
             or set another port in [local]"
    )
}
