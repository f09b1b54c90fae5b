//! `gort-bench-net`: the child processes of the benchmarks (TCP echo, and
//! memory per parked unit, which must not share a process with anything).
//!
//! ```text
//! gort-bench-net park <gort|tokio|smol|threads> <n>
//!     parks n units (tasks on a 2-worker runtime, or OS threads) on one
//!     gort channel receive each, and prints the resident memory they added:
//!     `rss_before=<bytes> rss_after=<bytes> per_unit=<bytes> future_bytes=<bytes>`
//!     (the last: the size of one task's future before its first poll)
//! gort-bench-net server <gort|tokio|smol> <workers> [unix:<path>]
//!     binds 127.0.0.1:0 and prints `port=<p>` (or, with `unix:<path>`,
//!     binds a Unix socket at <path> and prints `path=<path>`), echoes
//!     every connection until stdin closes (the harness holds it open; the
//!     harness also removes the socket file)
//! gort-bench-net client <addr | unix:<path>> <conns> <millis> [<msgs per second>]
//!     <conns> connections, 64-byte messages; without a rate each connection
//!     sends its next message when the last one came back (throughput);
//!     with a rate, messages are due at fixed times spread over the
//!     connections (a connection still waiting for its last echo sends the
//!     next one when it comes back); latency counts from the moment a
//!     message is written (epoll's 1 ms timeout granularity makes the
//!     client itself late by up to 1 ms, which must not count). Prints
//!     `msgs=<n> secs=<s> p50_us=<x> p99_us=<y>`, and on stderr
//!     `all_msgs=<n>`: every echo, the warm-up's included.
//! gort-bench-net c10k <addr> <conns> <active> <millis> <server pid>
//!     opens <conns> TCP connections (in batches of 100, each echoing one
//!     64-byte message before the next batch), reads the server's resident
//!     size before the first and 100 ms after the last (from
//!     /proc/<server pid>/status), then runs the client's throughput loop
//!     on the first <active> for <millis> while the others stay open and
//!     idle. Prints the client's line, then
//!     `rss_before=<bytes> rss_after=<bytes> per_unit=<bytes per connection>`
//! gort-bench-net scale <spawn|timers|sched> ...
//!     the scale suite's children: see gort_bench::workload::scale::child
//! ```
//!
//! The client is one thread on `mio`, outside the runtimes under test;
//! every server runs the same read-then-write-all loop with a 4 KiB buffer
//! (gort and smol through futures-io, tokio through its own traits; smol
//! is async-executor on `workers` threads with async-io's `Async` sockets,
//! which async-net's types wrap). TCP connections set `TCP_NODELAY` on
//! both ends.

use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const MSG: usize = 64;
/// Messages completed during the first part of a run are not counted.
const WARM_UP: Duration = Duration::from_millis(100);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("server") if args.len() == 3 || args.len() == 4 => server(
            &args[1],
            parse(&args[2], "workers"),
            args.get(3).map(|a| unix_path(a).unwrap_or_else(|| die(&format!("bad socket {a:?}")))),
        ),
        Some("park") if args.len() == 3 => park(&args[1], parse(&args[2], "n")),
        Some("scale") => gort_bench::workload::scale::child(&args[1..])
            .map(|line| println!("{line}"))
            .map_err(io::Error::other),
        Some("c10k") if args.len() == 6 => c10k(
            &args[1],
            parse(&args[2], "conns"),
            parse(&args[3], "active"),
            Duration::from_millis(parse(&args[4], "millis") as u64),
            parse(&args[5], "server pid"),
        ),
        Some("client") if args.len() == 4 || args.len() == 5 => client(
            &args[1],
            parse(&args[2], "conns"),
            Duration::from_millis(parse(&args[3], "millis") as u64),
            args.get(4).map(|r| parse(r, "rate") as f64),
        ),
        _ => die("usage: gort-bench-net server <gort|tokio|smol> <workers> [unix:<path>] | client <addr|unix:<path>> <conns> <millis> [<rate>] | park <gort|tokio|smol|threads> <n> | c10k <addr> <conns> <active> <millis> <server pid> | scale ..."),
    };
    if let Err(e) = res {
        die(&e.to_string());
    }
}

fn parse(s: &str, what: &str) -> usize {
    s.parse()
        .unwrap_or_else(|_| die(&format!("{what} must be a positive integer, got {s:?}")))
}

fn die(msg: &str) -> ! {
    eprintln!("gort-bench-net: {msg}");
    std::process::exit(2)
}

/// Exits when the harness closes our stdin (or dies).
fn exit_on_stdin_eof() {
    std::thread::spawn(|| {
        let mut line = String::new();
        while io::stdin().lock().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
        std::process::exit(0);
    });
}

