//! `gort::net`'s Unix domain sockets on a 2-worker gort runtime, every
//! peer a gort task:
//!
//! - echo: 16 clients on one listener, each sending 40 messages of mixed
//!   sizes (1 byte to 1 MiB, log-uniform) and reading the echo
//!   concurrently (`&UnixStream` for both directions), every byte
//!   compared; then a half-close that must end in EOF;
//! - half-close: the client shuts down writing (`close`, or
//!   `shutdown(Shutdown::Write)`), the server reads to EOF and still sends
//!   a 1 MiB reply through its write half, which the client reads fully;
//!   writing afterwards is `BrokenPipe`;
//! - `pair()`: a round trip, and the halves of `into_split` in two tasks
//!   (8 MiB through an echo and back, every byte checked; dropping the
//!   write half ends the stream);
//! - 300 connects at once, all accepted;
//! - connect errors: no file at the path is `NotFound`, a socket file
//!   nobody listens on is `ConnectionRefused`;
//! - a socket file left behind (a listener dropped, the file not
//!   removed): binding it again is `AddrInUse`, the message names the
//!   path and says to remove the file, and the OS error is the source;
//!   gort does not remove the file;
//! - datagrams: `send_to`/`recv_from` between two bound sockets (the
//!   sender's path reported, every byte checked), an unbound sender
//!   (unnamed address), `connect` + `send`/`recv`, `pair()`, and two tasks
//!   parked in `recv` on one shared socket;
//! - `shutdown` of a datagram socket: `BrokenPipe` for sends, a `recv`
//!   that waits after shutting down reading;
//! - `peer_cred`: this process's pid, and the uid and gid that own the
//!   socket file it bound.
//!
//! Every body runs under the hang watchdog of `channel/tests/support`.
#![cfg(unix)]

use std::io::{self, ErrorKind};
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use gort::net::{UnixDatagram, UnixListener, UnixStream};

mod reactor_common;
use reactor_common::streams::{
    check_echo_clients, check_pattern, echo_messages, pattern, read_to_eof_then_reply,
    request_then_read_full_reply,
};
use reactor_common::{datagram_len, on_gort, Rng};

/// A socket path under the temp dir, unique to this process and `name`;
/// the file is removed when the guard is dropped (and any left by an
/// earlier run of the same process id at the start).
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        let path =
            std::env::temp_dir().join(format!("gort-test-{name}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Echoes everything read back to the peer until it shuts down writing,
/// through the owned halves; closing the write half then ends the peer's
/// stream. Returns the bytes echoed.
async fn echo(stream: UnixStream) -> io::Result<u64> {
    let (mut rd, mut wr) = stream.into_split();
    let n = futures::io::copy(&mut rd, &mut wr).await?;
    wr.close().await?;
    Ok(n)
}

/// Accepts connections forever, each echoed by its own task.
async fn serve(listener: UnixListener) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        gort::spawn(echo(stream));
    }
}

const CLIENTS: u64 = 16;
const MESSAGES: usize = 40;
const MAX_MESSAGE: usize = 1 << 20;

/// One client: `MESSAGES` echoes, each checked byte for byte, then the
/// half-close; returns the bytes echoed.
async fn echo_client(path: PathBuf, id: u64) -> io::Result<u64> {
    let stream = UnixStream::connect(&path).await?;
    assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    echo_messages(&stream, id, MESSAGES, MAX_MESSAGE).await
}

#[test]
fn clients_echo_mixed_messages_up_to_one_mib() {
    on_gort("unix_echo", || async {
        let tmp = TempPath::new("echo");
        let listener = UnixListener::bind(tmp.path()).unwrap();
        let server = gort::spawn(serve(listener));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| gort::spawn(echo_client(tmp.path().to_path_buf(), id)))
            .collect();
        let total = check_echo_clients(clients, MESSAGES, MAX_MESSAGE).await;
        eprintln!("echoed {} MiB", total >> 20);
        server.abort();
    });
}

/// The server side of the half-close test: the first connection's
/// halves (`streams::read_to_eof_then_reply`).
async fn accept_then_reply(listener: UnixListener) -> Vec<u8> {
    let s = listener.incoming().next().await.unwrap().unwrap();
    let (rd, wr) = s.into_split();
    read_to_eof_then_reply(rd, wr).await
}

