//! Problem types of an API's own (RFC 9457 §4): a `type` URI, a title, a catalog status and
//! typed extension members, used as easily as the catalog's constructors.
//!
//! The catalog stays the default: [`Problem::not_found`](crate::Problem::not_found) and its siblings keep their
//! `/docs/errors#<name>` types. An API adds its own where a status alone says too little
//! (`out-of-credit` rather than a bare 403), and chooses where its error docs live with
//! [`DocsBase`] (a path or an absolute URL).
//!
//! ```
//! use axum::{routing::post, Router};
//! use statuskit::problem_type::{Member, ProblemType};
//! use statuskit::{status, ContractLayer, Problem};
//! use tower::ServiceExt;
//!
//! const BALANCE: Member<i64> = Member::new("balance", "your balance, in cents");
//! static OUT_OF_CREDIT: ProblemType = ProblemType::new("out-of-credit", &status::FORBIDDEN, "You do not have enough credit")
//!     .description("The price of what you bought is more than your balance.")
//!     .members(&[BALANCE.doc()]);
//!
//! async fn buy() -> Result<(), Problem> {
//!     Err(Problem::of(&OUT_OF_CREDIT, "this costs 50, your balance is 30").with(BALANCE, 30))
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new().route("/buy", post(buy)).layer(ContractLayer::new());
//! let res = app.oneshot(http::Request::post("/buy").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 403);
//! let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
//! let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(json["type"], "/docs/errors#out-of-credit");
//! assert_eq!(json["title"], "You do not have enough credit");
//! assert_eq!(json["balance"], 30);
//! # });
//! ```

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

use serde_json::Value;

use crate::status::{Status, CATALOG, DOCS_PATH};

/// Member names a problem body already uses: RFC 9457's own (`type`, `title`, `status`,
/// `detail`, `instance`) and the contract's (`message`, `errors`, `request_id`, `report`).
pub const RESERVED_MEMBERS: &[&str] =
    &["type", "title", "status", "detail", "instance", "message", "errors", "request_id", "report"];

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn is_reserved(name: &str) -> bool {
    let mut i = 0;
    while i < RESERVED_MEMBERS.len() {
        if str_eq(RESERVED_MEMBERS[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

/// RFC 9457 §3.2: extension member names "SHOULD start with a letter (a-z, A-Z) and SHOULD
/// comprise only letters, digits and underscores", and be three characters or more, so that
/// they carry over to XML.
const fn is_member_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_alphabetic() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            return false;
        }
        i += 1;
    }
    true
}

/// A fragment that needs no escaping in a URI or an HTML `id`: letters, digits, `-`, `_`, `.`.
const fn is_anchor(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'_' || b[i] == b'.') {
            return false;
        }
        i += 1;
    }
    true
}

const fn is_catalog_name(name: &str) -> bool {
    let mut i = 0;
    while i < CATALOG.len() {
        if str_eq(CATALOG[i].name, name) {
            return true;
        }
        i += 1;
    }
    false
}

/// A scheme followed by `:` (RFC 3986 §3.1): the mark of an absolute URI.
const fn has_scheme(uri: &str) -> bool {
    let b = uri.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphabetic() {
        return false;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b':' => return i + 1 < b.len(),
            c if c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.' => i += 1,
            _ => return false,
        }
    }
    false
}

/// What an extension member holds, and its JSON Schema type for the docs and OpenAPI.
pub trait MemberValue: Into<Value> {
    /// The JSON Schema `type` (`"integer"`, `"string"`, …); `None` for any JSON value.
    const JSON_TYPE: Option<&'static str>;
}

macro_rules! member_values {
    ($($t:ty => $json:literal),* $(,)?) => {
        $(impl MemberValue for $t {
            const JSON_TYPE: Option<&'static str> = Some($json);
        })*
    };
}

member_values! {
    String => "string", &'static str => "string", bool => "boolean", f64 => "number",
    i8 => "integer", i16 => "integer", i32 => "integer", i64 => "integer", isize => "integer",
    u8 => "integer", u16 => "integer", u32 => "integer", u64 => "integer", usize => "integer",
    serde_json::Map<String, Value> => "object",
}

impl<T: Into<Value>> MemberValue for Vec<T> {
    const JSON_TYPE: Option<&'static str> = Some("array");
}

impl MemberValue for Value {
    const JSON_TYPE: Option<&'static str> = None;
}

/// How an extension member is documented: its name, JSON type and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberDoc {
    name: &'static str,
    json_type: Option<&'static str>,
    description: &'static str,
}

impl MemberDoc {
    /// The member's name in the problem body.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its JSON Schema type, `None` for any JSON value.
    pub fn json_type(&self) -> Option<&'static str> {
        self.json_type
    }

    /// What it says.
    pub fn description(&self) -> &'static str {
        self.description
    }
}

