//! The checks, as data: what each sends, what it expects, and the rule it enforces (an RFC
//! section or a contract row, with its MUST/SHOULD).

use serde::Serialize;
use statuskit::status;

/// How binding the rule behind a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Level {
    /// An absolute requirement (RFC 2119 MUST / MUST NOT, or a contract "must carry").
    #[serde(rename = "MUST")]
    Must,
    /// A recommendation (RFC 2119 SHOULD).
    #[serde(rename = "SHOULD")]
    Should,
}

impl Level {
    /// `MUST` or `SHOULD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        }
    }
}

/// One check: send this, expect that.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Check {
    /// Short stable name, used by `--only`.
    pub id: &'static str,
    /// The status the check expects, if it expects one (for the summary).
    pub status: Option<u16>,
    /// What the probe sends.
    pub sends: &'static str,
    /// What a conforming API answers.
    pub expects: &'static str,
    /// The rule: an RFC section or a contract row.
    pub cite: &'static str,
    /// MUST or SHOULD.
    pub level: Level,
}

macro_rules! checks {
    ($($variant:ident = $id:literal, $status:expr, $level:ident, $cite:literal, $sends:literal, $expects:literal;)*) => {
        /// Every check the probe knows, by name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CheckId { $(#[doc = $expects] $variant),* }

        impl CheckId {
            /// Every check, in the order they run.
            pub const ALL: &'static [CheckId] = &[$(CheckId::$variant),*];

            /// The check's data.
            pub fn check(self) -> Check {
                match self {
                    $(CheckId::$variant => Check {
                        id: $id, status: $status, sends: $sends, expects: $expects, cite: $cite, level: Level::$level,
                    }),*
                }
            }
        }
    };
}