#[test]
fn half_close_the_server_reads_eof_and_still_replies() {
    on_gort("unix_half_close", || async {
        // Writing shut down by `AsyncWriteExt::close`, then by `shutdown`.
        let by_shutdown: fn(&UnixStream) -> io::Result<()> = |c| c.shutdown(Shutdown::Write);
        for shutdown in [None, Some(by_shutdown)] {
            let tmp = TempPath::new("half-close");
            let listener = UnixListener::bind(tmp.path()).unwrap();
            let server = gort::spawn(accept_then_reply(listener));
            let c = UnixStream::connect(tmp.path()).await.unwrap();
            request_then_read_full_reply(c, shutdown, server).await;
        }
    });
}

#[test]
fn a_pair_round_trips_and_its_halves_work_in_two_tasks() {
    const TOTAL: usize = 8 << 20;
    on_gort("unix_pair_split", || async {
        // A round trip on a pair, both ends unnamed.
        let (mut a, mut b) = UnixStream::pair().unwrap();
        assert_eq!(a.local_addr().unwrap().as_pathname(), None);
        assert_eq!(b.peer_addr().unwrap().as_pathname(), None);
        a.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        b.write_all(b"pong").await.unwrap();
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");

        // The halves of `a` in two tasks, `b` an echo: `TOTAL` patterned
        // bytes out and back; dropping the write half ends it all.
        let echoer = gort::spawn(echo(b));
        let (mut rd, mut wr) = a.into_split();
        let writer = gort::spawn(async move {
            let mut chunk = vec![0u8; 64 * 1024];
            let mut sent = 0;
            while sent < TOTAL {
                let len = chunk.len().min(TOTAL - sent);
                for (j, b) in chunk[..len].iter_mut().enumerate() {
                    *b = pattern(sent + j);
                }
                wr.write_all(&chunk[..len]).await.unwrap();
                sent += len;
            }
            drop(wr);
        });
        let reader = gort::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            let mut got = 0;
            loop {
                let n = rd.read(&mut buf).await.unwrap();
                if n == 0 {
                    return got;
                }
                check_pattern(&buf[..n], got);
                got += n;
            }
        });
        writer.await.unwrap();
        assert_eq!(reader.await.unwrap(), TOTAL, "bytes back");
        assert_eq!(echoer.await.unwrap().unwrap(), TOTAL as u64);
    });
}

/// 300 clients connect at once; each sends its index and reads the
/// answer: every one is accepted and answered.
#[test]
fn three_hundred_simultaneous_connects_are_all_accepted() {
    const N: u16 = 300;
    on_gort("unix_accept_300", || async {
        let tmp = TempPath::new("accept-300");
        let listener = UnixListener::bind(tmp.path()).unwrap();
        let clients: Vec<_> = (0..N)
            .map(|i| {
                let path = tmp.path().to_path_buf();
                gort::spawn(async move {
                    let mut s = UnixStream::connect(&path).await.unwrap();
                    s.write_all(&i.to_le_bytes()).await.unwrap();
                    let mut answer = [0u8; 2];
                    s.read_exact(&mut answer).await.unwrap();
                    assert_eq!(!u16::from_le_bytes(answer), i, "client {i}");
                })
            })
            .collect();
        let mut seen = vec![false; N as usize];
        for _ in 0..N {
            let (mut s, peer) = listener.accept().await.unwrap();
            assert_eq!(peer.as_pathname(), None, "clients are unnamed");
            let mut index = [0u8; 2];
            s.read_exact(&mut index).await.unwrap();
            s.write_all(&[!index[0], !index[1]]).await.unwrap();
            let i = u16::from_le_bytes(index) as usize;
            assert!(!seen[i], "client {i} accepted twice");
            seen[i] = true;
        }
        for c in clients {
            c.await.unwrap();
        }
    });
}

#[test]
fn connecting_where_nobody_listens_is_an_error() {
    on_gort("unix_connect_errors", || async {
        let tmp = TempPath::new("connect-errors");
        let err = UnixStream::connect(tmp.path()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "no file: {err}");
        // A socket file whose listener is gone.
        drop(UnixListener::bind(tmp.path()).unwrap());
        let err = UnixStream::connect(tmp.path()).await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::ConnectionRefused,
            "stale file: {err}"
        );
    });
}

