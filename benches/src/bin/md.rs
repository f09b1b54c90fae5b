//! `gort-bench-md`: regenerates BENCHMARKS.md from a run's results.json.
//!
//! ```text
//! cargo run -p gort-bench --bin gort-bench-md [-- [<results.json> [<BENCHMARKS.md>]]]
//! ```
//!
//! Defaults: `target/gort-bench/results.json` (what the last
//! `cargo bench -p gort-bench --bench versus` wrote) and the workspace's
//! `BENCHMARKS.md`. Only the part between the generated-part marker lines
//! is replaced; the reading written around it stays. The chart of the
//! ratios is drawn from the same JSON into `BENCHMARKS-ratios.svg` next to
//! the document, which shows it, and each scale curve of the run into
//! `BENCHMARKS-scale-<curve>.svg`. Exit code 1 with a message when the JSON
//! cannot be read or the document has no markers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gort_bench::results::{self, Results};
use gort_bench::{markdown, report};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") || args.len() > 2 {
        eprintln!("usage: gort-bench-md [<results.json> [<BENCHMARKS.md>]]");
        return ExitCode::from(2);
    }
    let json_path = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| results::output_dir().join("results.json"));
    let md_path = args.get(1).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("BENCHMARKS.md")
    });
    match run(&json_path, &md_path) {
        Ok(sections) => {
            eprintln!(
                "{}: {sections} tables from {}",
                md_path.display(),
                json_path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(json_path: &Path, md_path: &Path) -> Result<usize, String> {
    let json = std::fs::read_to_string(json_path).map_err(|e| {
        format!(
            "reading {}: {e} (run `cargo bench -p gort-bench --bench versus` first)",
            json_path.display()
        )
    })?;
    let results = Results::read(&json).map_err(|e| format!("{}: {e}", json_path.display()))?;
    let document = std::fs::read_to_string(md_path)
        .map_err(|e| format!("reading {}: {e}", md_path.display()))?;
    const CHART: &str = "BENCHMARKS-ratios.svg";
    let curves = report::scale_svgs(&results);
    let curve_file = |curve: &str| format!("BENCHMARKS-scale-{curve}.svg");
    let curve_files: Vec<String> = curves.iter().map(|(c, _)| curve_file(c)).collect();
    let generated = markdown::render(&results, Some(CHART), &curve_files);
    let updated = markdown::splice(&document, &generated)
        .map_err(|e| format!("{}: {e}", md_path.display()))?;
    let charts = std::iter::once((CHART.to_string(), report::svg(&results)))
        .chain(curves.into_iter().map(|(c, svg)| (curve_file(&c), svg)));
    for (name, svg) in charts {
        let chart = md_path.with_file_name(name);
        std::fs::write(&chart, svg).map_err(|e| format!("writing {}: {e}", chart.display()))?;
    }
    std::fs::write(md_path, updated).map_err(|e| format!("writing {}: {e}", md_path.display()))?;
    Ok(results.tables.len())
}
