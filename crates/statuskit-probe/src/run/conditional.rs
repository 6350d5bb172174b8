//! Conditional requests (RFC 9110 §13): `If-None-Match` on GET, `If-Match` on a write.

use super::*;

impl Run<'_> {
    pub(super) async fn not_modified(&mut self, tag: Tag) -> Checked {
        let f = match self.validated().await? {
            Ok(f) => f,
            Err(why) => return Ok(skip(why)),
        };
        let etag = f.etag.as_deref().unwrap_or_default();
        let value = match tag {
            Tag::Strong => etag.to_owned(),
            Tag::Weak => format!("W/{}", etag.trim_start_matches("W/")),
            Tag::Star => "*".into(),
        };
        let ex = self.client.send(Req::new(Method::GET, &f.path).header(header::IF_NONE_MATCH, value.clone())).await?;
        if ex.status != status::NOT_MODIFIED.code.as_u16() {
            return Ok(fail(&ex, format!("If-None-Match: {value} answered {}", ex.status)));
        }
        if !ex.body.is_empty() {
            return Ok(fail(&ex, format!("304 with {} bytes of content", ex.body.len())));
        }
        let needs_etag = tag != Tag::Star;
        Ok(judged(!needs_etag || ex.header(&header::ETAG).is_some(), &ex, || {
            "304 without the ETag a 200 carries".into()
        }))
    }

    pub(super) async fn none_match_other(&mut self) -> Checked {
        let mut paths = Vec::new();
        if let Ok(f) = self.own().await? {
            paths.push(f.path);
        }
        for p in self.live().await?.clone() {
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
        if paths.is_empty() {
            return Ok(skip(self.nothing_readable()));
        }
        let mut last = None;
        for p in paths {
            let value = format!("\"statuskit-probe-no-match-{}\"", self.next_n());
            let ex = self.client.send(Req::new(Method::GET, &p).header(header::IF_NONE_MATCH, value.clone())).await?;
            if !is_success(ex.status) {
                return Ok(fail(
                    &ex,
                    format!("If-None-Match: {value}, a tag GET {p} never sent, answered {}, not 200", ex.status),
                ));
            }
            last = Some(ex);
        }
        Ok(pass(&last.expect("at least one path")))
    }

    pub(super) async fn if_match(&mut self, weak: bool) -> Checked {
        let f = match self.own().await? {
            Ok(f) => f,
            Err(why) => return Ok(skip(why)),
        };
        let Some(c) = &f.collection else { return Ok(skip("the probe created no resource to change")) };
        if weak && f.etag.is_none() {
            return Ok(skip(format!("GET {} sent no ETag, so there is no weak form of it to send", f.path)));
        }
        let options = self.client.send(Req::new(Method::OPTIONS, &f.path)).await?;
        let mut methods: Vec<String> = match options.header(&header::ALLOW).map(grammar::allow) {
            Some(Ok(a)) if is_success(options.status) => a,
            _ => Vec::new(),
        };
        methods.extend(self.targets.methods_for(&f.path).into_iter().flatten().cloned());
        let method = if contains_method(&methods, "PUT") {
            Method::PUT
        } else if contains_method(&methods, "PATCH") {
            Method::PATCH
        } else {
            return Ok(skip(format!(
                "{} takes neither PUT nor PATCH (neither Allow nor the document lists one)",
                f.path
            )));
        };
        let value = match &f.etag {
            Some(etag) if weak => format!("W/{}", etag.trim_start_matches("W/")),
            _ => format!("\"statuskit-probe-stale-{}\"", self.next_n()),
        };
        let body = self.sample_body(c);
        let ex = self
            .client
            .send(Req::new(method.clone(), &f.path).header(header::IF_MATCH, value.clone()).body(mime::JSON, body))
            .await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        let after = self.client.send(Req::new(Method::GET, &f.path)).await?;
        let read_back = is_success(after.status);
        let unchanged = match &f.etag {
            Some(etag) => after.header(&header::ETAG) == Some(etag.as_str()),
            None => after.body == f.body,
        };
        if !unchanged && read_back {
            // The next check compares against what the resource is now.
            if let Some(Ok(own)) = &mut self.own {
                own.etag = after.header(&header::ETAG).map(str::to_owned);
                own.body.clone_from(&after.body);
            }
        }
        let precondition_failed = status::PRECONDITION_FAILED.code.as_u16();
        if is_success(ex.status) {
            return Ok(fail(
                &ex,
                format!(
                    "the {method} was carried out (answered {}) although If-Match: {value} does not match; \
                     the method MUST NOT be performed",
                    ex.status
                ),
            ));
        }
        if ex.status != precondition_failed && f.etag.is_some() {
            return Ok(fail(
                &ex,
                format!(
                    "If-Match: {value} answered {}, not 412 (the API has ETags; contract §1 row 412 answers 412)",
                    ex.status
                ),
            ));
        }
        if !is_error(ex.status) {
            return Ok(fail(&ex, format!("If-Match: {value} answered {}, neither 412 nor a refusal", ex.status)));
        }
        if !read_back {
            return Ok(skip_seen(
                &ex,
                format!(
                    "answered {}, but GET {} answered {}, so whether it changed is unknown",
                    ex.status, f.path, after.status
                ),
            ));
        }
        Ok(judged(unchanged, &ex, || match &f.etag {
            Some(etag) => format!(
                "answered {} but the resource changed anyway: its ETag {etag} is now {}",
                ex.status,
                shown(after.header(&header::ETAG))
            ),
            None => format!("answered {} but GET {} shows different content afterwards", ex.status, f.path),
        }))
    }
}
