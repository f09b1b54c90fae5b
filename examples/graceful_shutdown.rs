//! A server that stops cleanly: a TCP service, an admin Unix socket and
//! SIGTERM (a daemon under systemd or Kubernetes).
//!
//! - Clients send `work <ms>` lines on TCP; each request takes that long
//!   and is answered `done <ms>`. A `WaitGroup` counts the requests in
//!   flight.
//! - The admin socket answers `status` with `in-flight N` and takes `stop`.
//! - SIGTERM or SIGINT (Ctrl-C), or `stop` on the admin socket, begins
//!   the shutdown: the listeners stop accepting (a `gort::context`
//!   cancels their loops), the requests in flight finish (at most 10 s),
//!   the admin socket's file is removed, and `serve` returns how many
//!   requests were served.
//!
//! ```text
//! cargo run --release --example graceful_shutdown
//! # in another terminal, with the address and path it prints:
//! printf 'work 2000\n' | nc 127.0.0.1 PORT & kill -TERM PID
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::context::Context;
use gort::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use gort::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use gort::signal::{self, Signal};
use gort::stream::StreamExt;
use gort::sync::WaitGroup;

/// How long the requests in flight may take to finish once the shutdown
/// began.
const DRAIN: Duration = Duration::from_secs(10);

/// What the server's tasks share.
struct Server {
    in_flight: WaitGroup,
    served: AtomicUsize,
}

/// Serves until a signal in `stop_signals` or an admin `stop`, then drains
/// and returns the number of requests served.
pub async fn serve(
    tcp: TcpListener,
    admin: UnixListener,
    admin_path: PathBuf,
    stop_signals: gort::chan::Receiver<Signal>,
) -> io::Result<usize> {
    let server = Arc::new(Server {
        in_flight: WaitGroup::new(),
        served: AtomicUsize::new(0),
    });
    let (ctx, stop) = Context::background().with_cancel();
    let stop = Arc::new(stop);

    let tcp_loop = gort::spawn(accept_tcp(tcp, ctx.clone(), server.clone()));
    let admin_loop = gort::spawn(accept_admin(
        admin,
        ctx.clone(),
        server.clone(),
        stop.clone(),
    ));

    gort::select! {
        sig = stop_signals.recv() => eprintln!("graceful_shutdown: {} received", sig.expect("signals")),
        _ = ctx.done() => eprintln!("graceful_shutdown: stop requested on the admin socket"),
    }
    stop.cancel();
    // No new connections from here on: both accept loops end.
    let _ = tcp_loop.await;
    let _ = admin_loop.await;
    let drained = gort::time::timeout(DRAIN, server.in_flight.wait()).await;
    std::fs::remove_file(&admin_path)?;
    if drained.is_err() {
        eprintln!("graceful_shutdown: requests still running after {DRAIN:?}; stopping anyway");
    }
    Ok(server.served.load(Ordering::SeqCst))
}

/// Accepts TCP clients until `ctx` is cancelled.
async fn accept_tcp(tcp: TcpListener, ctx: Context, server: Arc<Server>) {
    loop {
        gort::select! {
            _ = ctx.done() => return,
            conn = tcp.accept() => match conn {
                Ok((stream, _)) => {
                    gort::spawn(handle_client(stream, server.clone()));
                }
                Err(e) => eprintln!("graceful_shutdown: accept: {e}"),
            },
        }
    }
}

/// One client: `work <ms>` lines, each answered when its work is done. A
/// request counts as in flight from its line to its answer.
async fn handle_client(stream: TcpStream, server: Arc<Server>) -> io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    while let Some(line) = lines.next().await {
        let line = line?;
        let Some(ms) = line
            .strip_prefix("work ")
            .and_then(|v| v.parse::<u64>().ok())
        else {
            wr.write_all(b"error: expected `work <ms>`\n").await?;
            continue;
        };
        server.in_flight.add(1);
        gort::time::sleep(Duration::from_millis(ms)).await;
        let answered = wr.write_all(format!("done {ms}\n").as_bytes()).await;
        server.served.fetch_add(1, Ordering::SeqCst);
        server.in_flight.done();
        answered?;
    }
    Ok(())
}

/// Accepts admin connections until `ctx` is cancelled.
async fn accept_admin(
    admin: UnixListener,
    ctx: Context,
    server: Arc<Server>,
    stop: Arc<gort::context::CancelFunc>,
) {
    loop {
        gort::select! {
            _ = ctx.done() => return,
            conn = admin.accept() => match conn {
                Ok((stream, _)) => {
                    gort::spawn(handle_admin(stream, server.clone(), stop.clone()));
                }
                Err(e) => eprintln!("graceful_shutdown: admin accept: {e}"),
            },
        }
    }
}

/// One admin session: `status` or `stop`.
async fn handle_admin(
    stream: UnixStream,
    server: Arc<Server>,
    stop: Arc<gort::context::CancelFunc>,
) -> io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    while let Some(line) = lines.next().await {
        match line?.as_str() {
            "status" => {
                let n = server.in_flight.count();
                wr.write_all(format!("in-flight {n}\n").as_bytes()).await?;
            }
            "stop" => {
                wr.write_all(b"stopping\n").await?;
                stop.cancel();
            }
            other => {
                wr.write_all(format!("unknown command {other:?}\n").as_bytes())
                    .await?
            }
        }
    }
    Ok(())
}

/// Binds the admin socket at `path`.
pub fn bind_admin(path: &Path) -> io::Result<UnixListener> {
    UnixListener::bind(path)
}

#[allow(dead_code)] // the test includes this file as a module and calls `serve`
#[gort::main]
async fn main() -> io::Result<()> {
    let stop_signals = signal::notify(&[Signal::Terminate, Signal::Interrupt])?;
    let tcp = TcpListener::bind("127.0.0.1:0").await?;
    let admin_path = std::env::temp_dir().join(format!("gort-admin-{}.sock", std::process::id()));
    let admin = bind_admin(&admin_path)?;
    println!(
        "pid {}: serving on {}, admin socket {}",
        std::process::id(),
        tcp.local_addr()?,
        admin_path.display()
    );
    let served = serve(tcp, admin, admin_path, stop_signals).await?;
    println!("shut down cleanly after {served} requests");
    Ok(())
}
