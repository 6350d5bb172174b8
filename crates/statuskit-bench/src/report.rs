//! `statuskit-bench report FILE`: medians, ratios and aims from the lines run.sh collected.
//!
//! The file holds two kinds of `|`-separated lines:
//!
//! * `define|NAME|BASELINES|AIMS|EXPECT|DESCRIPTION`: a scenario; the scenarios it is compared
//!   with (comma-separated, `-` for none); for each, the lowest acceptable ratio of this
//!   scenario's median req/s to the baseline's (comma-separated, `-` for "no aim, shown for
//!   information"); and the status every response should have;
//! * `run|NAME|ROUND|REQUESTS|DURATION_US|P50_US|P99_US|STATUS_ERRORS|CONNECT|READ|WRITE|TIMEOUT[|SERVER_CPU_US]`:
//!   one wrk run as printed by `bench/wrk.lua` (`STATUS_ERRORS` is wrk's count of responses
//!   with a status above 399), plus the CPU time the server process used during it.
//!
//! The ratio is the ratio of the medians; the range of the per-round ratios (scenario and
//! baseline of the same round) is printed beside it to show the noise. The CPU ratio compares
//! server CPU time per request (baseline ÷ scenario): it is the throughput ratio a server with
//! a core to itself would see, and moves less than req/s when other work shares the machine.
//! A missed aim is reported, never turned into a failing exit code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

type BoxError = Box<dyn std::error::Error>;

/// One comparison of a scenario with a baseline.
#[derive(Debug, Clone, PartialEq)]
struct Compare {
    baseline: String,
    aim: Option<f64>,
}

/// A scenario as defined by run.sh.
#[derive(Debug, Clone, PartialEq)]
struct Scenario {
    name: String,
    compare: Vec<Compare>,
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
    server_cpu_us: Option<f64>,
}

impl Run {
    fn rps(&self) -> f64 {
        if self.duration_us == 0 {
            0.0
        } else {
            self.requests as f64 / (self.duration_us as f64 / 1e6)
        }
    }

    /// Server CPU microseconds per request.
    fn cpu_per_request(&self) -> Option<f64> {
        self.server_cpu_us.filter(|_| self.requests > 0).map(|cpu| cpu / self.requests as f64)
    }

