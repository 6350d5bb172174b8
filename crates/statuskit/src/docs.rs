//! The catalog as documentation: a Markdown table (as seeds 001 and 003 are written), a
//! reStructuredText grid table (as seed 000), and the HTML page served at
//! [`DOCS_PATH`], with one anchor per status: where every problem's
//! `type` points. One source, so the docs cannot drift from what the API sends.
//!
//! ```
//! use statuskit::docs::{render, DocFormat};
//!
//! let md = render(DocFormat::Markdown);
//! assert!(md.contains("| 404  | not_found"));
//! let html = render("html".parse().unwrap());
//! assert!(html.contains(r#"id="unprocessable_entity""#));
//! assert!(render(DocFormat::Rst).starts_with("======================="));
//! ```

use std::fmt::Write as _;
use std::str::FromStr;

use crate::problem_type::{DocsBase, ProblemType};
use crate::status::{Status, CATALOG, DOCS_PATH};

/// Which way to write the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocFormat {
    /// GitHub-flavoured Markdown tables, one per class of status.
    Markdown,
    /// reStructuredText grid tables.
    Rst,
    /// A standalone HTML page, one anchor per status.
    Html,
}

/// A docs format name that is none of `markdown`, `md`, `rst`, `html`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown docs format `{0}`; use markdown, rst or html")]
pub struct UnknownDocFormat(String);

impl FromStr for DocFormat {
    type Err = UnknownDocFormat;

    fn from_str(s: &str) -> Result<Self, UnknownDocFormat> {
        match s {
            "markdown" | "md" => Ok(DocFormat::Markdown),
            "rst" => Ok(DocFormat::Rst),
            "html" => Ok(DocFormat::Html),
            other => Err(UnknownDocFormat(other.to_owned())),
        }
    }
}

/// The catalog written in `format`, under the default docs base, without types of the API's own.
pub fn render(format: DocFormat) -> String {
    ErrorDocs::new().render(format)
}

/// Markdown: `# Errors`, then a padded table per class of status (seed 001's layout).
pub fn markdown() -> String {
    ErrorDocs::new().markdown()
}

/// reStructuredText: a title over- and underlined, then a grid table per class (seed 000's).
pub fn rst() -> String {
    ErrorDocs::new().rst()
}

/// The page served at `/docs/errors`: an index of every code, then a table per class of status
/// where each row's `id` is the status name, the anchor of the problem `type`.
pub fn html() -> String {
    ErrorDocs::new().html()
}

/// An API's error documentation: the catalog, the API's own problem types beside it, and the
/// base every relative `type` points at.
///
/// ```
/// use statuskit::docs::{DocFormat, ErrorDocs};
/// use statuskit::problem_type::{DocsBase, Member, ProblemType};
/// use statuskit::status;
///
/// const BALANCE: Member<i64> = Member::new("balance", "your balance, in cents");
/// static OUT_OF_CREDIT: ProblemType = ProblemType::new("out-of-credit", &status::FORBIDDEN, "Out of credit")
///     .members(&[BALANCE.doc()]);
///
/// let docs = ErrorDocs::new()
///     .base(DocsBase::new("https://api.example.com/errors").unwrap())
///     .problem_type(&OUT_OF_CREDIT);
/// let html = docs.render(DocFormat::Html);
/// assert!(html.contains(r#"id="out-of-credit""#) && html.contains(r#"id="not_found""#));
/// assert!(docs.markdown().contains("balance (integer): your balance, in cents"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ErrorDocs {
    base: DocsBase,
    types: Vec<&'static ProblemType>,
}

/// The cells of a table, under its heading.
struct Table {
    heading: &'static str,
    headers: [&'static str; 5],
    rows: Vec<[String; 5]>,
}

const OWN_HEADERS: [&str; 5] = ["Code", "Type", "Title", "Description", "Members"];
const OWN_HEADING: &str = "Problem types of this API";

impl ErrorDocs {
    /// The catalog alone, under `/docs/errors`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The base every relative problem `type` points at (see [`DocsBase`]).
    #[must_use]
    pub fn base(mut self, base: DocsBase) -> Self {
        self.base = base;
        self
    }

