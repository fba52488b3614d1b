//! The catalog import format (DESIGN.md §5): how content gets into an origin store.
//!
//! A catalog is NDJSON, one product-locale per line:
//!
//! ```json
//! {"brand": "Acme", "mpn": "X-100/B", "ean": ["4006381333931"], "locale": "en-GB",
//!  "html": "<div>…</div>", "retailers": ["shop-one", "*"], "skus": {"shop-one": "SKU-123"}}
//! ```
//!
//! | field | meaning |
//! |---|---|
//! | `brand`, `mpn` | required; the product identity, kept as written for display and normalized for lookups |
//! | `ean` | optional list of GTIN-8/12/13/14 (check digit verified), may be empty |
//! | `locale` | required BCP 47 tag (`en-GB`, `de`) |
//! | `html` | required, non-empty, at most [`MAX_HTML_BYTES`] |
//! | `retailers` | required, non-empty: retailer slugs, or `"*"` for every retailer. These are syndication **grants of the brand** (not of this one product) and are only ever added by an import, never removed |
//! | `skus` | optional map retailer → that retailer's own SKU for this product. **Our extension** to the format of DESIGN.md §5, so `&sku=` lookups work |
//!
//! Unknown fields are refused, so a typo (`"retailer"`) is an error rather than a
//! silently ignored grant.
//!
//! This module parses and validates ([`check_ndjson`] streams a file of any size in
//! bounded memory); [`write`] writes a validated catalog into a store, and [`import`] is
//! the command line around both. Invariants of a checked catalog: every record is valid
//! on its own, no product-locale appears twice, and no EAN or (retailer, SKU) names two
//! different products — so the result of an import never depends on line order.

pub mod art;
pub mod import;
pub mod seed;
mod seed_copy;
pub mod write;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io::BufRead;

use serde::Deserialize;

use crate::domain::{BrandMpn, Gtin14, Locale, Retailer, Sku};

/// Largest `html` accepted in one record. Product fragments are a few KiB; anything near
/// a mebibyte is an export bug (inlined images), and would crowd the cache.
pub const MAX_HTML_BYTES: usize = 1024 * 1024;

/// Errors collected by [`parse_ndjson`] before it stops reading: enough to fix a batch
/// of problems per round, not so many that a wrong file floods the terminal.
pub const MAX_LINE_ERRORS: usize = 20;

/// The `retailers` entry that grants a brand to every retailer.
pub const ALL_RETAILERS: &str = "*";

/// One validated product-locale of a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRecord {
    /// The brand as written in the catalog, trimmed; shown to people, never matched on.
    pub brand: String,
    /// Normalized brand and MPN: the product's identity in the store.
    pub brand_mpn: BrandMpn,
    /// The MPN as written, trimmed; for display.
    pub mpn: String,
    /// GTIN-14s of the product, without duplicates; may be empty.
    pub eans: Vec<Gtin14>,
    /// The locale this `html` is written for.
    pub locale: Locale,
    /// The fragment, identity-encoded.
    pub html: String,
    /// Retailer slugs (validated) or [`ALL_RETAILERS`], without duplicates; non-empty.
    /// Grants for the brand, not only this product.
    pub retailers: Vec<String>,
    /// Retailer-specific SKUs of this product (our extension), sorted by retailer.
    pub skus: Vec<(Retailer, Sku)>,
}

/// The line as it is written; `deny_unknown_fields` makes typos errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    brand: String,
    mpn: String,
    #[serde(default)]
    ean: Option<Vec<String>>,
    locale: String,
    html: String,
    retailers: Vec<String>,
    #[serde(default)]
    skus: Option<BTreeMap<String, String>>,
}

/// A problem on one line of a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number. For "the file holds no records" it is the line after the
    /// last one, where a record was expected.
    pub line: usize,
    /// What is wrong, as a sentence naming the field.
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for LineError {}

