use super::*;
use proptest::prelude::*;

#[test]
fn json_has_every_member() {
    let mut errors = FieldErrors::new();
    errors.add("name", "can't be blank");
    errors.add("email", "has already been taken");
    let p = Problem::unprocessable_entity(errors);
    let body: Value = serde_json::from_slice(&p.render(Format::Json, "01ABC", None)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "type": "/docs/errors#unprocessable_entity",
            "title": "Unprocessable Entity",
            "status": 422,
            "detail": "2 fields are invalid",
            "message": "2 fields are invalid",
            "errors": {"email": ["has already been taken"], "name": ["can't be blank"]},
            "request_id": "01ABC"
        })
    );
}

#[cfg(feature = "xml")]
#[test]
fn xml_follows_appendix_b_and_escapes() {
    let p = Problem::not_acceptable(&["application/json"]);
    assert_eq!(p.format_for(Format::Xml), Format::Json);
    let p = Problem::bad_request("a < b & \"c\"").extension("list", Value::from(vec!["x", "y"]));
    let xml = String::from_utf8(p.render(Format::Xml, "id1", None)).unwrap();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><problem xmlns=\"urn:ietf:rfc:7807\">"),
        "{xml}"
    );
    assert!(xml.contains("<status>400</status>"));
    assert!(xml.contains("<detail>a &lt; b &amp; \"c\"</detail>"), "{xml}");
    assert!(xml.contains("<list><i>x</i><i>y</i></list>"));
    assert!(xml.contains("<request_id>id1</request_id>"));
}

#[cfg(feature = "xml")]
#[test]
fn xml_parses_whatever_the_problem_echoes() {
    let mut errors = FieldErrors::new();
    errors.add("items[0].na\u{1}me", "bad \u{0} \u{FFFF} value");
    let p = Problem::unprocessable_entity(errors)
        .extension("extra", serde_json::json!({"a b": "\u{8}", "ok": [null, true, 1.5], "1x": {"y": "z"}}));
    let xml = String::from_utf8(p.render(Format::Xml, "id\u{1}", Some("https://x/\u{2}"))).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let field = doc.descendants().find(|n| n.has_tag_name("field")).unwrap();
    assert_eq!(field.attribute("name"), Some("items[0].na\u{FFFD}me"));
    assert!(xml.contains("<i>bad \u{FFFD} \u{FFFD} value</i>"), "{xml}");
    assert!(xml.contains("<member name=\"a b\">\u{FFFD}</member>"), "{xml}");
    assert!(xml.contains("<ok><i/><i>true</i><i>1.5</i></ok>"), "{xml}");
    assert!(xml.contains("<member name=\"1x\"><y>z</y></member>"), "{xml}");
}

/// Characters a strict parser cares about, often, among arbitrary ones.
#[cfg(feature = "xml")]
fn hostile_text() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => any::<char>(),
        4 => (0u32..0x20).prop_map(|c| char::from_u32(c).expect("C0 is a char")),
        1 => Just('\u{FFFE}'),
        1 => Just('\u{FFFF}'),
        2 => proptest::sample::select(vec!['<', '>', '&', '"', '\'', ']', ':', '\r', '\u{7F}', '\u{85}']),
    ];
    proptest::collection::vec(c, 0..24).prop_map(String::from_iter)
}

/// What a parser reads back: the text itself, but for what XML cannot carry.
#[cfg(feature = "xml")]
fn read_back(s: &str) -> String {
    crate::xml::replace_invalid(s).into_owned()
}