    /// Lists one of the API's own problem types beside the catalog.
    #[must_use]
    pub fn problem_type(mut self, kind: &'static ProblemType) -> Self {
        self.types.push(kind);
        self
    }

    /// The docs base.
    pub fn docs_base(&self) -> &DocsBase {
        &self.base
    }

    /// The API's own problem types, in the order they were added.
    pub fn problem_types(&self) -> &[&'static ProblemType] {
        &self.types
    }

    /// The documentation written in `format`.
    pub fn render(&self, format: DocFormat) -> String {
        match format {
            DocFormat::Markdown => self.markdown(),
            DocFormat::Rst => self.rst(),
            DocFormat::Html => self.html(),
        }
    }

    fn tables(&self, cell: fn(&str) -> String) -> Vec<Table> {
        let mut tables: Vec<Table> = SECTIONS
            .iter()
            .map(|&(class, heading)| Table {
                heading,
                headers: HEADERS,
                rows: section(class).map(|s| cells(s).map(|c| cell(&c))).collect(),
            })
            .collect();
        if !self.types.is_empty() {
            let rows = self.types.iter().map(|t| own_cells(t, &self.base).map(|c| cell(&c))).collect();
            tables.push(Table { heading: OWN_HEADING, headers: OWN_HEADERS, rows });
        }
        tables
    }

    /// Markdown: `# Errors`, then a padded table per class of status (seed 001's layout), then
    /// the API's own types.
    pub fn markdown(&self) -> String {
        let mut out = format!("# {TITLE}\n\n{INTRO}\n");
        for t in self.tables(|c| c.replace('|', "\\|")) {
            let w = widths(&t);
            let _ = write!(out, "\n## {}\n\n", t.heading);
            let line = |out: &mut String, row: &[String; 5]| table_row(out, row, &w);
            line(&mut out, &t.headers.map(String::from));
            line(&mut out, &w.map(|n| "-".repeat(n)));
            for row in &t.rows {
                line(&mut out, row);
            }
        }
        out
    }

    /// reStructuredText: a title over- and underlined, then a grid table per class (seed
    /// 000's), then the API's own types.
    pub fn rst(&self) -> String {
        let bar = "=".repeat(TITLE.len());
        let mut out = format!("{bar}\n{TITLE}\n{bar}\n\n{INTRO}\n");
        for t in self.tables(str::to_owned) {
            let w = widths(&t);
            let _ = write!(out, "\n{}\n{}\n\n", t.heading, "-".repeat(t.heading.len()));
            let rule = |out: &mut String, c: char| {
                out.push('+');
                for n in w {
                    out.extend(std::iter::repeat_n(c, n + 2));
                    out.push('+');
                }
                out.push('\n');
            };
            let line = |out: &mut String, row: &[String; 5]| table_row(out, row, &w);
            rule(&mut out, '-');
            line(&mut out, &t.headers.map(String::from));
            rule(&mut out, '=');
            for row in &t.rows {
                line(&mut out, row);
                rule(&mut out, '-');
            }
        }
        out
    }