/// Parses and validates one catalog line (without its line break).
///
/// # Errors
/// A sentence naming the field and what is wrong with it.
pub fn parse_line(line: &str) -> Result<CatalogRecord, String> {
    let raw: RawRecord = serde_json::from_str(line).map_err(|e| json_message(&e))?;

    let brand_mpn = BrandMpn::parse(&raw.brand, &raw.mpn)
        .map_err(|e| format!("{} (got {})", e.detail, quote(raw.brand_or_mpn(e.code))))?;

    let mut eans: Vec<Gtin14> = Vec::new();
    for (i, ean) in raw.ean.unwrap_or_default().iter().enumerate() {
        let g = Gtin14::parse(ean.trim())
            .map_err(|e| format!("ean[{i}] {}: {}", quote(ean), e.detail))?;
        if !eans.contains(&g) {
            eans.push(g);
        }
    }

    let locale = Locale::parse(raw.locale.trim())
        .map_err(|e| format!("{} (got {})", e.detail, quote(&raw.locale)))?;

    if raw.html.trim().is_empty() {
        return Err("html is empty: every record needs the fragment's HTML".to_owned());
    }
    if raw.html.len() > MAX_HTML_BYTES {
        return Err(format!(
            "html is {} bytes, more than the limit of {MAX_HTML_BYTES} bytes (1 MiB)",
            raw.html.len()
        ));
    }

    if raw.retailers.is_empty() {
        return Err(
            "retailers is empty: list the retailer slugs the brand is granted to, or \"*\" for all"
                .to_owned(),
        );
    }
    let mut retailers: Vec<String> = Vec::with_capacity(raw.retailers.len());
    for (i, r) in raw.retailers.iter().enumerate() {
        let slug = if r == ALL_RETAILERS {
            ALL_RETAILERS.to_owned()
        } else {
            Retailer::parse(r)
                .map_err(|e| format!("retailers[{i}] {}: {} (or \"*\")", quote(r), e.detail))?
                .as_str()
                .to_owned()
        };
        if !retailers.contains(&slug) {
            retailers.push(slug);
        }
    }

    let mut skus = Vec::new();
    for (r, s) in raw.skus.unwrap_or_default() {
        let retailer =
            Retailer::parse(&r).map_err(|e| format!("skus key {}: {}", quote(&r), e.detail))?;
        let sku = Sku::parse(&s).map_err(|e| format!("skus[{}]: {}", quote(&r), e.detail))?;
        skus.push((retailer, sku));
    }

    Ok(CatalogRecord {
        brand: raw.brand.trim().to_owned(),
        mpn: raw.mpn.trim().to_owned(),
        brand_mpn,
        eans,
        locale,
        html: raw.html,
        retailers,
        skus,
    })
}

impl RawRecord {
    /// The value a [`BrandMpn::parse`] error code is about, for the message.
    fn brand_or_mpn(&self, code: &str) -> &str {
        if code == "invalid_mpn" {
            &self.mpn
        } else {
            &self.brand
        }
    }
}

/// serde_json's message without its "at line 1 column N" suffix (every line is line 1
/// to it, which would contradict our line numbers), with the column kept.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = full.strip_suffix(&suffix).unwrap_or(&full);
    if e.is_eof() {
        format!("not a complete JSON object: {msg}")
    } else if e.is_syntax() {
        format!("not valid JSON: {msg} (column {})", e.column())
    } else {
        format!("not a valid record: {msg}")
    }
}

/// `value` in double quotes, shortened so a wrong field cannot flood the terminal.
fn quote(value: &str) -> String {
    const MAX_CHARS: usize = 40;
    if value.chars().count() <= MAX_CHARS {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MAX_CHARS).collect();
        format!("{head:?}…")
    }
}

/// Reads a whole NDJSON catalog held in memory, validating every line and the catalog
/// as a whole (see the module docs), and returns its records. For small catalogs (tests,
/// tools); imports stream with [`check_ndjson`] and [`read_lines`] instead.
///
/// # Errors
/// As [`check_ndjson`].
pub fn parse_ndjson(
    input: &[u8],
    on_progress: impl FnMut(u64),
) -> Result<Vec<CatalogRecord>, Vec<LineError>> {
    let mut records = Vec::new();
    scan(input, on_progress, |_, r| records.push(r))
        .map_err(|failed| failed.resolve(|| Ok(input)))?;
    Ok(records)
}