/// The listener is dropped without removing its socket file (as when its
/// process exits): binding the path again is `AddrInUse`, the message
/// names the path and says what to do, and the file is still there.
#[test]
fn binding_over_a_socket_file_left_behind_names_the_path() {
    on_gort("unix_stale_socket_file", || async {
        let tmp = TempPath::new("stale");
        drop(UnixListener::bind(tmp.path()).unwrap());
        assert!(tmp.path().exists(), "dropping a listener keeps its file");
        let err = UnixListener::bind(tmp.path()).expect_err("a file is at the path");
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        let msg = err.to_string();
        let shown = tmp.path().display().to_string();
        assert!(
            msg.contains(&format!("cannot bind {shown}: ")),
            "no path in: {msg}"
        );
        assert!(msg.contains("remove it first"), "no advice in: {msg}");
        let source = std::error::Error::source(err.get_ref().unwrap()).unwrap();
        let os = source.downcast_ref::<io::Error>().unwrap();
        assert_eq!(os.kind(), ErrorKind::AddrInUse);
        assert!(os.raw_os_error().is_some(), "{os:?}");
        assert!(tmp.path().exists(), "bind must not remove the file");
        // A datagram socket is refused the same way.
        let err = UnixDatagram::bind(tmp.path()).expect_err("a file is at the path");
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        assert!(err.to_string().contains(&shown), "{err}");
        // Removed, the path binds again.
        std::fs::remove_file(tmp.path()).unwrap();
        let listener = UnixListener::bind(tmp.path()).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(tmp.path())
        );
    });
}

#[test]
fn datagrams_between_two_bound_sockets_report_the_sender() {
    on_gort("unix_dgram_send_to", || async {
        let (pa, pb) = (TempPath::new("dgram-a"), TempPath::new("dgram-b"));
        let a = UnixDatagram::bind(pa.path()).unwrap();
        let b = UnixDatagram::bind(pb.path()).unwrap();
        assert_eq!(a.local_addr().unwrap().as_pathname(), Some(pa.path()));
        let mut rng = Rng::new(11);
        let mut out = vec![0u8; 60_000];
        let mut buf = vec![0u8; 65_536];
        for i in 0..200 {
            let len = datagram_len(i, &mut rng);
            rng.fill(&mut out[..len]);
            assert_eq!(a.send_to(&out[..len], pb.path()).await.unwrap(), len);
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(n, len, "datagram {i}");
            assert_eq!(from.as_pathname(), Some(pa.path()), "datagram {i}");
            assert!(buf[..n] == out[..len], "datagram {i}: bytes differ");
            // And back, to the address it came from.
            let to = from.as_pathname().unwrap();
            b.send_to(&buf[..n], to).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from.as_pathname()), (len, Some(pb.path())), "reply {i}");
            assert!(buf[..n] == out[..len], "reply {i}: bytes differ");
        }
        // An unbound sender has no address to report.
        let anon = UnixDatagram::unbound().unwrap();
        anon.send_to(b"anonymous", pb.path()).await.unwrap();
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"anonymous");
        assert!(from.is_unnamed(), "{from:?}");
    });
}

#[test]
fn connected_datagram_sockets_send_and_recv() {
    on_gort("unix_dgram_connect", || async {
        let (pa, pb) = (TempPath::new("dconn-a"), TempPath::new("dconn-b"));
        let a = UnixDatagram::bind(pa.path()).unwrap();
        let b = UnixDatagram::bind(pb.path()).unwrap();
        let stranger = UnixDatagram::unbound().unwrap();
        a.connect(pb.path()).unwrap();
        b.connect(pa.path()).unwrap();
        assert_eq!(a.peer_addr().unwrap().as_pathname(), Some(pb.path()));
        // A connected socket takes only its peer's datagrams: the
        // stranger's is refused.
        let err = stranger.send_to(b"noise", pa.path()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        // 100 round trips of 1 byte to 60,000, each datagram whole.
        let mut rng = Rng::new(5);
        let mut out = vec![0u8; 60_000];
        let mut buf = vec![0u8; 65_536];
        for i in 0..100 {
            let len = 1 + rng.below(60_000) as usize;
            rng.fill(&mut out[..len]);
            assert_eq!(b.send(&out[..len]).await.unwrap(), len);
            let n = a.recv(&mut buf).await.unwrap();
            assert!(buf[..n] == out[..len], "datagram {i}: {n} bytes of {len}");
            a.send(&buf[..n]).await.unwrap();
            buf[..n].fill(0);
            let n = b.recv(&mut buf).await.unwrap();
            assert!(buf[..n] == out[..len], "reply {i}: {n} bytes of {len}");
        }
    });
}

#[test]
fn a_datagram_pair_keeps_message_bounds_and_a_shared_socket_serves_two_tasks() {
    on_gort("unix_dgram_pair", || async {
        let (a, b) = UnixDatagram::pair().unwrap();
        for len in [1usize, 7, 4096, 60_000] {
            let msg: Vec<u8> = (0..len).map(pattern).collect();
            a.send(&msg).await.unwrap();
        }
        let mut buf = vec![0u8; 65_536];
        for len in [1usize, 7, 4096, 60_000] {
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(n, len);
            check_pattern(&buf[..n], 0);
        }
        // Two tasks receive on one socket (each waits in its own place):
        // 1,000 datagrams, each received exactly once.
        const N: u32 = 1000;
        let b = Arc::new(b);
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                gort::spawn(async move {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4];
                    loop {
                        let n = b.recv(&mut buf).await.unwrap();
                        assert_eq!(n, 4);
                        let v = u32::from_le_bytes(buf);
                        if v == u32::MAX {
                            return got;
                        }
                        got.push(v);
                    }
                })
            })
            .collect();
        for i in 0..N {
            a.send(&i.to_le_bytes()).await.unwrap();
        }
        // One end marker per receiver.
        a.send(&u32::MAX.to_le_bytes()).await.unwrap();
        a.send(&u32::MAX.to_le_bytes()).await.unwrap();
        let mut all = Vec::new();
        for r in receivers {
            all.extend(r.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (0..N).collect::<Vec<_>>());
    });
}

