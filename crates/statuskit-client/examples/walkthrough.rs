//! The README's example: sign in, create a customer (retried safely), upload an avatar and await
//! its thumbnails, update the customer with If-Match. Against a running `statuskit serve`:
//!
//! ```text
//! STATUSKIT_URL=http://127.0.0.1:8080 STATUSKIT_CLIENT_ID=cli STATUSKIT_CLIENT_SECRET=cli-secret \
//! STATUSKIT_ADMIN_USER=admin STATUSKIT_ADMIN_PASSWORD=change-me \
//!   cargo run -p statuskit-client --example walkthrough [-- AVATAR.png]
//! ```

use serde_json::{json, Value};
use statuskit_client::{Client, Error};

/// A 1×1 PNG, for when no avatar file is given.
const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Sign in (password grant); the token is refreshed before it expires, one refresh at a time.
    let client = Client::builder(env("STATUSKIT_URL", "http://127.0.0.1:8080"))
        .password(
            env("STATUSKIT_CLIENT_ID", "cli"),
            env("STATUSKIT_CLIENT_SECRET", "cli-secret"),
            env("STATUSKIT_ADMIN_USER", "admin"),
            env("STATUSKIT_ADMIN_PASSWORD", "change-me"),
        )
        .build()?;

    // Create: a 429 or 503 is waited out, a 502/504 retried, always with the same Idempotency-Key,
    // so a retry never creates a second customer.
    let email = format!("ada-{}@example.com", std::process::id());
    let created = client.post("/v1/customers").json(&json!({"name": "Ada Lovelace", "email": email})).send().await?;
    let path = created.location().expect("201 has a Location").path().to_owned();
    println!("created {path} ({} attempt(s))", created.attempts());

    // Upload an avatar: 202 → poll the monitor at its Retry-After → 303 → the image.
    let png = match std::env::args().nth(1) {
        Some(file) => std::fs::read(file).expect("read the avatar file"),
        None => TINY_PNG.to_vec(),
    };
    let avatar = client.put("/v1/me/avatar").header("content-type", "image/png").body(png).send_and_wait().await?;
    println!("avatar ready: {} bytes of {}", avatar.body().len(), avatar.headers()["content-type"].to_str().unwrap());
    for size in [32, 64, 128, 256] {
        let thumb = client.get(&format!("/v1/me/avatar/{size}")).send().await?;
        println!("  thumbnail {size}: {} bytes", thumb.body().len());
    }

    // Update with If-Match: read, change, write; on 412 read again and re-apply.
    let updated = client
        .update(&path, |mut customer: Value| {
            customer["name"] = "Ada King, Countess of Lovelace".into();
            customer
        })
        .await?;
    println!("updated: {}", updated.status());

    // A problem is a typed error with its fields.
    if let Err(e) = client.post("/v1/customers").json(&json!({"name": "", "email": "nope"})).send().await {
        println!("refused: {e}");
    }
    Ok(())
}
