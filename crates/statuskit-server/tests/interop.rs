//! Interoperability: OAuth2 client libraries we did not write get tokens and call the API.

mod common;

use common::{spawn_app, ADMIN_PASSWORD, ADMIN_USER, CLIENT_ID, CLIENT_SECRET};

#[tokio::test]
async fn requests_oauthlib_signs_in_and_calls_the_api() {
    let probe = std::process::Command::new("python3").args(["-c", "import requests_oauthlib"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        // Straight to the process's stderr: the harness hides a passing test's `eprintln!`.
        let why = concat!(
            "SKIPPED requests_oauthlib_signs_in_and_calls_the_api: Python's requests-oauthlib is not installed \
             (python3 -m pip install requests-oauthlib; .ci/run installs it)",
            "\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), why.as_bytes());
        return;
    }
    let app = spawn_app().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/oauthlib_client.py");
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, &base, CLIENT_ID, CLIENT_SECRET, ADMIN_USER, ADMIN_PASSWORD])
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "requests-oauthlib failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));
}
