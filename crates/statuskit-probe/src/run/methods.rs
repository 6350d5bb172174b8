//! HEAD against GET, OPTIONS, `Allow` against the document, 405.

use super::*;

impl Run<'_> {
    /// GET then HEAD of a readable path, both 2xx, or the reason to skip.
    pub(super) async fn get_and_head(&mut self) -> Result<Result<(Exchange, Exchange), Verdict>, TransportError> {
        let Some(path) = self.readable().await? else { return Ok(Err(skip(self.nothing_readable()))) };
        let get = self.client.send(Req::new(Method::GET, &path)).await?;
        if !is_success(get.status) {
            return Ok(Err(skip(format!("GET {path} answered {} this time", get.status))));
        }
        let head = self.client.send(Req::new(Method::HEAD, &path)).await?;
        Ok(Ok((get, head)))
    }

    pub(super) async fn head_parity(&mut self) -> Checked {
        let (get, head) = match self.get_and_head().await? {
            Ok(x) => x,
            Err(v) => return Ok(v),
        };
        let mut wrong = Vec::new();
        if head.status != get.status {
            wrong.push(format!("HEAD answered {}, GET {}", head.status, get.status));
        }
        if !head.body.is_empty() {
            wrong.push(format!("HEAD sent {} bytes of content", head.body.len()));
        }
        if let Some(len) = head.header(&header::CONTENT_LENGTH).filter(|_| head.status == get.status) {
            if len != get.body.len().to_string() {
                wrong.push(format!("HEAD's Content-Length is {len}, GET's content {} bytes", get.body.len()));
            }
        }
        Ok(judged(wrong.is_empty(), &head, || wrong.join("; ")))
    }

    pub(super) async fn head_fields(&mut self) -> Checked {
        let (get, head) = match self.get_and_head().await? {
            Ok(x) => x,
            Err(v) => return Ok(v),
        };
        if head.status != get.status {
            return Ok(skip(format!(
                "HEAD {} answered {}, GET {}: not the same answer to compare (see the head check)",
                path_of(&head.request),
                head.status,
                get.status
            )));
        }
        // Fields a server may compute only while generating the content (RFC 9110 §9.3.2 lets HEAD
        // leave them out), and those about the connection or the moment rather than the resource.
        let exempt = [
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::CONTENT_ENCODING,
            header::ETAG,
            header::LAST_MODIFIED,
            header::CONNECTION,
            http::header::DATE,
            http::header::TRAILER,
        ];
        let mut missing: Vec<String> = get
            .headers
            .keys()
            .filter(|k| !exempt.contains(k) && !head.headers.contains_key(*k))
            .map(|k| k.as_str().to_owned())
            .collect();
        missing.dedup();
        Ok(judged(missing.is_empty(), &head, || {
            format!("HEAD {} leaves out {}, which GET sends", path_of(&head.request), listed(&missing))
        }))
    }

    pub(super) async fn options(&mut self) -> Checked {
        let paths = self.paths().await?;
        if paths.is_empty() {
            return Ok(skip(self.nothing_readable()));
        }
        let mut last = None;
        let mut wrong = Vec::new();
        let mut refused = None;
        for p in &paths {
            let ex = self.client.send(Req::new(Method::OPTIONS, p)).await?;
            if let Some(v) = self.credentials(&ex) {
                refused.get_or_insert(v);
                continue;
            }
            match ex.header(&header::ALLOW).map(grammar::allow) {
                _ if !is_success(ex.status) => wrong.push(format!("OPTIONS {p} answered {}", ex.status)),
                None => wrong.push(format!("OPTIONS {p} sent no Allow")),
                Some(Err(e)) => wrong.push(e),
                Some(Ok(_)) => {}
            }
            last = Some(ex);
        }
        // Paths that asked for credentials say so, unless another path answered.
        Ok(match (last, refused) {
            (Some(last), _) => judged(wrong.is_empty(), &last, || wrong.join("; ")),
            (None, Some(refused)) => refused,
            (None, None) => skip(self.nothing_readable()),
        })
    }

    /// Documented methods an `Allow` leaves out, if the document lists the path.
    pub(super) fn undocumented_gap(&self, path: &str, allowed: &[String]) -> Option<Vec<String>> {
        let documented = self.targets.methods_for(path)?;
        let missing: Vec<String> = documented.iter().filter(|m| !contains_method(allowed, m)).cloned().collect();
        Some(missing)
    }

    pub(super) fn allow_documented(&self) -> Verdict {
        if !self.targets.documented {
            return skip("no OpenAPI document was given (--openapi) to compare Allow with");
        }
        let mut seen = BTreeSet::new();
        let mut compared = 0;
        let mut wrong = Vec::new();
        let mut first_wrong = None;
        for e in self.client.exchanges() {
            let on_options = e.request.starts_with("OPTIONS ") && is_success(e.status);
            if !(on_options || e.status == status::METHOD_NOT_ALLOWED.code.as_u16()) {
                continue;
            }
            let Some(Ok(allowed)) = e.header(&header::ALLOW).map(grammar::allow) else { continue };
            let path = path_of(&e.request).to_owned();
            if !seen.insert((path.clone(), e.status)) {
                continue;
            }
            let Some(missing) = self.undocumented_gap(&path, &allowed) else { continue };
            compared += 1;
            if !missing.is_empty() {
                let template = self.targets.template_of(&path).unwrap_or(&path);
                wrong.push(format!(
                    "{} → {}: Allow `{}` leaves out {}, which the document lists for {template}",
                    e.request,
                    e.status,
                    allowed.join(", "),
                    listed(&missing)
                ));
                first_wrong.get_or_insert(e);
            }
        }
        match first_wrong {
            Some(e) => fail(&e, wrong.join("; ")),
            None if compared == 0 => skip("no Allow was received on a path the document lists"),
            None => Verdict {
                outcome: Outcome::Pass,
                reached: None,
                request: Some(format!("{compared} Allow fields compared")),
            },
        }
    }

    pub(super) async fn method_not_allowed(&mut self) -> Checked {
        // One request per path; every path's fault is reported, the first one's request shown.
        let mut first_fault: Option<Exchange> = None;
        let mut faults = Vec::new();
        let mut tried: Option<Verdict> = None;
        for p in self.paths().await? {
            let documented = self.targets.methods_for(&p).map(<[String]>::to_vec);
            let options = self.client.send(Req::new(Method::OPTIONS, &p)).await?;
            let allowed = match options.header(&header::ALLOW).map(grammar::allow) {
                Some(Ok(a)) if is_success(options.status) => Some(a),
                _ => None,
            };
            if documented.is_none() && allowed.is_none() {
                continue;
            }
            let known: Vec<String> = documented.iter().chain(allowed.iter()).flatten().cloned().collect();
            let candidates = [Method::DELETE, Method::PUT, Method::PATCH, Method::POST];
            let Some(m) = candidates.into_iter().find(|m| !contains_method(&known, m.as_str())) else { continue };
            let ex = self.client.send(Req::new(m.clone(), &p)).await?;
            if let Some(v) = self.credentials(&ex) {
                tried.get_or_insert(v);
                continue;
            }
            let fault = if ex.status != status::METHOD_NOT_ALLOWED.code.as_u16() {
                Some(format!("{m} {p}, a method neither the document nor Allow lists, answered {}, not 405", ex.status))
            } else {
                match ex.header(&header::ALLOW).map(grammar::allow) {
                    None => Some(format!("{m} {p}: 405 without Allow")),
                    Some(Err(e)) => Some(format!("{m} {p}: {e}")),
                    Some(Ok(allow)) => self.undocumented_gap(&p, &allow).filter(|m| !m.is_empty()).map(|missing| {
                        format!(
                            "{m} {p}: the 405's Allow `{}` leaves out {}, which the document lists for {}",
                            allow.join(", "),
                            listed(&missing),
                            self.targets.template_of(&p).unwrap_or(&p)
                        )
                    }),
                }
            };
            match fault {
                Some(f) => {
                    faults.push(f);
                    first_fault.get_or_insert(ex);
                }
                None if tried.as_ref().is_none_or(|v| !matches!(v.outcome, Outcome::Pass)) => tried = Some(pass(&ex)),
                None => {}
            }
        }
        if let Some(ex) = first_fault {
            return Ok(fail(&ex, faults.join("; ")));
        }
        Ok(tried.unwrap_or_else(|| {
            skip("every path allows every method the probe would try, or none told its methods (no document, no Allow)")
        }))
    }
}
