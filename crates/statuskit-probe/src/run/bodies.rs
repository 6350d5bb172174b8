//! 404, negotiation (406, `Vary`) and what a collection does with bodies it cannot take (415, 400, 422).

use super::*;

impl Run<'_> {
    pub(super) async fn not_found(&mut self) -> Checked {
        let path = format!("/statuskit-probe/no-such-path-{}", self.next_n());
        let ex = self.client.send(Req::new(Method::GET, &path)).await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        if ex.status != status::NOT_FOUND.code.as_u16() {
            return Ok(fail(&ex, format!("answered {}", ex.status)));
        }
        Ok(judged(is_problem(&ex).is_ok(), &ex, || is_problem(&ex).unwrap_err()))
    }

    pub(super) async fn not_acceptable(&mut self) -> Checked {
        let Some(path) = self.negotiable().await? else { return Ok(skip(self.nothing_readable())) };
        let ex = self.client.send(Req::new(Method::GET, &path).header(header::ACCEPT, "image/png")).await?;
        if ex.status != status::NOT_ACCEPTABLE.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} ({}) to Accept: image/png", ex.status, body_kind(&ex))));
        }
        Ok(judged(essence(&ex) == mime::PROBLEM_JSON, &ex, || {
            format!("the 406 body is {}, not {}", body_kind(&ex), mime::PROBLEM_JSON)
        }))
    }

    pub(super) async fn vary(&mut self) -> Checked {
        let Some(path) = self.negotiable().await? else { return Ok(skip(self.nothing_readable())) };
        let plain = self.client.send(Req::new(Method::GET, &path)).await?;
        let xml = self.client.send(Req::new(Method::GET, &path).header(header::ACCEPT, mime::XML)).await?;
        let png = self.client.send(Req::new(Method::GET, &path).header(header::ACCEPT, "image/png")).await?;
        let negotiated = essence(&plain) != essence(&xml) || png.status != plain.status;
        if !negotiated {
            return Ok(skip(format!("GET {path} does not depend on Accept")));
        }
        Ok(judged(has_token_in_list(plain.header(&header::VARY), header::ACCEPT.as_str()), &plain, || {
            format!("GET {path} depends on Accept but its Vary is {}", shown(plain.header(&header::VARY)))
        }))
    }

    pub(super) async fn unsupported_media_type(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip(self.no_collection())) };
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::TEXT, "probe")).await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        if ex.status != status::UNSUPPORTED_MEDIA_TYPE.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} to a text/plain body", ex.status)));
        }
        Ok(judged(ex.header(&header::ACCEPT_POST).is_some(), &ex, || "415 without Accept-Post".into()))
    }

    pub(super) async fn bad_json(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip(self.no_collection())) };
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::JSON, "{\"probe\":")).await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        if ex.status != status::BAD_REQUEST.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} to unparseable JSON", ex.status)));
        }
        Ok(judged(is_problem(&ex).is_ok(), &ex, || is_problem(&ex).unwrap_err()))
    }

    pub(super) async fn validation(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip(self.no_collection())) };
        if !c.requires_fields() {
            return Ok(skip(format!("POST {} requires no field", c.path)));
        }
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::JSON, "{}")).await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        if ex.status != status::UNPROCESSABLE_ENTITY.code.as_u16() {
            return Ok(fail(&ex, format!("answered {} to a body missing every required field", ex.status)));
        }
        if let Err(why) = is_problem(&ex) {
            return Ok(fail(&ex, why));
        }
        let errors = ex.json().and_then(|b| b.get("errors").cloned());
        let names_fields = match &errors {
            Some(Value::Object(m)) => !m.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            _ => false,
        };
        Ok(judged(names_fields, &ex, || "a problem without an `errors` member naming the fields".into()))
    }
}