/// Validates a whole NDJSON catalog without keeping it: every line on its own, and the
/// catalog as a whole (no product-locale twice, no EAN or SKU naming two products).
/// Blank lines are skipped; a UTF-8 byte-order mark is ignored. `on_progress` is called
/// with the number of bytes read so far. Memory grows by a few dozen bytes per record
/// (hashes of the keys it has seen), never with the content. `reread` opens the catalog
/// again, to name the products of lines that a conflict refers back to.
///
/// Returns the number of records.
///
/// # Errors
/// Every problem found, with its line number, up to [`MAX_LINE_ERRORS`] (the last one
/// then says that reading stopped); an empty catalog, and a read failure, are errors too.
pub fn check_ndjson<R: BufRead>(
    reader: R,
    on_progress: impl FnMut(u64),
    reread: impl FnOnce() -> std::io::Result<R>,
) -> Result<usize, Vec<LineError>> {
    let mut n = 0;
    scan(reader, on_progress, |_, _| n += 1).map_err(|failed| failed.resolve(reread))?;
    Ok(n)
}

/// The lines of a catalog that [`check_ndjson`] passed, numbered (1-based), blank lines
/// skipped, for the import to parse again in parallel. A read failure ends the iteration
/// with an error.
pub fn read_lines(reader: impl BufRead) -> impl Iterator<Item = std::io::Result<(usize, Vec<u8>)>> {
    let mut reader = reader;
    let mut line_no = 0usize;
    std::iter::from_fn(move || {
        loop {
            let mut buf = Vec::new();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) => {
                    line_no += 1;
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    if line_no == 1 && buf.starts_with(b"\xEF\xBB\xBF") {
                        buf.drain(..3);
                    }
                    return Some(Ok((line_no, buf)));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    })
}

/// Parses one line as [`read_lines`] gives it (line break included).
///
/// # Errors
/// As [`parse_line`], plus invalid UTF-8.
pub fn parse_bytes(bytes: &[u8]) -> Result<CatalogRecord, String> {
    match std::str::from_utf8(bytes) {
        Err(e) => Err(format!(
            "not valid UTF-8 (first bad byte at column {})",
            e.valid_up_to() + 1
        )),
        Ok(text) => parse_line(text.trim_end_matches(['\n', '\r'])),
    }
}

/// A failed [`scan`]: the errors, some of which name another line's product once it is
/// known (see [`Failed::resolve`]).
struct Failed {
    errors: Vec<LineError>,
    /// (index into `errors`, the earlier line whose product the message names).
    unnamed: Vec<(usize, usize)>,
}

/// Where a conflict message names the earlier line's product.
const PRODUCT_OF_LINE: &str = "\u{0}product\u{0}";

impl Failed {
    /// Fills in the products that conflict messages name, reading those lines again
    /// (only ever on failure, for at most [`MAX_LINE_ERRORS`] lines).
    fn resolve<R: BufRead>(self, reread: impl FnOnce() -> std::io::Result<R>) -> Vec<LineError> {
        let Failed {
            mut errors,
            unnamed,
        } = self;
        if unnamed.is_empty() {
            return errors;
        }
        let wanted: HashSet<usize> = unnamed.iter().map(|&(_, line)| line).collect();
        let mut names: HashMap<usize, String> = HashMap::new();
        if let Ok(reader) = reread() {
            for (line, bytes) in read_lines(reader).map_while(Result::ok) {
                if wanted.contains(&line) {
                    if let Ok(r) = parse_bytes(&bytes) {
                        names.insert(line, format!("product {}", r.brand_mpn.product_id()));
                    }
                    if names.len() == wanted.len() {
                        break;
                    }
                }
            }
        }
        for (index, line) in unnamed {
            let name = names
                .get(&line)
                .map_or("another product", String::as_str)
                .to_owned();
            let e = &mut errors[index];
            e.message = e.message.replace(PRODUCT_OF_LINE, &name);
        }
        errors
    }
}

/// Reads every line, validating it and the catalog as a whole; hands each valid record
/// to `on_record` with its line number.
fn scan(
    mut reader: impl BufRead,
    mut on_progress: impl FnMut(u64),
    mut on_record: impl FnMut(usize, CatalogRecord),
) -> Result<(), Failed> {
    let mut failed = Failed {
        errors: Vec::new(),
        unnamed: Vec::new(),
    };
    let mut seen = Uniqueness::default();
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut bytes_read: u64 = 0;
    let mut line_no = 0usize;
    let mut records = 0usize;

    loop {
        buf.clear();
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                failed.errors.push(LineError {
                    line: line_no + 1,
                    message: format!("could not read the catalog: {e}"),
                });
                return Err(failed);
            }
        };
        line_no += 1;
        bytes_read += n as u64;
        on_progress(bytes_read);

        let mut bytes = buf.as_slice();
        if line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let outcome = parse_bytes(bytes).and_then(|r| match seen.check(&r, line_no) {
            Ok(()) => Ok(r),
            Err(Conflict::Plain(message)) => Err(message),
            Err(Conflict::Names { message, line }) => {
                failed.unnamed.push((failed.errors.len(), line));
                Err(message)
            }
        });
        match outcome {
            Ok(record) => {
                records += 1;
                if failed.errors.is_empty() {
                    on_record(line_no, record);
                }
            }
            Err(message) => {
                failed.errors.push(LineError {
                    line: line_no,
                    message,
                });
                if failed.errors.len() == MAX_LINE_ERRORS {
                    let more = reader.fill_buf().map_or(true, |b| !b.is_empty());
                    if more {
                        let last = failed
                            .errors
                            .last_mut()
                            .expect("invariant: errors is non-empty");
                        // Writing to a String cannot fail.
                        let _ = write!(
                            last.message,
                            "; stopped after {MAX_LINE_ERRORS} errors, later lines were not checked"
                        );
                    }
                    return Err(failed);
                }
            }
        }
    }

    if !failed.errors.is_empty() {
        return Err(failed);
    }
    if records == 0 {
        failed.errors.push(LineError {
            line: line_no + 1,
            message: "the catalog holds no records (it is empty or only has blank lines)"
                .to_owned(),
        });
        return Err(failed);
    }
    Ok(())
}

