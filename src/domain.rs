//! Domain rules (DESIGN.md §2): retailers, locales, product identities, and the
//! normalized fragment request that keys the cache.
//!
//! Everything here is pure parsing and normalizing, shared by the request path, the
//! catalog importer and the origin stores, so that one product spelled two ways is one
//! product everywhere (`ean=0012345678905` and `ean=12345678905`; `X-100/B` and `x100b`).
//!
//! Invariant: a value that parsed is normalized; two requests that mean the same thing
//! produce the same [`FragmentRequest::cache_key`].

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Longest retailer slug, by the grammar `[a-z0-9][a-z0-9-]{0,63}`.
pub const MAX_RETAILER_LEN: usize = 64;
/// Longest locale tag accepted (BCP 47 tags in practice stay far below this).
pub const MAX_LOCALE_LEN: usize = 35;
/// Longest brand, MPN or SKU accepted, in bytes, before normalization.
pub const MAX_IDENTITY_LEN: usize = 128;
/// Longest query string `/v1/fragment` parses; longer is rejected before parsing.
pub const MAX_QUERY_LEN: usize = 2048;

/// Why a piece of request or catalog input was refused. The detail is a fixed sentence:
/// input is never echoed back (STYLE: no `format!` on the hot path, no reflected input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct InputError {
    /// Machine-readable code, the `error` field of the JSON body.
    pub code: &'static str,
    /// A sentence a human understands, the `detail` field.
    pub detail: &'static str,
}

const fn bad(code: &'static str, detail: &'static str) -> InputError {
    InputError { code, detail }
}

/// A retailer slug: `[a-z0-9][a-z0-9-]{0,63}`. Clones share the text (a beacon body's
/// events usually name one retailer and one locale).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Retailer(Arc<str>);

impl Retailer {
    /// # Errors
    /// When `s` is not a slug.
    pub fn parse(s: &str) -> Result<Self, InputError> {
        check_slug(s).map(|()| Self(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `s` is a retailer slug (`[a-z0-9][a-z0-9-]{0,63}`), or the error that says what one is.
fn check_slug(s: &str) -> Result<(), InputError> {
    let b = s.as_bytes();
    let slug = !b.is_empty()
        && b.len() <= MAX_RETAILER_LEN
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if slug {
        Ok(())
    } else {
        Err(bad(
            "invalid_retailer",
            "retailer must be a slug of 1 to 64 characters: lowercase a-z, digits and '-', not starting with '-'",
        ))
    }
}

impl fmt::Display for Retailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A BCP 47 language tag, stored lowercased (tags compare case-insensitively):
/// `en-GB` → `en-gb`. The first subtag is the language (2–3 letters, or 4–8 for the
/// rare registered ones); the rest are 1–8 alphanumerics each.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Locale(Arc<str>);

impl Locale {
    /// # Errors
    /// When `s` is not a language tag.
    pub fn parse(s: &str) -> Result<Self, InputError> {
        LowerTag::parse(s).map(|t| Self(t.as_str().into()))
    }

    /// The normalized (lowercase) tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The language subtag: `de-at` → `de`.
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }

    /// The lookup chain of DESIGN.md §2: exact, then language (when different).
    pub fn fallbacks(&self) -> impl Iterator<Item = &str> {
        let lang = self.language();
        std::iter::once(self.as_str()).chain((lang.len() != self.0.len()).then_some(lang))
    }
}

/// A valid language tag, lowercased on the stack: what [`Locale`] holds, without the
/// allocation (a cache hit looks its entry up with this).
#[derive(Clone, Copy)]
struct LowerTag {
    buf: [u8; MAX_LOCALE_LEN],
    len: u8,
}

impl LowerTag {
    fn parse(s: &str) -> Result<Self, InputError> {
        const ERR: InputError = bad(
            "invalid_locale",
            "locale must be a BCP 47 language tag such as en-GB, de or fr-BE",
        );
        if s.is_empty() || s.len() > MAX_LOCALE_LEN {
            return Err(ERR);
        }
        let mut parts = s.split('-');
        let lang = parts.next().unwrap_or_default();
        if !(2..=8).contains(&lang.len()) || !lang.bytes().all(|c| c.is_ascii_alphabetic()) {
            return Err(ERR);
        }
        for p in parts {
            if !(1..=8).contains(&p.len()) || !p.bytes().all(|c| c.is_ascii_alphanumeric()) {
                return Err(ERR);
            }
        }
        let mut t = Self {
            buf: [0; MAX_LOCALE_LEN],
            len: u8::try_from(s.len()).expect("invariant: MAX_LOCALE_LEN fits a u8"),
        };
        t.buf[..s.len()].copy_from_slice(s.as_bytes());
        t.buf[..s.len()].make_ascii_lowercase();
        Ok(t)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)])
            .expect("invariant: a checked tag is ASCII")
    }
}

