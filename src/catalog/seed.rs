//! A deterministic synthetic catalog for demos and load tests (`synedge seed --demo`,
//! `serve --demo`).
//!
//! Invariants:
//! - Deterministic: the output depends only on the product count, through a tiny
//!   fixed-seed PRNG and integer arithmetic (no floating-point maths that could differ
//!   between machines). Each product has its own PRNG stream, so
//!   `demo_catalog(n)` is a prefix of `demo_catalog(m)` for `n < m`.
//! - Product 0 is the one the demo page embeds: Acme `X-100/B`, EAN 4006381333931,
//!   granted to `shop-one`, with content in `en-GB` (and `de-DE`, `fr-FR`, `de`).
//! - Every product has `en-GB` and `de-DE` content; every third (0, 3, 6, …) also
//!   `fr-FR` and plain `de`, so `de-AT` → `de` fallback can be shown.
//! - Every brand is granted to `shop-one` (so every [`request_paths`] entry resolves);
//!   `outlet-24` is granted only Acme and Dynamo, so the other brands show the
//!   "no rights" answer there.
//! - Products 0 and 1 are of one category (cordless drills): the demo's comparison.
//! - Every fragment is coherent content for its product's category (words in
//!   [`seed_copy`](super::seed_copy)): six to eight feature tiles, no heading twice,
//!   spec values inside the category's plausible ranges, and images from the fixed set
//!   of [`art`] illustrations, by root-relative URL (`/demo/img/…`; the loader resolves
//!   them against the edge that served it). Everything generated is HTML-escaped.
//! - Every fragment is between [`MIN_FRAGMENT_BYTES`] and [`MAX_FRAGMENT_BYTES`]; how
//!   much a product shows is drawn from a log-normal-like size distribution (median
//!   about 6 KiB), like real inpage content.

use std::fmt::Write as _;

use super::CatalogRecord;
use super::art;
use super::seed_copy::CATEGORIES;
use crate::domain::{BrandMpn, Gtin14, Locale, Retailer, Sku};

/// Smallest fragment the seed produces.
pub const MIN_FRAGMENT_BYTES: usize = 2 * 1024;
/// Largest fragment the seed produces.
pub const MAX_FRAGMENT_BYTES: usize = 16 * 1024;

/// The demo product (product 0), which the `/demo` page embeds.
pub const DEMO_BRAND: &str = "Acme";
pub const DEMO_MPN: &str = "X-100/B";
pub const DEMO_EAN: &str = "4006381333931";
/// A valid EAN that no demo product has: the `/demo` page's no-content example.
pub const NO_CONTENT_EAN: &str = "4006381333948";

const SEED: u64 = 0x5EED_CA7A_1061_0001;

/// Brands with their grants and a CSS accent colour. Index 0 must stay Acme.
const BRANDS: [(&str, &[&str], &str); 8] = [
    (
        "Acme",
        &["shop-one", "shop-two", "megastore", "outlet-24"],
        "#d4380d",
    ),
    (
        "Borealis",
        &["shop-one", "shop-two", "megastore"],
        "#096dd9",
    ),
    (
        "Cobalt & Finch",
        &["shop-one", "shop-two", "megastore"],
        "#1d39c4",
    ),
    (
        "Dynamo",
        &["shop-one", "shop-two", "megastore", "outlet-24"],
        "#d48806",
    ),
    (
        "Evergreen",
        &["shop-one", "shop-two", "megastore"],
        "#389e0d",
    ),
    ("Helios", &["*"], "#fa8c16"),
    ("Kestrel", &["shop-one", "shop-two", "megastore"], "#531dab"),
    (
        "Nordwind",
        &["shop-one", "shop-two", "megastore"],
        "#08979c",
    ),
];

/// Size quantiles (bytes) at 0, 1/16, …, 16/16 of a log-normal distribution with median
/// 6 KiB and σ = 0.5, clamped to leave room inside the 2–16 KiB bounds. Interpolated
/// linearly with integers, so sizes are the same on every machine.
const SIZE_QUANTILES: [usize; 17] = [
    2304, 2853, 3456, 3942, 4385, 4811, 5239, 5679, 6144, 6646, 7205, 7844, 8608, 9573, 10920,
    13230, 15360,
];