    /// The page served at the docs base: an index of every code, then a table per class of
    /// status where each row's `id` is the status name, the anchor of the problem `type`, then
    /// the API's own types, each row's `id` its name.
    pub fn html(&self) -> String {
        let mut nav = String::new();
        for s in CATALOG {
            let _ = write!(
                nav,
                "<a class=\"c{class}\" href=\"#{name}\" title=\"{title}\">{code}</a>",
                class = s.code.as_u16() / 100,
                name = s.name,
                title = escape(s.title),
                code = s.code.as_u16()
            );
        }
        let mut sections = String::new();
        for (class, heading) in SECTIONS {
            let _ = writeln!(
                sections,
                "<section><h2>{heading}</h2><table><thead><tr><th>Code</th><th>Name</th><th>Status</th>\
<th>When you get it</th><th>It carries</th></tr></thead><tbody>"
            );
            for s in section(class) {
                let protocol = if s.protocol_level { "<span class=\"tag\">protocol-level</span>" } else { "" };
                let _ = writeln!(
                    sections,
                    "<tr id=\"{name}\"><td class=\"code\"><a class=\"c{class}\" href=\"#{name}\">{code}</a></td>\
<td class=\"name\"><code>{name}</code></td><td>{title}{protocol}</td><td>{desc}</td>\
<td class=\"carries\">{carries}</td></tr>",
                    name = s.name,
                    code = s.code.as_u16(),
                    title = escape(s.title),
                    desc = inline_code(s.description),
                    carries = inline_code(s.carries),
                );
            }
            sections.push_str("</tbody></table></section>\n");
        }
        if !self.types.is_empty() {
            let _ = writeln!(
                sections,
                "<section><h2>{OWN_HEADING}</h2><table><thead><tr><th>Code</th><th>Type</th><th>Title</th>\
<th>When you get it</th><th>Members</th></tr></thead><tbody>"
            );
            for t in &self.types {
                let members: Vec<String> = t
                    .documented_members()
                    .iter()
                    .map(|m| {
                        format!(
                            "<code>{}</code> ({}): {}",
                            m.name(),
                            m.json_type().unwrap_or("any"),
                            escape(m.description())
                        )
                    })
                    .collect();
                let _ = writeln!(
                    sections,
                    "<tr id=\"{name}\"><td class=\"code\"><a class=\"c{class}\" href=\"#{name}\">{code}</a></td>\
<td class=\"name\"><code>{uri}</code></td><td>{title}</td><td>{desc}</td><td class=\"carries\">{members}</td></tr>",
                    name = t.name(),
                    class = t.status().code.as_u16() / 100,
                    code = t.status().code.as_u16(),
                    uri = escape(&t.type_uri(&self.base)),
                    title = escape(t.title()),
                    desc = inline_code(t.describe()),
                    members = members.join("<br>"),
                );
            }
            sections.push_str("</tbody></table></section>\n");
        }
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body><main>\n\
<h1>{title}</h1>\n<p class=\"lead\">{intro}</p>\n<nav aria-label=\"Status codes\">{nav}</nav>\n\
<p>An error body looks like this (a 422):</p>\n<pre><code>{example}</code></pre>\n\
<p>Codes marked <span class=\"tag\">protocol-level</span> are ones HTTP itself requires in rare cases.</p>\n\
{sections}</main></body></html>\n",
            title = escape(TITLE),
            intro = inline_code(INTRO),
            example = escape(&EXAMPLE.replacen(DOCS_PATH, self.base.as_str(), 1)),
        )
    }
}

const TITLE: &str = "Error Codes & Responses";

const INTRO: &str = "Every response carries one of the status codes below and an X-Request-Id header. \
Every 4xx and 5xx response has an application/problem+json body (application/problem+xml if you prefer XML): \
its `type` links to the row of this page for its status, `detail` and `message` say what to fix, `errors` lists \
each invalid field, and `request_id` is the one to quote when you report a problem.";

/// The classes of status, as sections.
const SECTIONS: [(u16, &str); 4] = [(2, "Success"), (3, "Redirection"), (4, "Client errors"), (5, "Server errors")];

fn section(class: u16) -> impl Iterator<Item = &'static Status> {
    CATALOG.iter().filter(move |s| s.code.as_u16() / 100 == class)
}

