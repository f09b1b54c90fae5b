//! The hyper example (`examples/http_server.rs`, hyper 1.x on gort with the
//! `tokio-io` feature) answers `GET /` from a plain `std::net::TcpStream`
//! client with a 200 and the body, also over a kept-alive connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[path = "../examples/http_server.rs"]
mod http_server;

/// Sends `requests` on one connection, reads until the server closes it.
fn exchange(addr: std::net::SocketAddr, requests: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    // A hang guard, not a speed assertion.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(requests.as_bytes()).unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn hyper_on_gort_answers_get() {
    let rt = gort::runtime::Builder::new()
        .worker_threads(2)
        .build()
        .unwrap();
    let listener = rt
        .block_on(gort::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(http_server::serve(listener));

    let reply = exchange(
        addr,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with(http_server::HELLO), "{reply}");
    assert!(
        reply.contains(&format!("content-length: {}", http_server::HELLO.len())),
        "{reply}"
    );

    // Two requests on one kept-alive connection, then a 404.
    let reply = exchange(
        addr,
        "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n\
         GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(reply.matches(http_server::HELLO).count(), 1, "{reply}");
    assert_eq!(reply.matches("HTTP/1.1 200 OK").count(), 1, "{reply}");
    assert_eq!(
        reply.matches("HTTP/1.1 404 Not Found").count(),
        1,
        "{reply}"
    );
}
