//! `/docs/errors` as a person sees it: rendered by headless Chromium, every catalog status has
//! its anchor in the rendered DOM, and a screenshot is kept at `docs/errors.png`.

mod common;

use std::process::Command;

use common::spawn_app;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
}

const FLAGS: [&str; 5] =
    ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--hide-scrollbars"];

#[tokio::test]
async fn headless_chromium_renders_every_anchor() {
    let Some(browser) = chromium() else {
        // Straight to the process's stderr: the harness hides a passing test's `eprintln!`.
        let why = concat!(
            "SKIPPED headless_chromium_renders_every_anchor: Chromium is not installed \
             (apt-get install chromium; .ci/run installs it)",
            "\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), why.as_bytes());
        return;
    };
    let app = spawn_app().await;
    let url = app.url("/docs/errors");
    let profile = tempfile::tempdir().unwrap();
    let user_data = format!("--user-data-dir={}", profile.path().display());
    let dom = tokio::task::spawn_blocking({
        let (url, user_data) = (url.clone(), user_data.clone());
        move || Command::new(browser).args(FLAGS).arg(&user_data).arg("--dump-dom").arg(&url).output().unwrap()
    })
    .await
    .unwrap();
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(html.contains("<h1>Error Codes &amp; Responses</h1>"), "{html}");
    for s in statuskit::status::CATALOG {
        assert_eq!(html.matches(&format!("id=\"{}\"", s.name)).count(), 1, "anchor for {}", s.name);
        assert!(html.contains(&format!("href=\"#{}\"", s.name)), "link to {}", s.name);
    }

    let shot = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.png");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(browser)
            .args(FLAGS)
            .arg(&user_data)
            .arg(format!("--screenshot={shot}"))
            .arg("--window-size=1280,2000")
            .arg(&url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a real screenshot: {} bytes", png.len());
}

#[tokio::test]
async fn the_page_is_html_only_so_an_accept_without_html_is_406() {
    let app = common::spawn_app().await;
    let page = |accept: &'static str| app.send(app.anon.get(app.url("/docs/errors")).header("accept", accept));
    let r = page("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(r.header("vary"), "accept");
    assert_eq!(page("*/*").await.status, 200);
    let refused = page("image/png").await;
    let body = refused.problem(406, "not_acceptable");
    assert_eq!(body["available"], serde_json::json!(["text/html"]));
    page("text/html;q=nope").await.problem(400, "bad_request");
}
