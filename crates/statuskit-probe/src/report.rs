//! The report: a terminal table, JSON, or JUnit XML for CI; and its summary by status code
//! (how many checks expected it, how often the API reached it, how many passed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde::Serialize;

use crate::check::{Finding, Outcome};

/// How to write the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for a terminal.
    Table,
    /// One JSON document.
    Json,
    /// JUnit XML: one test case per check, skipped checks marked skipped.
    Junit,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "junit" => Ok(Format::Junit),
            other => Err(format!("unknown report format `{other}`; use table, json or junit")),
        }
    }
}

/// One row of the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatusLine {
    /// The status code the checks expected.
    pub status: u16,
    /// Checks that expected it.
    pub checks: usize,
    /// Checks whose request the API answered with it.
    pub reached: usize,
    /// Checks that passed.
    pub passed: usize,
}

/// Everything one run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The API probed.
    pub base: String,
    /// `true` when TLS certificates were not verified (`--insecure`): the report says so first.
    pub insecure: bool,
    /// One finding per check run.
    pub findings: Vec<Finding>,
    /// How long the run took.
    #[serde(serialize_with = "as_seconds")]
    pub elapsed: Duration,
}

fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    report: &'a Report,
    passed: usize,
    failed: usize,
    skipped: usize,
    summary: Vec<StatusLine>,
}

