//! Uploaded images read within a stated amount of memory, and refused in words.
//!
//! Every read goes through `image::Limits` (sides and `max_alloc`):
//! - the upload's check ([`check`]) reads the header and metadata only, allocating at most
//!   [`MAX_HEADER_BYTES`] (an ICC profile or text chunk that inflates past it is refused), and
//!   refuses an image whose pixels would take more than [`MAX_DECODE_BYTES`] to hold;
//! - the worker's decode ([`decode`]) allocates at most [`MAX_DECODE_BYTES`] for the pixels.
//!
//! So one avatar costs at most: its body (`--max-avatar-bytes`, 5 MiB) and a copy or two of it,
//! [`MAX_HEADER_BYTES`] while checked, and while decoded [`MAX_DECODE_BYTES`] of pixels plus the
//! decoder's working memory (at most twice the pixels again, for a progressive JPEG's
//! coefficients) and the thumbnails' buffers: under 256 MiB above an idle service, which the
//! worker spends on one image at a time. `bench/avatar_rss.sh` measures it on the worst uploads.

use std::io::Cursor;

use image::error::{ImageError, LimitErrorKind};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use statuskit::header::mime;

/// Largest width or height accepted, in pixels.
pub const MAX_SIDE: u32 = 8192;

/// Most memory the pixels of one decoded image may take (64 MiB: a 4096×4096 RGBA image, or an
/// RGB photo of about 22 megapixels).
pub const MAX_DECODE_BYTES: u64 = 64 * 1024 * 1024;

/// Most memory reading an upload's header and metadata may take (ICC profiles, text chunks).
pub const MAX_HEADER_BYTES: u64 = 4 * 1024 * 1024;

const MIB: u64 = 1024 * 1024;

/// Why an image is refused. Its `Display` is a sentence about the upload, to follow "the body"
/// (it goes into a 422's `errors` and an operation's error); the decoder's own error, which may
/// be Rust debug text, is kept only as the source, for the logs.
#[derive(Debug)]
pub enum ImageRejection {
    /// Neither a PNG nor a JPEG.
    NotAnImage,
    /// A PNG sent as JPEG, or the reverse.
    WrongType {
        /// What the bytes are.
        actual: &'static str,
        /// What `Content-Type` said.
        declared: String,
    },
    /// A side of 0 or over [`MAX_SIDE`].
    BadSize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The pixels would take more than [`MAX_DECODE_BYTES`].
    TooManyPixels {
        /// Bytes the pixels would take.
        needs: u64,
    },
    /// Reading it would take more memory than allowed (metadata, or a decoder's buffers).
    OverMemory {
        /// The limit that was reached, in bytes.
        limit: u64,
        /// The decoder's error.
        source: ImageError,
    },
    /// Damaged, truncated or otherwise not decodable.
    Damaged {
        /// The format it claims to be.
        format: &'static str,
        /// The decoder's error.
        source: ImageError,
    },
    /// Uses a part of the format the decoder does not support.
    Unsupported {
        /// The format.
        format: &'static str,
        /// The decoder's error.
        source: ImageError,
    },
}

impl std::fmt::Display for ImageRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageRejection::NotAnImage => f.write_str("is not a PNG or JPEG image"),
            ImageRejection::WrongType { actual, declared } => {
                write!(f, "is {actual} but Content-Type says {declared}")
            }
            ImageRejection::BadSize { width, height } => {
                write!(f, "is {width}x{height}; sides of 1 to {MAX_SIDE} pixels are accepted")
            }
            ImageRejection::TooManyPixels { needs } => write!(
                f,
                "would take {} MiB of memory to decode; at most {} MiB is accepted (a 4096x4096 image with alpha, \
                 or about 22 megapixels without)",
                needs.div_ceil(MIB),
                MAX_DECODE_BYTES / MIB
            ),
            ImageRejection::OverMemory { limit, .. } => write!(
                f,
                "needs more than {} MiB of memory to read (an oversized colour profile or metadata?)",
                limit / MIB
            ),
            ImageRejection::Damaged { format, .. } => {
                write!(f, "is damaged or truncated: it does not decode as a {format} image")
            }
            ImageRejection::Unsupported { format, .. } => {
                write!(f, "uses a {format} feature that is not supported; save it again as a plain {format}")
            }
        }
    }
}

impl std::error::Error for ImageRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ImageRejection::OverMemory { source, .. }
            | ImageRejection::Damaged { source, .. }
            | ImageRejection::Unsupported { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The limits of every read: sides up to [`MAX_SIDE`], at most `max_alloc` bytes allocated.
pub fn limits(max_alloc: u64) -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(max_alloc);
    limits
}