/// Shutting down a datagram socket: a send after `Shutdown::Write`, and a
/// peer's send to a socket that shut down reading, are `BrokenPipe`; a
/// `recv` after `Shutdown::Read` waits (no datagram can come, and Linux
/// reports no end for datagram sockets): a timeout around it elapses.
#[test]
fn datagram_shutdown() {
    on_gort("unix_dgram_shutdown", || async {
        let (a, b) = UnixDatagram::pair().unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let err = a.send(b"x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
        b.send(b"to a").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(a.recv(&mut buf).await.unwrap(), 4, "reading still works");
        a.shutdown(Shutdown::Read).unwrap();
        let err = b.send(b"x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
        let r = gort::time::timeout(Duration::from_millis(50), a.recv(&mut buf)).await;
        assert!(r.is_err(), "recv after Shutdown::Read: {r:?}");
    });
}

/// The peer's credentials: this process's pid on both ends, and the uid
/// and gid that own the socket file this process bound.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn peer_cred_is_this_process() {
    use std::os::unix::fs::MetadataExt;
    on_gort("unix_peer_cred", || async {
        let tmp = TempPath::new("peer-cred");
        let listener = UnixListener::bind(tmp.path()).unwrap();
        let meta = std::fs::metadata(tmp.path()).unwrap();
        let (client, accepted) = futures::join!(UnixStream::connect(tmp.path()), listener.accept());
        let (client, (server, _)) = (client.unwrap(), accepted.unwrap());
        for cred in [client.peer_cred().unwrap(), server.peer_cred().unwrap()] {
            assert_eq!(cred.pid(), Some(std::process::id() as i32));
            assert_eq!(cred.uid(), meta.uid());
            assert_eq!(cred.gid(), meta.gid());
        }
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(
            a.peer_cred().unwrap().pid(),
            Some(std::process::id() as i32)
        );
    });
}

/// With the `tokio-io` feature, tokio's io traits on the stream and its
/// halves (`cargo test --features tokio-io --test net_unix`; the tests'
/// tokio has no `io-util`, so the traits are polled directly).
#[cfg(feature = "tokio-io")]
#[test]
fn tokio_io_traits_on_the_stream_and_halves() {
    use std::future::poll_fn;
    use std::pin::Pin;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, mut buf: &[u8]) {
        while !buf.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, buf))
                .await
                .unwrap();
            buf = &buf[n..];
        }
    }

    async fn read_to_end<R: AsyncRead + Unpin>(r: &mut R) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            let mut storage = [0u8; 64];
            let mut buf = ReadBuf::new(&mut storage);
            poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, &mut buf))
                .await
                .unwrap();
            if buf.filled().is_empty() {
                return got;
            }
            got.extend_from_slice(buf.filled());
        }
    }

    on_gort("unix_tokio_io", || async {
        let (mut a, b) = UnixStream::pair().unwrap();
        let (mut rd, mut wr) = b.into_split();
        write_all(&mut a, b"tokio").await;
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_to_end(&mut rd).await, b"tokio");
        write_all(&mut wr, b"back").await;
        poll_fn(|cx| Pin::new(&mut wr).poll_shutdown(cx))
            .await
            .unwrap();
        assert_eq!(read_to_end(&mut a).await, b"back", "then EOF");
    });
}