/// The path of a `unix:<path>` argument.
fn unix_path(arg: &str) -> Option<&str> {
    arg.strip_prefix("unix:").filter(|p| !p.is_empty())
}

/// Tells the harness the server listens: `port=<p>` or `path=<path>`.
fn announce(what: &str, value: impl std::fmt::Display) {
    println!("{what}={value}");
    io::stdout().flush().expect("stdout");
}

fn server(kind: &str, workers: usize, unix: Option<&str>) -> io::Result<()> {
    exit_on_stdin_eof();
    match kind {
        "gort" => {
            let rt = gort::runtime::Builder::new()
                .worker_threads(workers)
                .build()?;
            rt.block_on(async {
                if let Some(path) = unix {
                    let listener = gort::net::UnixListener::bind(path)?;
                    announce("path", path);
                    loop {
                        let (stream, _) = listener.accept().await?;
                        gort::spawn(echo_futures_io(stream));
                    }
                }
                let listener = gort::net::TcpListener::bind("127.0.0.1:0").await?;
                announce("port", listener.local_addr()?.port());
                loop {
                    let (stream, _) = listener.accept().await?;
                    gort::spawn(async move {
                        stream.set_nodelay(true)?;
                        echo_futures_io(stream).await
                    });
                }
            })
        }
        "smol" => {
            use gort_bench::contender::{Contender, Smol};
            let rt = Smol::build(workers)?;
            rt.block_on(async {
                if let Some(path) = unix {
                    let listener = async_io::Async::<std::os::unix::net::UnixListener>::bind(path)?;
                    announce("path", path);
                    loop {
                        let (stream, _) = listener.accept().await?;
                        drop(Smol::spawn(echo_futures_io(stream)));
                    }
                }
                let listener = async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0))?;
                announce("port", listener.get_ref().local_addr()?.port());
                loop {
                    let (stream, _) = listener.accept().await?;
                    drop(Smol::spawn(async move {
                        stream.get_ref().set_nodelay(true)?;
                        echo_futures_io(stream).await
                    }));
                }
            })
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()?;
            rt.block_on(async {
                if let Some(path) = unix {
                    let listener = tokio::net::UnixListener::bind(path)?;
                    announce("path", path);
                    loop {
                        let (stream, _) = listener.accept().await?;
                        tokio::spawn(echo_tokio(stream));
                    }
                }
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                announce("port", listener.local_addr()?.port());
                loop {
                    let (stream, _) = listener.accept().await?;
                    tokio::spawn(async move {
                        stream.set_nodelay(true)?;
                        echo_tokio(stream).await
                    });
                }
            })
        }
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown server {other:?} (gort, tokio or smol)"),
        )),
    }
}

/// The echo loop of every server, written once so that all run the same
/// one: read up to 4 KiB, write it all back, until EOF; `read` and
/// `write_all` are those of the io extension traits in scope.
macro_rules! echo_loop {
    ($stream:ident) => {{
        let mut buf = [0u8; 4096];
        loop {
            let n = $stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            $stream.write_all(&buf[..n]).await?;
        }
    }};
}

/// The echo loop of the tokio servers.
async fn echo_tokio<S>(mut stream: S) -> io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    echo_loop!(stream)
}

/// The echo loop of the gort and smol servers.
async fn echo_futures_io<S>(mut stream: S) -> io::Result<()>
where
    S: futures::AsyncRead + futures::AsyncWrite + Unpin,
{
    use futures::{AsyncReadExt, AsyncWriteExt};
    echo_loop!(stream)
}

struct Conn<S> {
    stream: S,
    /// Bytes of the current message written (MSG: all; 0 with none due).
    written: usize,
    /// Bytes of the echo read so far.
    read: usize,
    /// When the current message was written (latency counts from here).
    due: Option<Instant>,
    /// Rate mode: when the next message is due.
    next_due: Instant,
}

/// `client`: see the module docs. `target` is `<ip>:<port>` or
/// `unix:<path>`.
fn client(target: &str, conns: usize, run: Duration, rate: Option<f64>) -> io::Result<()> {
    let line = if let Some(path) = unix_path(target) {
        run_client(conns, run, rate, || {
            let std = std::os::unix::net::UnixStream::connect(path)?;
            std.set_nonblocking(true)?;
            Ok(mio::net::UnixStream::from_std(std))
        })?
    } else {
        let addr = socket_addr(target);
        run_client(conns, run, rate, || {
            let std = tcp_connect(addr)?;
            std.set_nonblocking(true)?;
            Ok(mio::net::TcpStream::from_std(std))
        })?
    };
    println!("{line}");
    Ok(())
}