/// `tag` (a valid language tag, any case) in the canonical casing of RFC 5646 §2.1.1:
/// language lowercase, script title case, region uppercase, the rest lowercase, and
/// everything from a singleton on (`-x-…`, `-u-…`) lowercase: `en-gb` → `en-GB`,
/// `zh-hant-tw` → `zh-Hant-TW`, `es-419` → `es-419`.
pub fn canonical_tag(tag: &str) -> String {
    let mut out = String::with_capacity(tag.len());
    let mut after_singleton = false;
    for (i, part) in tag.split('-').enumerate() {
        if i > 0 {
            out.push('-');
        }
        after_singleton |= i > 0 && part.len() == 1;
        let alpha = part.bytes().all(|c| c.is_ascii_alphabetic());
        if i == 0 || after_singleton {
            out.push_str(&part.to_ascii_lowercase());
        } else if alpha && part.len() == 2 {
            out.push_str(&part.to_ascii_uppercase());
        } else if alpha && part.len() == 4 {
            out.push_str(&part[..1].to_ascii_uppercase());
            out.push_str(&part[1..].to_ascii_lowercase());
        } else {
            out.push_str(&part.to_ascii_lowercase());
        }
    }
    out
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A GTIN (EAN-8, UPC-A, EAN-13 or GTIN-14) with a verified check digit, normalized to
/// 14 digits by left-padding with zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtin14([u8; 14]);

impl Gtin14 {
    /// # Errors
    /// When `s` is not 8, 12, 13 or 14 ASCII digits, or its check digit is wrong.
    pub fn parse(s: &str) -> Result<Self, InputError> {
        let b = s.as_bytes();
        if !matches!(b.len(), 8 | 12 | 13 | 14) || !b.iter().all(u8::is_ascii_digit) {
            return Err(bad(
                "invalid_ean",
                "ean must be a GTIN of 8, 12, 13 or 14 digits",
            ));
        }
        let mut out = [b'0'; 14];
        out[14 - b.len()..].copy_from_slice(b);
        // GS1 check digit: weights 3,1,3,1… from the rightmost data digit.
        let sum: u32 = out[..13]
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        let check = (10 - sum % 10) % 10;
        if u32::from(out[13] - b'0') != check {
            return Err(bad(
                "invalid_ean",
                "ean check digit is wrong: the last digit does not match the GS1 checksum",
            ));
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        // The array holds ASCII digits only, by construction in `parse`.
        std::str::from_utf8(&self.0).expect("invariant: Gtin14 holds ASCII digits")
    }
}

impl fmt::Display for Gtin14 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Brand and MPN normalization of DESIGN.md §2: Unicode-lowercased, with whitespace,
/// `-`, `_`, `/` and `.` removed. `"X-100/B"` → `"x100b"`; `"Acme Corp."` → `"acmecorp"`.
pub fn normalize_identity(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_whitespace() || matches!(c, '-' | '_' | '/' | '.') {
            continue;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// A brand + manufacturer part number, both normalized; neither is empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrandMpn {
    pub brand: String,
    pub mpn: String,
}

impl BrandMpn {
    /// # Errors
    /// When either is empty after normalization, too long, or holds control characters.
    pub fn parse(brand: &str, mpn: &str) -> Result<Self, InputError> {
        let brand = normalize_brand(brand)?;
        let mpn = normalize_text(mpn).ok_or(bad(
            "invalid_mpn",
            "mpn must be 1 to 128 printable characters with at least one letter or digit",
        ))?;
        Ok(Self { brand, mpn })
    }

    /// The product id used in surrogate keys (`product:<id>`): `<brand>/<mpn>`.
    pub fn product_id(&self) -> String {
        format!("{}/{}", self.brand, self.mpn)
    }
}

/// A normalized brand, as used in grants and `brand:` surrogate keys.
///
/// # Errors
/// When it is empty after normalization, too long, or holds control characters.
pub fn normalize_brand(brand: &str) -> Result<String, InputError> {
    normalize_text(brand).ok_or(bad(
        "invalid_brand",
        "brand must be 1 to 128 printable characters with at least one letter or digit",
    ))
}

fn normalize_text(s: &str) -> Option<String> {
    if s.len() > MAX_IDENTITY_LEN || s.chars().any(char::is_control) {
        return None;
    }
    let n = normalize_identity(s);
    (!n.is_empty()).then_some(n)
}

/// A retailer's own SKU: 1–128 printable characters, compared exactly after trimming.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(Box<str>);

impl Sku {
    /// # Errors
    /// When it is empty, too long, or holds control characters.
    pub fn parse(s: &str) -> Result<Self, InputError> {
        let t = s.trim();
        if t.is_empty() || t.len() > MAX_IDENTITY_LEN || t.chars().any(char::is_control) {
            return Err(bad(
                "invalid_sku",
                "sku must be 1 to 128 printable characters",
            ));
        }
        Ok(Self(t.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An empty value counts as absent: `data-ean=""` is what a template without a value
/// renders, and means "no EAN", not "a bad EAN". Fragment queries and event beacons alike.
pub fn present(v: Option<&str>) -> Option<&str> {
    v.filter(|v| !v.is_empty())
}

/// The product identities one request or event names, each validated and normalized;
/// any of them may be absent. Fragment lookups and event counts both parse identities
/// here, so a product counts as the same product wherever it is named.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identities {
    pub ean: Option<Gtin14>,
    pub brand_mpn: Option<BrandMpn>,
    pub sku: Option<Sku>,
}

impl Identities {
    /// Parses each identity given (empty counts as absent), in the order they are tried.
    ///
    /// # Errors
    /// The first invalid identity, or `half` when only one of brand and mpn is given
    /// (callers name that problem in their own terms: a parameter, or an event field).
    pub fn parse(
        ean: Option<&str>,
        brand: Option<&str>,
        mpn: Option<&str>,
        sku: Option<&str>,
        half: InputError,
    ) -> Result<Self, InputError> {
        let ean = present(ean).map(Gtin14::parse).transpose()?;
        let brand_mpn = match (present(brand), present(mpn)) {
            (Some(b), Some(m)) => Some(BrandMpn::parse(b, m)?),
            (None, None) => None,
            _ => return Err(half),
        };
        let sku = present(sku).map(Sku::parse).transpose()?;
        Ok(Self {
            ean,
            brand_mpn,
            sku,
        })
    }
}

/// A validated, normalized `/v1/fragment` request: who asks (retailer), in which
/// language, and for which product. Identities are tried in order: `ean`, then
/// `brand`+`mpn`, then `sku`; at least one is present.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FragmentRequest {
    pub retailer: Retailer,
    pub locale: Locale,
    pub ean: Option<Gtin14>,
    pub brand_mpn: Option<BrandMpn>,
    pub sku: Option<Sku>,
}

const E_MISSING_RETAILER: InputError = bad("missing_parameter", "retailer is required");
const E_MISSING_LOCALE: InputError = bad("missing_parameter", "locale is required");
const E_MISSING_IDENTITY: InputError = bad(
    "missing_parameter",
    "a product identity is required: ean, or brand and mpn together, or sku",
);
const E_HALF_BRAND_MPN: InputError =
    bad("missing_parameter", "brand and mpn must be given together");
const E_DUPLICATE: InputError = bad(
    "duplicate_parameter",
    "a parameter was given more than once",
);
const E_TOO_LONG: InputError = bad(
    "query_too_long",
    "the query string is longer than 2048 bytes",
);
const E_ENCODING: InputError = bad(
    "invalid_encoding",
    "the query string is not valid percent-encoded UTF-8",
);

/// `s` before and after the first `sep` (all of it, and "", when there is none).
fn cut(s: &str, sep: u8) -> (&str, &str) {
    match s.bytes().position(|b| b == sep) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// One `application/x-www-form-urlencoded` name or value, decoded: `+` is a space and
/// `%XX` a byte, and the result must be UTF-8. Borrowed when there is nothing to decode
/// (the usual case: slugs, tags, digits), so a request's parameters cost no allocation.
fn form_decode(s: &str) -> Result<Cow<'_, str>, InputError> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(s));
    }
    let plus_as_space: Vec<u8> = s
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| E_ENCODING)
}

impl FragmentRequest {
    /// Parses a raw query string (`retailer=…&locale=…&ean=…`); see [`FragmentQuery`].
    ///
    /// # Errors
    /// The first problem found, as a fixed sentence that never contains the input.
    pub fn from_query(query: &str) -> Result<Self, InputError> {
        FragmentQuery::parse(query).map(|q| q.to_request())
    }

    /// The normalized cache key: equal for requests that mean the same thing.
    pub fn cache_key(&self) -> String {
        let mut k = String::with_capacity(64);
        write_key(
            &mut k,
            [self.retailer.as_str(), self.locale.as_str()],
            self.ean.as_ref(),
            self.brand_mpn.as_ref(),
            self.sku.as_ref(),
        );
        k
    }
}

/// A `/v1/fragment` query, validated and normalized, holding what it can without
/// allocating (the retailer borrowed from the query, the locale on the stack, an EAN
/// inline): enough to write the cache key, so a cache hit allocates nothing for it.
/// [`Self::to_request`] makes the owned [`FragmentRequest`] a miss needs.
pub struct FragmentQuery<'a> {
    retailer: Cow<'a, str>,
    locale: LowerTag,
    ids: Identities,
}

impl<'a> FragmentQuery<'a> {
    /// Parses a raw query string (`retailer=…&locale=…&ean=…`). Unknown parameters are
    /// ignored (cache busters such as `_=…` do not split the cache); known ones may
    /// appear once.
    ///
    /// # Errors
    /// The first problem found, as a fixed sentence that never contains the input.
    pub fn parse(query: &'a str) -> Result<Self, InputError> {
        if query.len() > MAX_QUERY_LEN {
            return Err(E_TOO_LONG);
        }
        let mut fields: [Option<Cow<'_, str>>; 6] = Default::default();
        // Usually nothing is encoded (slugs, tags, digits): then one scan of the whole
        // query spares each name and value its own.
        let encoded = query.bytes().any(|b| b == b'%' || b == b'+');
        // Byte scans rather than `str::split`: these strings are a few dozen bytes, and
        // `&` and `=` are ASCII, so every cut falls on a character boundary.
        let mut rest = query;
        while !rest.is_empty() {
            let (pair, tail) = cut(rest, b'&');
            rest = tail;
            if pair.is_empty() {
                continue;
            }
            let (k, v) = cut(pair, b'=');
            let (k, v) = if encoded {
                (form_decode(k)?, form_decode(v)?)
            } else {
                (Cow::Borrowed(k), Cow::Borrowed(v))
            };
            let slot = match &*k {
                "retailer" => 0,
                "locale" => 1,
                "ean" => 2,
                "brand" => 3,
                "mpn" => 4,
                "sku" => 5,
                _ => continue,
            };
            if fields[slot].replace(v).is_some() {
                return Err(E_DUPLICATE);
            }
        }
        let [retailer, locale, ean, brand, mpn, sku] = fields;
        let retailer = retailer
            .filter(|r| !r.is_empty())
            .ok_or(E_MISSING_RETAILER)?;
        check_slug(&retailer)?;
        let locale = LowerTag::parse(present(locale.as_deref()).ok_or(E_MISSING_LOCALE)?)?;
        let ids = Identities::parse(
            ean.as_deref(),
            brand.as_deref(),
            mpn.as_deref(),
            sku.as_deref(),
            E_HALF_BRAND_MPN,
        )?;
        if ids.ean.is_none() && ids.brand_mpn.is_none() && ids.sku.is_none() {
            return Err(E_MISSING_IDENTITY);
        }
        Ok(Self {
            retailer,
            locale,
            ids,
        })
    }

    /// Appends the cache key ([`FragmentRequest::cache_key`]) to `out`.
    pub fn write_key(&self, out: &mut String) {
        let ids = &self.ids;
        write_key(
            out,
            [&self.retailer, self.locale.as_str()],
            ids.ean.as_ref(),
            ids.brand_mpn.as_ref(),
            ids.sku.as_ref(),
        );
    }

    /// The owned request, as a miss or a refresh needs it.
    pub fn to_request(&self) -> FragmentRequest {
        FragmentRequest {
            retailer: Retailer(self.retailer.as_ref().into()),
            locale: Locale(self.locale.as_str().into()),
            ean: self.ids.ean,
            brand_mpn: self.ids.brand_mpn.clone(),
            sku: self.ids.sku.clone(),
        }
    }
}

/// The one writer of cache keys. Fields are separated by `\n`, which no normalized field
/// can contain.
fn write_key(
    k: &mut String,
    [retailer, locale]: [&str; 2],
    ean: Option<&Gtin14>,
    brand_mpn: Option<&BrandMpn>,
    sku: Option<&Sku>,
) {
    k.push_str(retailer);
    k.push('\n');
    k.push_str(locale);
    if let Some(e) = ean {
        k.push_str("\ne:");
        k.push_str(e.as_str());
    }
    if let Some(bm) = brand_mpn {
        k.push_str("\nb:");
        k.push_str(&bm.brand);
        k.push_str("\nm:");
        k.push_str(&bm.mpn);
    }
    if let Some(s) = sku {
        k.push_str("\ns:");
        k.push_str(s.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_take_their_canonical_casing() {
        for (tag, canonical) in [
            ("en-gb", "en-GB"),
            ("EN-GB", "en-GB"),
            ("de", "de"),
            ("fr-be", "fr-BE"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("ZH-HANT", "zh-Hant"),
            ("es-419", "es-419"),
            ("sl-rozaj-biske", "sl-rozaj-biske"),
            ("en-us-x-twain", "en-US-x-twain"),
            ("de-ch-u-co-phonebk", "de-CH-u-co-phonebk"),
        ] {
            assert_eq!(canonical_tag(tag), canonical, "{tag}");
        }
    }

    #[test]
    fn gtin_spellings_normalize_to_one_gtin14() {
        let a = Gtin14::parse("0012345678905").unwrap();
        let b = Gtin14::parse("12345678905").err();
        // 11 digits is no GTIN length.
        assert!(b.is_some());
        let upc = Gtin14::parse("012345678905").unwrap();
        let gtin14 = Gtin14::parse("00012345678905").unwrap();
        assert_eq!(a, upc);
        assert_eq!(a, gtin14);
        assert_eq!(a.as_str(), "00012345678905");
        assert_eq!(
            Gtin14::parse("4006381333931").unwrap().as_str(),
            "04006381333931"
        );
        assert_eq!(
            Gtin14::parse("96385074").unwrap().as_str(),
            "00000096385074"
        );
    }

    #[test]
    fn gtin_rejects_bad_check_digit_and_non_digits() {
        assert_eq!(
            Gtin14::parse("4006381333932").unwrap_err().code,
            "invalid_ean"
        );
        assert!(Gtin14::parse("40063813339a1").is_err());
        assert!(Gtin14::parse("+006381333931").is_err());
        assert!(Gtin14::parse("").is_err());
        assert!(Gtin14::parse("123456789012345").is_err());
    }

    #[test]
    fn identity_normalization() {
        assert_eq!(normalize_identity("X-100/B"), "x100b");
        assert_eq!(normalize_identity(" x_100 .b "), "x100b");
        assert_eq!(normalize_identity("ÄBC-Ü"), "äbcü");
        assert_eq!(
            BrandMpn::parse("Acme", "X-100/B").unwrap(),
            BrandMpn::parse("ACME ", "x100b").unwrap()
        );
        assert!(BrandMpn::parse("--", "x").is_err());
        assert!(BrandMpn::parse("acme", "a\u{0}b").is_err());
        assert!(BrandMpn::parse("acme", &"x".repeat(200)).is_err());
    }

    #[test]
    fn retailer_slug_grammar() {
        assert!(Retailer::parse("shop-one").is_ok());
        assert!(Retailer::parse("1shop").is_ok());
        assert!(Retailer::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "-shop", "Shop", "shop one", "shöp", &"a".repeat(65)] {
            assert!(Retailer::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn locale_parsing_and_fallback() {
        let l = Locale::parse("de-AT").unwrap();
        assert_eq!(l.as_str(), "de-at");
        assert_eq!(l.fallbacks().collect::<Vec<_>>(), ["de-at", "de"]);
        let l = Locale::parse("DE").unwrap();
        assert_eq!(l.fallbacks().collect::<Vec<_>>(), ["de"]);
        assert!(Locale::parse("zh-Hant-TW").is_ok());
        for bad in [
            "",
            "e",
            "en_GB",
            "en-",
            "<script>",
            "en-toolongsubtag",
            "1a",
        ] {
            assert!(Locale::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn query_spellings_share_one_key() {
        let a = FragmentRequest::from_query("retailer=shop-one&locale=en-GB&ean=0012345678905")
            .unwrap();
        let b =
            FragmentRequest::from_query("locale=en-gb&ean=012345678905&retailer=shop-one&_=123")
                .unwrap();
        assert_eq!(a.cache_key(), b.cache_key());
        let c =
            FragmentRequest::from_query("retailer=shop-one&locale=en-GB&brand=Acme&mpn=X-100%2FB")
                .unwrap();
        let d =
            FragmentRequest::from_query("retailer=shop-one&locale=en-gb&brand=ACME&mpn=x+100+b")
                .unwrap();
        assert_eq!(c.cache_key(), d.cache_key());
        assert_ne!(a.cache_key(), c.cache_key());
    }

    #[test]
    fn a_borrowed_query_writes_the_key_of_its_request() {
        // The hit path looks entries up by `FragmentQuery::write_key`; misses store them
        // under `FragmentRequest::cache_key`. A difference would make every hit a miss.
        for q in [
            "retailer=shop-one&locale=en-GB&ean=0012345678905",
            "retailer=shop-one&locale=ZH-hant-TW&ean=4006381333931&brand=Acme&mpn=X-1&sku=a+b",
            "retailer=shop-one&locale=de&brand=%C3%84cme&mpn=x%2F100",
            "re%74ailer=shop&locale=en&sku=%C3%A9&_=1",
        ] {
            let query = FragmentQuery::parse(q).unwrap();
            let mut key = String::from("stale text, cleared by nobody: ");
            let prefix = key.len();
            query.write_key(&mut key);
            let req = query.to_request();
            assert_eq!(req, FragmentRequest::from_query(q).unwrap(), "{q}");
            assert_eq!(&key[prefix..], req.cache_key(), "{q}");
        }
        assert_eq!(
            FragmentQuery::parse("retailer=Shop&locale=en&ean=4006381333931")
                .err()
                .unwrap()
                .code,
            "invalid_retailer"
        );
    }

    #[test]
    fn query_values_are_form_decoded() {
        let key = |q: &str| FragmentRequest::from_query(q).unwrap().cache_key();
        // `+` is a space, `%2B` a plus; names may be percent-encoded too.
        assert_eq!(
            key("retailer=shop&locale=en&brand=Acme+Corp&mpn=X%2B1"),
            key("re%74ailer=shop&locale=en&brand=Acme%20Corp&mpn=x+%2B1")
        );
        let r = FragmentRequest::from_query("retailer=shop&locale=en&sku=a%2Bb+c").unwrap();
        assert_eq!(r.sku.unwrap().as_str(), "a+b c");
        assert_eq!(
            FragmentRequest::from_query("retailer=shop&locale=en&sku=%C3%A9")
                .unwrap()
                .sku
                .unwrap()
                .as_str(),
            "é"
        );
        // Bad UTF-8 anywhere, in an unknown parameter too, is refused.
        for q in [
            "retailer=shop&locale=en&ean=%FF",
            "retailer=shop&locale=en&ean=4006381333931&_=%C3",
        ] {
            assert_eq!(
                FragmentRequest::from_query(q).unwrap_err().code,
                "invalid_encoding",
                "{q}"
            );
        }
    }

    #[test]
    fn query_errors_are_fixed_sentences() {
        let cases = [
            ("locale=en&ean=4006381333931", "missing_parameter"),
            ("retailer=shop&ean=4006381333931", "missing_parameter"),
            ("retailer=shop&locale=en", "missing_parameter"),
            ("retailer=shop&locale=en&brand=acme", "missing_parameter"),
            ("retailer=shop&locale=en&ean=1&ean=2", "duplicate_parameter"),
            ("retailer=%3Cscript%3E&locale=en&sku=1", "invalid_retailer"),
            ("retailer=shop&locale=en&ean=%FF", "invalid_encoding"),
            ("retailer=shop&locale=en&ean=4006381333932", "invalid_ean"),
        ];
        for (q, code) in cases {
            let e = FragmentRequest::from_query(q).unwrap_err();
            assert_eq!(e.code, code, "{q}");
            assert!(!e.detail.contains('<'));
        }
        let long = format!("retailer=shop&locale=en&sku={}", "x".repeat(20_000));
        assert_eq!(
            FragmentRequest::from_query(&long).unwrap_err().code,
            "query_too_long"
        );
    }

    #[test]
    fn empty_values_count_as_absent() {
        let r = FragmentRequest::from_query("retailer=shop&locale=en&ean=&brand=Acme&mpn=X1&sku=")
            .unwrap();
        assert!(r.ean.is_none() && r.sku.is_none());
        assert_eq!(r.brand_mpn.unwrap().product_id(), "acme/x1");
    }
}