/// A typed extension member (RFC 9457 §3.2), added with [`Problem::with`](crate::Problem::with).
///
/// Declared as a `const`, a name that would collide with a standard member ([`RESERVED_MEMBERS`])
/// or that is not a portable member name does not compile:
///
/// ```compile_fail
/// const BAD: statuskit::problem_type::Member<String> = statuskit::problem_type::Member::new("detail", "");
/// ```
#[derive(Debug)]
pub struct Member<T> {
    doc: MemberDoc,
    value: PhantomData<fn(T)>,
}

impl<T> Clone for Member<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Member<T> {}

impl<T: MemberValue> Member<T> {
    /// A member named `name`, holding a `T`.
    ///
    /// # Panics
    ///
    /// If `name` is one of [`RESERVED_MEMBERS`], or not letters, digits and `_` starting with a
    /// letter, three characters or more (RFC 9457 §3.2). In a `const` this is a compile error.
    pub const fn new(name: &'static str, description: &'static str) -> Self {
        assert!(!is_reserved(name), "an extension member cannot reuse a standard member's name");
        assert!(is_member_name(name), "an extension member's name is letters, digits and _, 3 or more");
        Member { doc: MemberDoc { name, json_type: T::JSON_TYPE, description }, value: PhantomData }
    }
}

impl<T> Member<T> {
    /// How the member is documented, for [`ProblemType::members`].
    pub const fn doc(&self) -> MemberDoc {
        self.doc
    }

    /// The member's name.
    pub const fn name(&self) -> &'static str {
        self.doc.name
    }
}

/// A problem type of the API's own: where its `type` points, its title, its catalog status
/// and the extension members it carries. Build problems of it with
/// [`Problem::of`](crate::Problem::of); list it in the docs with
/// [`ErrorDocs::problem_type`](crate::docs::ErrorDocs::problem_type) (feature `docs`).
///
/// Its `type` is the docs base followed by `#name` (see [`DocsBase`]), or the absolute URI given
/// with [`ProblemType::at`]:
///
/// ```
/// use statuskit::problem_type::{DocsBase, ProblemType};
/// use statuskit::status;
///
/// static QUOTA: ProblemType = ProblemType::new("quota-spent", &status::TOO_MANY_REQUESTS, "Monthly quota spent");
/// static CREDIT: ProblemType = ProblemType::new("out-of-credit", &status::FORBIDDEN, "Out of credit")
///     .at("https://api.example.com/probs/out-of-credit");
/// assert_eq!(QUOTA.type_uri(&DocsBase::default()), "/docs/errors#quota-spent");
/// let base = DocsBase::new("https://api.example.com/errors").unwrap();
/// assert_eq!(QUOTA.type_uri(&base), "https://api.example.com/errors#quota-spent");
/// assert_eq!(CREDIT.type_uri(&base), "https://api.example.com/probs/out-of-credit");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    name: &'static str,
    uri: Option<&'static str>,
    status: &'static Status,
    title: &'static str,
    description: &'static str,
    members: &'static [MemberDoc],
}

impl ProblemType {
    /// A type named `name` (its anchor on the docs page), answered with `status`, titled `title`.
    ///
    /// # Panics
    ///
    /// If `name` is empty, holds anything but letters, digits, `-`, `_` and `.`, or is the name
    /// of a catalog status (its anchor would collide); if `status` is not a 4xx or 5xx. In a
    /// `const` or `static` this is a compile error.
    pub const fn new(name: &'static str, status: &'static Status, title: &'static str) -> Self {
        assert!(is_anchor(name), "a problem type's name is letters, digits, -, _ and .");
        assert!(!is_catalog_name(name), "a problem type's name cannot be a catalog status name");
        assert!(status.code.as_u16() >= 400, "a problem type answers with a 4xx or 5xx status");
        ProblemType { name, uri: None, status, title, description: "", members: &[] }
    }

    /// An absolute `type` URI instead of `<docs base>#name`.
    ///
    /// # Panics
    ///
    /// If `uri` does not start with a scheme (`https:`, `urn:`, `tag:`…). In a `const` or
    /// `static` this is a compile error.
    #[must_use]
    pub const fn at(self, uri: &'static str) -> Self {
        assert!(has_scheme(uri), "an absolute problem type URI starts with its scheme");
        ProblemType { uri: Some(uri), ..self }
    }

    /// What the type means and what to do about it, for the docs.
    #[must_use]
    pub const fn description(self, description: &'static str) -> Self {
        ProblemType { description, ..self }
    }