checks! {
    HeadParity = "head", None, Must, "RFC 9110 §9.3.2",
        "GET and HEAD of the same resource",
        "HEAD: the same status as GET, no content, and any Content-Length equal to GET's content length";
    HeadFields = "head-fields", None, Should, "RFC 9110 §9.3.2",
        "GET and HEAD of the same resource",
        "HEAD carries the header fields GET carries (values may differ; fields computed while generating the content may be left out)";
    OptionsAllow = "options", None, Should, "RFC 9110 §9.3.7",
        "OPTIONS on each path",
        "a 2xx answer with Allow";
    AllowDocumented = "allow", None, Must, "contract §1 row 405, contract §4",
        "(every Allow on a 405 or an OPTIONS answer the probe received)",
        "Allow lists every method the OpenAPI document lists for that path";
    MethodNotAllowed = "405", Some(status::METHOD_NOT_ALLOWED.code.as_u16()), Must, "RFC 9110 §15.5.6",
        "a method neither the document nor Allow lists for the path",
        "405 with Allow listing every method the path accepts";
    NotFound = "404", Some(status::NOT_FOUND.code.as_u16()), Must, "contract §1 row 404",
        "GET of a path that cannot exist",
        "404 with a problem body";
    NotAcceptable = "406", Some(status::NOT_ACCEPTABLE.code.as_u16()), Should, "RFC 9110 §15.5.7, contract §1 row 406",
        "GET with Accept: image/png",
        "406 with a JSON problem body listing what is available";
    VaryAccept = "vary", None, Should, "RFC 9110 §12.5.5, contract §4",
        "GET of a representation chosen by Accept",
        "Vary listing Accept";
    UnsupportedMediaType = "415", Some(status::UNSUPPORTED_MEDIA_TYPE.code.as_u16()), Must, "contract §1 row 415, RFC 9110 §15.5.16",
        "POST with Content-Type: text/plain to a collection that takes JSON",
        "415 with Accept-Post listing the accepted types";
    BadJson = "400", Some(status::BAD_REQUEST.code.as_u16()), Must, "contract §1 row 400",
        "POST of a JSON body that does not parse",
        "400 with a problem body";
    Validation = "422", Some(status::UNPROCESSABLE_ENTITY.code.as_u16()), Must, "contract §1 row 422",
        "POST of well-formed JSON missing every required field",
        "422 with a problem body whose `errors` names the fields";
    Created = "201", Some(status::CREATED.code.as_u16()), Should, "RFC 9110 §9.3.3, §15.3.2",
        "POST of a body made from the collection's schema",
        "201 with Location; GET of Location answers 200";
    DeleteThenGone = "204-404", Some(status::NO_CONTENT.code.as_u16()), Must, "contract §1 rows 204 and 404",
        "DELETE of the created resource, then GET of it",
        "204 with no content, then 404";
    EtagPresent = "etag", None, Should, "RFC 9110 §8.8.3.1, contract §4",
        "GET of the created resource",
        "an ETag on the single resource";
    NotModifiedStrong = "304-strong", Some(status::NOT_MODIFIED.code.as_u16()), Must, "RFC 9110 §13.1.2",
        "GET with If-None-Match: the current ETag",
        "304 with the ETag and no content";
    NotModifiedWeak = "304-weak", Some(status::NOT_MODIFIED.code.as_u16()), Must, "RFC 9110 §13.1.2 (weak comparison)",
        "GET with If-None-Match: W/ + the current ETag",
        "304 with the ETag and no content";
    NotModifiedStar = "304-star", Some(status::NOT_MODIFIED.code.as_u16()), Must, "RFC 9110 §13.1.2",
        "GET with If-None-Match: *",
        "304 with no content";
    NoneMatchOther = "200-inm", Some(status::OK.code.as_u16()), Must, "RFC 9110 §13.1.2, §13.2.2",
        "GET with If-None-Match: a tag no representation has",
        "the normal answer (200), never 304: the condition is true";
    StaleIfMatch = "412-stale", Some(status::PRECONDITION_FAILED.code.as_u16()), Must, "RFC 9110 §13.1.1",
        "PUT (or PATCH) of the created resource with If-Match: a tag it never had",
        "not carried out: 412 (or, without ETag support, another refusal), and the resource unchanged";
    WeakIfMatch = "412-weak", Some(status::PRECONDITION_FAILED.code.as_u16()), Must, "RFC 9110 §13.1.1 (strong comparison)",
        "PUT (or PATCH) with If-Match: W/ + the current ETag",
        "not carried out (412): a weak tag never matches If-Match";
    Unauthorized = "401", Some(status::UNAUTHORIZED.code.as_u16()), Must, "RFC 9110 §15.5.2, §11.6.1",
        "a request without credentials to a protected resource",
        "401 with a WWW-Authenticate challenge that parses";
    BearerChallenge = "401-bearer", Some(status::UNAUTHORIZED.code.as_u16()), Should, "RFC 6750 §3, §3.1",
        "a request without credentials to a protected resource",
        "a Bearer challenge without an error attribute (realm is a MAY and not required)";
    InvalidToken = "401-invalid-token", Some(status::UNAUTHORIZED.code.as_u16()), Should, "RFC 6750 §3.1",
        "a request with an unknown bearer token",
        "401 with error=\"invalid_token\" in the challenge";
    TooManyRequests = "429", Some(status::TOO_MANY_REQUESTS.code.as_u16()), Must, "contract §1 row 429, RFC 6585 §4",
        "the same request repeatedly until the API answers 429",
        "429 with a Retry-After that parses; after waiting that long, the request succeeds";
    LengthRequired = "411", Some(status::LENGTH_REQUIRED.code.as_u16()), Must, "contract §1 row 411, RFC 9110 §15.5.12",
        "POST with a body but neither Content-Length nor Transfer-Encoding (raw socket)",
        "411 with a problem body";
    ProblemBodies = "problem", None, Must, "contract §3.1, RFC 9457 §3.1",
        "(every 4xx and 5xx answer the probe received, once per distinct request)",
        "a problem body (application/problem+json or +xml) whose status equals the HTTP status";
    EtagGrammar = "grammar-etag", None, Must, "RFC 9110 §8.8.3",
        "(every ETag the probe received)",
        "entity-tag = [ W/ ] DQUOTE *etagc DQUOTE";
    AllowGrammar = "grammar-allow", None, Must, "RFC 9110 §10.2.1",
        "(every Allow the probe received)",
        "Allow = #method (comma-separated tokens)";
    RetryAfterGrammar = "grammar-retry-after", None, Must, "RFC 9110 §10.2.3",
        "(every Retry-After the probe received)",
        "Retry-After = HTTP-date / delay-seconds";
    WwwAuthenticateGrammar = "grammar-www-authenticate", None, Must, "RFC 9110 §11.6.1",
        "(every WWW-Authenticate the probe received)",
        "challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]";
}

impl CheckId {
    /// The check whose id is `id`.
    pub fn from_id(id: &str) -> Option<CheckId> {
        CheckId::ALL.iter().copied().find(|c| c.check().id == id)
    }
}

/// What came of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "lowercase")]
pub enum Outcome {
    /// The API did what the rule says.
    Pass,
    /// It did not; the reason says what it did instead.
    Fail(String),
    /// The check does not apply to this API, or could not be set up; the reason says why.
    Skip(String),
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The check.
    pub check: Check,
    /// Pass, fail or skip, with the reason.
    pub outcome: Outcome,
    /// The status the API answered to the check's main request, if one was sent.
    pub reached: Option<u16>,
    /// The request that decided the outcome, e.g. `PATCH /v1/customers/3`.
    pub request: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_check_cites_a_rule() {
        let mut ids: Vec<&str> = CheckId::ALL.iter().map(|c| c.check().id).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate check ids");
        for c in CheckId::ALL {
            let c = c.check();
            assert!(c.cite.starts_with("RFC ") || c.cite.starts_with("contract"), "{}", c.id);
            assert_eq!(CheckId::from_id(c.id).map(|x| x.check().id), Some(c.id));
        }
    }
}