/// The cells of one row: code, name, status (title), when, must carry.
fn cells(s: &Status) -> [String; 5] {
    let title = if s.protocol_level { format!("{} (protocol-level)", s.title) } else { s.title.to_owned() };
    [s.code.as_u16().to_string(), s.name.to_owned(), title, s.description.to_owned(), s.carries.to_owned()]
}

const HEADERS: [&str; 5] = ["Code", "Name", "Status", "Description", "Must carry"];

fn widths(t: &Table) -> [usize; 5] {
    let mut w = t.headers.map(|h| h.chars().count());
    for row in &t.rows {
        for (i, cell) in row.iter().enumerate() {
            w[i] = w[i].max(cell.chars().count());
        }
    }
    w
}

/// One row of a Markdown or RST table: `| cell | cell |`, each cell padded to its column's width.
fn table_row(out: &mut String, row: &[String; 5], widths: &[usize; 5]) {
    out.push('|');
    for (cell, w) in row.iter().zip(widths) {
        out.push(' ');
        pad(out, cell, *w);
        out.push_str(" |");
    }
    out.push('\n');
}

fn pad(out: &mut String, text: &str, width: usize) {
    out.push_str(text);
    out.extend(std::iter::repeat_n(' ', width - text.chars().count()));
}

/// The cells of one own type's row: code, type, title, description, members.
fn own_cells(t: &ProblemType, base: &DocsBase) -> [String; 5] {
    let members: Vec<String> = t
        .documented_members()
        .iter()
        .map(|m| format!("{} ({}): {}", m.name(), m.json_type().unwrap_or("any"), m.description()))
        .collect();
    [
        t.status().code.as_u16().to_string(),
        t.type_uri(base).into_owned(),
        t.title().to_owned(),
        t.describe().to_owned(),
        members.join("; "),
    ]
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Wraps `backticked` spans of catalog text in `<code>`.
fn inline_code(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { format!("<code>{part}</code>") } else { part.to_owned() })
        .collect()
}