/// A catalog-wide problem with a record.
enum Conflict {
    Plain(String),
    /// The message holds [`PRODUCT_OF_LINE`], to be replaced by `line`'s product.
    Names {
        message: String,
        line: usize,
    },
}

/// Catalog-wide checks: which line first claimed a product-locale, an EAN or a SKU.
/// Keys and products are held as 128-bit hashes (collisions are out of reach at any
/// catalog size), so memory is a few dozen bytes per record whatever the content.
#[derive(Default)]
struct Uniqueness {
    /// hash(product, locale) → line.
    product_locales: HashMap<u128, u32>,
    /// EAN → (hash(product), line).
    eans: HashMap<Gtin14, (u128, u32)>,
    /// hash(retailer, SKU) → (hash(product), line).
    skus: HashMap<u128, (u128, u32)>,
}

fn hash_of(parts: &[&str]) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(p.as_bytes());
        // A separator no part contains, so ("ab", "c") and ("a", "bc") differ.
        h.update(&[0xff]);
    }
    h.digest128()
}

impl Uniqueness {
    fn check(&mut self, r: &CatalogRecord, line: usize) -> Result<(), Conflict> {
        let product = hash_of(&[&r.brand_mpn.brand, &r.brand_mpn.mpn]);
        let key = hash_of(&[&r.brand_mpn.brand, &r.brand_mpn.mpn, r.locale.as_str()]);
        let line32 = u32::try_from(line).unwrap_or(u32::MAX);
        if let Some(first) = self.product_locales.get(&key) {
            return Err(Conflict::Plain(format!(
                "product {} in locale {} already appeared on line {first}; give each product-locale once",
                r.brand_mpn.product_id(),
                r.locale
            )));
        }
        for ean in &r.eans {
            if let Some(&(other, first)) = self.eans.get(ean) {
                if other != product {
                    return Err(Conflict::Names {
                        message: format!(
                            "ean {ean} is also given for {PRODUCT_OF_LINE} on line {first}; an EAN names one product"
                        ),
                        line: first as usize,
                    });
                }
            }
        }
        let sku_keys: Vec<u128> = r
            .skus
            .iter()
            .map(|(retailer, sku)| hash_of(&[retailer.as_str(), sku.as_str()]))
            .collect();
        for ((retailer, sku), k) in r.skus.iter().zip(&sku_keys) {
            if let Some(&(other, first)) = self.skus.get(k) {
                if other != product {
                    return Err(Conflict::Names {
                        message: format!(
                            "skus[{retailer:?}] {:?} is also given for {PRODUCT_OF_LINE} on line {first}; a retailer's SKU names one product",
                            sku.as_str(),
                        ),
                        line: first as usize,
                    });
                }
            }
        }
        // Only a record that passed every check claims its keys.
        self.product_locales.insert(key, line32);
        for ean in &r.eans {
            self.eans.entry(*ean).or_insert((product, line32));
        }
        for k in sku_keys {
            self.skus.entry(k).or_insert((product, line32));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"brand": "Acme", "mpn": "X-100/B", "ean": ["4006381333931"], "locale": "en-GB", "html": "<div>hi</div>", "retailers": ["shop-one", "*"], "skus": {"shop-one": "SKU-123"}}"#;

    fn line(brand: &str, mpn: &str, ean: &str, locale: &str) -> String {
        format!(
            r#"{{"brand": "{brand}", "mpn": "{mpn}", "ean": [{ean}], "locale": "{locale}", "html": "<p>x</p>", "retailers": ["shop-one"]}}"#
        )
    }

    #[test]
    fn parses_the_documented_example() {
        let r = parse_line(GOOD).unwrap();
        assert_eq!(r.brand, "Acme");
        assert_eq!(r.mpn, "X-100/B");
        assert_eq!(r.brand_mpn.product_id(), "acme/x100b");
        assert_eq!(r.eans, [Gtin14::parse("4006381333931").unwrap()]);
        assert_eq!(r.locale.as_str(), "en-gb");
        assert_eq!(r.retailers, ["shop-one", "*"]);
        assert_eq!(r.skus.len(), 1);
        assert_eq!(r.skus[0].0.as_str(), "shop-one");
        assert_eq!(r.skus[0].1.as_str(), "SKU-123");
    }

    #[test]
    fn optional_fields_may_be_missing_or_empty() {
        let r = parse_line(r#"{"brand":"B","mpn":"1","locale":"de","html":"x","retailers":["*"]}"#)
            .unwrap();
        assert!(r.eans.is_empty() && r.skus.is_empty());
        let r = parse_line(
            r#"{"brand":"B","mpn":"1","ean":[],"locale":"de","html":"x","retailers":["*"],"skus":{}}"#,
        )
        .unwrap();
        assert!(r.eans.is_empty() && r.skus.is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                r#"{"brand":"B","mpn":"1","locale":"de","html":"x"}"#,
                "retailers",
            ),
            (
                r#"{"brand":"B","mpn":"1","locale":"de","html":"x","retailers":[]}"#,
                "retailers is empty",
            ),
            (
                r#"{"brand":"B","mpn":"1","locale":"de","html":" ","retailers":["*"]}"#,
                "html is empty",
            ),
            (
                r#"{"brand":"B","mpn":"1","locale":"de_DE","html":"x","retailers":["*"]}"#,
                "locale",
            ),
            (
                r#"{"brand":"--","mpn":"1","locale":"de","html":"x","retailers":["*"]}"#,
                "brand",
            ),
            (
                r#"{"brand":"B","mpn":"","locale":"de","html":"x","retailers":["*"]}"#,
                "mpn",
            ),
            (
                r#"{"brand":"B","mpn":"1","ean":["4006381333932"],"locale":"de","html":"x","retailers":["*"]}"#,
                "ean[0]",
            ),
            (
                r#"{"brand":"B","mpn":"1","locale":"de","html":"x","retailers":["Shop One"]}"#,
                "retailers[0]",
            ),
            (
                r#"{"brand":"B","mpn":"1","locale":"de","html":"x","retailers":["*"],"skus":{"*":"1"}}"#,
                "skus key",
            ),
            (
                r#"{"brand":"B","mpn":"1","locale":"de","html":"x","retailers":["*"],"skus":{"s":" "}}"#,
                "skus[\"s\"]",
            ),
            (
                r#"{"brand":"B","mpn":"1","locale":"de","html":"x","retailers":["*"],"retailer":"s"}"#,
                "unknown field `retailer`",
            ),
            (
                r#"{"brand":"B","mpn":1,"locale":"de","html":"x","retailers":["*"]}"#,
                "invalid type",
            ),
            (r#"{"brand":"B","#, "not a complete JSON object"),
            (r#"brand"#, "not valid JSON"),
        ];
        for (input, needle) in cases {
            let e = parse_line(input).unwrap_err();
            assert!(
                e.contains(needle),
                "{input}: {e:?} should mention {needle:?}"
            );
            assert!(!e.contains("at line 1"), "{e}");
        }
        let huge = format!(
            r#"{{"brand":"B","mpn":"1","locale":"de","html":"{}","retailers":["*"]}}"#,
            "x".repeat(MAX_HTML_BYTES + 1)
        );
        assert!(parse_line(&huge).unwrap_err().contains("1 MiB"));
    }

    #[test]
    fn parse_errors_carry_line_numbers() {
        let input = format!(
            "{GOOD}\n\n{}\n{{oops\n{}\r\n",
            line("Acme", "X-200", "", "en-GB"),
            line("Acme", "X-300", r#""123""#, "en-GB"),
        );
        let errors = parse_ndjson(input.as_bytes(), |_| {}).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].line, 4);
        assert!(
            errors[0].to_string().starts_with("line 4: not valid JSON"),
            "{}",
            errors[0]
        );
        assert_eq!(errors[1].line, 5);
        assert!(errors[1].message.contains("ean[0]"));
    }

    #[test]
    fn blank_lines_bom_and_crlf_are_fine_and_progress_counts_bytes() {
        let input = format!(
            "\u{feff}{GOOD}\r\n\n   \n{}",
            line("Acme", "X-200", "", "de")
        );
        let mut last = 0;
        let records = parse_ndjson(input.as_bytes(), |n| last = n).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(last, input.len() as u64);
    }

    #[test]
    fn empty_catalog_is_an_error() {
        let e = parse_ndjson("\n \n".as_bytes(), |_| {}).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 3);
        assert!(e[0].message.contains("no records"));
        assert!(parse_ndjson("".as_bytes(), |_| {}).is_err());
    }

    #[test]
    fn stops_after_twenty_errors_and_says_so() {
        let input = "{bad\n".repeat(30);
        let e = parse_ndjson(input.as_bytes(), |_| {}).unwrap_err();
        assert_eq!(e.len(), MAX_LINE_ERRORS);
        assert_eq!(e[19].line, 20);
        assert!(e[19].message.contains("stopped after 20 errors"));
        assert!(!e[18].message.contains("stopped"));
        // Exactly twenty errors and nothing after: nothing was skipped, so no note.
        let input = "{bad\n".repeat(20);
        let e = parse_ndjson(input.as_bytes(), |_| {}).unwrap_err();
        assert!(!e[19].message.contains("stopped"));
    }

    #[test]
    fn catalog_wide_conflicts_are_errors() {
        let ean = r#""4006381333931""#;
        let input = [
            line("Acme", "X-100/B", ean, "en-GB"),
            line("ACME", "x100b", "", "en-gb"), // same product-locale
            line("Acme", "X-100/B", ean, "de"), // same product, other locale: fine
            line("Borealis", "Z1", ean, "en-GB"), // EAN of another product
        ]
        .join("\n");
        let e = parse_ndjson(input.as_bytes(), |_| {}).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].line, 2);
        assert!(
            e[0].message.contains("already appeared on line 1"),
            "{}",
            e[0]
        );
        assert_eq!(e[1].line, 4);
        assert!(e[1].message.contains("acme/x100b on line 1"), "{}", e[1]);

        let sku = |mpn: &str, retailer: &str| {
            format!(
                r#"{{"brand":"B","mpn":"{mpn}","locale":"de","html":"x","retailers":["*"],"skus":{{"{retailer}":"S-1"}}}}"#
            )
        };
        let ok = [sku("1", "shop-one"), sku("2", "shop-two")].join("\n");
        assert_eq!(parse_ndjson(ok.as_bytes(), |_| {}).unwrap().len(), 2);
        let clash = [sku("1", "shop-one"), sku("2", "shop-one")].join("\n");
        let e = parse_ndjson(clash.as_bytes(), |_| {}).unwrap_err();
        assert!(e[0].message.contains("a retailer's SKU names one product"));
    }
}