#[cfg(feature = "xml")]
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        hostile_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(hostile_text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[cfg(feature = "xml")]
proptest! {
    #[test]
    fn every_problem_xml_parses(
        detail in hostile_text(),
        fields in proptest::collection::btree_map(hostile_text(), hostile_text(), 0..3),
        ext in json_value(),
        request_id in hostile_text(),
        report in hostile_text(),
    ) {
        let mut errors = FieldErrors::new();
        for (f, m) in &fields {
            errors.add(f.clone(), m.clone());
        }
        let with_errors = Problem::unprocessable_entity(errors).extension("extra", ext.clone());
        let plain = Problem::bad_request(detail.clone()).extension("extra", ext);
        for (problem, report) in [(&with_errors, None), (&plain, None), (&Problem::internal(), Some(report.as_str()))] {
            let xml = String::from_utf8(problem.render(Format::Xml, &request_id, report)).unwrap();
            let doc = roxmltree::Document::parse(&xml);
            prop_assert!(doc.is_ok(), "{:?}: {}", doc.err(), xml);
            let doc = doc.unwrap();
            let child = |name: &str| doc.root_element().children().find(|n| n.has_tag_name(name)).and_then(|n| n.text()).unwrap_or("").to_owned();
            prop_assert_eq!(child("request_id"), read_back(&request_id));
            if problem.status().code == status::BAD_REQUEST.code {
                prop_assert_eq!(child("detail"), read_back(&detail));
            }
        }
        let names: Vec<_> = with_errors_xml_fields(&with_errors);
        let expected: Vec<_> = fields.keys().map(|k| read_back(k)).collect();
        prop_assert_eq!(names, expected);
    }
}

/// The `name` attributes of `<field>` as a parser reads them.
#[cfg(feature = "xml")]
fn with_errors_xml_fields(p: &Problem) -> Vec<String> {
    let xml = String::from_utf8(p.render(Format::Xml, "r", None)).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    doc.descendants().filter(|n| n.has_tag_name("field")).map(|n| n.attribute("name").unwrap().to_owned()).collect()
}

const BALANCE: Member<i64> = Member::new("balance", "the balance, in cents");
const ACCOUNTS: Member<Vec<&'static str>> = Member::new("accounts", "accounts to top up");
static OUT_OF_CREDIT: ProblemType =
    ProblemType::new("out-of-credit", &status::FORBIDDEN, "You do not have enough credit")
        .members(&[BALANCE.doc(), ACCOUNTS.doc()]);
static ABSOLUTE: ProblemType =
    ProblemType::new("limit", &status::CONFLICT, "Limit reached").at("https://example.com/probs/limit");

#[test]
fn own_types_render_their_type_title_and_members_in_json() {
    let p = Problem::of(&OUT_OF_CREDIT, "costs 50, balance 30").with(BALANCE, 30).with(BALANCE, 31);
    assert_eq!(p.status().code, status::FORBIDDEN.code);
    let body: Value = serde_json::from_slice(&p.render(Format::Json, "r1", None)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "type": "/docs/errors#out-of-credit",
            "title": "You do not have enough credit",
            "status": 403,
            "detail": "costs 50, balance 30",
            "message": "costs 50, balance 30",
            "request_id": "r1",
            "balance": 31
        })
    );
    let base = DocsBase::new("https://api.example.com/errors").unwrap();
    let body: Value = serde_json::from_slice(&p.render_at(Format::Json, "r1", None, &base)).unwrap();
    assert_eq!(body["type"], "https://api.example.com/errors#out-of-credit");
    let gone: Value =
        serde_json::from_slice(&Problem::not_found("x").render_at(Format::Json, "r", None, &base)).unwrap();
    assert_eq!(gone["type"], "https://api.example.com/errors#not_found");
    let abs = Problem::of(&ABSOLUTE, "x");
    assert_eq!(abs.type_uri(&base), "https://example.com/probs/limit");
    assert_eq!(abs.to_string(), "409 Limit reached: x");
}

#[cfg(feature = "xml")]
#[test]
fn own_types_render_their_members_in_xml() {
    let p = Problem::of(&OUT_OF_CREDIT, "costs 50").with(BALANCE, 30).with(ACCOUNTS, vec!["/a/1", "/a/2"]);
    let xml = String::from_utf8(p.render(Format::Xml, "r1", None)).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let child = |name: &str| doc.root_element().children().find(|n| n.has_tag_name(name)).unwrap();
    assert_eq!(child("type").text(), Some("/docs/errors#out-of-credit"));
    assert_eq!(child("title").text(), Some("You do not have enough credit"));
    assert_eq!(child("status").text(), Some("403"));
    assert_eq!(child("balance").text(), Some("30"));
    let accounts: Vec<_> = child("accounts").children().filter_map(|n| n.text()).collect();
    assert_eq!(accounts, ["/a/1", "/a/2"]);
}

#[test]
fn internal_errors_never_leak_their_cause() {
    let p = Problem::internal_server_error("SELECT * FROM secret at /srv/app.rs:12");
    let body = String::from_utf8(p.render(Format::Json, "r1", Some("https://example.com/issues"))).unwrap();
    assert!(!body.contains("SELECT") && !body.contains("/srv"), "{body}");
    assert!(body.contains("https://example.com/issues") && body.contains("r1"));
}

#[test]
fn required_headers_come_with_their_status() {
    let allow = Allow::from_methods([http::Method::GET, http::Method::PUT]);
    let p = Problem::method_not_allowed(&http::Method::POST, &allow);
    assert_eq!(p.headers()[ALLOW], "GET, HEAD, PUT, OPTIONS");
    let p = Problem::too_many_requests(RetryAfter::seconds(3), "slow down");
    assert_eq!(p.headers()[RETRY_AFTER], "3");
    let p = Problem::unauthorized(Challenge::bearer("r"), "log in");
    assert_eq!(p.headers()[WWW_AUTHENTICATE], "Bearer realm=\"r\"");
    let tag = EntityTag::strong("1").unwrap();
    assert_eq!(Problem::precondition_failed(Some(&tag), "x").headers()[ETAG], "\"1\"");
}
