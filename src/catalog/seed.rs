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
//! - Every fragment is between [`MIN_FRAGMENT_BYTES`] and [`MAX_FRAGMENT_BYTES`], with a
//!   log-normal-like size distribution (median about 6 KiB), like real inpage content.

use std::fmt::Write as _;

use super::CatalogRecord;
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
        .map(|(lang, tag)| {
            // Each locale has its own stream: translations differ in length, too.
            let mut rng = Rng::for_product(i);
            rng.0 ^= xxhash_rust::xxh3::xxh3_64(tag.as_bytes());
            let html = p.render(lang, tag, &mut rng);
            CatalogRecord {
                brand: p.brand.to_owned(),
                brand_mpn: p.brand_mpn.clone(),
                mpn: p.mpn.clone(),
                eans: vec![p.ean],
                locale: Locale::parse(tag).expect("invariant: seed locales are valid tags"),
                html,
                retailers: BRANDS[p.brand_index]
                    .1
                    .iter()
                    .map(|r| (*r).to_owned())
                    .collect(),
                skus: p.skus.clone(),
            }
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

/// The locale-independent facts of one synthetic product.
struct Product {
    index: usize,
    brand_index: usize,
    brand: &'static str,
    mpn: String,
    brand_mpn: BrandMpn,
    ean: Gtin14,
    skus: Vec<(Retailer, Sku)>,
    category: usize,
    /// Model names of the two siblings in the comparison table.
    siblings: [String; 2],
    /// Seeds the numbers in the spec table, so they agree across locales.
    spec_seed: u64,
}

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
        let series = 100 * rng.range(2, 9);
        let prefix: String = mpn.chars().take_while(char::is_ascii_alphabetic).collect();
        let siblings = [
            format!("{prefix}-{}", series + 10),
            format!("{prefix}-{} Pro", series + 20),
        ];
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
        Self {
            index: i,
            brand_index,
            brand,
            brand_mpn: BrandMpn::parse(brand, &mpn).expect("invariant: seed identities are valid"),
            mpn,
            ean: Gtin14::parse(&ean13(i)).expect("invariant: ean13 computes the check digit"),
            skus,
            category: if i == 0 {
                0
            } else {
                rng.below(CATEGORIES.len())
            },
            siblings,
            spec_seed: rng.next(),
        }
    }

    fn render(&self, lang: &Lang, tag: &str, rng: &mut Rng) -> String {
        let target = rng.fragment_size();
        // The demo page shows product 0: make it a rich one.
        let target = if self.index == 0 {
            target.max(9 * 1024)
        } else {
            target
        };
        let category = &CATEGORIES[self.category];
        let mut w = Writer {
            product: self,
            lang,
            tag,
            name: category.names[lang.idx],
            brand: esc(self.brand),
            mpn: esc(&self.mpn),
            img_base: format!(
                "https://cdn.example.com/{}/{}",
                slug(self.brand),
                slug(&self.mpn)
            ),
            titles: Deck::new(lang.feature_titles.len(), rng),
            sentences: Deck::new(lang.sentences.len(), rng),
            views: Deck::new(lang.views.len(), rng),
            faq_deck: Deck::new(lang.faqs.len(), rng),
            // Seeded per product, not per locale: spec rows agree across translations.
            spec_order: Deck::new(category.specs.len(), &mut Rng(self.spec_seed)),
            tiles: Vec::new(),
            figures: Vec::new(),
            rows: Vec::new(),
            faqs: Vec::new(),
        };

        // The minimum content: two tiles, two images, three spec rows.
        for piece in [Piece::Tile, Piece::Tile, Piece::Figure, Piece::Figure] {
            w.add(piece, rng);
        }
        for _ in 0..3 {
            w.add(Piece::Row, rng);
        }
        // Then grow towards the target a piece at a time, in a product-specific mix,
        // undoing the piece that would cross the upper bound.
        let mut html = w.assemble();
        while html.len() < target {
            let piece = match rng.below(10) {
                5 if w.figures.len() < lang.views.len() => Piece::Figure,
                6 | 7 if w.rows.len() < category.specs.len() => Piece::Row,
                8 if w.faqs.len() < lang.faqs.len() => Piece::Faq,
                _ => Piece::Tile,
            };
            w.add(piece, rng);
            let bigger = w.assemble();
            if bigger.len() > MAX_FRAGMENT_BYTES {
                break;
            }
            html = bigger;
        }
        debug_assert!((MIN_FRAGMENT_BYTES..=MAX_FRAGMENT_BYTES).contains(&html.len()));
        html
    }
}

