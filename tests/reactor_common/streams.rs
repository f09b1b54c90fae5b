//! Helpers of the stream tests (`net_echo`, `net_tcp`, `net_unix`), for
//! any stream type with futures' io traits: a patterned byte stream, the
//! echo client's checked exchange, and both sides of the half-close test.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Rng;

/// The byte at offset `i` of a patterned stream (251 is prime, so the
/// pattern does not line up with any buffer size).
pub fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// Checks `buf` against the pattern from `offset` on.
pub fn check_pattern(buf: &[u8], offset: usize) {
    if let Some(j) = (0..buf.len()).find(|&j| buf[j] != pattern(offset + j)) {
        panic!(
            "byte {} is {}, expected {}",
            offset + j,
            buf[j],
            pattern(offset + j)
        );
    }
}

/// An echo message's length, `max` a power of two 2^m: 2^k..2^(k+1) for
/// a uniform k in 0..m, or `max` itself (one time in m + 1); so most
/// messages are small and some are large.
pub fn message_len(rng: &mut Rng, max: usize) -> usize {
    let bits = u64::from(max.trailing_zeros());
    let k = rng.below(bits + 1);
    if k == bits {
        return max;
    }
    let low = 1u64 << k;
    (low + rng.below(low)) as usize
}

/// The echo client's exchange on a connected `stream`: `messages`
/// messages (lengths from [`message_len`] with `max`, contents from
/// `Rng::new(id)`), each written while its echo is read (one task, both
/// directions of `&S` at once, so it waits on both readiness directions)
/// and compared byte for byte. Then it shuts down writing and must read
/// EOF: the echo server saw EOF and closed its side. Returns the bytes
/// echoed.
pub async fn echo_messages<S>(stream: &S, id: u64, messages: usize, max: usize) -> io::Result<u64>
where
    for<'a> &'a S: AsyncRead + AsyncWrite + Unpin,
{
    let mut rng = Rng::new(id);
    let mut out = vec![0u8; max];
    let mut back = vec![0u8; max];
    let mut total = 0u64;
    for m in 0..messages {
        let len = message_len(&mut rng, max);
        rng.fill(&mut out[..len]);
        let (mut wr, mut rd) = (stream, stream);
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
    let (mut wr, mut rd) = (stream, stream);
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

/// What [`echo_messages`] echoes in all for clients `0..clients`, from
/// the generators alone.
pub fn echo_total(clients: u64, messages: usize, max: usize) -> u64 {
    let mut scratch = vec![0u8; max];
    (0..clients)
        .map(|id| {
            let mut rng = Rng::new(id);
            (0..messages)
                .map(|_| {
                    let len = message_len(&mut rng, max);
                    rng.fill(&mut scratch[..len]);
                    len as u64
                })
                .sum::<u64>()
        })
        .sum()
}

/// Awaits the echo clients of [`echo_messages`] (`clients[id]` runs
/// client `id`) and checks that together they echoed what the generators
/// say they sent ([`echo_total`]); returns that total.
pub async fn check_echo_clients(
    clients: Vec<gort::JoinHandle<io::Result<u64>>>,
    messages: usize,
    max: usize,
) -> u64 {
    let n = clients.len() as u64;
    let mut total = 0;
    for (id, c) in clients.into_iter().enumerate() {
        total += c
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("client {id}: {e}"));
    }
    assert_eq!(total, echo_total(n, messages, max), "bytes echoed");
    total
}

/// The length of the half-close test's reply.
pub const REPLY: usize = 1 << 20;

/// The server of the half-close tests: reads the request from `rd` to
/// EOF, then writes `REPLY` patterned bytes to `wr` and drops it (an owned
/// write half: writing is shut down, the client reads EOF). Returns the
/// request.
pub async fn read_to_eof_then_reply<R, W>(mut rd: R, mut wr: W) -> Vec<u8>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut request = Vec::new();
    rd.read_to_end(&mut request).await.unwrap();
    let reply: Vec<u8> = (0..REPLY).map(pattern).collect();
    wr.write_all(&reply).await.unwrap();
    drop(wr);
    request
}

/// The client of the half-close tests: writes `b"request"` and shuts down
/// writing (`close`, or `shutdown` called on the stream), then the reply
/// must arrive in full, then EOF, and the server must have read the
/// request; writing again is `BrokenPipe`.
pub async fn request_then_read_full_reply<S>(
    mut c: S,
    shutdown: Option<fn(&S) -> io::Result<()>>,
    server: gort::JoinHandle<Vec<u8>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    c.write_all(b"request").await.unwrap();
    match shutdown {
        Some(shutdown) => shutdown(&c).unwrap(),
        None => c.close().await.unwrap(),
    }
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply.len(), REPLY, "reply length");
    check_pattern(&reply, 0);
    assert_eq!(server.await.unwrap(), b"request");
    let w = c.write(b"late").await;
    assert!(
        matches!(&w, Err(e) if e.kind() == io::ErrorKind::BrokenPipe),
        "a write after shutting down writing: {w:?}"
    );
}
