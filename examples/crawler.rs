//! A concurrent crawler, Go-style: `errgroup` with a limit, a `context`
//! deadline, results over a channel.
//!
//! The "web" is simulated (no network in an example): page `n` links to a
//! few other pages and takes 1-4 ms to fetch. The crawl starts at page 0,
//! fetches at most 8 pages at once (`ErrGroup::set_limit`), visits each
//! page once, and gives up when the context's deadline passes: every
//! fetch in flight sees `ctx.done()` and stops, and `wait` reports the
//! deadline as the group's error.
//!
//! ```text
//! cargo run --release --example crawler            # a 2 s deadline: the crawl finishes
//! cargo run --release --example crawler -- 20      # a 20 ms deadline: it is cut short
//! ```

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::chan::{unbounded, Sender};
use gort::context::{Context, ContextError};
use gort::sync::ErrGroup;

/// Pages in the simulated web.
const PAGES: u32 = 2_000;

/// The links on page `n` (a fixed pseudo-random graph).
fn links(n: u32) -> Vec<u32> {
    let h = n.wrapping_mul(2_654_435_761);
    vec![(2 * n + 1) % PAGES, (2 * n + 2) % PAGES, h % PAGES]
}

/// "Downloads" page `n`, or stops when the context is done.
async fn fetch(ctx: &Context, n: u32) -> Result<Vec<u32>, ContextError> {
    let latency = Duration::from_millis(1 + u64::from(n % 4));
    gort::select! {
        _ = ctx.done() => Err(ctx.err().expect("done means an error")),
        _ = gort::time::sleep(latency) => Ok(links(n)),
    }
}

/// Crawls `page` and spawns a task for each link not seen yet.
fn crawl(
    group: Arc<ErrGroup<ContextError>>,
    ctx: Context,
    seen: Arc<Mutex<HashSet<u32>>>,
    found: Sender<(u32, usize)>,
    page: u32,
    depth: usize,
) {
    let g = group.clone();
    group.spawn(async move {
        let links = fetch(&ctx, page).await?;
        found
            .send((page, depth))
            .await
            .expect("main keeps the receiver");
        for link in links {
            if seen.lock().unwrap().insert(link) {
                crawl(
                    g.clone(),
                    ctx.clone(),
                    seen.clone(),
                    found.clone(),
                    link,
                    depth + 1,
                );
            }
        }
        Ok(())
    });
}

#[gort::main]
async fn main() {
    let deadline_ms: u64 = std::env::args()
        .nth(1)
        .map(|s| {
            s.parse()
                .expect("the argument is the deadline in milliseconds")
        })
        .unwrap_or(2_000);
    let start = Instant::now();
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(deadline_ms));
    let (group, ctx) = ErrGroup::with_context(&ctx);
    group.set_limit(8);
    let group = Arc::new(group);
    let (found_tx, found_rx) = unbounded();
    let seen = Arc::new(Mutex::new(HashSet::from([0])));
    crawl(group.clone(), ctx, seen, found_tx, 0, 0);

    // Collect while the crawl runs; the channel closes when the last task
    // (holding the last sender) is done.
    let collector = gort::spawn(async move {
        let mut pages = Vec::new();
        while let Ok(found) = found_rx.recv().await {
            pages.push(found);
        }
        pages
    });
    let outcome = group.wait().await;
    let pages = collector.await.unwrap();
    let deepest = pages.iter().map(|&(_, d)| d).max().unwrap_or(0);
    match outcome {
        Ok(()) => println!(
            "crawled all {} reachable pages (depth {deepest}) in {:?}",
            pages.len(),
            start.elapsed()
        ),
        Err(e) => println!(
            "stopped after {} pages (depth {deepest}) in {:?}: {e}",
            pages.len(),
            start.elapsed()
        ),
    }
}
