//! The steps checks share, each taken once per run: the resource the probe creates and reads
//! back, a resource with an `ETag`, the live reads, a path that asks for credentials; and the
//! skip a 401 or 403 makes, naming the credential or scope a request needs.

use super::*;

/// A resource the probe reads, and changes when the probe created it.
#[derive(Debug, Clone)]
pub(super) struct Fixture {
    pub(super) path: String,
    pub(super) etag: Option<String>,
    /// Its GET content, to tell whether a refused change left it alone.
    pub(super) body: Vec<u8>,
    /// Where it came from, to make a valid replacement body; `None` for a read.
    pub(super) collection: Option<Collection>,
}

/// Why a step another check depends on did not give what that check needs (a skip reason).
pub(super) type Missing = String;

/// The create step's outcome when it gave no resource: the 201 check's own verdict, and the
/// reason the checks that needed the resource give.
pub(super) struct Blocked {
    pub(super) verdict: Verdict,
    pub(super) why: Missing,
}

impl Run<'_> {
    /// A skip when `ex` is the API asking for credentials (401) or refusing the token (403),
    /// naming what the request needs: a token, and the scope the challenge or the document names.
    pub(super) fn credentials(&self, ex: &Exchange) -> Option<Verdict> {
        self.credential_needed(ex).map(|why| skip_seen(ex, why))
    }

    /// What [`Self::credentials`] says, in words.
    pub(super) fn credential_needed(&self, ex: &Exchange) -> Option<String> {
        let unauthorized = ex.status == status::UNAUTHORIZED.code.as_u16();
        if !unauthorized && ex.status != status::FORBIDDEN.code.as_u16() {
            return None;
        }
        let method = ex.request.split(' ').next().unwrap_or_default();
        let path = path_of(&ex.request);
        let challenged: Vec<String> = ex
            .header(&header::WWW_AUTHENTICATE)
            .and_then(|v| grammar::www_authenticate(v).ok())
            .into_iter()
            .flatten()
            .filter_map(|c| c.param("scope").map(|s| s.split(' ').map(str::to_owned).collect::<Vec<_>>()))
            .flatten()
            .collect();
        let scopes = if challenged.is_empty() {
            self.targets.scopes_for(method, path).map(<[String]>::to_vec).unwrap_or_default()
        } else {
            challenged
        };
        let scope = if scopes.is_empty() { String::new() } else { format!(" with scope {}", scopes.join(" ")) };
        Some(if unauthorized && self.client.has_token() {
            format!("{method} {path} refused the token given with --token (401): it needs a valid bearer token{scope}")
        } else if unauthorized {
            format!("{method} {path} needs credentials (answered 401): give a bearer token{scope} with --token")
        } else if scopes.is_empty() {
            format!("{method} {path} answered 403: the token given is not allowed to; it needs a token that is")
        } else {
            format!("{method} {path} answered 403: it needs a token{scope}")
        })
    }

    /// POSTs a body made from the first collection's schema.
    pub(super) async fn create(&self) -> Result<Result<(String, Exchange), Blocked>, TransportError> {
        let Some(c) = self.collection() else {
            let why = self.no_collection();
            return Ok(Err(Blocked { verdict: skip(why.clone()), why }));
        };
        let ex = self.client.send(Req::new(Method::POST, &c.path).body(mime::JSON, self.sample_body(c))).await?;
        if let Some(need) = self.credential_needed(&ex) {
            let why = format!("the create step could not run: {need}");
            return Ok(Err(Blocked { verdict: skip_seen(&ex, need), why }));
        }
        if ex.status != status::CREATED.code.as_u16() {
            if is_success(ex.status) {
                let why = format!("the create step POST {} answered {}, not 201 with Location", c.path, ex.status);
                return Ok(Err(Blocked { verdict: skip(why.clone()), why }));
            }
            let why = format!(
                "the create step failed: POST {} answered {} to the body made from its schema",
                c.path, ex.status
            );
            let verdict = fail(
                &ex,
                format!("the body made from the document's schema was refused with {}: {}", ex.status, snippet(&ex)),
            );
            return Ok(Err(Blocked { verdict, why }));
        }
        let Some(location) = ex.header(&header::LOCATION) else {
            let why = format!("the create step POST {} answered 201 without Location", c.path);
            return Ok(Err(Blocked { verdict: fail(&ex, "201 without Location"), why }));
        };
        let path = resolve_location(self.client.base(), &c.path, location);
        Ok(Ok((path, ex)))
    }

    /// The resource the probe created (once per run), read back.
    pub(super) async fn own(&mut self) -> Result<Result<Fixture, Missing>, TransportError> {
        if let Some(f) = &self.own {
            return Ok(f.clone());
        }
        let found = match self.create().await? {
            Err(blocked) => Err(blocked.why),
            Ok((path, _)) => {
                let got = self.client.send(Req::new(Method::GET, &path)).await?;
                if got.status == status::OK.code.as_u16() {
                    Ok(Fixture {
                        etag: got.header(&header::ETAG).map(str::to_owned),
                        body: got.body,
                        path,
                        collection: self.collection().cloned(),
                    })
                } else {
                    Err(format!("GET {path}, the resource the probe created, answered {}", got.status))
                }
            }
        };
        self.own = Some(found.clone());
        Ok(found)
    }

    /// A resource with an `ETag`: the probe's own, else a read that sends one.
    pub(super) async fn validated(&mut self) -> Result<Result<Fixture, Missing>, TransportError> {
        if let Some(f) = &self.validated {
            return Ok(f.clone());
        }
        let mut tried = Vec::new();
        let mut own_missing = None;
        let mut found = match self.own().await? {
            Ok(f) if f.etag.is_some() => Some(f),
            Ok(f) => {
                tried.push(format!("GET {}", f.path));
                None
            }
            Err(why) => {
                own_missing = Some(why);
                None
            }
        };
        if found.is_none() {
            for p in self.live().await?.clone() {
                let got = self.client.send(Req::new(Method::GET, &p)).await?;
                if let Some(etag) = got.header(&header::ETAG) {
                    found = Some(Fixture { path: p, etag: Some(etag.to_owned()), body: got.body, collection: None });
                    break;
                }
                tried.push(format!("GET {p}"));
            }
        }
        let result = found.ok_or_else(|| {
            let mut why = "no answer carried an ETag to send back".to_owned();
            if !tried.is_empty() {
                why.push_str(&format!(": {} sent none", listed(&tried)));
            }
            if let Some(own) = own_missing {
                why.push_str(&format!("; and {own}"));
            }
            why
        });
        self.validated = Some(result.clone());
        Ok(result)
    }

    /// The reads whose GET answers 2xx (paths that are alive, not moved or retired).
    pub(super) async fn live(&mut self) -> Result<&Vec<String>, TransportError> {
        if self.live.is_none() {
            let mut live = Vec::new();
            for p in &self.targets.reads {
                let ex = self.client.send(Req::new(Method::GET, p)).await?;
                if is_success(ex.status) {
                    let kind = essence(&ex);
                    if kind == mime::JSON || kind.ends_with("+json") {
                        self.json_reads.push(p.clone());
                    }
                    live.push(p.clone());
                } else {
                    if ex.status == status::UNAUTHORIZED.code.as_u16() && self.protected.is_none() {
                        self.protected = Some(Some(p.clone()));
                    }
                    if self.read_refused.is_none() {
                        self.read_refused = self.credential_needed(&ex);
                    }
                }
            }
            self.live = Some(live);
        }
        Ok(self.live.as_ref().expect("set above"))
    }

    /// A path to read: the probe's own resource, else the first live read.
    pub(super) async fn readable(&mut self) -> Result<Option<String>, TransportError> {
        if let Ok(f) = self.own().await? {
            return Ok(Some(f.path));
        }
        Ok(self.live().await?.first().cloned())
    }

    /// A path whose representation the API chooses by `Accept`, for the 406 and Vary checks:
    /// the probe's own resource, else a read that answered JSON (an API resource rather than a
    /// page for browsers), else any live read.
    pub(super) async fn negotiable(&mut self) -> Result<Option<String>, TransportError> {
        if let Ok(f) = self.own().await? {
            return Ok(Some(f.path));
        }
        let first = self.live().await?.first().cloned();
        Ok(self.json_reads.first().cloned().or(first))
    }

    /// Why [`Self::readable`] found nothing.
    pub(super) fn nothing_readable(&self) -> String {
        if self.targets.reads.is_empty() {
            "no path to read: give --openapi or --path".into()
        } else if let Some(why) = &self.read_refused {
            format!("no path answered GET with 2xx: {why}")
        } else {
            format!("no path answered GET with 2xx (tried {})", listed(&self.targets.reads))
        }
    }

    /// Every concrete path known to be alive: live reads, collections, the probe's own resource.
    pub(super) async fn paths(&mut self) -> Result<Vec<String>, TransportError> {
        let mut out = self.live().await?.clone();
        for c in &self.targets.collections {
            if !out.contains(&c.path) {
                out.push(c.path.clone());
            }
        }
        if let Ok(f) = self.own().await? {
            if !out.contains(&f.path) {
                out.push(f.path);
            }
        }
        Ok(out)
    }

    /// A path that asks for credentials: answers 401 without them.
    pub(super) async fn protected(&mut self) -> Result<Option<String>, TransportError> {
        self.live().await?;
        if let Some(p) = &self.protected {
            return Ok(p.clone());
        }
        let mut candidates: Vec<String> = self.readable().await?.into_iter().collect();
        candidates.extend(self.targets.collections.iter().map(|c| c.path.clone()));
        candidates.extend(self.live().await?.iter().cloned());
        let mut found = None;
        for p in candidates {
            let ex = self.client.send(Req::new(Method::GET, &p).anonymous()).await?;
            if ex.status == status::UNAUTHORIZED.code.as_u16() {
                found = Some(p);
                break;
            }
        }
        self.protected = Some(found.clone());
        Ok(found)
    }
}
