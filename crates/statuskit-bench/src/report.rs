//! `statuskit-bench report FILE`: medians, ratios and aims from the lines run.sh collected.
//!
//! The file holds two kinds of `|`-separated lines:
//!
//! * `define|NAME|BASELINE|AIM|EXPECT|DESCRIPTION`: a scenario, the scenario it is compared
//!   with (`-` for none), the lowest acceptable ratio of its median req/s to the baseline's
//!   (`-` for none), and the status every response should have;
//! * `run|NAME|ROUND|REQUESTS|DURATION_US|P50_US|P99_US|STATUS_ERRORS|CONNECT|READ|WRITE|TIMEOUT`:
//!   one wrk run, as printed by `bench/wrk.lua` (`STATUS_ERRORS` is wrk's count of responses
//!   with a status above 399).
//!
//! The ratio is the ratio of the medians; the range of the per-round ratios (scenario and
//! baseline of the same round) is printed beside it to show the noise. A missed aim is reported,
//! never turned into a failing exit code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

type BoxError = Box<dyn std::error::Error>;

/// A scenario as defined by run.sh.
#[derive(Debug, Clone, PartialEq)]
struct Scenario {
    name: String,
    baseline: Option<String>,
    aim: Option<f64>,
    expect: u16,
    description: String,
}

/// One wrk run of a scenario.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    round: u32,
    requests: u64,
    duration_us: u64,
    p50_us: f64,
    p99_us: f64,
    status_errors: u64,
    socket_errors: u64,
}

impl Run {
    fn rps(&self) -> f64 {
        if self.duration_us == 0 {
            0.0
        } else {
            self.requests as f64 / (self.duration_us as f64 / 1e6)
        }
    }
}

/// Everything in a results file, scenarios in the order they were defined.
#[derive(Debug, Default)]
struct Results {
    scenarios: Vec<Scenario>,
    runs: BTreeMap<String, Vec<Run>>,
}

fn field<'a>(fields: &[&'a str], i: usize, line: &str) -> Result<&'a str, BoxError> {
    fields.get(i).copied().ok_or_else(|| format!("too few fields in {line:?}").into())
}

fn number<T: std::str::FromStr>(fields: &[&str], i: usize, line: &str) -> Result<T, BoxError> {
    let text = field(fields, i, line)?;
    text.trim().parse().map_err(|_| format!("field {i} of {line:?} is not a number: {text:?}").into())
}

fn optional(text: &str) -> Option<&str> {
    (text != "-" && !text.is_empty()).then_some(text)
}

fn parse(text: &str) -> Result<Results, BoxError> {
    let mut results = Results::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('|').collect();
        match fields[0] {
            "define" => {
                let aim = optional(field(&fields, 3, line)?)
                    .map(|a| a.parse::<f64>().map_err(|_| format!("bad aim in {line:?}")))
                    .transpose()?;
                results.scenarios.push(Scenario {
                    name: field(&fields, 1, line)?.to_owned(),
                    baseline: optional(field(&fields, 2, line)?).map(str::to_owned),
                    aim,
                    expect: number(&fields, 4, line)?,
                    description: fields.get(5..).map(|rest| rest.join("|")).unwrap_or_default(),
                });
            }
            "run" => {
                let name = field(&fields, 1, line)?.to_owned();
                let run = Run {
                    round: number(&fields, 2, line)?,
                    requests: number(&fields, 3, line)?,
                    duration_us: number(&fields, 4, line)?,
                    p50_us: number(&fields, 5, line)?,
                    p99_us: number(&fields, 6, line)?,
                    status_errors: number(&fields, 7, line)?,
                    socket_errors: (8..=11).map(|i| number::<u64>(&fields, i, line)).sum::<Result<u64, _>>()?,
                };
                results.runs.entry(name).or_default().push(run);
            }
            other => return Err(format!("unknown line kind {other:?} in {line:?}").into()),
        }
    }
    Ok(results)
}

/// The median; the mean of the two middle values for an even count.
fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 })
}

/// Per-scenario figures.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    rps: f64,
    rounds: Vec<f64>,
    p50_ms: f64,
    p99_ms: f64,
    /// `None` when the statuses seen match the expected one, else what went wrong.
    anomaly: Option<String>,
}

fn summarize(scenario: &Scenario, runs: &[Run]) -> Option<Summary> {
    let rounds: Vec<f64> = runs.iter().map(Run::rps).collect();
    let rps = median(&rounds)?;
    let p50: Vec<f64> = runs.iter().map(|r| r.p50_us / 1000.0).collect();
    let p99: Vec<f64> = runs.iter().map(|r| r.p99_us / 1000.0).collect();
    let requests: u64 = runs.iter().map(|r| r.requests).sum();
    let status_errors: u64 = runs.iter().map(|r| r.status_errors).sum();
    let socket_errors: u64 = runs.iter().map(|r| r.socket_errors).sum();
    let mut problems = Vec::new();
    if scenario.expect >= 400 && status_errors != requests {
        problems.push(format!("{} of {requests} not 4xx/5xx", requests.saturating_sub(status_errors)));
    }
    if scenario.expect < 400 && status_errors != 0 {
        problems.push(format!("{status_errors} of {requests} were 4xx/5xx"));
    }
    if socket_errors != 0 {
        problems.push(format!("{socket_errors} socket errors"));
    }
    Some(Summary {
        rps,
        rounds,
        p50_ms: median(&p50)?,
        p99_ms: median(&p99)?,
        anomaly: (!problems.is_empty()).then(|| problems.join(", ")),
    })
}

