//! `statuskit probe URL …`: runs the checks of `statuskit-probe` with a progress bar (on a
//! terminal) and writes the report.
//!
//! Exit codes: 0 every check passed or was skipped, 1 a check failed, 2 the probe could not run
//! (bad arguments, the API unreachable, its OpenAPI document not found); with 2 no report is
//! written, only the reason, on stderr.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use statuskit_probe::report::Format;
use statuskit_probe::{probe, Config};

use crate::config::ProbeArgs;

/// How a probe run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every check passed or was skipped (exit 0).
    Passed,
    /// A check failed (exit 1).
    Failed,
}

/// The probe could not run (exit 2): the reason, for stderr.
#[derive(Debug)]
pub struct CouldNotRun(pub String);

impl std::fmt::Display for CouldNotRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CouldNotRun {}

/// Runs the probe and writes its report.
///
/// # Errors
/// [`CouldNotRun`] when the arguments are wrong, the API cannot be reached or its document
/// read, or the report cannot be written.
pub async fn run(args: ProbeArgs) -> Result<Verdict, CouldNotRun> {
    let format: Format = args.format.parse().map_err(CouldNotRun)?;
    let config = Config {
        token: args.token,
        openapi: args.openapi,
        paths: args.paths,
        only: Config::parse_only(args.only.as_deref().unwrap_or_default()).map_err(CouldNotRun)?,
        rate_limit_requests: args.rate_limit_requests,
        max_wait: Duration::from_secs(args.max_wait),
        cacert: args.cacert,
        insecure: args.insecure,
        ..Config::new(&args.url)
    };
    if config.insecure {
        eprintln!("statuskit probe: WARNING: --insecure: TLS certificates will not be verified");
    }
    // Drawn on stderr, and only when it is a terminal (indicatif hides it otherwise).
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let report = probe(&config, &bar).await.map_err(|e| {
        bar.finish_and_clear();
        CouldNotRun(e.to_string())
    })?;
    let text = report.render(format);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| CouldNotRun(format!("writing the report to {}: {e}", path.display())))?;
            let (p, f, s) = report.counts();
            eprintln!("statuskit probe: {p} passed, {f} failed, {s} skipped; report in {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(if report.failed() { Verdict::Failed } else { Verdict::Passed })
}
