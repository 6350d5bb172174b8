//! 411 over a raw socket, and 429 with `Retry-After`.

use super::*;

impl Run<'_> {
    pub(super) async fn length_required(&mut self) -> Checked {
        let Some(c) = self.collection() else { return Ok(skip(self.no_collection())) };
        let body = self.sample_body(c);
        let ex = self.client.raw(&Method::POST, &c.path, &[(header::CONTENT_TYPE, mime::JSON)], &body).await?;
        if let Some(v) = self.credentials(&ex) {
            return Ok(v);
        }
        if ex.status != status::LENGTH_REQUIRED.code.as_u16() {
            return Ok(fail(&ex, format!("a body without Content-Length was answered {}", ex.status)));
        }
        Ok(judged(is_problem(&ex).is_ok(), &ex, || is_problem(&ex).unwrap_err()))
    }

    pub(super) async fn too_many_requests(&mut self) -> Checked {
        let too_many = status::TOO_MANY_REQUESTS.code.as_u16();
        let seen = self.client.exchanges().into_iter().find(|e| e.status == too_many && !e.request.contains("(raw)"));
        let (limited, path) = match seen {
            Some(ex) => {
                let path = path_of(&ex.request).to_owned();
                (ex, path)
            }
            None => {
                let Some(path) = self.readable().await? else { return Ok(skip(self.nothing_readable())) };
                let mut hit = None;
                for _ in 0..self.config.rate_limit_requests {
                    let ex = self.client.send(Req::new(Method::GET, &path)).await?;
                    if ex.status == too_many {
                        hit = Some(ex);
                        break;
                    }
                }
                match hit {
                    Some(ex) => (ex, path),
                    None => {
                        return Ok(skip(format!(
                            "no 429 reached within {} requests to GET {path} (raise --rate-limit-requests)",
                            self.config.rate_limit_requests
                        )))
                    }
                }
            }
        };
        let Some(value) = limited.header(&header::RETRY_AFTER) else {
            return Ok(fail(&limited, "429 without Retry-After"));
        };
        let wait = match grammar::retry_after(value.as_bytes()) {
            Ok(r) => r.delay_from(SystemTime::now()),
            Err(e) => return Ok(fail(&limited, e)),
        };
        if wait > self.config.max_wait {
            return Ok(skip(format!(
                "Retry-After asks for {}s, more than the {}s the probe waits (--max-wait)",
                wait.as_secs(),
                self.config.max_wait.as_secs()
            )));
        }
        tokio::time::sleep(wait + Duration::from_millis(100)).await;
        let again = self.client.send(Req::new(Method::GET, &path)).await?;
        let mut v = judged(again.status != too_many, &limited, || {
            format!("after waiting Retry-After ({}s) the request was answered {} again", wait.as_secs(), again.status)
        });
        v.reached = Some(too_many);
        Ok(v)
    }
}