    /// Share of one core the server used during the run, in percent.
    fn cpu_share(&self) -> Option<f64> {
        self.server_cpu_us.filter(|_| self.duration_us > 0).map(|cpu| cpu / self.duration_us as f64 * 100.0)
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
    let text = text.trim();
    (text != "-" && !text.is_empty()).then_some(text)
}

fn comparisons(baselines: &str, aims: &str, line: &str) -> Result<Vec<Compare>, BoxError> {
    let Some(baselines) = optional(baselines) else { return Ok(Vec::new()) };
    let mut aims = aims.split(',');
    baselines
        .split(',')
        .map(|b| {
            let aim = aims
                .next()
                .and_then(optional)
                .map(|a| a.parse::<f64>().map_err(|_| format!("bad aim {a:?} in {line:?}")))
                .transpose()?;
            Ok(Compare { baseline: b.trim().to_owned(), aim })
        })
        .collect()
}

fn parse(text: &str) -> Result<Results, BoxError> {
    let mut results = Results::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('|').collect();
        match fields[0] {
            "define" => results.scenarios.push(Scenario {
                name: field(&fields, 1, line)?.to_owned(),
                compare: comparisons(field(&fields, 2, line)?, field(&fields, 3, line)?, line)?,
                expect: number(&fields, 4, line)?,
                description: fields.get(5..).map(|rest| rest.join("|")).unwrap_or_default(),
            }),
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
                    server_cpu_us: match fields.get(12) {
                        Some(_) => Some(number(&fields, 12, line)?),
                        None => None,
                    },
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

/// Per-scenario figures, medians over the rounds.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    rps: f64,
    rounds: Vec<f64>,
    p50_ms: f64,
    p99_ms: f64,
    cpu_per_request: Option<f64>,
    cpu_share: Option<f64>,
    /// `None` when the statuses seen match the expected one, else what went wrong.
    anomaly: Option<String>,
}

fn summarize(scenario: &Scenario, runs: &[Run]) -> Option<Summary> {
    let rounds: Vec<f64> = runs.iter().map(Run::rps).collect();
    let rps = median(&rounds)?;
    let p50: Vec<f64> = runs.iter().map(|r| r.p50_us / 1000.0).collect();
    let p99: Vec<f64> = runs.iter().map(|r| r.p99_us / 1000.0).collect();
    let cpu: Vec<f64> = runs.iter().filter_map(Run::cpu_per_request).collect();
    let share: Vec<f64> = runs.iter().filter_map(Run::cpu_share).collect();
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
        cpu_per_request: median(&cpu),
        cpu_share: median(&share),
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

/// Column titles of the table.
const HEADER: [&str; 14] = [
    "scenario",
    "status",
    "req/s (median)",
    "req/s per round",
    "p50 ms",
    "p99 ms",
    "CPU µs/req",
    "CPU %",
    "vs",
    "ratio",
    "round ratios",
    "CPU ratio",
    "aim",
    "result",
];

/// Minimum column widths, so the Markdown table also reads well in a terminal.
const WIDTHS: [usize; 14] = [13, 6, 14, 29, 6, 6, 10, 5, 13, 5, 12, 9, 6, 6];

/// Columns written left-aligned; the others are numbers.
const TEXT_COLUMNS: [usize; 3] = [0, 8, 13];

/// Writes one Markdown table row.
fn row(out: &mut String, cells: [String; 14]) {
    out.push('|');
    for (i, cell) in cells.iter().enumerate() {
        let w = WIDTHS[i];
        let _ = if TEXT_COLUMNS.contains(&i) { write!(out, " {cell:<w$} |") } else { write!(out, " {cell:>w$} |") };
    }
    out.push('\n');
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

/// The comparison columns (vs, ratio, round ratios, CPU ratio, aim, result) and, when the aim is
/// missed, a line for the summary.
fn compare_cells(
    results: &Results,
    summaries: &BTreeMap<&str, Summary>,
    s: &Scenario,
    sum: &Summary,
    c: &Compare,
) -> ([String; 6], Option<String>) {
    let aim_text = c.aim.map_or_else(|| "-".to_owned(), |a| format!(">={a:.2}"));
    let Some(base) = summaries.get(c.baseline.as_str()).filter(|b| b.rps > 0.0) else {
        let cells = [c.baseline.clone(), "-".into(), "-".into(), "-".into(), aim_text, "no baseline runs".into()];
        return (cells, None);
    };
    let ratio = sum.rps / base.rps;
    let range = results
        .runs
        .get(&s.name)
        .zip(results.runs.get(&c.baseline))
        .and_then(|(r, b)| round_ratio_range(r, b))
        .map_or_else(|| "-".to_owned(), |(lo, hi)| format!("{lo:.2}-{hi:.2}"));
    let cpu_ratio = base.cpu_per_request.zip(sum.cpu_per_request).map(|(b, s)| b / s);
    let (result, miss) = match c.aim {
        Some(a) if ratio < a => (verdict(ratio, a), Some(format!("{} vs {}: {ratio:.3} < {a:.2}", s.name, c.baseline))),
        Some(a) => (verdict(ratio, a), None),
        None => ("(information)".to_owned(), None),
    };
    ([c.baseline.clone(), format!("{ratio:.3}"), range, opt(cpu_ratio, 3), aim_text, result], miss)
}

fn render(results: &Results) -> String {
    let summaries: BTreeMap<&str, Summary> = results
        .scenarios
        .iter()
        .filter_map(|s| Some((s.name.as_str(), summarize(s, results.runs.get(&s.name)?)?)))
        .collect();
    let mut out = String::new();
    row(&mut out, HEADER.map(str::to_owned));
    row(&mut out, WIDTHS.map(|w| "-".repeat(w)));
    let mut misses = Vec::new();
    for s in &results.scenarios {
        let Some(sum) = summaries.get(s.name.as_str()) else {
            let _ = writeln!(out, "| {} | (no runs) |", s.name);
            continue;
        };
        let per_round = sum.rounds.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(" ");
        let figures = [
            s.name.clone(),
            s.expect.to_string(),
            format!("{:.0}", sum.rps),
            per_round,
            format!("{:.3}", sum.p50_ms),
            format!("{:.3}", sum.p99_ms),
            opt(sum.cpu_per_request, 1),
            opt(sum.cpu_share, 0),
        ];
        let check = sum.anomaly.as_ref().map(|a| format!("  [check: {a}]")).unwrap_or_default();
        if s.compare.is_empty() {
            let [a, b, c, d, e, f, g, h] = figures.clone();
            let dash = || "-".to_owned();
            row(
                &mut out,
                [a, b, c, d, e, f, g, h, dash(), dash(), dash(), dash(), dash(), format!("(baseline){check}")],
            );
        }
        for (i, c) in s.compare.iter().enumerate() {
            let ([vs, ratio, range, cpu_ratio, aim, result], miss) = compare_cells(results, &summaries, s, sum, c);
            misses.extend(miss);
            // A second comparison repeats only the name, not the figures.
            let [a, b, cc, d, e, f, g, h] = if i == 0 {
                figures.clone()
            } else {
                [0, 1, 2, 3, 4, 5, 6, 7].map(|k| if k == 0 { s.name.clone() } else { String::new() })
            };
            let result = if i == 0 { format!("{result}{check}") } else { result };
            row(&mut out, [a, b, cc, d, e, f, g, h, vs, ratio, range, cpu_ratio, aim, result]);
        }
    }
    let _ = writeln!(out);
    for s in &results.scenarios {
        let _ = writeln!(out, "- `{}`: {}", s.name, s.description);
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
define|full_200|bare_200,bare_auth|0.85,-|200|full stack
define|full_404|full_200|1.00|404|unknown id
run|bare_200|1|100000|10000000|150|900|0|0|0|0|0|9000000
run|full_200|1|80000|10000000|190|1100|0|0|0|0|0|9600000
run|full_404|1|90000|10000000|170|1000|90000|0|0|0|0
run|bare_200|2|110000|10000000|140|800|0|0|0|0|0|9900000
run|full_200|2|100000|10000000|160|1000|0|0|0|0|0|10000000
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
        assert_eq!(
            results.scenarios[1].compare,
            [
                Compare { baseline: "bare_200".into(), aim: Some(0.85) },
                Compare { baseline: "bare_auth".into(), aim: None }
            ]
        );
        let full = summarize(&results.scenarios[1], &results.runs["full_200"]).unwrap();
        assert_eq!(full.rps, 9000.0);
        assert_eq!(full.cpu_per_request, Some(110.0));
        assert_eq!(full.anomaly, None);
        let missing = summarize(&results.scenarios[2], &results.runs["full_404"]).unwrap();
        assert_eq!(missing.anomaly.as_deref(), Some("1000 of 160000 not 4xx/5xx"));
        assert_eq!(missing.cpu_per_request, None);
        let table = render(&results);
        assert!(table.contains("0.857"), "{table}");
        assert!(table.contains("no baseline runs"), "{table}");
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
        assert!(parse("define|x|a,b|0.8,zz|200|d").is_err());
        assert!(parse("what|ever").is_err());
    }
}
