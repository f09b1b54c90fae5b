//! `examples/graceful_shutdown.rs` under SIGTERM (alone in its test
//! binary: the signal is process-wide). Three clients each have a 300 ms
//! request in flight when the process sends itself SIGTERM: each still
//! gets its answer, a new connection after the shutdown began is refused,
//! `serve` reports three requests served, and the admin socket's file is
//! gone.

use std::process::Command;
use std::time::Duration;

use gort::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use gort::net::{TcpListener, TcpStream, UnixStream};
use gort::signal::{self, Signal};

#[path = "../examples/graceful_shutdown.rs"]
mod graceful_shutdown;

/// Sends a line and reads one back.
async fn ask(
    stream: &mut (impl gort::io::AsyncRead + gort::io::AsyncWrite + Unpin),
    line: &str,
) -> String {
    stream
        .write_all(format!("{line}\n").as_bytes())
        .await
        .unwrap();
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await.unwrap();
    reply.trim_end().to_string()
}

#[gort::test(worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish() {
    let stop_signals = signal::notify(&[Signal::Terminate]).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let admin_path =
        std::env::temp_dir().join(format!("gort-test-admin-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&admin_path);
    let admin = graceful_shutdown::bind_admin(&admin_path).unwrap();
    let server = gort::spawn(graceful_shutdown::serve(
        tcp,
        admin,
        admin_path.clone(),
        stop_signals,
    ));

    let clients: Vec<_> = (0..3)
        .map(|_| {
            gort::spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                ask(&mut s, "work 300").await
            })
        })
        .collect();
    // Wait until all three are in flight (the admin socket says so).
    let mut admin = UnixStream::connect(&admin_path).await.unwrap();
    loop {
        if ask(&mut admin, "status").await == "in-flight 3" {
            break;
        }
        gort::time::sleep(Duration::from_millis(5)).await;
    }
    drop(admin);
    let status = Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    for c in clients {
        assert_eq!(
            c.await.unwrap(),
            "done 300",
            "a request in flight was cut off"
        );
    }
    let served = server.await.unwrap().unwrap();
    assert_eq!(served, 3);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after the shutdown"
    );
    assert!(
        !admin_path.exists(),
        "the admin socket's file was left behind"
    );
}
