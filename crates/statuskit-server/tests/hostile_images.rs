//! Hostile avatars over real HTTP: PNGs crafted to make the decoder allocate far more than they
//! weigh (an ICC profile that inflates to 600 MiB, a chunk declaring 1 GiB, 8000×8000 pixels of
//! zeros in a few hundred KiB) and a malformed header. Each is refused in words (422, no Rust
//! debug text) or processed within the memory `statuskit_server::images` states, measured as the
//! service's peak resident memory (`VmHWM`).

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{spawn_app_with, Reply, TestApp};
use flate2::write::ZlibEncoder;
use flate2::Compression;

const MIB: u64 = 1024 * 1024;

/// What one upload may add to the service's peak memory (the bound stated in
/// `statuskit_server::images` and the README).
const UPLOAD_MEMORY_BOUND: u64 = 256 * MIB;

/// `n` zero bytes, zlib-compressed (about 1000:1).
fn zlib_zeros(n: u64) -> Vec<u8> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    let block = vec![0u8; MIB as usize];
    let mut left = n;
    while left > 0 {
        let take = left.min(MIB);
        z.write_all(&block[..take as usize]).unwrap();
        left -= take;
    }
    z.finish().unwrap()
}

/// A PNG chunk: length, type, data, CRC of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

/// The signature and an IHDR: `width`×`height`, 8 bits, `color` (0 grey, 2 RGB).
fn png_head(width: u32, height: u32, color: u8) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, color, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    out
}

/// Image data of zeros for `width`×`height` pixels of `channels` bytes, and the end.
fn png_tail(out: &mut Vec<u8>, width: u32, height: u32, channels: u64) {
    let raw = u64::from(height) * (1 + u64::from(width) * channels);
    chunk(out, b"IDAT", &zlib_zeros(raw));
    chunk(out, b"IEND", &[]);
}

/// A 64×64 RGB PNG whose ICC profile inflates to 600 MiB.
fn iccp_bomb() -> Vec<u8> {
    let mut png = png_head(64, 64, 2);
    let mut iccp = b"icc\0\0".to_vec();
    iccp.extend_from_slice(&zlib_zeros(600 * MIB));
    chunk(&mut png, b"iCCP", &iccp);
    png_tail(&mut png, 64, 64, 3);
    png
}

/// A PNG with an iCCP chunk that declares 1 GiB and carries 1 MiB of it before the file ends.
fn iccp_declared_huge() -> Vec<u8> {
    let mut png = png_head(64, 64, 2);
    png.extend_from_slice(&(1u32 << 30).to_be_bytes());
    png.extend_from_slice(b"iCCP");
    png.extend_from_slice(b"icc\0\0");
    let mut body = zlib_zeros(1100 * MIB);
    body.resize(MIB as usize, 0);
    png.extend_from_slice(&body);
    png
}

/// `side`×`side` pixels of zeros: a few hundred KiB that decode to `side² × channels` bytes.
fn pixel_bomb(side: u32, color: u8, channels: u64) -> Vec<u8> {
    let mut png = png_head(side, side, color);
    png_tail(&mut png, side, side, channels);
    png
}

/// A PNG whose IHDR has the wrong length (the decoder's error for it is Rust debug text).
fn bad_ihdr() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &[0, 0, 0, 8, 0, 0, 0, 8, 8, 2, 0, 0]);
    png_tail(&mut png, 8, 8, 3);
    png
}

async fn upload(app: &TestApp, bytes: Vec<u8>) -> Reply {
    app.send(app.client.put(app.url("/v1/me/avatar")).header("content-type", "image/png").body(bytes)).await
}

/// A 422 on the body, in words: returns the message.
fn refused(r: &Reply, what: &str) -> String {
    let body = r.problem(422, "unprocessable_entity");
    let message = body["errors"]["body"][0].as_str().unwrap_or_else(|| panic!("{what}: {body}")).to_owned();
    for text in [&message, &r.text()] {
        assert!(!text.contains("ChunkType") && !text.contains(" {"), "{what}: debug text in {text}");
    }
    message
}

/// Waits for an upload's operation; returns the monitor's last answer.
async fn finished(app: &TestApp, accepted: &Reply) -> Reply {
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let monitor = accepted.header("location").to_owned();
    let started = Instant::now();
    loop {
        let r = app.get(&monitor).await;
        if r.status != 200 || r.json()["status"] == "failed" {
            return r;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the operation never finished: {}", r.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn image_bombs_are_refused_or_decoded_within_the_stated_memory() {
    let app = spawn_app_with(&[]).await;
    let idle = app.peak_rss();

    // An ICC profile that inflates to 600 MiB: the decoder stops inflating it at the limit and
    // drops it (the PNG decoder ignores a profile it cannot read), and the image itself is fine.
    let bomb = iccp_bomb();
    assert!(bomb.len() < 2 * MIB as usize, "{} bytes", bomb.len());
    let r = finished(&app, &upload(&app, bomb).await).await;
    assert_eq!(r.status, 303, "the thumbnails were made: {}", r.text());
    assert_eq!(r.header("location"), "/v1/me/avatar");

    // A chunk that declares 1 GiB and ends after 1 MiB: truncated.
    let message = refused(&upload(&app, iccp_declared_huge()).await, "declared iCCP");
    assert_eq!(message, "is damaged or truncated: it does not decode as a PNG image");

    // 8000×8000 RGB of zeros: 184 MiB of pixels in about 200 KiB; refused from its header.
    let bomb = pixel_bomb(8000, 2, 3);
    assert!(bomb.len() < MIB as usize, "{} bytes", bomb.len());
    let message = refused(&upload(&app, bomb).await, "pixel bomb");
    assert!(message.starts_with("would take 184 MiB of memory to decode; at most 64 MiB is accepted"), "{message}");

    // 8000×8000 grey: 61 MiB of pixels, within the limit, so it is decoded and thumbnailed.
    let r = finished(&app, &upload(&app, pixel_bomb(8000, 0, 1)).await).await;
    assert_eq!(r.status, 303, "the thumbnails were made: {}", r.text());
    let thumb = app.get("/v1/me/avatar/64").await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("content-type"), "image/png");

    // A malformed header: in words, not `ChunkType { type: IHDR, … }`.
    let message = refused(&upload(&app, bad_ihdr()).await, "bad IHDR");
    assert_eq!(message, "is damaged or truncated: it does not decode as a PNG image");

    let peak = app.peak_rss();
    eprintln!("peak RSS: idle {} MiB, after the bombs {} MiB", idle / MIB, peak / MIB);
    assert!(
        peak < idle + UPLOAD_MEMORY_BOUND,
        "peak RSS {} MiB, idle {} MiB: more than {} MiB for one upload",
        peak / MIB,
        idle / MIB,
        UPLOAD_MEMORY_BOUND / MIB
    );
}
