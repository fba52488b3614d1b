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
//! This module only parses and validates; [`crate::origin::sqlite::SqliteOrigin::import`]
//! writes. Invariants of a parsed catalog ([`parse_ndjson`]): every record is valid on
//! its own, no product-locale appears twice, and no EAN or (retailer, SKU) names two
//! different products — so the result of an import never depends on line order.

pub mod import;
pub mod seed;

use std::collections::{BTreeMap, HashMap};
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

/// Reads a whole NDJSON catalog, validating every line and the catalog as a whole (see
/// the module docs). Blank lines are skipped; a UTF-8 byte-order mark is ignored.
/// `on_progress` is called with the number of bytes read so far, after every line.
///
/// # Errors
/// Every problem found, with its line number, up to [`MAX_LINE_ERRORS`] (the last one
/// then says that reading stopped); an empty catalog, and a read failure, are errors too.
pub fn parse_ndjson(
    mut reader: impl BufRead,
    mut on_progress: impl FnMut(u64),
) -> Result<Vec<CatalogRecord>, Vec<LineError>> {
    let mut records = Vec::new();
    let mut errors: Vec<LineError> = Vec::new();
    let mut seen = Uniqueness::default();
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut bytes_read: u64 = 0;
    let mut line_no = 0usize;

    loop {
        buf.clear();
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                errors.push(LineError {
                    line: line_no + 1,
                    message: format!("could not read the catalog: {e}"),
                });
                return Err(errors);
            }
        };
        line_no += 1;
        bytes_read += n as u64;
        on_progress(bytes_read);

        let mut bytes = buf.as_slice();
        if line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let outcome = match std::str::from_utf8(bytes) {
            Err(e) => Err(format!(
                "not valid UTF-8 (first bad byte at column {})",
                e.valid_up_to() + 1
            )),
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => parse_line(text.trim_end_matches(['\n', '\r']))
                .and_then(|r| seen.check(&r, line_no).map(|()| r)),
        };
        match outcome {
            Ok(record) => records.push(record),
            Err(message) => {
                errors.push(LineError {
                    line: line_no,
                    message,
                });
                if errors.len() == MAX_LINE_ERRORS {
                    let more = reader.fill_buf().map_or(true, |b| !b.is_empty());
                    if more {
                        let last = errors.last_mut().expect("invariant: errors is non-empty");
                        // Writing to a String cannot fail.
                        let _ = write!(
                            last.message,
                            "; stopped after {MAX_LINE_ERRORS} errors, later lines were not checked"
                        );
                    }
                    return Err(errors);
                }
            }
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    if records.is_empty() {
        return Err(vec![LineError {
            line: line_no + 1,
            message: "the catalog holds no records (it is empty or only has blank lines)"
                .to_owned(),
        }]);
    }
    Ok(records)
}

/// Catalog-wide checks: which line first claimed a product-locale, an EAN or a SKU.
#[derive(Default)]
struct Uniqueness {
    product_locales: HashMap<(BrandMpn, Locale), usize>,
    eans: HashMap<Gtin14, (BrandMpn, usize)>,
    skus: HashMap<(Retailer, Sku), (BrandMpn, usize)>,
}

impl Uniqueness {
    fn check(&mut self, r: &CatalogRecord, line: usize) -> Result<(), String> {
        let key = (r.brand_mpn.clone(), r.locale.clone());
        if let Some(first) = self.product_locales.get(&key) {
            return Err(format!(
                "product {} in locale {} already appeared on line {first}; give each product-locale once",
                r.brand_mpn.product_id(),
                r.locale
            ));
        }
        for ean in &r.eans {
            if let Some((other, first)) = self.eans.get(ean) {
                if *other != r.brand_mpn {
                    return Err(format!(
                        "ean {ean} is also given for product {} on line {first}; an EAN names one product",
                        other.product_id()
                    ));
                }
            }
        }
        for (retailer, sku) in &r.skus {
            if let Some((other, first)) = self.skus.get(&(retailer.clone(), sku.clone())) {
                if *other != r.brand_mpn {
                    return Err(format!(
                        "skus[{retailer:?}] {:?} is also given for product {} on line {first}; a retailer's SKU names one product",
                        sku.as_str(),
                        other.product_id()
                    ));
                }
            }
        }
        // Only a record that passed every check claims its keys.
        self.product_locales.insert(key, line);
        for ean in &r.eans {
            self.eans
                .entry(*ean)
                .or_insert_with(|| (r.brand_mpn.clone(), line));
        }
        for (retailer, sku) in &r.skus {
            self.skus
                .entry((retailer.clone(), sku.clone()))
                .or_insert_with(|| (r.brand_mpn.clone(), line));
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
