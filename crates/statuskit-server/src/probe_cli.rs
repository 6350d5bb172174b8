//! `statuskit probe URL …`: runs the checks of `statuskit-probe` with a progress bar (on a
//! terminal) and writes the report.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use statuskit_probe::report::Format;
use statuskit_probe::{probe, Config};

use crate::config::ProbeArgs;

/// Runs the probe; `Ok(false)` when a check failed.
pub async fn run(args: ProbeArgs) -> Result<bool, Box<dyn std::error::Error>> {
    let format: Format = args.format.parse()?;
    let config = Config {
        token: args.token,
        openapi: args.openapi,
        paths: args.paths,
        only: Config::parse_only(args.only.as_deref().unwrap_or_default())?,
        rate_limit_requests: args.rate_limit_requests,
        max_wait: Duration::from_secs(args.max_wait),
        ..Config::new(&args.url)
    };
    // Drawn on stderr, and only when it is a terminal (indicatif hides it otherwise).
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let report = probe(&config, &bar).await?;
    let text = report.render(format);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)?;
            let (p, f, s) = report.counts();
            eprintln!("statuskit probe: {p} passed, {f} failed, {s} skipped; report in {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(!report.failed())
}