/// splitmix64: tiny, fast, good enough for synthetic text, and fully deterministic.
struct Rng(u64);

impl Rng {
    fn for_product(i: usize) -> Self {
        Self(SEED ^ (i as u64).wrapping_mul(0xA076_1D64_78BD_642F))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A target fragment size, drawn from [`SIZE_QUANTILES`].
    fn fragment_size(&mut self) -> usize {
        let x = self.next() % (16 << 16);
        let (bucket, frac) = ((x >> 16) as usize, (x & 0xFFFF) as usize);
        let (lo, hi) = (SIZE_QUANTILES[bucket], SIZE_QUANTILES[bucket + 1]);
        lo + (hi - lo) * frac / 0x10000
    }
}

/// The demo catalog with `products` products (see the module docs for its shape).
#[must_use]
pub fn demo_catalog(products: usize) -> Vec<CatalogRecord> {
    demo_records(products).collect()
}

/// The records of [`demo_catalog`], made one product at a time, so a catalog of any
/// size streams in bounded memory.
pub fn demo_records(products: usize) -> impl Iterator<Item = CatalogRecord> + Send {
    (0..products).flat_map(product_records)
}

/// The records (one per locale) of demo product `i`.
fn product_records(i: usize) -> Vec<CatalogRecord> {
    let p = Product::new(i);
    let mut langs = vec![(&EN, "en-GB"), (&DE, "de-DE")];
    if i % 3 == 0 {
        langs.push((&FR, "fr-FR"));
        langs.push((&DE, "de"));
    }
    langs
        .into_iter()
        .map(|(lang, tag)| CatalogRecord {
            brand: p.brand.to_owned(),
            brand_mpn: p.brand_mpn.clone(),
            mpn: p.mpn.clone(),
            eans: vec![p.ean],
            locale: Locale::parse(tag).expect("invariant: seed locales are valid tags"),
            html: p.render(lang, tag),
            retailers: BRANDS[p.brand_index]
                .1
                .iter()
                .map(|r| (*r).to_owned())
                .collect(),
            skus: p.skus.clone(),
        })
        .collect()
}

/// One `/v1/fragment` path per product of `demo_catalog(products)`, by EAN, as
/// `shop-one` in `en-GB`: every one resolves to content. For load tests.
#[must_use]
pub fn request_paths(products: usize) -> Vec<String> {
    (0..products).map(request_path).collect()
}

/// Product `i`'s line of [`request_paths`].
#[must_use]
pub fn request_path(i: usize) -> String {
    format!(
        "/v1/fragment?retailer=shop-one&locale=en-GB&ean={}",
        ean13(i)
    )
}

/// Product `i`'s EAN-13: the demo EAN for 0; otherwise in the GS1 "restricted
/// circulation" range 2xx (never a real product), unique per index, valid check digit.
#[must_use]
pub fn ean13(i: usize) -> String {
    if i == 0 {
        return DEMO_EAN.to_owned();
    }
    let data = format!("29{:010}", i % 10_000_000_000);
    let sum: u32 = data
        .bytes()
        .rev()
        .enumerate()
        .map(|(k, d)| u32::from(d - b'0') * if k % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{data}{}", (10 - sum % 10) % 10)
}

/// The locale-independent facts of one synthetic product: everything but the words, so
/// every translation shows the same tiles, images and numbers.
struct Product {
    brand_index: usize,
    brand: &'static str,
    mpn: String,
    brand_mpn: BrandMpn,
    ean: Gtin14,
    skus: Vec<(Retailer, Sku)>,
    /// Index into [`CATEGORIES`].
    category: usize,
    /// The category's tiles, shuffled: the first `LEVELS[level].0` are shown.
    tiles: Vec<usize>,
    /// One value per spec of the category, in units of 10^-decimals.
    specs: Vec<usize>,
    /// How rich the fragment is: an index into [`LEVELS`].
    level: usize,
}

/// Richness levels, poorest first: (tiles, gallery images, questions answered).
const LEVELS: [(usize, usize, usize); 9] = [
    (6, 2, 0),
    (7, 2, 0),
    (7, 3, 0),
    (7, 3, 1),
    (8, 3, 1),
    (8, 3, 2),
    (8, 3, 3),
    (8, 3, 4),
    (8, 3, 5),
];

impl Product {
    fn new(i: usize) -> Self {
        let mut rng = Rng::for_product(i);
        let (brand_index, mpn) = if i == 0 {
            (0, DEMO_MPN.to_owned())
        } else {
            let b = rng.below(BRANDS.len());
            let code: String = BRANDS[b]
                .0
                .chars()
                .filter(char::is_ascii_alphabetic)
                .take(2)
                .collect();
            let suffix = rng.pick(&["", "/B", "/W", "-S", " Pro", "-XL"]);
            (
                b,
                format!("{}-{}{suffix}", code.to_ascii_uppercase(), 1000 + i),
            )
        };
        let brand = BRANDS[brand_index].0;
        let mut skus = vec![(
            Retailer::parse("shop-one").expect("invariant: static slug"),
            Sku::parse(&format!("S1-{i:06}")).expect("invariant: seed SKUs are valid"),
        )];
        if i % 2 == 0 {
            skus.push((
                Retailer::parse("shop-two").expect("invariant: static slug"),
                Sku::parse(&format!("{:08}-2", i * 7 + 11))
                    .expect("invariant: seed SKUs are valid"),
            ));
        }
        // Products 0 and 1 are the demo's comparison: two of one category.
        let category = if i <= 1 {
            0
        } else {
            rng.below(CATEGORIES.len())
        };
        let words = &CATEGORIES[category].words[0];
        let mut tiles: Vec<usize> = (0..words.tiles.len()).collect();
        for k in (1..tiles.len()).rev() {
            tiles.swap(k, rng.below(k + 1));
        }
        let mut spec_rng = Rng(rng.next());
        let specs = CATEGORIES[category]
            .specs
            .iter()
            .map(|s| spec_rng.range(s.lo, s.hi))
            .collect();
        let mut p = Self {
            brand_index,
            brand,
            brand_mpn: BrandMpn::parse(brand, &mpn).expect("invariant: seed identities are valid"),
            mpn,
            ean: Gtin14::parse(&ean13(i)).expect("invariant: ean13 computes the check digit"),
            skus,
            category,
            tiles,
            specs,
            level: LEVELS.len() - 1,
        };
        // The demo page shows product 0: the richest. The others grow towards a size
        // drawn from the distribution, measured in English, one level at a time.
        if i != 0 {
            let target = rng.fragment_size();
            p.level = (0..LEVELS.len())
                .find(|&l| {
                    p.level = l;
                    p.render(&EN, "en-GB").len() >= target
                })
                .unwrap_or(LEVELS.len() - 1);
        }
        p
    }

    /// The spec rows in `lang`: (label, value with unit).
    fn spec_rows(&self, lang: &Lang) -> impl Iterator<Item = (&'static str, String)> + '_ {
        let idx = lang.idx;
        let comma = lang.decimal_comma;
        CATEGORIES[self.category]
            .specs
            .iter()
            .zip(&self.specs)
            .map(move |(s, &v)| {
                let n = number(v, s.decimals, comma);
                let value = if s.units[idx].is_empty() {
                    n
                } else {
                    format!("{n} {}", s.units[idx])
                };
                (s.labels[idx], value)
            })
    }

    fn render(&self, lang: &Lang, tag: &str) -> String {
        let category = &CATEGORIES[self.category];
        let words = &category.words[lang.idx];
        let (tiles, gallery, faqs) = LEVELS[self.level];
        let (brand, mpn, name) = (esc(self.brand), esc(&self.mpn), words.name);
        let fill = |t: &str| t.replace("{b}", &brand).replace("{p}", name);
        let accent = BRANDS[self.brand_index].2;
        let img = |view: usize| {
            format!(
                "<img src=\"{}\" width=\"{}\" height=\"{}\" alt=\"{brand} {name} {mpn}, {}\"{}>",
                art::path(category.art, art::VIEWS[view]),
                art::WIDTH,
                art::HEIGHT,
                lang.views[view],
                if view == 0 { "" } else { " loading=\"lazy\"" },
            )
        };
        let mut h = String::with_capacity(MAX_FRAGMENT_BYTES);
        // `write!` into a String cannot fail, hence the ignored results below.
        let _ = write!(
            h,
            "<div class=\"synedge-inpage\" lang=\"{tag}\" data-product=\"{}\">\n<style>\n\
.synedge-inpage{{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif;color:#1f1f1f;line-height:1.5;max-width:1080px;margin:0 auto;container-type:inline-size}}\n\
.synedge-inpage h2,.synedge-inpage h3{{letter-spacing:normal;text-transform:none}}\n\
.synedge-inpage .si-hero{{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:32px;align-items:center;margin-bottom:28px}}\n\
.synedge-inpage .si-hero h2{{font-size:2rem;line-height:1.2;margin:0;color:{accent}}}\n\
.synedge-inpage .si-mpn{{color:#666;margin:4px 0 12px}}\n\
.synedge-inpage .si-hero .si-tagline{{font-size:1.2rem;margin:0 0 12px}}\n\
.synedge-inpage a{{color:{accent}}}\n\
.synedge-inpage .si-tiles{{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:16px}}\n\
.synedge-inpage .si-tile{{background:#f5f6f8;border-radius:12px;padding:14px 18px;border-top:4px solid {accent}}}\n\
.synedge-inpage .si-tile h3{{margin:0 0 6px;font-size:1.05rem}}\n\
.synedge-inpage .si-tile p{{margin:0;font-size:.95rem}}\n\
.synedge-inpage .si-gallery{{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;margin:28px 0}}\n\
.synedge-inpage figure{{margin:0;min-width:0}}\n\
.synedge-inpage img{{max-width:100%;height:auto;border:0;border-radius:8px;display:block;background:#eceef1}}\n\
.synedge-inpage figcaption{{font-size:.85rem;color:#666;margin-top:4px}}\n\
.synedge-inpage .si-facts{{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:32px;align-items:start}}\n\
.synedge-inpage table{{width:100%;border-collapse:collapse}}\n\
.synedge-inpage caption{{text-align:left;font-weight:600;font-size:1.05rem;padding-bottom:6px}}\n\
.synedge-inpage th,.synedge-inpage td{{padding:6px 10px;border-bottom:1px solid #e6e6e6;text-align:left;font-size:.95rem}}\n\
.synedge-inpage th{{font-weight:500;color:#555}}\n\
.synedge-inpage .si-faq h3{{margin:0 0 6px;font-size:1.05rem}}\n\
.synedge-inpage details{{border-bottom:1px solid #e6e6e6;padding:6px 0}}\n\
.synedge-inpage summary{{cursor:pointer}}\n\
.synedge-inpage .si-note{{color:#777;margin-top:20px}}\n\
@container (max-width:640px){{.synedge-inpage .si-hero,.synedge-inpage .si-facts{{grid-template-columns:1fr}}}}\n\
</style>\n",
            esc(&self.brand_mpn.product_id())
        );
        let _ = writeln!(
            h,
            "<header class=\"si-hero\"><div><h2>{brand} {name}</h2><p class=\"si-mpn\">{mpn}</p>\
             <p class=\"si-tagline\">{}</p><p class=\"si-more\"><a href=\"https://www.example.com/{}/{}\">{}</a></p></div>\
             <figure>{}</figure></header>",
            fill(words.tagline),
            slug(self.brand),
            slug(&self.mpn),
            lang.more,
            img(0),
        );
        let _ = write!(
            h,
            "<h3>{}</h3>\n<div class=\"si-tiles\">\n",
            lang.features_heading
        );
        for &t in &self.tiles[..tiles] {
            let (title, text) = words.tiles[t];
            let _ = writeln!(
                h,
                "<section class=\"si-tile\"><h3>{title}</h3><p>{}</p></section>",
                fill(text)
            );
        }
        h.push_str("</div>\n<div class=\"si-gallery\">\n");
        for view in 1..=gallery {
            let _ = writeln!(
                h,
                "<figure>{}<figcaption>{}</figcaption></figure>",
                img(view),
                capitalized(lang.views[view])
            );
        }
        let _ = write!(
            h,
            "</div>\n<div class=\"si-facts\">\n<table class=\"si-specs\"><caption>{}</caption><tbody>\n",
            lang.specs_heading
        );
        for (label, value) in self.spec_rows(lang) {
            let _ = writeln!(h, "<tr><th scope=\"row\">{label}</th><td>{value}</td></tr>");
        }
        h.push_str("</tbody></table>\n");
        if faqs > 0 {
            let _ = writeln!(h, "<section class=\"si-faq\"><h3>{}</h3>", lang.faq_heading);
            for (q, a) in words.faqs.iter().chain(&lang.faqs).take(faqs) {
                let _ = writeln!(
                    h,
                    "<details><summary>{}</summary><p>{}</p></details>",
                    fill(q),
                    fill(a)
                );
            }
            h.push_str("</section>\n");
        }
        let _ = write!(
            h,
            "</div>\n<p class=\"si-note\"><small>{}</small></p>\n</div>\n",
            lang.note
        );
        debug_assert!((MIN_FRAGMENT_BYTES..=MAX_FRAGMENT_BYTES).contains(&h.len()));
        h
    }
}

/// What a retailer's page shows of a demo product besides its content: the demo's
/// product and comparison pages (`/demo`) are built from it.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoProduct {
    pub brand: &'static str,
    pub mpn: String,
    /// The category's name in the page's language.
    pub name: &'static str,
    /// The hero illustration's path (`/demo/img/…`), [`art::WIDTH`]×[`art::HEIGHT`].
    pub image: String,
    /// (label, value with unit) in the page's language, in the category's order.
    pub specs: Vec<(&'static str, String)>,
}

/// Demo product `ean` (any GTIN spelling) as a page in `locale` (`de…`, `fr…`, else
/// English) shows it; `None` for an EAN the demo catalog never makes. Whether the
/// catalog served holds that many products is not checked.
#[must_use]
pub fn demo_product(ean: &str, locale: &str) -> Option<DemoProduct> {
    let gtin = Gtin14::parse(ean).ok()?;
    let digits = gtin.as_str().strip_prefix('0')?;
    let i = if digits == DEMO_EAN {
        0
    } else {
        let i: usize = digits.strip_prefix("29")?.get(..10)?.parse().ok()?;
        (i > 0 && ean13(i) == digits).then_some(i)?
    };
    let lang = match locale.get(..2).map(str::to_ascii_lowercase).as_deref() {
        Some("de") => &DE,
        Some("fr") => &FR,
        _ => &EN,
    };
    let p = Product::new(i);
    let category = &CATEGORIES[p.category];
    Some(DemoProduct {
        brand: p.brand,
        name: category.words[lang.idx].name,
        image: art::path(category.art, art::VIEWS[0]),
        specs: p.spec_rows(lang).collect(),
        mpn: p.mpn,
    })
}

/// `s` with its first letter in upper case.
fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Lowercase ASCII letters and digits of `s`, for link URLs.
fn slug(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `v / 10^decimals`, with a decimal point or comma.
fn number(v: usize, decimals: u32, comma: bool) -> String {
    if decimals == 0 {
        return v.to_string();
    }
    let d = 10usize.pow(decimals);
    let sep = if comma { ',' } else { '.' };
    format!("{}{sep}{:0w$}", v / d, v % d, w = decimals as usize)
}

/// Escapes text for HTML content and double-quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// The words of one language that do not depend on the category.
struct Lang {
    /// Index into the per-language arrays of [`seed_copy`](super::seed_copy).
    idx: usize,
    decimal_comma: bool,
    /// Alt text and captions of [`art::VIEWS`], in order.
    views: [&'static str; 4],
    /// Questions any product answers, after its category's.
    faqs: [(&'static str, &'static str); 2],
    features_heading: &'static str,
    specs_heading: &'static str,
    faq_heading: &'static str,
    /// The text of the link to the brand's site.
    more: &'static str,
    note: &'static str,
}

static EN: Lang = Lang {
    idx: 0,
    decimal_comma: false,
    views: ["product shot", "close-up", "colour options", "at home"],
    faqs: [
        (
            "What does the warranty cover?",
            "Manufacturing defects for the whole warranty period; register your {p} with {b} to extend it.",
        ),
        (
            "Where can I find spare parts?",
            "Spare parts are listed by model number on the {b} support site.",
        ),
    ],
    features_heading: "Key features",
    specs_heading: "Technical specifications",
    faq_heading: "Frequently asked questions",
    more: "Manuals, spare parts and support",
    note: "Illustrations are for guidance only. Specifications may change without notice.",
};

static DE: Lang = Lang {
    idx: 1,
    decimal_comma: true,
    views: [
        "Produktansicht",
        "Detailansicht",
        "Farbvarianten",
        "im Zuhause",
    ],
    faqs: [
        (
            "Was deckt die Garantie ab?",
            "Herstellungsfehler während der gesamten Garantiezeit; registrieren Sie Ihr Gerät bei {b}, um sie zu verlängern.",
        ),
        (
            "Wo bekomme ich Ersatzteile?",
            "Ersatzteile finden Sie nach Modellnummer auf der {b} Support-Seite.",
        ),
    ],
    features_heading: "Die wichtigsten Funktionen",
    specs_heading: "Technische Daten",
    faq_heading: "Häufige Fragen",
    more: "Anleitungen, Ersatzteile und Support",
    note: "Abbildungen ähnlich. Technische Änderungen vorbehalten.",
};

static FR: Lang = Lang {
    idx: 2,
    decimal_comma: true,
    views: ["vue produit", "gros plan", "coloris", "à la maison"],
    faqs: [
        (
            "Que couvre la garantie ?",
            "Les défauts de fabrication pendant toute la durée de la garantie ; enregistrez votre appareil auprès de {b} pour la prolonger.",
        ),
        (
            "Où trouver des pièces détachées ?",
            "Les pièces sont référencées par modèle sur le site d'assistance {b}.",
        ),
    ],
    features_heading: "Points forts",
    specs_heading: "Caractéristiques techniques",
    faq_heading: "Questions fréquentes",
    more: "Notices, pièces détachées et assistance",
    note: "Illustrations non contractuelles. Caractéristiques susceptibles d'évoluer.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_deterministic_and_prefix_stable() {
        let a = demo_catalog(120);
        let b = demo_catalog(120);
        assert_eq!(a, b);
        let small = demo_catalog(30);
        assert_eq!(&a[..small.len()], &small[..]);
        assert_eq!(request_paths(30), request_paths(120)[..30]);
    }

    #[test]
    fn product_zero_is_the_demo_product() {
        let c = demo_catalog(3);
        let r = &c[0];
        assert_eq!((r.brand.as_str(), r.mpn.as_str()), ("Acme", "X-100/B"));
        assert_eq!(r.eans, [Gtin14::parse(DEMO_EAN).unwrap()]);
        assert_eq!(r.locale.as_str(), "en-gb");
        assert!(r.retailers.iter().any(|x| x == "shop-one"));
        assert!(r.html.starts_with("<div class=\"synedge-inpage\""));
        let locales: Vec<_> = c
            .iter()
            .filter(|r| r.brand_mpn == c[0].brand_mpn)
            .map(|r| r.locale.as_str())
            .collect();
        assert_eq!(locales, ["en-gb", "de-de", "fr-fr", "de"]);
        assert_eq!(
            request_paths(1),
            ["/v1/fragment?retailer=shop-one&locale=en-GB&ean=4006381333931"]
        );
    }

    #[test]
    fn the_no_content_ean_is_valid_and_unused() {
        let none = Gtin14::parse(NO_CONTENT_EAN).unwrap();
        assert!(demo_catalog(100).iter().all(|r| !r.eans.contains(&none)));
        assert_eq!(
            Gtin14::parse(&ean13(1)).unwrap(),
            demo_catalog(2)[4].eans[0]
        );
    }

    #[test]
    fn sizes_shape_and_identities() {
        let c = demo_catalog(300);
        let mut sizes: Vec<usize> = c.iter().map(|r| r.html.len()).collect();
        for r in &c {
            let n = r.html.len();
            assert!(
                (MIN_FRAGMENT_BYTES..=MAX_FRAGMENT_BYTES).contains(&n),
                "{} bytes",
                n
            );
            for needle in [
                "<style>",
                ".synedge-inpage ",
                "<section",
                "<h3>",
                "<figure><img src=\"/demo/img/",
                "loading=\"lazy\"",
                "<table",
                "</div>\n",
            ] {
                assert!(r.html.contains(needle), "missing {needle}");
            }
            // Every record passes the same validation an imported line does.
            let line = serde_json::json!({
                "brand": r.brand, "mpn": r.mpn, "ean": r.eans.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                "locale": r.locale.as_str(), "html": r.html, "retailers": r.retailers,
            });
            crate::catalog::parse_line(&line.to_string()).unwrap();
        }
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!((4 * 1024..=8 * 1024).contains(&median), "median {median}");
        // How much a product shows varies: the largest is well over the smallest. (Coherent
        // content is bounded — at most eight tiles, three gallery images, five answers —
        // so the spread is narrower than the 2–16 KiB a brand's own content can take.)
        assert!(sizes[sizes.len() - 1] * 10 > sizes[0] * 13, "{sizes:?}");
        // Varied per product: no two fragments alike.
        let distinct: std::collections::HashSet<_> = c.iter().map(|r| &r.html).collect();
        assert_eq!(distinct.len(), c.len());
        // The whole catalog is a valid catalog (unique EANs, SKUs, product-locales).
        let ndjson: String = c
            .iter()
            .map(|r| {
                let skus: std::collections::BTreeMap<_, _> =
                    r.skus.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                serde_json::json!({
                    "brand": r.brand, "mpn": r.mpn, "ean": r.eans.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                    "locale": r.locale.as_str(), "html": r.html, "retailers": r.retailers, "skus": skus,
                })
                .to_string()
                    + "\n"
            })
            .collect();
        let parsed = crate::catalog::parse_ndjson(ndjson.as_bytes(), |_| {}).unwrap();
        assert_eq!(parsed, c);
    }

    /// The texts between `open` and the next `close` in `html`.
    fn texts<'a>(html: &'a str, open: &str, close: &str) -> Vec<&'a str> {
        html.split(open)
            .skip(1)
            .map(|rest| rest.split(close).next().unwrap())
            .collect()
    }

    #[test]
    fn content_is_coherent_per_category() {
        for r in demo_catalog(60) {
            let h = &r.html;
            // Six to eight tiles, and no heading twice in one fragment.
            let tiles = h.matches("<section class=\"si-tile\">").count();
            assert!((6..=8).contains(&tiles), "{tiles} tiles");
            let mut headings = texts(h, "<h3>", "</h3>");
            headings.extend(texts(h, "<h2>", "</h2>"));
            let unique: std::collections::HashSet<_> = headings.iter().collect();
            assert_eq!(unique.len(), headings.len(), "{headings:?}");
            // Every image is one of the served illustrations, sized, with alt text that
            // names the product.
            let names: std::collections::HashSet<String> = art::images().map(|(n, _)| n).collect();
            let srcs = texts(h, "<img src=\"/demo/img/", "\"");
            assert!(srcs.len() >= 3, "{srcs:?}");
            for src in srcs {
                assert!(names.contains(src), "{src}");
            }
            for alt in texts(h, " alt=\"", "\"") {
                assert!(alt.starts_with(&esc(&r.brand)) && alt.len() > 20, "{alt}");
            }
            assert_eq!(
                h.matches(" width=\"400\" height=\"300\"").count(),
                h.matches("<img ").count()
            );
            // The words are the product's category's, in the record's language.
            let p = Product::new(
                (0..60)
                    .find(|&i| ean13(i) == r.eans[0].as_str()[1..])
                    .unwrap(),
            );
            let lang = match r.locale.as_str() {
                "en-gb" => &EN,
                "fr-fr" => &FR,
                _ => &DE,
            };
            let words = &CATEGORIES[p.category].words[lang.idx];
            assert!(h.contains(&format!("<h2>{} {}</h2>", esc(&r.brand), words.name)));
            for title in texts(h, "<section class=\"si-tile\"><h3>", "</h3>") {
                assert!(words.tiles.iter().any(|(w, _)| *w == title), "{title}");
            }
        }
    }

    #[test]
    fn every_category_is_written_in_full() {
        let section_headings = [&EN, &DE, &FR].map(|l| [l.features_heading, l.faq_heading]);
        for c in &CATEGORIES {
            assert!(art::CATEGORIES.contains(&c.art));
            for (words, sections) in c.words.iter().zip(&section_headings) {
                let titles: std::collections::HashSet<_> =
                    words.tiles.iter().map(|(t, _)| *t).collect();
                assert_eq!(titles.len(), words.tiles.len(), "{}", words.name);
                assert!(sections.iter().all(|s| !titles.contains(s)));
                for text in words.tiles.iter().map(|(_, t)| t).chain([&words.tagline]) {
                    // Only `{b}` and `{p}`, and no number that could contradict a spec.
                    let rest = text.replace("{b}", "").replace("{p}", "");
                    assert!(!rest.contains('{'), "{text}");
                    assert!(!rest.chars().any(|c| c.is_ascii_digit()), "{text}");
                }
            }
            for s in c.specs {
                assert!(s.lo < s.hi, "{:?}", s.labels);
            }
        }
    }

    #[test]
    fn demo_products_compare_within_one_category() {
        let a = demo_product(DEMO_EAN, "en-GB").unwrap();
        let b = demo_product(&ean13(1), "en-GB").unwrap();
        assert_eq!(
            (a.brand, a.mpn.as_str(), a.name),
            ("Acme", "X-100/B", "Cordless Drill")
        );
        assert_eq!(a.name, b.name);
        assert_eq!(a.image, "/demo/img/drill-hero.svg");
        let labels = |p: &DemoProduct| p.specs.iter().map(|s| s.0).collect::<Vec<_>>();
        assert_eq!(labels(&a), labels(&b));
        assert_eq!(a.specs[0].0, "Weight (with battery)");
        // A plausible drill: 1.2–2.1 kg.
        let kg: f64 = a.specs[0].1.trim_end_matches(" kg").parse().unwrap();
        assert!((1.2..=2.1).contains(&kg), "{kg}");
        // The page's numbers are the content's.
        let html = &demo_catalog(1)[0].html;
        for (label, value) in &a.specs {
            assert!(html.contains(&format!("<th scope=\"row\">{label}</th><td>{value}</td>")));
        }
        let de = demo_product("04006381333931", "de-AT").unwrap();
        assert_eq!(de.name, "Akku-Bohrschrauber");
        assert!(de.specs[0].1.contains(','), "{:?}", de.specs[0]);
        assert_eq!(demo_product(NO_CONTENT_EAN, "en"), None);
        assert_eq!(demo_product("not an ean", "en"), None);
    }

    #[test]
    fn brands_and_grants_cover_the_demo_cases() {
        let c = demo_catalog(200);
        let brands: std::collections::HashSet<_> = c.iter().map(|r| r.brand.as_str()).collect();
        assert_eq!(brands.len(), BRANDS.len());
        assert!(c.iter().any(|r| r.retailers == ["*"]));
        assert!(
            c.iter()
                .any(|r| !r.retailers.iter().any(|x| x == "outlet-24" || x == "*"))
        );
        for r in &c {
            assert!(r.retailers.iter().any(|x| x == "shop-one" || x == "*"));
        }
    }

    #[test]
    fn ean13_check_digits() {
        for i in [1, 2, 99, 12_345, 9_999_999] {
            Gtin14::parse(&ean13(i)).unwrap();
        }
        assert_eq!(number(15, 1, true), "1,5");
        assert_eq!(number(205, 2, false), "2.05");
        assert_eq!(
            esc("Cobalt & Finch \"<b>\""),
            "Cobalt &amp; Finch &quot;&lt;b&gt;&quot;"
        );
    }
}
