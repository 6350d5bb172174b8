//! `statuskit-bench thumbs`: how many avatar thumbnail sets the worker makes per second.
//!
//! It generates a square test picture (smooth colour gradients with pixel noise on top, so that
//! neither PNG nor JPEG finds it trivially compressible, as with a photo), encodes it as PNG and
//! as JPEG, and times `statuskit_server::worker::make_images` on each, the function the
//! background worker runs for an avatar upload: decode (with the upload limits), then the 32, 64,
//! 128 and 256 pixel PNG thumbnails, plus the original kept as is. Progress callbacks do nothing,
//! so no database time is counted. The sets run one after another, as the one worker runs them.
//!
//! Separately it times the decode alone (`image::load_from_memory`), to split a set's time into
//! decoding and the resize-and-encode of the thumbnails.
//!
//! Prints one `thumbs|…` line per timed set and a summary per format with medians; it reports,
//! it asserts nothing about time.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::codecs::jpeg::JpegEncoder;
use image::{ImageFormat, RgbImage};
use statuskit_server::avatars::SIZES;
use statuskit_server::worker::make_images;

use crate::ThumbsArgs;

type BoxError = Box<dyn std::error::Error>;

/// Runs `thumbs`.
pub(crate) fn run(args: &ThumbsArgs) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let picture = picture(args.side);
    let mut png = Vec::new();
    picture.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)?;
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut Cursor::new(&mut jpeg), 85).encode_image(&picture)?;

    println!(
        "# make_images: {side}x{side} input, thumbnails {SIZES:?}, {} timed sets per format after {} warm-up",
        args.iterations,
        args.warmup,
        side = args.side
    );
    for (format, content_type, bytes) in [("png", "image/png", &png), ("jpeg", "image/jpeg", &jpeg)] {
        let mut sets = Vec::with_capacity(args.iterations);
        for i in 0..args.warmup + args.iterations {
            let started = Instant::now();
            let images = runtime.block_on(make_images(bytes.clone(), content_type.into(), |_| async {}))?;
            let took = started.elapsed();
            if images.len() != SIZES.len() + 1 {
                return Err(
                    format!("make_images returned {} images, expected {}", images.len(), SIZES.len() + 1).into()
                );
            }
            if i >= args.warmup {
                println!("thumbs|{format}|{}|{}|{}", bytes.len(), i - args.warmup + 1, took.as_micros());
                sets.push(took);
            }
        }
        let mut decodes = Vec::with_capacity(args.iterations);
        for _ in 0..args.iterations {
            let started = Instant::now();
            let decoded = image::load_from_memory(bytes)?;
            decodes.push(started.elapsed());
            std::hint::black_box(decoded);
        }
        let set = median(&mut sets);
        let decode = median(&mut decodes);
        let per_second = 1.0 / set.as_secs_f64();
        println!(
            "summary|{format}|input {} bytes|set median {:.1} ms (min {:.1}, max {:.1})|decode median {:.1} ms|\
             sets/s {per_second:.2}|thumbnails/s {:.2}|images/s {:.2}",
            bytes.len(),
            ms(set),
            ms(*sets.first().unwrap_or(&set)),
            ms(*sets.last().unwrap_or(&set)),
            ms(decode),
            per_second * SIZES.len() as f64,
            per_second * (SIZES.len() + 1) as f64,
        );
    }
    Ok(())
}

/// A `side`×`side` RGB picture: gradients plus deterministic noise (xorshift), photo-like in
/// how hard it is to compress.
fn picture(side: u32) -> RgbImage {
    let mut state: u32 = 0x9E37_79B9;
    let scale = side.max(1);
    RgbImage::from_fn(side, side, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state & 0x1F) as i32 - 16;
        let channel = |v: u32| (((v * 255) / scale) as i32 + noise).clamp(0, 255) as u8;
        image::Rgb([channel(x), channel(y), channel((x + y) / 2)])
    })
}

/// The median of `times` (sorted in place; the upper middle one for an even count).
fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