/// Lowercase ASCII letters and digits of `s`, for image URLs.
fn slug(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A shuffled order of `0..n`, dealt in a cycle: a fragment repeats a title, a sentence
/// or an image view only after using all of them.
struct Deck {
    order: Vec<usize>,
    next: usize,
}

impl Deck {
    fn new(n: usize, rng: &mut Rng) -> Self {
        let mut order: Vec<usize> = (0..n).collect();
        for k in (1..n).rev() {
            order.swap(k, rng.below(k + 1));
        }
        Self { order, next: 0 }
    }

    fn deal(&mut self) -> usize {
        let v = self.order[self.next % self.order.len()];
        self.next += 1;
        v
    }
}

#[derive(Clone, Copy)]
enum Piece {
    Tile,
    Figure,
    Row,
    Faq,
}

/// Builds one fragment: generated pieces, then assembled in page order.
struct Writer<'a> {
    product: &'a Product,
    lang: &'a Lang,
    tag: &'a str,
    name: &'static str,
    /// HTML-escaped brand and MPN.
    brand: String,
    mpn: String,
    img_base: String,
    titles: Deck,
    sentences: Deck,
    views: Deck,
    faq_deck: Deck,
    spec_order: Deck,
    tiles: Vec<String>,
    figures: Vec<String>,
    rows: Vec<String>,
    faqs: Vec<String>,
}