const STYLE: &str = "\
:root{--fg:#1d2330;--muted:#5b6474;--line:#e3e6ec;--bg:#fff;--soft:#f6f7f9;--hl:#fff4c2}
*{box-sizing:border-box}
body{font:16px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
main{max-width:72rem;margin:0 auto;padding:2.5rem 1.5rem 4rem}
h1{font-size:2rem;margin:0 0 .5rem}
h2{font-size:1.3rem;margin:2.5rem 0 .75rem;padding-bottom:.3rem;border-bottom:2px solid var(--line)}
p.lead{color:var(--muted);max-width:52rem}
nav{display:flex;flex-wrap:wrap;gap:.4rem;margin:1.5rem 0}
nav a{font:600 .85rem/1 ui-monospace,SFMono-Regular,Menlo,monospace;text-decoration:none;padding:.4rem .55rem;border-radius:.4rem;color:#fff}
.c2{background:#1f7a3f}.c3{background:#2457a6}.c4{background:#b4551b}.c5{background:#a8242f}
pre{background:var(--soft);border:1px solid var(--line);border-radius:.5rem;padding:1rem;overflow:auto;font-size:.85rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;background:var(--soft);padding:.05rem .3rem;border-radius:.25rem}
table{border-collapse:collapse;width:100%;font-size:.95rem;table-layout:fixed}
th:nth-child(1){width:5.5rem}th:nth-child(2){width:17rem}th:nth-child(3){width:11rem}th:nth-child(5){width:15rem}
td.name code{font-size:.8em}
th,td{text-align:left;vertical-align:top;padding:.6rem .7rem;border-bottom:1px solid var(--line)}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
td.code a{display:inline-block;min-width:3.2rem;text-align:center;font:700 .95rem/1 ui-monospace,SFMono-Regular,Menlo,monospace;color:#fff;text-decoration:none;padding:.35rem .4rem;border-radius:.35rem}
td.name code{white-space:nowrap}
td.carries{color:var(--muted);font-size:.9rem}
tr{scroll-margin-top:1rem}
tr:target td{background:var(--hl)}
.tag{display:inline-block;font-size:.72rem;color:var(--muted);border:1px solid var(--line);border-radius:1rem;padding:0 .45rem;margin-left:.3rem;white-space:nowrap}
";

const EXAMPLE: &str = r#"{
  "type": "/docs/errors#unprocessable_entity",
  "title": "Unprocessable Entity",
  "status": 422,
  "detail": "2 fields are invalid",
  "message": "2 fields are invalid",
  "errors": {
    "name": ["can't be blank"],
    "email": ["has already been taken"]
  },
  "request_id": "01JD6Q0W9Z6S3R5E4Y8X7V2T1K"
}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_every_code() {
        for format in [DocFormat::Markdown, DocFormat::Rst, DocFormat::Html] {
            let text = render(format);
            for s in CATALOG {
                assert!(text.contains(&s.code.as_u16().to_string()), "{format:?}: {}", s.code);
                assert!(text.contains(s.name), "{format:?}: {}", s.name);
            }
        }
    }

    #[test]
    fn html_has_one_anchor_per_status() {
        let html = html();
        for s in CATALOG {
            assert_eq!(html.matches(&format!("id=\"{}\"", s.name)).count(), 1, "{}", s.name);
            assert!(html.contains(&format!("href=\"#{}\"", s.name)));
        }
    }

    #[test]
    fn markdown_tables_line_up() {
        let md = markdown();
        let tables: Vec<&str> = md.split("\n## ").skip(1).collect();
        assert_eq!(tables.len(), 4);
        for t in tables {
            let widths: Vec<usize> = t.lines().filter(|l| l.starts_with('|')).map(|l| l.chars().count()).collect();
            assert!(widths.len() >= 3 && widths.iter().all(|w| *w == widths[0]), "{t}");
        }
    }

    #[test]
    fn rst_grid_rows_line_up() {
        let rst = rst();
        for t in rst.split("\n\n+").skip(1) {
            let widths: Vec<usize> = t.lines().take_while(|l| !l.is_empty()).map(|l| l.chars().count()).collect();
            assert!(widths.windows(2).skip(1).all(|w| w[0] == w[1]), "{t}");
        }
        assert!(rst.contains("+====="), "header separator");
    }

    #[test]
    fn own_types_are_listed_beside_the_catalog() {
        use crate::problem_type::Member;
        const BALANCE: Member<i64> = Member::new("balance", "the balance, in cents");
        static OUT_OF_CREDIT: ProblemType =
            ProblemType::new("out-of-credit", &crate::status::FORBIDDEN, "Out of credit").members(&[BALANCE.doc()]);
        let docs =
            ErrorDocs::new().base(DocsBase::new("https://x.example/errors").unwrap()).problem_type(&OUT_OF_CREDIT);
        let html = docs.html();
        assert_eq!(html.matches("id=\"out-of-credit\"").count(), 1);
        assert!(html.contains("https://x.example/errors#out-of-credit"));
        assert!(html.contains("<code>balance</code> (integer): the balance, in cents"));
        assert!(html.contains("https://x.example/errors#unprocessable_entity"), "the example follows the base");
        for format in [DocFormat::Markdown, DocFormat::Rst] {
            let text = docs.render(format);
            assert!(text.contains(OWN_HEADING) && text.contains("https://x.example/errors#out-of-credit"), "{text}");
            assert!(text.contains("balance (integer)"));
        }
        assert!(!html.contains(OWN_HEADING) || !super::html().contains(OWN_HEADING));
        assert!(!markdown().contains(OWN_HEADING));
    }

    #[test]
    fn formats_parse() {
        assert_eq!("markdown".parse(), Ok(DocFormat::Markdown));
        assert_eq!("rst".parse(), Ok(DocFormat::Rst));
        assert!("pdf".parse::<DocFormat>().is_err());
    }
}
