//! Checks over every answer the run received: problem bodies, header grammar.

use super::*;

impl Run<'_> {
    pub(super) fn problem_bodies(&self) -> Verdict {
        // Once per distinct request and status: the 429 check's repeats are one request.
        let mut seen = BTreeSet::new();
        let errors: Vec<Exchange> = self
            .client
            .exchanges()
            .into_iter()
            .filter(|e| is_error(e.status) && !e.request.starts_with("HEAD "))
            .filter(|e| seen.insert((e.request.clone(), e.status)))
            .collect();
        if errors.is_empty() {
            return skip("no 4xx or 5xx answer was received");
        }
        let wrong: Vec<(&Exchange, String)> =
            errors.iter().filter_map(|e| is_problem(e).err().map(|why| (e, why))).collect();
        let Some((first, _)) = wrong.first() else {
            return Verdict {
                outcome: Outcome::Pass,
                reached: None,
                request: Some(format!("{} distinct error answers", errors.len())),
            };
        };
        let shown: Vec<String> =
            wrong.iter().take(5).map(|(e, why)| format!("{} → {}: {why}", e.request, e.status)).collect();
        let more = if wrong.len() > 5 { format!("; and {} more", wrong.len() - 5) } else { String::new() };
        let mut v = fail(
            first,
            format!("{} of {} distinct error answers: {}{more}", wrong.len(), errors.len(), shown.join("; ")),
        );
        v.reached = None;
        v
    }

    /// Every value of `name` received parses; `shown` is the field's name as the RFC writes it.
    pub(super) fn grammar(
        &self,
        name: &http::HeaderName,
        shown: &str,
        parse: impl Fn(&str) -> Result<(), String>,
    ) -> Verdict {
        let mut seen = 0;
        for e in self.client.exchanges() {
            for v in e.headers.get_all(name) {
                seen += 1;
                let text = String::from_utf8_lossy(v.as_bytes());
                if let Err(why) = parse(&text) {
                    return fail(&e, why);
                }
            }
        }
        if seen == 0 {
            return skip(format!("no answer carried {shown}"));
        }
        Verdict { outcome: Outcome::Pass, reached: None, request: Some(format!("{seen} values")) }
    }
}