impl Writer<'_> {
    /// Fills a template: `{b}` brand, `{p}` product name, `{a}` adjective, `{n}` a
    /// number 2–40, `{y}` a number 2–5 (years, days, parts).
    fn fill(&self, template: &str, rng: &mut Rng) -> String {
        template
            .replace("{b}", &self.brand)
            .replace("{p}", self.name)
            .replace("{a}", rng.pick(self.lang.adjectives))
            .replace("{n}", &rng.range(2, 40).to_string())
            .replace("{y}", &rng.range(2, 5).to_string())
    }

    fn add(&mut self, piece: Piece, rng: &mut Rng) {
        let lang = self.lang;
        match piece {
            Piece::Tile => {
                let title = lang.feature_titles[self.titles.deal()];
                let mut text = String::new();
                for _ in 0..rng.range(1, 3) {
                    let sentence = lang.sentences[self.sentences.deal()];
                    text.push_str(&self.fill(sentence, rng));
                    text.push(' ');
                }
                self.tiles.push(format!(
                    "<section class=\"si-tile\"><h3>{title}</h3><p>{}</p></section>\n",
                    text.trim_end()
                ));
            }
            Piece::Figure => {
                let k = self.figures.len() + 1;
                let view = lang.views[self.views.deal()];
                let (width, height) = rng.pick(&[(800, 600), (1200, 800), (800, 800), (640, 480)]);
                self.figures.push(format!(
                    "<figure><img src=\"{}/gallery-{k}.jpg\" width=\"{width}\" height=\"{height}\" \
                     loading=\"lazy\" alt=\"{} {} – {view}\"><figcaption>{view}</figcaption></figure>\n",
                    self.img_base, self.brand, self.name
                ));
            }
            Piece::Row => {
                let spec = CATEGORIES[self.product.category].specs[self.spec_order.deal()];
                let (labels, unit, lo, hi, decimals) = SPECS[spec];
                let mut r =
                    Rng(self.product.spec_seed ^ (spec as u64 + 1).wrapping_mul(0x9E37_79B9));
                let base = r.range(lo, hi);
                let cells = [base, base + base / 8 + 1, base + base / 4 + 2].map(|v| {
                    format!(
                        "<td>{} {unit}</td>",
                        number(v, decimals, lang.decimal_comma)
                    )
                });
                self.rows.push(format!(
                    "<tr><th scope=\"row\">{}</th>{}</tr>\n",
                    labels[lang.idx],
                    cells.concat()
                ));
            }
            Piece::Faq => {
                let (q, a) = lang.faqs[self.faq_deck.deal()];
                let answer = self.fill(a, rng);
                self.faqs.push(format!(
                    "<details><summary>{q}</summary><p>{answer}</p></details>\n"
                ));
            }
        }
    }

    fn assemble(&self) -> String {
        let (lang, p) = (self.lang, self.product);
        let (brand, mpn, name, img_base) = (&self.brand, &self.mpn, self.name, &self.img_base);
        let accent = BRANDS[p.brand_index].2;
        let mut h = String::with_capacity(MAX_FRAGMENT_BYTES);
        // `write!` into a String cannot fail, hence the ignored results below.
        let _ = write!(
            h,
            "<div class=\"synedge-inpage\" lang=\"{}\" data-product=\"{}\">\n<style>\n\
.synedge-inpage{{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif;color:#1f1f1f;line-height:1.55;max-width:1080px;margin:0 auto}}\n\
.synedge-inpage .si-hero{{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:24px;align-items:center;margin-bottom:32px}}\n\
.synedge-inpage .si-hero h2{{font-size:2rem;margin:0 0 8px;color:{accent}}}\n\
.synedge-inpage .si-tiles{{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:20px}}\n\
.synedge-inpage .si-tile{{background:#f7f7f8;border-radius:12px;padding:16px 20px}}\n\
.synedge-inpage .si-tile h3{{margin:0 0 6px;font-size:1.1rem;color:{accent}}}\n\
.synedge-inpage .si-gallery{{display:flex;flex-wrap:wrap;gap:12px;margin:32px 0}}\n\
.synedge-inpage figure{{margin:0;flex:1 1 200px;min-width:0}}\n\
.synedge-inpage img{{max-width:100%;height:auto;border-radius:8px;display:block;background:#eceef1}}\n\
.synedge-inpage figcaption{{font-size:.85rem;color:#666;margin-top:4px}}\n\
.synedge-inpage table{{width:100%;border-collapse:collapse;margin:24px 0}}\n\
.synedge-inpage th,.synedge-inpage td{{padding:8px 12px;border-bottom:1px solid #e6e6e6;text-align:left}}\n\
.synedge-inpage thead th{{background:{accent};color:#fff}}\n\
.synedge-inpage details{{border-bottom:1px solid #e6e6e6;padding:8px 0}}\n\
@media (max-width:640px){{.synedge-inpage .si-hero{{grid-template-columns:1fr}}}}\n\
</style>\n",
            self.tag,
            esc(&p.brand_mpn.product_id())
        );
        let tagline = self.fill(
            lang.taglines[p.index % lang.taglines.len()],
            &mut Rng(p.spec_seed),
        );
        let _ = writeln!(
            h,
            "<header class=\"si-hero\"><div><h2>{brand} {name} {mpn}</h2><p>{tagline}</p>\
             <p class=\"si-more\"><a href=\"https://www.example.com/{}/{}\">{brand} {mpn}</a></p></div>\
             <figure><img src=\"{img_base}/hero.jpg\" width=\"1200\" height=\"900\" loading=\"lazy\" \
             alt=\"{brand} {name} {mpn}\"></figure></header>",
            slug(p.brand),
            slug(&p.mpn)
        );
        let _ = write!(
            h,
            "<h3>{}</h3>\n<div class=\"si-tiles\">\n",
            lang.features_heading
        );
        self.tiles.iter().for_each(|t| h.push_str(t));
        h.push_str("</div>\n<div class=\"si-gallery\">\n");
        self.figures.iter().for_each(|f| h.push_str(f));
        let _ = write!(
            h,
            "</div>\n<table class=\"si-compare\"><caption>{}</caption>\n<thead><tr><th scope=\"col\">{}</th>\
             <th scope=\"col\">{mpn}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n<tbody>\n",
            lang.compare_heading,
            lang.feature_label,
            esc(&p.siblings[0]),
            esc(&p.siblings[1])
        );
        self.rows.iter().for_each(|r| h.push_str(r));
        h.push_str("</tbody></table>\n");
        if !self.faqs.is_empty() {
            let _ = writeln!(h, "<section class=\"si-faq\"><h3>{}</h3>", lang.faq_heading);
            self.faqs.iter().for_each(|f| h.push_str(f));
            h.push_str("</section>\n");
        }
        let _ = write!(
            h,
            "<p class=\"si-note\"><small>{}</small></p>\n</div>\n",
            lang.note
        );
        h
    }
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