fn socket_addr(target: &str) -> SocketAddr {
    target
        .parse()
        .unwrap_or_else(|e| die(&format!("bad address {target:?}: {e}")))
}

/// A blocking TCP connection to `addr` with `TCP_NODELAY`.
fn tcp_connect(addr: SocketAddr) -> io::Result<std::net::TcpStream> {
    let std = std::net::TcpStream::connect(addr)?;
    std.set_nodelay(true)?;
    Ok(std)
}

/// `c10k`: see the module docs.
fn c10k(target: &str, conns: usize, active: usize, run: Duration, pid: usize) -> io::Result<()> {
    const BATCH: usize = 100;
    if active > conns {
        die("active must be at most conns");
    }
    let addr = socket_addr(target);
    let status = format!("/proc/{pid}/status");
    let before = rss_of(&status)?;
    let mut streams = Vec::with_capacity(conns);
    let payload = [0x5au8; MSG];
    let mut echo = [0u8; MSG];
    while streams.len() < conns {
        let from = streams.len();
        for _ in from..conns.min(from + BATCH) {
            let mut s = tcp_connect(addr)?;
            s.write_all(&payload)?;
            streams.push(s);
        }
        for s in &mut streams[from..] {
            s.read_exact(&mut echo)?;
            if echo != payload {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the echo differs from what was sent",
                ));
            }
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    let after = rss_of(&status)?;
    let idle = streams.split_off(active);
    let mut ready = streams.into_iter();
    let line = run_client(active, run, None, || {
        let std = ready.next().expect("one stream per connection");
        std.set_nonblocking(true)?;
        Ok(mio::net::TcpStream::from_std(std))
    })?;
    drop(idle);
    println!("{line}");
    println!(
        "rss_before={before} rss_after={after} per_unit={:.1}",
        after.saturating_sub(before) as f64 / conns as f64
    );
    Ok(())
}

/// The client's loop over `conns` connections that `connect` opens
/// (connected and non-blocking); returns the result line.
fn run_client<S>(
    conns: usize,
    run: Duration,
    rate: Option<f64>,
    mut connect: impl FnMut() -> io::Result<S>,
) -> io::Result<String>
where
    S: Read + Write + mio::event::Source,
{
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let start = Instant::now();
    let interval = rate.map(|r| Duration::from_secs_f64(conns as f64 / r));
    let mut cs = Vec::with_capacity(conns);
    for i in 0..conns {
        let mut stream = connect()?;
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        // Spread the due times of the connections over one interval.
        let offset = interval.map_or(Duration::ZERO, |iv| iv.mul_f64(i as f64 / conns as f64));
        cs.push(Conn {
            stream,
            written: 0,
            read: 0,
            due: None,
            next_due: start + offset,
        });
    }
    let payload = [0x5au8; MSG];
    let mut buf = [0u8; 4096];
    let measure_from = start + WARM_UP;
    let end = measure_from + run;
    let mut latencies_ns: Vec<u64> = Vec::with_capacity(1 << 20);
    let mut count = 0u64;
    // Every echo that came back, the warm-up's too (for a count per message
    // of what the server did over the whole run).
    let mut all = 0u64;

    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Start the messages that are due.
        for c in cs.iter_mut() {
            if c.due.is_none() {
                let due = match interval {
                    None => Some(now),
                    Some(iv) if c.next_due <= now => {
                        let d = c.next_due;
                        c.next_due += iv;
                        Some(d)
                    }
                    Some(_) => None,
                };
                if due.is_some() {
                    c.due = Some(Instant::now());
                    c.written = 0;
                    c.read = 0;
                    write_some(c, &payload)?;
                }
            }
        }
        let timeout = match interval {
            None => end - now,
            Some(_) => cs
                .iter()
                .filter(|c| c.due.is_none())
                .map(|c| c.next_due.saturating_duration_since(now))
                .min()
                .unwrap_or(end - now)
                .min(end - now),
        };
        poll.poll(&mut events, Some(timeout))?;
        for ev in events.iter() {
            let c = &mut cs[ev.token().0];
            if ev.is_writable() && c.due.is_some() && c.written < MSG {
                write_some(c, &payload)?;
            }
            if ev.is_readable() || ev.is_read_closed() {
                loop {
                    match c.stream.read(&mut buf) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the server closed a connection",
                            ))
                        }
                        Ok(n) => {
                            if buf[..n].iter().any(|&b| b != 0x5a) {
                                return Err(io::Error::new(
                                    io::ErrorKind::InvalidData,
                                    "the echo differs from what was sent",
                                ));
                            }
                            c.read += n;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                if c.read > MSG {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "more bytes came back than were sent",
                    ));
                }
                if c.read == MSG {
                    all += 1;
                    let now = Instant::now();
                    if now >= measure_from && now < end {
                        count += 1;
                        let due = c.due.expect("a message was out");
                        latencies_ns.push(now.duration_since(due).as_nanos() as u64);
                    }
                    c.due = None;
                }
            }
        }
    }
    latencies_ns.sort_unstable();
    let pct = |q: f64| -> f64 {
        if latencies_ns.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies_ns.len() as f64 - 1.0) * q).round() as usize;
        latencies_ns[i] as f64 / 1e3
    };
    eprintln!("all_msgs={all}");
    Ok(format!(
        "msgs={count} secs={:.6} p50_us={:.1} p99_us={:.1}",
        run.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    ))
}

