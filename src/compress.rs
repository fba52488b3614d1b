//! Compression, done once per body (at import, or when an entry enters the cache) and
//! never per request (DESIGN.md §1).
//!
//! A leaf module: it imports nothing of the crate, so the cache (compressing what an
//! origin sent plain), the stores and the catalog import (making the stored variants)
//! all use this one function.

use std::io::Write;

use bytes::Bytes;

/// Bodies smaller than this are not worth a compressed variant: the headers outweigh
/// the saving, and clients decompress for nothing.
pub const MIN_COMPRESS_LEN: usize = 256;
/// Brotli quality for stored variants. Measured on demo fragments: quality 9 costs
/// 2.5 ms per fragment, quality 5 costs 0.14 ms for output only 0.17% larger, which
/// keeps a 10,000-product import at seconds instead of most of a minute. Quality 4 is
/// cheaper but larger than gzip, so not worth a variant.
pub const BROTLI_QUALITY: u32 = 5;
/// Gzip level for stored variants (zlib's default). Measured on 6.8 KiB catalog
/// fragments with the zlib-rs backend: about 80 µs each, where level 9 costs 40% more
/// for output 0.3% smaller.
pub const GZIP_LEVEL: u32 = 6;
const BROTLI_LGWIN: u32 = 22;

/// The gzip and brotli variants of a body; `None` where not worth keeping.
pub type Variants = (Option<Bytes>, Option<Bytes>);

/// The gzip and brotli variants of `body`; a variant is `None` when the body is too small
/// or the variant would not be smaller than the body.
pub fn compress(body: &[u8]) -> Variants {
    if body.len() < MIN_COMPRESS_LEN {
        return (None, None);
    }
    let keep = |v: Vec<u8>| (v.len() < body.len()).then(|| Bytes::from(v));
    (keep(gzip(body)), keep(brotli(body)))
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::new(GZIP_LEVEL),
    );
    // Writing into a Vec cannot fail.
    enc.write_all(body)
        .expect("invariant: writing to a Vec cannot fail");
    enc.finish()
        .expect("invariant: writing to a Vec cannot fail")
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 3);
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_LGWIN);
        w.write_all(body)
            .expect("invariant: writing to a Vec cannot fail");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn variants_round_trip() {
        let body = "<p>product content, repeated</p>".repeat(100);
        let (gz, br) = compress(body.as_bytes());
        let (gz, br) = (gz.unwrap(), br.unwrap());
        assert!(gz.len() < body.len() && br.len() < body.len());
        let mut s = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, body);
        let mut s = String::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, body);
    }

    #[test]
    fn small_bodies_stay_identity() {
        assert_eq!(compress(b"<p>hi</p>"), (None, None));
    }
}
