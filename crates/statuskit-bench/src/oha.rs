//! `statuskit-bench oha FILE`: one line of figures from an oha JSON report, for
//! `bench/overload.sh`.
//!
//! oha must have run with `--output-format json --stats-success-breakdown`: the breakdown gives
//! latency percentiles of the 2xx answers (the admitted requests) and of the others (the shed
//! ones) separately. With `--latency-correction` and `-q`, every latency is measured from when
//! the request was due, not from when oha got round to sending it, so a server that falls behind
//! is charged for the queue it makes.
//!
//! Prints `oha|SECONDS|TOTAL|OK|OK_PER_S|OK_P50_MS|OK_P99_MS|OTHER|OTHER_P50_MS|OTHER_P99_MS|STATUSES|ERRORS|ERROR_KINDS`:
//! `OK` counts 2xx, `OTHER` every other answer, `STATUSES` is `code:count` comma-separated,
//! `ERRORS` counts requests that got no HTTP answer at all (connection errors, timeouts) and
//! `ERROR_KINDS` names them. A percentile of an empty set prints as `-`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

type BoxError = Box<dyn std::error::Error>;

/// Runs `oha`.
pub(crate) fn run(file: &Path) -> Result<(), BoxError> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    println!("{}", summarize(&text)?);
    Ok(())
}

/// The `oha|…` line for one oha JSON report.
fn summarize(text: &str) -> Result<String, BoxError> {
    let report: Value = serde_json::from_str(text)?;
    let seconds = report["summary"]["total"].as_f64().ok_or("summary.total missing")?;
    let statuses: BTreeMap<u16, u64> = report["statusCodeDistribution"]
        .as_object()
        .ok_or("statusCodeDistribution missing")?
        .iter()
        .map(|(code, n)| Ok((code.parse()?, n.as_u64().ok_or("a status count is not a number")?)))
        .collect::<Result<_, BoxError>>()?;
    let errors: BTreeMap<String, u64> = report["errorDistribution"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect())
        .unwrap_or_default();
    let ok: u64 = statuses.iter().filter(|(code, _)| (200..300).contains(*code)).map(|(_, n)| n).sum();
    let all: u64 = statuses.values().sum();
    let error_count: u64 = errors.values().sum();
    let ms = |which: &str, p: &str| match report[which][p].as_f64() {
        Some(s) => format!("{:.3}", s * 1e3),
        None => "-".into(),
    };
    let mut status_list = String::new();
    for (code, n) in &statuses {
        let _ = write!(status_list, "{}{code}:{n}", if status_list.is_empty() { "" } else { "," });
    }
    let error_kinds: Vec<String> = errors.iter().map(|(k, n)| format!("{n}x {}", k.replace('|', "/"))).collect();
    Ok(format!(
        "oha|{seconds:.3}|{}|{ok}|{:.1}|{}|{}|{}|{}|{}|{status_list}|{error_count}|{}",
        all + error_count,
        ok as f64 / seconds,
        ms("latencyPercentilesSuccessful", "p50"),
        ms("latencyPercentilesSuccessful", "p99"),
        all - ok,
        ms("latencyPercentilesNotSuccessful", "p50"),
        ms("latencyPercentilesNotSuccessful", "p99"),
        if error_kinds.is_empty() { "-".into() } else { error_kinds.join("; ") },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_admitted_from_shed() {
        let json = r#"{
            "summary": {"total": 2.0},
            "statusCodeDistribution": {"200": 100, "503": 900},
            "errorDistribution": {},
            "latencyPercentilesSuccessful": {"p50": 0.02, "p99": 0.025},
            "latencyPercentilesNotSuccessful": {"p50": 0.0002, "p99": null}
        }"#;
        assert_eq!(summarize(json).unwrap(), "oha|2.000|1000|100|50.0|20.000|25.000|900|0.200|-|200:100,503:900|0|-");
    }

    #[test]
    fn counts_requests_without_an_answer() {
        let json = r#"{
            "summary": {"total": 1.0},
            "statusCodeDistribution": {"200": 10},
            "errorDistribution": {"connection refused": 3}
        }"#;
        assert_eq!(summarize(json).unwrap(), "oha|1.000|13|10|10.0|-|-|0|-|-|200:10|3|3x connection refused");
    }
}