fn write_some<S: Write>(c: &mut Conn<S>, payload: &[u8; MSG]) -> io::Result<()> {
    while c.written < MSG {
        match c.stream.write(&payload[c.written..]) {
            Ok(n) => c.written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// This process's resident set size, from `/proc/self/status` (`VmRSS`).
fn rss_bytes() -> io::Result<u64> {
    rss_of("/proc/self/status")
}

/// A process's resident set size (`VmRSS`) from its `status` file.
fn rss_of(status: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(status)?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other("no VmRSS in the status file"))
}

/// Waits (polling) until `count` reaches `n`.
fn wait_for(count: &std::sync::atomic::AtomicUsize, n: usize) {
    while count.load(std::sync::atomic::Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Parks `n` tasks with `spawn_one` on a warmed-up runtime: the resident
/// size before, and once all are parked (after `settle`); then closes the
/// channel (dropping `tx`) and waits for every task to finish.
fn park_tasks(
    spawn_one: impl Fn(),
    n: usize,
    parked: &std::sync::atomic::AtomicUsize,
    done: &std::sync::atomic::AtomicUsize,
    tx: gort::chan::Sender<()>,
    settle: Duration,
) -> io::Result<(u64, u64)> {
    let before = rss_bytes()?;
    for _ in 0..n {
        spawn_one();
    }
    wait_for(parked, n);
    std::thread::sleep(settle);
    let after = rss_bytes()?;
    drop(tx);
    wait_for(done, n);
    Ok((before, after))
}

/// `park`: see the module docs. Each unit counts itself as parked just
/// before it awaits; the resident size is read once all have, after a
/// short settle, then the channel closes and every unit must finish.
fn park(kind: &str, n: usize) -> io::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let parked = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let settle = Duration::from_millis(100);
    let (tx, rx) = gort::chan::bounded::<()>(0);
    let unit = {
        let (parked, done, rx) = (parked.clone(), done.clone(), rx.clone());
        move || {
            let (parked, done, rx) = (parked.clone(), done.clone(), rx.clone());
            async move {
                parked.fetch_add(1, Ordering::Release);
                let _ = rx.recv().await;
                done.fetch_add(1, Ordering::Release);
            }
        }
    };
    let (before, after) = match kind {
        "gort" => {
            let rt = gort::runtime::Builder::new().worker_threads(2).build()?;
            rt.block_on(async {});
            park_tasks(|| drop(rt.spawn(unit())), n, &parked, &done, tx, settle)?
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async {});
            park_tasks(|| drop(rt.spawn(unit())), n, &parked, &done, tx, settle)?
        }
        "smol" => {
            use gort_bench::contender::{Contender, Smol};
            let rt = Smol::build(2)?;
            rt.block_on(async {});
            park_tasks(
                || drop(rt.spawn_remote(unit())),
                n,
                &parked,
                &done,
                tx,
                settle,
            )?
        }
        "threads" => {
            let before = rss_bytes()?;
            let mut threads = Vec::with_capacity(n);
            for _ in 0..n {
                let (parked, done, rx) = (parked.clone(), done.clone(), rx.clone());
                threads.push(std::thread::spawn(move || {
                    parked.fetch_add(1, Ordering::Release);
                    let _ = rx.recv_blocking();
                    done.fetch_add(1, Ordering::Release);
                }));
            }
            wait_for(&parked, n);
            std::thread::sleep(settle);
            let after = rss_bytes()?;
            drop(tx);
            for t in threads {
                t.join()
                    .map_err(|_| io::Error::other("a thread panicked"))?;
            }
            (before, after)
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown kind {other:?} (gort, tokio, smol or threads)"),
            ))
        }
    };
    if done.load(Ordering::Acquire) != n {
        return Err(io::Error::other("not every unit finished"));
    }
    println!(
        "rss_before={before} rss_after={after} per_unit={:.1} future_bytes={}",
        after.saturating_sub(before) as f64 / n as f64,
        std::mem::size_of_val(&unit()),
    );
    Ok(())
}
