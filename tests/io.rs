//! `gort::io` and `gort::stream` over real gort TCP connections on
//! localhost (a 2-worker runtime), with no other I/O crate in use:
//!
//! - a line server (`BufReader::lines`, replies through a `BufWriter`)
//!   and a client whose halves (`gort::io::split`) run in two tasks: 500
//!   lines of 0 to 20,000 bytes (longer than the readers' buffers) come
//!   back numbered, in order, every byte checked, and the reply stream
//!   ends when the client closes its write half;
//! - an echo server built on `copy`: 1 MiB written by one task and read
//!   back with `read_exact` by another, every byte checked;
//! - `read_line` and `read_to_end` on a `BufReader` over a stream.
//!
//! Every body runs under the hang watchdog of `channel/tests/support`.

use std::net::SocketAddr;

use gort::io::{copy, split, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use gort::net::{TcpListener, TcpStream};
use gort::stream::StreamExt;

mod reactor_common;
use reactor_common::{on_gort, Rng};

/// Accepts connections, each served by `serve` in a task of its own.
async fn serve_each<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = gort::io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    gort::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            gort::spawn(serve(stream));
        }
    });
    addr
}

/// Line `i` of the line test: printable, its length from `rng`.
fn line(i: usize, rng: &mut Rng) -> String {
    let len = match i % 5 {
        0 => 0,
        1 => 20_000,
        _ => rng.below(3_000) as usize,
    };
    (0..len)
        .map(|k| char::from(b'a' + ((i + k) % 26) as u8))
        .collect()
}

#[test]
fn lines_through_a_buf_reader_and_buf_writer_come_back_in_order() {
    const LINES: usize = 500;
    on_gort("io_lines", || async {
        let addr = serve_each(|stream| async move {
            let (rd, wr) = stream.into_split();
            let mut wr = BufWriter::new(wr);
            let mut lines = BufReader::new(rd).lines();
            let mut n = 0;
            while let Some(line) = lines.next().await {
                wr.write_all(format!("{n} {}\n", line?).as_bytes()).await?;
                n += 1;
                if n % 7 == 0 {
                    wr.flush().await?;
                }
            }
            wr.close().await
        })
        .await;

        let (rd, mut wr) = split(TcpStream::connect(addr).await.unwrap());
        let writer = gort::spawn(async move {
            let mut rng = Rng::new(11);
            for i in 0..LINES {
                wr.write_all(line(i, &mut rng).as_bytes()).await?;
                wr.write_all(b"\n").await?;
            }
            wr.close().await
        });
        let mut rng = Rng::new(11);
        let mut replies = BufReader::new(rd).lines();
        for i in 0..LINES {
            let reply = replies
                .next()
                .await
                .unwrap_or_else(|| panic!("the replies ended at {i}"))
                .unwrap();
            assert!(
                reply == format!("{i} {}", line(i, &mut rng)),
                "reply {i} differs ({} bytes)",
                reply.len()
            );
        }
        writer.await.unwrap().unwrap();
        assert!(replies.next().await.is_none(), "a reply after the last");
    });
}

#[test]
fn an_echo_server_built_on_copy_returns_every_byte() {
    const LEN: usize = 1 << 20;
    on_gort("io_copy", || async {
        let addr = serve_each(|stream| async move {
            let (mut rd, mut wr) = stream.into_split();
            copy(&mut rd, &mut wr).await?;
            wr.close().await
        })
        .await;

        let mut data = vec![0u8; LEN];
        Rng::new(5).fill(&mut data);
        let (mut rd, mut wr) = TcpStream::connect(addr).await.unwrap().into_split();
        let sent = data.clone();
        let writer = gort::spawn(async move {
            for chunk in sent.chunks(10_000) {
                wr.write_all(chunk).await?;
            }
            wr.close().await
        });
        let mut back = vec![0u8; LEN];
        rd.read_exact(&mut back).await.unwrap();
        assert!(back == data, "the echo differs");
        writer.await.unwrap().unwrap();
        // The server saw our end of stream and closed its side.
        let mut rest = Vec::new();
        assert_eq!(rd.read_to_end(&mut rest).await.unwrap(), 0);
    });
}

#[test]
fn read_line_and_read_to_end_on_a_buffered_stream() {
    on_gort("io_read_line", || async {
        let addr = serve_each(|stream| async move {
            let (_, mut wr) = stream.into_split();
            wr.write_all(b"first\nsecond\r\nthe rest").await?;
            wr.close().await
        })
        .await;

        let mut rd = BufReader::new(TcpStream::connect(addr).await.unwrap());
        let mut buf = String::new();
        assert_eq!(rd.read_line(&mut buf).await.unwrap(), 6);
        assert_eq!(buf, "first\n");
        buf.clear();
        rd.read_line(&mut buf).await.unwrap();
        assert_eq!(buf, "second\r\n");
        let mut rest = Vec::new();
        rd.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"the rest");
    });
}
