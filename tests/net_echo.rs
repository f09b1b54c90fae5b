//! The echo server of `examples/echo_server.rs` (`serve`: one goroutine
//! per connection, each running `echo`) under 200 concurrent loopback
//! clients on a 2-worker gort runtime. The clients are gort tasks too.
//!
//! Each client sends 1,000 messages of mixed sizes (1 byte to 64 KiB,
//! log-uniform, so most are small and some are large; sizes and contents
//! come from a deterministic generator seeded by the client's number). For
//! each message it writes the message and reads the echo concurrently (one
//! task, `&TcpStream` for both directions, so the task waits on both
//! readiness directions at once) and compares every byte. At the end it
//! shuts down writing and must read EOF: the server's `echo` saw EOF and
//! closed its side.
//!
//! The body runs under the hang watchdog of `channel/tests/support` (a
//! lost wake-up leaves a client waiting forever).

use std::io;
use std::net::SocketAddr;

use gort::net::{TcpListener, TcpStream};

#[path = "../examples/echo_server.rs"]
mod echo_server;

mod reactor_common;
use reactor_common::on_gort;
use reactor_common::streams::{check_echo_clients, echo_messages};

const CLIENTS: u64 = 200;
const MESSAGES: usize = 1000;
const MAX_MESSAGE: usize = 64 * 1024;

/// One client: `MESSAGES` echoes, each checked byte for byte, then the
/// half-close; returns the bytes echoed.
async fn client(addr: SocketAddr, id: u64) -> io::Result<u64> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    echo_messages(&stream, id, MESSAGES, MAX_MESSAGE).await
}

#[test]
fn two_hundred_clients_echo_a_thousand_mixed_messages_each() {
    on_gort("echo_200_clients", || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = gort::spawn(echo_server::serve(listener));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| gort::spawn(client(addr, id)))
            .collect();
        let total = check_echo_clients(clients, MESSAGES, MAX_MESSAGE).await;
        eprintln!("echoed {} MiB", total >> 20);
        server.abort();
    });
}