impl Report {
    /// Counts of (passed, failed, skipped).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for f in &self.findings {
            match f.outcome {
                Outcome::Pass => c.0 += 1,
                Outcome::Fail(_) => c.1 += 1,
                Outcome::Skip(_) => c.2 += 1,
            }
        }
        c
    }

    /// `true` if any check failed.
    pub fn failed(&self) -> bool {
        self.counts().1 > 0
    }

    /// The finding of check `id`, if it ran.
    pub fn finding(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check.id == id)
    }

    /// Status code × checks × reached × passed.
    pub fn summary(&self) -> Vec<StatusLine> {
        let mut by: BTreeMap<u16, StatusLine> = BTreeMap::new();
        for f in &self.findings {
            let Some(status) = f.check.status else { continue };
            let line = by.entry(status).or_insert(StatusLine { status, checks: 0, reached: 0, passed: 0 });
            line.checks += 1;
            line.reached += usize::from(f.reached == Some(status));
            line.passed += usize::from(f.outcome == Outcome::Pass);
        }
        by.into_values().collect()
    }

    /// The warning an `--insecure` run carries, in every format.
    pub fn insecure_warning(&self) -> Option<&'static str> {
        self.insecure.then_some(
            "WARNING: --insecure: TLS certificates were NOT verified; anyone between the probe and the API \
             could have answered in its place",
        )
    }

    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Json => {
                let (passed, failed, skipped) = self.counts();
                let doc = JsonReport { report: self, passed, failed, skipped, summary: self.summary() };
                serde_json::to_string_pretty(&doc).expect("a report serializes")
            }
            Format::Junit => self.junit(),
        }
    }

    fn table(&self) -> String {
        let width = self.findings.iter().map(|f| f.check.id.len()).max().unwrap_or(5).max(5);
        let mut out = format!("statuskit probe of {}\n\n", self.base);
        if let Some(warning) = self.insecure_warning() {
            let _ = writeln!(out, "{warning}\n");
        }
        for f in &self.findings {
            let (mark, why) = match &f.outcome {
                Outcome::Pass => ("PASS", String::new()),
                Outcome::Fail(w) => ("FAIL", w.clone()),
                Outcome::Skip(w) => ("SKIP", w.clone()),
            };
            let _ = writeln!(
                out,
                "{mark}  {id:<width$}  {level:<6}  {cite}",
                id = f.check.id,
                level = f.check.level.as_str(),
                cite = f.check.cite
            );
            let _ = writeln!(out, "      {:width$}  expects: {}", "", f.check.expects);
            if let Some(r) = &f.request {
                let reached = f.reached.map(|s| format!(" → {s}")).unwrap_or_default();
                let _ = writeln!(out, "      {:width$}  sent:    {r}{reached}", "");
            }
            if !why.is_empty() {
                let _ = writeln!(
                    out,
                    "      {:width$}  {}",
                    "",
                    if mark == "FAIL" { format!("found:   {why}") } else { format!("why:     {why}") }
                );
            }
        }
        out.push_str("\nstatus  checks  reached  passed\n");
        for l in self.summary() {
            let _ = writeln!(out, "{:<6}  {:>6}  {:>7}  {:>6}", l.status, l.checks, l.reached, l.passed);
        }
        let (p, f, s) = self.counts();
        let _ = writeln!(out, "\n{p} passed, {f} failed, {s} skipped in {:.1}s", self.elapsed.as_secs_f64());
        out
    }

    fn junit(&self) -> String {
        let (_, failed, skipped) = self.counts();
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        let ok = "writing to a Vec cannot fail";
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect(ok);
        let tests = self.findings.len().to_string();
        let failures = failed.to_string();
        let skips = skipped.to_string();
        let time = format!("{:.3}", self.elapsed.as_secs_f64());
        let suite = BytesStart::new("testsuite").with_attributes([
            ("name", "statuskit-probe"),
            ("tests", tests.as_str()),
            ("failures", failures.as_str()),
            ("skipped", skips.as_str()),
            ("time", time.as_str()),
        ]);
        w.write_event(Event::Start(suite)).expect(ok);
        if let Some(warning) = self.insecure_warning() {
            w.write_event(Event::Start(BytesStart::new("system-err"))).expect(ok);
            w.write_event(Event::Text(BytesText::new(warning))).expect(ok);
            w.write_event(Event::End(BytesEnd::new("system-err"))).expect(ok);
        }
        for f in &self.findings {
            let name = format!("{} ({} {})", f.check.id, f.check.level.as_str(), f.check.cite);
            let case = BytesStart::new("testcase")
                .with_attributes([("classname", "statuskit-probe"), ("name", name.as_str())]);
            match &f.outcome {
                Outcome::Pass => w.write_event(Event::Empty(case)).expect(ok),
                Outcome::Fail(why) | Outcome::Skip(why) => {
                    let tag = if matches!(f.outcome, Outcome::Fail(_)) { "failure" } else { "skipped" };
                    w.write_event(Event::Start(case)).expect(ok);
                    let el = BytesStart::new(tag).with_attributes([("message", why.as_str())]);
                    w.write_event(Event::Start(el)).expect(ok);
                    let text = format!("expects: {}\nsent: {}", f.check.expects, f.request.as_deref().unwrap_or("-"));
                    w.write_event(Event::Text(BytesText::new(&text))).expect(ok);
                    w.write_event(Event::End(BytesEnd::new(tag))).expect(ok);
                    w.write_event(Event::End(BytesEnd::new("testcase"))).expect(ok);
                }
            }
        }
        w.write_event(Event::End(BytesEnd::new("testsuite"))).expect(ok);
        let mut out = String::from_utf8(w.into_inner()).expect("UTF-8");
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckId;

    fn report() -> Report {
        let f = |id: CheckId, outcome: Outcome, reached| Finding {
            check: id.check(),
            outcome,
            reached,
            request: Some("GET /x".into()),
        };
        Report {
            base: "http://127.0.0.1:1".into(),
            insecure: false,
            findings: vec![
                f(CheckId::NotModifiedStrong, Outcome::Pass, Some(304)),
                f(CheckId::NotModifiedWeak, Outcome::Fail("answered 200 <&>".into()), Some(200)),
                f(CheckId::TooManyRequests, Outcome::Skip("no 429".into()), None),
            ],
            elapsed: Duration::from_millis(1500),
        }
    }

    #[test]
    fn summary_counts_checks_reached_and_passed() {
        let r = report();
        assert_eq!(
            r.summary(),
            [
                StatusLine { status: 304, checks: 2, reached: 1, passed: 1 },
                StatusLine { status: 429, checks: 1, reached: 0, passed: 0 },
            ]
        );
        assert!(r.failed());
        assert!(r.render(Format::Table).contains("1 passed, 1 failed, 1 skipped"));
    }

    #[test]
    fn junit_and_json_are_well_formed() {
        let r = report();
        let xml = r.render(Format::Junit);
        assert!(xml.contains(r#"tests="3" failures="1" skipped="1""#), "{xml}");
        assert!(xml.contains("answered 200 &lt;&amp;&gt;"), "{xml}");
        let mut reader = quick_xml::Reader::from_str(&xml);
        while reader.read_event().expect("well-formed") != Event::Eof {}
        let json: serde_json::Value = serde_json::from_str(&r.render(Format::Json)).unwrap();
        assert_eq!(json["failed"], 1);
        assert_eq!(json["findings"][1]["outcome"]["outcome"], "fail");
        assert_eq!(json["summary"][0]["reached"], 1);
        assert_eq!(json["insecure"], false);
    }

    #[test]
    fn insecure_runs_say_so_in_every_format() {
        let r = Report { insecure: true, ..report() };
        for format in [Format::Table, Format::Junit] {
            assert!(r.render(format).contains("WARNING: --insecure: TLS certificates were NOT verified"), "{format:?}");
        }
        let json: serde_json::Value = serde_json::from_str(&r.render(Format::Json)).unwrap();
        assert_eq!(json["insecure"], true);
        assert!(!report().render(Format::Table).contains("WARNING"));
    }
}