/// Word lists and phrases of one language. Templates use `{b}` brand, `{p}` product
/// name, `{a}` an adjective, `{n}` a number 2–40, `{y}` a number 2–5.
struct Lang {
    /// Index into [`CATEGORIES`] and [`SPECS`] label arrays.
    idx: usize,
    decimal_comma: bool,
    adjectives: &'static [&'static str],
    taglines: &'static [&'static str],
    feature_titles: &'static [&'static str],
    sentences: &'static [&'static str],
    views: &'static [&'static str],
    faqs: &'static [(&'static str, &'static str)],
    features_heading: &'static str,
    compare_heading: &'static str,
    feature_label: &'static str,
    faq_heading: &'static str,
    note: &'static str,
}

/// A product category: its name per language and the rows its spec table draws from
/// (indices into [`SPECS`]).
struct Category {
    names: [&'static str; 3],
    specs: &'static [usize],
}

const CATEGORIES: [Category; 8] = [
    Category {
        names: ["Cordless Drill", "Akku-Bohrschrauber", "Perceuse sans fil"],
        specs: &[0, 13, 14, 15, 5, 6, 9, 12],
    },
    Category {
        names: ["Espresso Machine", "Espressomaschine", "Machine à expresso"],
        specs: &[0, 1, 2, 3, 7, 16, 8, 6, 9, 10, 12],
    },
    Category {
        names: [
            "Wireless Headphones",
            "Kabellose Kopfhörer",
            "Casque sans fil",
        ],
        specs: &[17, 4, 5, 18, 19, 9, 12, 0],
    },
    Category {
        names: ["Robot Vacuum", "Saugroboter", "Aspirateur robot"],
        specs: &[20, 4, 5, 6, 7, 1, 2, 9, 10, 12],
    },
    Category {
        names: [
            "Smart Thermostat",
            "Smartes Thermostat",
            "Thermostat connecté",
        ],
        specs: &[1, 2, 10, 11, 19, 9, 12],
    },
    Category {
        names: ["Electric Kettle", "Wasserkocher", "Bouilloire électrique"],
        specs: &[3, 7, 8, 0, 6, 9, 10, 12],
    },
    Category {
        names: [
            "Trail Running Shoe",
            "Trailrunning-Schuh",
            "Chaussure de trail",
        ],
        specs: &[21, 22, 23, 9, 12],
    },
    Category {
        names: [
            "27-inch 4K Monitor",
            "27-Zoll-4K-Monitor",
            "Écran 4K 27 pouces",
        ],
        specs: &[24, 25, 26, 3, 10, 0, 1, 2, 9, 12],
    },
];

/// Spec rows: labels [en, de, fr], unit, value range (in units of 10^-decimals), decimals.
type Spec = ([&'static str; 3], &'static str, usize, usize, u32);
const SPECS: [Spec; 27] = [
    (["Weight", "Gewicht", "Poids"], "kg", 8, 95, 1),
    (["Width", "Breite", "Largeur"], "cm", 120, 620, 1),
    (["Height", "Höhe", "Hauteur"], "cm", 90, 480, 1),
    (
        ["Rated power", "Nennleistung", "Puissance nominale"],
        "W",
        600,
        2400,
        0,
    ),
    (["Battery life", "Akkulaufzeit", "Autonomie"], "h", 4, 60, 0),
    (
        ["Charging time", "Ladezeit", "Temps de charge"],
        "min",
        30,
        180,
        0,
    ),
    (
        ["Noise level", "Geräuschpegel", "Niveau sonore"],
        "dB",
        28,
        72,
        0,
    ),
    (["Capacity", "Fassungsvermögen", "Capacité"], "l", 5, 25, 1),
    (
        ["Cable length", "Kabellänge", "Longueur du câble"],
        "m",
        8,
        30,
        1,
    ),
    (["Warranty", "Garantie", "Garantie"], "yrs", 2, 4, 0),
    (
        [
            "Standby power",
            "Standby-Verbrauch",
            "Consommation en veille",
        ],
        "W",
        1,
        9,
        1,
    ),
    (
        [
            "Temperature range",
            "Temperaturbereich",
            "Plage de température",
        ],
        "°C",
        25,
        35,
        0,
    ),
    (
        ["Recycled material", "Recyclinganteil", "Matériaux recyclés"],
        "%",
        10,
        70,
        0,
    ),
    (
        ["Max. torque", "Max. Drehmoment", "Couple max."],
        "Nm",
        20,
        120,
        0,
    ),
    (
        ["Battery capacity", "Akkukapazität", "Capacité de batterie"],
        "Ah",
        15,
        60,
        1,
    ),
    (
        ["No-load speed", "Leerlaufdrehzahl", "Vitesse à vide"],
        "rpm",
        400,
        2200,
        0,
    ),
    (
        ["Pump pressure", "Pumpendruck", "Pression de la pompe"],
        "bar",
        9,
        19,
        0,
    ),
    (
        ["Driver size", "Treibergröße", "Taille des haut-parleurs"],
        "mm",
        30,
        50,
        0,
    ),
    (
        ["Weight (headset)", "Gewicht (Kopfhörer)", "Poids (casque)"],
        "g",
        180,
        320,
        0,
    ),
    (
        ["Wireless range", "Funkreichweite", "Portée sans fil"],
        "m",
        10,
        30,
        0,
    ),
    (
        ["Suction power", "Saugleistung", "Puissance d'aspiration"],
        "Pa",
        1500,
        6000,
        0,
    ),
    (
        [
            "Weight (per shoe)",
            "Gewicht (pro Schuh)",
            "Poids (par chaussure)",
        ],
        "g",
        220,
        340,
        0,
    ),
    (["Heel-to-toe drop", "Sprengung", "Drop"], "mm", 4, 10, 0),
    (
        ["Lug depth", "Stollentiefe", "Profondeur des crampons"],
        "mm",
        30,
        60,
        1,
    ),
    (
        [
            "Refresh rate",
            "Bildwiederholrate",
            "Taux de rafraîchissement",
        ],
        "Hz",
        60,
        165,
        0,
    ),
    (
        ["Brightness", "Helligkeit", "Luminosité"],
        "cd/m²",
        250,
        600,
        0,
    ),
    (
        ["Response time", "Reaktionszeit", "Temps de réponse"],
        "ms",
        1,
        5,
        0,
    ),
];

static EN: Lang = Lang {
    idx: 0,
    decimal_comma: false,
    adjectives: &[
        "outstanding",
        "reliable",
        "consistent",
        "remarkable",
        "class-leading",
        "dependable",
        "impressive",
        "effortless",
        "robust",
        "refined",
    ],
    taglines: &[
        "Designed in-house by {b} and built for {a} everyday performance.",
        "Everything you expect from {b}, now lighter, quieter and smarter.",
        "The {p} that simply gets on with the job.",
        "Small details, {a} results: meet the new {p} from {b}.",
    ],
    feature_titles: &[
        "All-day battery",
        "Quiet by design",
        "Built to last",
        "Smart connectivity",
        "Effortless cleaning",
        "Precision control",
        "Energy saving",
        "Compact footprint",
        "Fast setup",
        "Premium materials",
        "Safety first",
        "Made for everyday",
        "Engineered comfort",
        "Adaptive performance",
        "Sustainable packaging",
        "Pro-grade results",
    ],
    sentences: &[
        "The {b} {p} delivers {a} performance from the very first use.",
        "Up to {n} hours of runtime mean less time charging and more time getting things done.",
        "A brushless motor keeps noise down, so it never gets in the way of a conversation.",
        "Every unit is tested for {n},000 cycles before it leaves the factory.",
        "Pair it with the {b} app to adjust settings, track usage and install updates over the air.",
        "Removable parts go straight into the dishwasher, and the smooth surfaces wipe clean in seconds.",
        "Fine-tune every setting with {n} precise levels and a clear, backlit display.",
        "Smart standby cuts energy use by up to {n}% compared with the previous generation.",
        "At only {n} cm deep it fits neatly on a shelf, a worktop or in a drawer.",
        "Out of the box and ready in under {n} minutes, with no tools needed.",
        "A {a} aluminium housing and reinforced joints are made to handle daily wear.",
        "Automatic shut-off and overheat protection give you peace of mind.",
        "Ergonomic contours and a soft-touch grip reduce fatigue during long sessions.",
        "Sensors adapt the output in real time, so results stay consistent whatever the conditions.",
        "Packed in {n}% recycled cardboard with no single-use plastic.",
        "Backed by a {y}-year {b} warranty and support from real people.",
    ],
    views: &[
        "front view",
        "side view",
        "in use",
        "close-up detail",
        "in the box",
        "colour options",
        "from above",
        "accessories",
    ],
    faqs: &[
        (
            "Which accessories are included?",
            "The {p} ships with everything needed to get started, plus a quick-start guide and {y} spare parts.",
        ),
        (
            "Can I replace the battery myself?",
            "Yes. The battery clips out without tools, and {b} keeps spare batteries available for at least {y} years.",
        ),
        (
            "Is it suitable for daily use?",
            "Absolutely: the {p} is rated for {a} daily use and tested far beyond normal household workloads.",
        ),
        (
            "How do I update the firmware?",
            "Updates install automatically through the {b} app; you can also start them manually in the settings.",
        ),
        (
            "Where can I find spare parts?",
            "Spare parts are listed by model number on the {b} support site and ship within {y} working days.",
        ),
        (
            "What does the warranty cover?",
            "Manufacturing defects for the full warranty period; register your {p} to extend it by {n} months.",
        ),
    ],
    features_heading: "Key features",
    compare_heading: "Compare models",
    feature_label: "Specification",
    faq_heading: "Frequently asked questions",
    note: "Images are for illustration only. Specifications may change without notice. Measured under laboratory conditions.",
};

static DE: Lang = Lang {
    idx: 1,
    decimal_comma: true,
    adjectives: &[
        "herausragende",
        "zuverlässige",
        "gleichbleibende",
        "bemerkenswerte",
        "erstklassige",
        "beeindruckende",
        "mühelose",
        "robuste",
        "durchdachte",
    ],
    taglines: &[
        "Von {b} entwickelt und gebaut für {a} Leistung im Alltag.",
        "Alles, was Sie von {b} erwarten – jetzt leichter, leiser und smarter.",
        "Der {p}, der einfach seine Arbeit macht.",
        "Kleine Details, {a} Ergebnisse: der neue {p} von {b}.",
    ],
    feature_titles: &[
        "Ausdauernder Akku",
        "Leise konstruiert",
        "Gebaut für Jahre",
        "Smarte Vernetzung",
        "Mühelose Reinigung",
        "Präzise Steuerung",
        "Energie sparen",
        "Kompakte Maße",
        "Schnell startklar",
        "Hochwertige Materialien",
        "Sicherheit zuerst",
        "Für jeden Tag",
        "Durchdachter Komfort",
        "Adaptive Leistung",
        "Nachhaltige Verpackung",
        "Profi-Ergebnisse",
    ],
    sentences: &[
        "Der {b} {p} liefert vom ersten Einsatz an {a} Leistung.",
        "Bis zu {n} Stunden Laufzeit bedeuten weniger Laden und mehr Erledigtes.",
        "Ein bürstenloser Motor hält die Lautstärke niedrig, damit nichts das Gespräch stört.",
        "Jedes Gerät wird vor der Auslieferung über {n}.000 Zyklen getestet.",
        "Mit der {b} App passen Sie Einstellungen an, verfolgen die Nutzung und installieren Updates.",
        "Abnehmbare Teile sind spülmaschinenfest, glatte Oberflächen sind in Sekunden sauber.",
        "{n} präzise Stufen und ein klares, beleuchtetes Display machen jede Einstellung einfach.",
        "Der smarte Standby senkt den Verbrauch um bis zu {n} % gegenüber der Vorgängergeneration.",
        "Mit nur {n} cm Tiefe passt er ins Regal, auf die Arbeitsplatte oder in die Schublade.",
        "In weniger als {n} Minuten ausgepackt und startklar, ganz ohne Werkzeug.",
        "Ein Aluminiumgehäuse und verstärkte Verbindungen sind für den täglichen Einsatz gemacht.",
        "Abschaltautomatik und Überhitzungsschutz sorgen für ein gutes Gefühl.",
        "Ergonomische Formen und ein Soft-Touch-Griff verringern die Ermüdung bei langen Einsätzen.",
        "Sensoren passen die Leistung in Echtzeit an – für gleichbleibende Ergebnisse.",
        "Verpackt in {n} % Recyclingkarton, ohne Einwegplastik.",
        "Mit {y} Jahren {b} Garantie und Support von echten Menschen.",
    ],
    views: &[
        "Vorderansicht",
        "Seitenansicht",
        "im Einsatz",
        "Detailansicht",
        "Lieferumfang",
        "Farbvarianten",
        "von oben",
        "Zubehör",
    ],
    faqs: &[
        (
            "Welches Zubehör ist enthalten?",
            "Der {p} wird mit allem geliefert, was Sie zum Start brauchen, dazu eine Kurzanleitung und {y} Ersatzteile.",
        ),
        (
            "Kann ich den Akku selbst tauschen?",
            "Ja. Der Akku lässt sich ohne Werkzeug wechseln, und {b} hält Ersatzakkus mindestens {y} Jahre vor.",
        ),
        (
            "Ist das Gerät für den täglichen Gebrauch geeignet?",
            "Unbedingt: Der {p} ist für den täglichen Einsatz ausgelegt und weit darüber hinaus getestet.",
        ),
        (
            "Wie aktualisiere ich die Firmware?",
            "Updates werden automatisch über die {b} App installiert; Sie können sie auch manuell starten.",
        ),
        (
            "Wo bekomme ich Ersatzteile?",
            "Ersatzteile finden Sie nach Modellnummer auf der {b} Support-Seite; Versand innerhalb von {y} Werktagen.",
        ),
    ],
    features_heading: "Die wichtigsten Funktionen",
    compare_heading: "Modelle vergleichen",
    feature_label: "Merkmal",
    faq_heading: "Häufige Fragen",
    note: "Abbildungen ähnlich. Technische Änderungen vorbehalten. Messwerte unter Laborbedingungen ermittelt.",
};

static FR: Lang = Lang {
    idx: 2,
    decimal_comma: true,
    adjectives: &[
        "remarquable",
        "fiable",
        "constante",
        "exceptionnelle",
        "impressionnante",
        "robuste",
        "soignée",
    ],
    taglines: &[
        "Conçu par {b} pour une performance {a} au quotidien.",
        "Tout ce que vous attendez de {b}, en plus léger, plus silencieux et plus intelligent.",
        "Le {p} qui fait simplement son travail.",
        "Des détails soignés, un résultat {a} : découvrez le nouveau {p} de {b}.",
    ],
    feature_titles: &[
        "Autonomie longue durée",
        "Silencieux par nature",
        "Conçu pour durer",
        "Connectivité intelligente",
        "Nettoyage facile",
        "Contrôle précis",
        "Économies d'énergie",
        "Format compact",
        "Prêt en un instant",
        "Matériaux haut de gamme",
        "La sécurité avant tout",
        "Pour tous les jours",
        "Confort étudié",
        "Performance adaptative",
        "Emballage responsable",
        "Résultats de pro",
    ],
    sentences: &[
        "Le {p} {b} offre une performance {a} dès la première utilisation.",
        "Jusqu'à {n} heures d'autonomie : moins de recharge, plus de travail accompli.",
        "Un moteur sans balais limite le bruit pour ne jamais gêner la conversation.",
        "Chaque appareil est testé sur {n} 000 cycles avant de quitter l'usine.",
        "Associez-le à l'application {b} pour régler, suivre l'utilisation et installer les mises à jour.",
        "Les pièces amovibles passent au lave-vaisselle et les surfaces lisses se nettoient en quelques secondes.",
        "Réglez chaque paramètre avec {n} niveaux précis et un écran rétroéclairé.",
        "La veille intelligente réduit la consommation jusqu'à {n} % par rapport à la génération précédente.",
        "Avec seulement {n} cm de profondeur, il trouve sa place partout.",
        "Déballé et prêt en moins de {n} minutes, sans outils.",
        "Un boîtier en aluminium et des jonctions renforcées résistent à l'usage quotidien.",
        "L'arrêt automatique et la protection contre la surchauffe vous rassurent.",
        "Des formes ergonomiques et une prise en main douce réduisent la fatigue.",
        "Des capteurs ajustent la puissance en temps réel pour un résultat constant.",
        "Emballé dans un carton recyclé à {n} %, sans plastique à usage unique.",
        "Garantie {b} de {y} ans et assistance assurée par de vraies personnes.",
    ],
    views: &[
        "vue de face",
        "vue de côté",
        "en situation",
        "détail",
        "contenu de la boîte",
        "coloris",
        "vue de dessus",
        "accessoires",
    ],
    faqs: &[
        (
            "Quels accessoires sont inclus ?",
            "Le {p} est livré avec tout le nécessaire pour démarrer, un guide rapide et {y} pièces de rechange.",
        ),
        (
            "Puis-je remplacer la batterie moi-même ?",
            "Oui. La batterie se retire sans outil et {b} garantit sa disponibilité pendant au moins {y} ans.",
        ),
        (
            "Comment mettre à jour le micrologiciel ?",
            "Les mises à jour s'installent automatiquement via l'application {b}.",
        ),
        (
            "Où trouver des pièces détachées ?",
            "Les pièces sont référencées par modèle sur le site d'assistance {b} et expédiées sous {y} jours ouvrés.",
        ),
    ],
    features_heading: "Points forts",
    compare_heading: "Comparer les modèles",
    feature_label: "Caractéristique",
    faq_heading: "Questions fréquentes",
    note: "Photos non contractuelles. Caractéristiques susceptibles d'évoluer. Mesures réalisées en laboratoire.",
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
                "<figure><img src=\"https://cdn.example.com/",
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
        assert!(
            sizes[0] < 4 * 1024 && sizes[sizes.len() - 1] > 10 * 1024,
            "{sizes:?}"
        );
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
