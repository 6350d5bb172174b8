//! Adoption, shown: `statuskit probe` against the notes API as written the usual way
//! (`notes-before`) and after adopting statuskit (`notes-after`), each started on a random
//! loopback port with the same OpenAPI document (`openapi.yaml`) and token. Prints both verdicts
//! side by side; asserts that the adopted version passes every check the probe runs and that the
//! checks the adoption turned from fail to pass include the contract's core (problem bodies, 401
//! challenges, 411, 415, conditional requests).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use statuskit_probe::check::Outcome;
use statuskit_probe::report::Report;
use statuskit_probe::{probe, Config};

/// One of the example binaries, killed when dropped.
struct Api {
    child: Child,
    base: String,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str) -> Api {
    let mut child = Command::new(bin)
        .arg("127.0.0.1:0")
        .env("NOTES_TOKEN", "notes-token")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the example");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("its address line");
    let base = line.trim().strip_prefix("listening on ").expect("`listening on URL`").to_owned();
    Api { child, base }
}

async fn probe_of(api: &Api) -> Report {
    let document = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let config = Config {
        token: Some("notes-token".into()),
        openapi: Some(document.into()),
        // No rate limit in either version: do not spend long looking for a 429.
        rate_limit_requests: 20,
        ..Config::new(&api.base)
    };
    probe(&config, &indicatif::ProgressBar::hidden()).await.expect("the probe runs")
}

fn verdict(report: &Report, id: &str) -> &'static str {
    match report.finding(id).map(|f| &f.outcome) {
        Some(Outcome::Pass) => "pass",
        Some(Outcome::Fail(_)) => "FAIL",
        Some(Outcome::Skip(_)) => "skip",
        None => "-",
    }
}

#[tokio::test]
async fn adopting_statuskit_turns_the_probes_failures_into_passes() {
    let before = start(env!("CARGO_BIN_EXE_notes-before"));
    let after = start(env!("CARGO_BIN_EXE_notes-after"));
    let (b, a) = (probe_of(&before).await, probe_of(&after).await);

    let mut table = String::from("check                      before  after\n");
    let mut turned = Vec::new();
    for f in &a.findings {
        let id = f.check.id;
        let (vb, va) = (verdict(&b, id), verdict(&a, id));
        table.push_str(&format!("{id:<26} {vb:<7} {va}\n"));
        if vb == "FAIL" && va == "pass" {
            turned.push(id);
        }
    }
    let ((bp, bf, bs), (ap, af, as_)) = (b.counts(), a.counts());
    table.push_str(&format!(
        "before: {bp} passed, {bf} failed, {bs} skipped; after: {ap} passed, {af} failed, {as_} skipped; \
         {} turned from fail to pass\n",
        turned.len()
    ));
    // Straight to stderr, so the comparison shows in the test output even when it passes.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), table.as_bytes());

    let failed_after: Vec<_> =
        a.findings.iter().filter(|f| matches!(f.outcome, Outcome::Fail(_))).map(|f| f.check.id).collect();
    assert!(failed_after.is_empty(), "the adopted API fails {failed_after:?}\n{table}");
    for core in ["problem", "401-invalid-token", "411", "415"] {
        assert!(turned.contains(&core), "{core} did not turn from fail to pass\n{table}");
    }
    assert!(turned.len() >= 8, "only {} checks turned from fail to pass\n{table}", turned.len());
    assert!(ap > bp, "{table}");
}
