//! Credentials: the 401 challenge, Bearer, an unknown token.

use super::*;

impl Run<'_> {
    pub(super) async fn challenge(&mut self, token: Option<&str>) -> Result<Option<Exchange>, TransportError> {
        let Some(path) = self.protected().await? else { return Ok(None) };
        let req = Req::new(Method::GET, &path);
        let req = match token {
            Some(t) => req.bearer(t),
            None => req.anonymous(),
        };
        Ok(Some(self.client.send(req).await?))
    }

    pub(super) fn no_protected_path(&self) -> String {
        "no path the probe reads answered 401 without credentials".into()
    }

    pub(super) async fn unauthorized(&mut self) -> Checked {
        let Some(ex) = self.challenge(None).await? else { return Ok(skip(self.no_protected_path())) };
        Ok(match ex.header(&header::WWW_AUTHENTICATE).map(grammar::www_authenticate) {
            None => fail(&ex, "401 without WWW-Authenticate"),
            Some(Err(e)) => fail(&ex, e),
            Some(Ok(_)) => pass(&ex),
        })
    }

    pub(super) async fn bearer(&mut self) -> Checked {
        let Some(ex) = self.challenge(None).await? else { return Ok(skip(self.no_protected_path())) };
        let Some(Ok(challenges)) = ex.header(&header::WWW_AUTHENTICATE).map(grammar::www_authenticate) else {
            return Ok(skip("the 401 carried no WWW-Authenticate that parses (see the 401 check)"));
        };
        let Some(bearer) = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("bearer")) else {
            let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
            return Ok(fail(&ex, format!("no Bearer challenge; the schemes offered are {}", listed(&schemes))));
        };
        Ok(judged(bearer.param("error").is_none(), &ex, || {
            format!(
                "the challenge carries error=\"{}\" although no token was sent",
                bearer.param("error").unwrap_or_default()
            )
        }))
    }

    pub(super) async fn invalid_token(&mut self) -> Checked {
        let Some(ex) = self.challenge(Some("statuskit-probe-not-a-token")).await? else {
            return Ok(skip(self.no_protected_path()));
        };
        if ex.status != status::UNAUTHORIZED.code.as_u16() {
            return Ok(fail(&ex, format!("an unknown token was answered {}", ex.status)));
        }
        let error = ex
            .header(&header::WWW_AUTHENTICATE)
            .and_then(|v| grammar::www_authenticate(v).ok())
            .and_then(|cs| cs.into_iter().find_map(|c| c.param("error").map(str::to_owned)));
        Ok(judged(error.as_deref() == Some("invalid_token"), &ex, || match &error {
            Some(e) => format!("the challenge's error is \"{e}\", not \"invalid_token\""),
            None => "the challenge has no error attribute".into(),
        }))
    }
}