    /// The extension members problems of this type carry, for the docs and OpenAPI.
    #[must_use]
    pub const fn members(self, members: &'static [MemberDoc]) -> Self {
        ProblemType { members, ..self }
    }

    /// The name: the anchor on the docs page.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The catalog status problems of this type answer with.
    pub fn status(&self) -> &'static Status {
        self.status
    }

    /// The title, the same for every problem of the type.
    pub fn title(&self) -> &'static str {
        self.title
    }

    /// The description given with [`ProblemType::description`], empty if none.
    pub fn describe(&self) -> &'static str {
        self.description
    }

    /// The documented extension members.
    pub fn documented_members(&self) -> &'static [MemberDoc] {
        self.members
    }

    /// The `type` URI problems of this type carry, given the docs base.
    pub fn type_uri(&self, base: &DocsBase) -> Cow<'static, str> {
        match self.uri {
            Some(uri) => Cow::Borrowed(uri),
            None => Cow::Owned(format!("{}#{}", base.as_str(), self.name)),
        }
    }
}

/// Where the API's error documentation lives: every catalog `type` is `<base>#<status name>`,
/// every relative own type `<base>#<name>`. The default is [`DOCS_PATH`].
///
/// ```
/// use statuskit::problem_type::DocsBase;
///
/// assert_eq!(DocsBase::default().as_str(), "/docs/errors");
/// assert_eq!(DocsBase::new("https://example.com/errors").unwrap().as_str(), "https://example.com/errors");
/// assert!(DocsBase::new("errors#x").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocsBase(Option<Arc<str>>);

/// Why a [`DocsBase`] was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidDocsBase {
    /// Neither an absolute path nor an absolute URI.
    #[error("a docs base is an absolute path (`/docs/errors`) or an absolute URI (`https://…`), not `{0}`")]
    NotAbsolute(String),
    /// It has a fragment: the fragment is the problem type's name.
    #[error("a docs base has no fragment (`#…`): the fragment names the problem type")]
    Fragment,
    /// It does not parse as a URI.
    #[error("a docs base must be a URI")]
    Uri(#[from] http::uri::InvalidUri),
}

impl DocsBase {
    /// `base`: an absolute path or an absolute URI, without a fragment.
    pub fn new(base: impl Into<String>) -> Result<Self, InvalidDocsBase> {
        let base = base.into();
        if base.contains('#') {
            return Err(InvalidDocsBase::Fragment);
        }
        if !(base.starts_with('/') || has_scheme(&base)) {
            return Err(InvalidDocsBase::NotAbsolute(base));
        }
        http::Uri::try_from(base.as_str())?;
        if base == DOCS_PATH {
            return Ok(Self::default());
        }
        Ok(DocsBase(Some(base.into())))
    }

    /// The base, as written.
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or(DOCS_PATH)
    }

    /// The `type` of a catalog status under this base.
    pub fn catalog_type_uri(&self, status: &'static Status) -> Cow<'static, str> {
        match &self.0 {
            None => Cow::Borrowed(status.type_uri),
            Some(base) => Cow::Owned(format!("{base}#{}", status.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status;

    #[test]
    fn names_that_collide_are_refused() {
        for name in RESERVED_MEMBERS {
            assert!(std::panic::catch_unwind(|| Member::<String>::new(name, "")).is_err(), "{name}");
        }
        assert!(std::panic::catch_unwind(|| Member::<String>::new("a b", "")).is_err());
        assert_eq!(Member::<i64>::new("balance", "").doc().json_type(), Some("integer"));
        assert!(std::panic::catch_unwind(|| ProblemType::new("not_found", &status::NOT_FOUND, "x")).is_err());
        assert!(std::panic::catch_unwind(|| ProblemType::new("ok-ish", &status::OK, "x")).is_err());
        assert!(std::panic::catch_unwind(|| ProblemType::new("a", &status::CONFLICT, "x").at("/rel")).is_err());
    }

    #[test]
    fn docs_base_is_checked() {
        assert!(matches!(DocsBase::new("docs"), Err(InvalidDocsBase::NotAbsolute(_))));
        assert!(matches!(DocsBase::new("/docs#x"), Err(InvalidDocsBase::Fragment)));
        assert!(matches!(DocsBase::new("/do cs"), Err(InvalidDocsBase::Uri(_))));
        assert_eq!(DocsBase::new(DOCS_PATH).unwrap(), DocsBase::default());
        let base = DocsBase::new("https://example.com/e").unwrap();
        assert_eq!(base.catalog_type_uri(&status::GONE), "https://example.com/e#gone");
        assert_eq!(DocsBase::default().catalog_type_uri(&status::GONE), "/docs/errors#gone");
    }
}
