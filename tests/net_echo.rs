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

use futures::{AsyncReadExt, AsyncWriteExt};
use gort::net::{TcpListener, TcpStream};

#[path = "../examples/echo_server.rs"]
mod echo_server;

mod reactor_common;
use reactor_common::{on_gort, Rng};

const CLIENTS: u64 = 200;
const MESSAGES: usize = 1000;
const MAX_MESSAGE: usize = 64 * 1024;

/// A message length: 2^k..2^(k+1) for a uniform k in 0..16, so 1 to
/// 65,535 bytes, plus an exact 64 KiB now and then.
fn message_len(rng: &mut Rng) -> usize {
    let k = rng.below(17);
    if k == 16 {
        return MAX_MESSAGE;
    }
    let low = 1u64 << k;
    (low + rng.below(low)) as usize
}

/// One client: `MESSAGES` echoes, each checked byte for byte; returns the
/// bytes echoed.
async fn client(addr: SocketAddr, id: u64) -> io::Result<u64> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut rng = Rng::new(id);
    let mut out = vec![0u8; MAX_MESSAGE];
    let mut back = vec![0u8; MAX_MESSAGE];
    let mut total = 0u64;
    for m in 0..MESSAGES {
        let len = message_len(&mut rng);
        rng.fill(&mut out[..len]);
        let (mut wr, mut rd) = (&stream, &stream);
        let (w, r) = futures::join!(wr.write_all(&out[..len]), rd.read_exact(&mut back[..len]));
        w?;
        r?;
        if let Some(i) = (0..len).find(|&i| out[i] != back[i]) {
            panic!(
                "client {id}, message {m} ({len} bytes): byte {i} came back as {}, sent {}",
                back[i], out[i]
            );
        }
        total += len as u64;
    }
    // Half-close: the server's `echo` sees EOF, closes, and we see EOF.
    let (mut wr, mut rd) = (&stream, &stream);
    wr.close().await?;
    let mut rest = Vec::new();
    rd.read_to_end(&mut rest).await?;
    assert!(
        rest.is_empty(),
        "client {id}: {} bytes after the echoes",
        rest.len()
    );
    Ok(total)
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
        let mut total = 0;
        for (id, c) in clients.into_iter().enumerate() {
            total += c
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("client {id}: {e}"));
        }
        // What the generators say was sent.
        let expected: u64 = (0..CLIENTS)
            .map(|id| {
                let mut rng = Rng::new(id);
                let mut scratch = vec![0u8; MAX_MESSAGE];
                (0..MESSAGES)
                    .map(|_| {
                        let len = message_len(&mut rng);
                        rng.fill(&mut scratch[..len]);
                        len as u64
                    })
                    .sum::<u64>()
            })
            .sum();
        assert_eq!(total, expected);
        eprintln!("echoed {} MiB", total >> 20);
        server.abort();
    });
}