/// Min and max of the per-round ratios, over the rounds both scenarios ran.
fn round_ratio_range(runs: &[Run], baseline: &[Run]) -> Option<(f64, f64)> {
    let ratios: Vec<f64> = runs
        .iter()
        .filter_map(|r| {
            let b = baseline.iter().find(|b| b.round == r.round)?;
            (b.rps() > 0.0).then(|| r.rps() / b.rps())
        })
        .collect();
    let min = ratios.iter().copied().reduce(f64::min)?;
    let max = ratios.iter().copied().reduce(f64::max)?;
    Some((min, max))
}

/// `pass`, or `MISS` with the shortfall relative to the aim.
fn verdict(ratio: f64, aim: f64) -> String {
    if ratio >= aim {
        "pass".to_owned()
    } else {
        format!("MISS (short by {:.1}%)", (1.0 - ratio / aim) * 100.0)
    }
}

fn render(results: &Results) -> String {
    let summaries: BTreeMap<&str, Summary> = results
        .scenarios
        .iter()
        .filter_map(|s| Some((s.name.as_str(), summarize(s, results.runs.get(&s.name)?)?)))
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:>6} {:>10} {:>26} {:>7} {:>7}  {:<9} {:>6} {:>13}  {:<5} {}",
        "scenario", "status", "req/s med", "req/s per round", "p50 ms", "p99 ms", "vs", "ratio", "round ratios", "aim", "result"
    );
    let mut misses = Vec::new();
    for s in &results.scenarios {
        let Some(sum) = summaries.get(s.name.as_str()) else {
            let _ = writeln!(out, "{:<10} (no runs)", s.name);
            continue;
        };
        let per_round = sum.rounds.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(" ");
        let (vs, ratio, range, aim, result) = match (&s.baseline, s.aim) {
            (Some(b), aim) => match summaries.get(b.as_str()) {
                Some(base) if base.rps > 0.0 => {
                    let ratio = sum.rps / base.rps;
                    let range = results
                        .runs
                        .get(&s.name)
                        .zip(results.runs.get(b))
                        .and_then(|(r, br)| round_ratio_range(r, br))
                        .map_or_else(|| "-".to_owned(), |(lo, hi)| format!("{lo:.2}-{hi:.2}"));
                    let result = aim.map_or_else(|| "-".to_owned(), |a| verdict(ratio, a));
                    if aim.is_some_and(|a| ratio < a) {
                        misses.push(format!("{} vs {b}: {ratio:.3} < {:.2}", s.name, aim.unwrap_or_default()));
                    }
                    let aim = aim.map_or_else(|| "-".to_owned(), |a| format!(">={a:.2}"));
                    (b.clone(), format!("{ratio:.3}"), range, aim, result)
                }
                _ => (b.clone(), "-".into(), "-".into(), "-".into(), "no baseline runs".into()),
            },
            (None, _) => ("-".into(), "-".into(), "-".into(), "-".into(), "(baseline)".into()),
        };
        let result = match &sum.anomaly {
            Some(a) => format!("{result}  [check: {a}]"),
            None => result,
        };
        let _ = writeln!(
            out,
            "{:<10} {:>6} {:>10.0} {:>26} {:>7.3} {:>7.3}  {:<9} {:>6} {:>13}  {:<5} {}",
            s.name, s.expect, sum.rps, per_round, sum.p50_ms, sum.p99_ms, vs, ratio, range, aim, result
        );
    }
    let _ = writeln!(out);
    for s in &results.scenarios {
        let _ = writeln!(out, "  {:<10} {}", s.name, s.description);
    }
    let _ = writeln!(out);
    if misses.is_empty() {
        let _ = writeln!(out, "every aim met");
    } else {
        let _ = writeln!(out, "aims missed ({}): {}", misses.len(), misses.join("; "));
    }
    out
}

/// Reads `path` and prints the table.
pub(crate) fn run(path: &Path) -> Result<(), BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    print!("{}", render(&parse(&text)?));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
define|bare_200|-|-|200|bare axum
define|full_200|bare_200|0.85|200|full stack
define|full_404|full_200|1.00|404|unknown id
run|bare_200|1|100000|10000000|150|900|0|0|0|0|0
run|full_200|1|80000|10000000|190|1100|0|0|0|0|0
run|full_404|1|90000|10000000|170|1000|90000|0|0|0|0
run|bare_200|2|110000|10000000|140|800|0|0|0|0|0
run|full_200|2|100000|10000000|160|1000|0|0|0|0|0
run|full_404|2|70000|10000000|200|1200|69000|0|0|0|0
";

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn parses_and_compares() {
        let results = parse(SAMPLE).unwrap();
        assert_eq!(results.scenarios.len(), 3);
        assert_eq!(results.scenarios[1].aim, Some(0.85));
        let full = summarize(&results.scenarios[1], &results.runs["full_200"]).unwrap();
        assert_eq!(full.rps, 9000.0);
        assert_eq!(full.anomaly, None);
        let missing = summarize(&results.scenarios[2], &results.runs["full_404"]).unwrap();
        assert_eq!(missing.anomaly.as_deref(), Some("1000 of 160000 not 4xx/5xx"));
        let table = render(&results);
        assert!(table.contains("0.857"), "{table}");
        assert!(table.contains("aims missed (1): full_404"), "{table}");
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(0.9, 0.85), "pass");
        assert_eq!(verdict(0.765, 0.85), "MISS (short by 10.0%)");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("run|x|1|many|1|1|1|0|0|0|0|0").is_err());
        assert!(parse("what|ever").is_err());
    }
}
