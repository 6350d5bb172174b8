//! The resource the probe creates: 201 with `Location`, DELETE then 404, its `ETag`.

use super::*;

impl Run<'_> {
    pub(super) async fn created(&mut self) -> Checked {
        let (path, ex) = match self.create().await? {
            Ok(x) => x,
            Err(blocked) => return Ok(blocked.verdict),
        };
        let got = self.client.send(Req::new(Method::GET, &path)).await?;
        self.created = Some(path.clone());
        Ok(judged(got.status == status::OK.code.as_u16(), &ex, || {
            format!("its Location {path} answered {} to GET", got.status)
        }))
    }

    pub(super) async fn delete_then_gone(&mut self) -> Checked {
        let path = match self.created.take() {
            Some(p) => p,
            None => match self.create().await? {
                Ok((p, _)) => p,
                Err(blocked) => return Ok(skip(format!("{}, so no DELETE was sent", blocked.why))),
            },
        };
        let del = self.client.send(Req::new(Method::DELETE, &path)).await?;
        if let Some(v) = self.credentials(&del) {
            return Ok(v);
        }
        if del.status != status::NO_CONTENT.code.as_u16() {
            return Ok(fail(&del, format!("DELETE answered {}", del.status)));
        }
        if !del.body.is_empty() {
            return Ok(fail(&del, format!("204 with {} bytes of content", del.body.len())));
        }
        let got = self.client.send(Req::new(Method::GET, &path)).await?;
        // Reported against the DELETE: its 204 is the status this check is about.
        Ok(judged(got.status == status::NOT_FOUND.code.as_u16(), &del, || {
            format!("GET after DELETE answered {}", got.status)
        }))
    }

    pub(super) async fn etag_present(&mut self) -> Checked {
        let f = match self.own().await? {
            Ok(f) => f,
            Err(why) => return Ok(skip(why)),
        };
        let got = self.client.send(Req::new(Method::GET, &f.path)).await?;
        if !is_success(got.status) {
            return Ok(skip(format!("GET {} answered {} this time", f.path, got.status)));
        }
        Ok(judged(got.header(&header::ETAG).is_some(), &got, || format!("GET {} answered without an ETag", f.path)))
    }
}