/// The media type of `bytes`, from their signature.
fn sniff(bytes: &[u8]) -> Result<(ImageFormat, &'static str), ImageRejection> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Png) => Ok((ImageFormat::Png, mime::PNG)),
        Ok(ImageFormat::Jpeg) => Ok((ImageFormat::Jpeg, mime::JPEG)),
        _ => Err(ImageRejection::NotAnImage),
    }
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        _ => "JPEG",
    }
}

/// Puts a decoder's error into words.
fn classify(e: ImageError, format: ImageFormat, max_alloc: u64) -> ImageRejection {
    let format = format_name(format);
    match &e {
        ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError => ImageRejection::Damaged { format, source: e },
            _ => ImageRejection::OverMemory { limit: max_alloc, source: e },
        },
        ImageError::Unsupported(_) => ImageRejection::Unsupported { format, source: e },
        _ => ImageRejection::Damaged { format, source: e },
    }
}

/// A reader of `bytes` as `format`, with [`limits`] of `max_alloc`.
fn reader(bytes: &[u8], format: ImageFormat, max_alloc: u64) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits(max_alloc));
    reader
}

/// Checks an upload without decoding its pixels: a PNG or JPEG as `declared`, sides of 1 to
/// [`MAX_SIDE`], metadata within [`MAX_HEADER_BYTES`], pixels within [`MAX_DECODE_BYTES`].
pub fn check(bytes: &[u8], declared: &str) -> Result<(u32, u32), ImageRejection> {
    let (format, actual) = sniff(bytes)?;
    if actual != declared {
        return Err(ImageRejection::WrongType { actual, declared: declared.to_owned() });
    }
    // The sides are checked here rather than by the limits, to say what they are.
    let mut unlimited_sides = limits(MAX_HEADER_BYTES);
    unlimited_sides.max_image_width = None;
    unlimited_sides.max_image_height = None;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(unlimited_sides);
    let decoder = reader.into_decoder().map_err(|e| classify(e, format, MAX_HEADER_BYTES))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageRejection::BadSize { width, height });
    }
    let needs = decoder.total_bytes();
    if needs > MAX_DECODE_BYTES {
        return Err(ImageRejection::TooManyPixels { needs });
    }
    Ok((width, height))
}

/// Decodes a whole image within [`limits`] of [`MAX_DECODE_BYTES`].
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, ImageRejection> {
    let (format, _) = sniff(bytes)?;
    reader(bytes, format, MAX_DECODE_BYTES).decode().map_err(|e| classify(e, format, MAX_DECODE_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        DynamicImage::new_rgb8(width, height).write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn checks_in_words() {
        let ok = png(3, 2);
        assert_eq!(check(&ok, mime::PNG).unwrap(), (3, 2));
        assert!(decode(&ok).is_ok());
        let said = |r: ImageRejection| r.to_string();
        assert_eq!(said(check(b"hello", mime::PNG).unwrap_err()), "is not a PNG or JPEG image");
        assert_eq!(said(check(&ok, mime::JPEG).unwrap_err()), "is image/png but Content-Type says image/jpeg");
        let damaged = check(&ok[..30], mime::PNG).unwrap_err();
        assert!(matches!(damaged, ImageRejection::Damaged { .. }), "{damaged:?}");
        assert_eq!(said(damaged), "is damaged or truncated: it does not decode as a PNG image");
        for r in [check(&ok[..30], mime::PNG).unwrap_err(), check(&ok[..12], mime::PNG).unwrap_err()] {
            let text = r.to_string();
            assert!(!text.contains('{') && !text.contains("ChunkType"), "{text}");
        }
    }

    #[test]
    fn pixels_over_the_budget_are_refused_before_decoding() {
        // 4097x4097 RGB: 48 MiB, within; 5000x5000 RGB: 72 MiB, over.
        assert!(check(&png(4097, 4097), mime::PNG).is_ok());
        let over = check(&png(5000, 5000), mime::PNG).unwrap_err();
        assert_eq!(
            over.to_string(),
            "would take 72 MiB of memory to decode; at most 64 MiB is accepted (a 4096x4096 image with alpha, \
             or about 22 megapixels without)"
        );
        assert!(matches!(check(&png(9000, 1), mime::PNG).unwrap_err(), ImageRejection::BadSize { width: 9000, .. }));
    }
}
