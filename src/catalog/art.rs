//! Product illustrations for the demo catalog: one simple SVG drawing per category, shown
//! in a few views, served by `GET /demo/img/NAME.svg` (see `server::embed`).
//!
//! Invariants: the set is fixed and finite ([`images`] lists every one, about 1–2 KiB
//! each); every drawing is made of constant markup, so nothing here depends on input;
//! every image is [`WIDTH`]×[`HEIGHT`], which the fragments state in their `<img>` tags.

/// Size of every illustration, in CSS pixels (also its `viewBox`).
pub const WIDTH: u32 = 400;
pub const HEIGHT: u32 = 300;

/// The categories drawn, as named in image file names.
pub const CATEGORIES: [&str; 6] = [
    "drill",
    "espresso",
    "headphones",
    "vacuum",
    "thermostat",
    "kettle",
];

/// The views of each product: the hero shot first, then the gallery's.
pub const VIEWS: [&str; 4] = ["hero", "closeup", "colours", "home"];

/// The path an illustration is served at.
#[must_use]
pub fn path(category: &str, view: &str) -> String {
    format!("/demo/img/{category}-{view}.svg")
}

/// Every illustration: its file name (`drill-hero.svg`) and its SVG.
pub fn images() -> impl Iterator<Item = (String, String)> {
    CATEGORIES.iter().enumerate().flat_map(|(c, name)| {
        VIEWS
            .iter()
            .map(move |view| (format!("{name}-{view}.svg"), render(c, view)))
    })
}

/// One drawing: the product in its own colour (`currentColor`), centred on (200, 150)
/// and within x 90..310, y 40..270; plus the point a close-up zooms into.
struct Drawing {
    colour: &'static str,
    focus: (u32, u32),
    shapes: &'static str,
}

const DRAWINGS: [Drawing; 6] = [
    Drawing {
        colour: "#e2571e",
        focus: (290, 110),
        shapes: r##"<rect x="100" y="78" width="165" height="64" rx="24" fill="currentColor"/><path d="M150 138h58l14 92h-58z" fill="#2f3640"/><rect x="204" y="150" width="12" height="26" rx="4" fill="#111"/><rect x="138" y="226" width="104" height="40" rx="9" fill="currentColor"/><rect x="138" y="252" width="104" height="14" rx="5" fill="#2f3640"/><rect x="262" y="90" width="44" height="40" rx="8" fill="#3d4451"/><rect x="305" y="104" width="52" height="12" rx="3" fill="#9aa3ad"/><path d="M312 104v12M322 104v12M332 104v12M342 104v12" stroke="#6b7580" stroke-width="2"/><path d="M120 96v28M132 96v28M144 96v28" stroke="#00000033" stroke-width="5" stroke-linecap="round"/>"##,
    },
    Drawing {
        colour: "#aeb6bf",
        focus: (200, 130),
        shapes: r##"<rect x="115" y="45" width="170" height="215" rx="16" fill="currentColor"/><rect x="115" y="45" width="170" height="34" rx="16" fill="#3d4451"/><circle cx="200" cy="102" r="17" fill="#fff" stroke="#3d4451" stroke-width="4"/><path d="M200 102l9-9" stroke="#d9363e" stroke-width="3"/><rect x="165" y="128" width="70" height="20" rx="5" fill="#3d4451"/><rect x="228" y="132" width="74" height="11" rx="5" fill="#1e2228"/><path d="M178 196h44v28a12 12 0 0 1-12 12h-20a12 12 0 0 1-12-12z" fill="#fff" stroke="#3d4451" stroke-width="3"/><path d="M222 202h8a8 8 0 0 1 0 16h-8" fill="none" stroke="#3d4451" stroke-width="3"/><rect x="130" y="238" width="140" height="12" rx="4" fill="#5c6570"/><path d="M195 150v38M205 150v38" stroke="#6b4226" stroke-width="3"/>"##,
    },
    Drawing {
        colour: "#2d3436",
        focus: (255, 190),
        shapes: r##"<path d="M122 178c0-72 34-118 78-118s78 46 78 118" fill="none" stroke="currentColor" stroke-width="16" stroke-linecap="round"/><rect x="96" y="150" width="48" height="90" rx="22" fill="currentColor"/><rect x="256" y="150" width="48" height="90" rx="22" fill="currentColor"/><rect x="136" y="160" width="16" height="70" rx="7" fill="#636e72"/><rect x="248" y="160" width="16" height="70" rx="7" fill="#636e72"/><circle cx="280" cy="195" r="6" fill="#74b9ff"/>"##,
    },
    Drawing {
        colour: "#4b5563",
        focus: (200, 140),
        shapes: r##"<ellipse cx="200" cy="190" rx="132" ry="58" fill="#1f2329"/><ellipse cx="200" cy="172" rx="132" ry="58" fill="currentColor"/><ellipse cx="200" cy="166" rx="112" ry="46" fill="#ffffff22"/><ellipse cx="200" cy="140" rx="30" ry="15" fill="#1f2329"/><rect x="170" y="126" width="60" height="14" fill="#1f2329"/><ellipse cx="200" cy="126" rx="30" ry="15" fill="#2f3640"/><circle cx="200" cy="190" r="8" fill="#55efc4"/>"##,
    },
    Drawing {
        colour: "#c8ccd2",
        focus: (200, 150),
        shapes: r##"<circle cx="200" cy="150" r="100" fill="currentColor"/><circle cx="200" cy="150" r="82" fill="#1d2733"/><path d="M142 192a72 72 0 1 1 116 0" fill="none" stroke="#f39c12" stroke-width="6" stroke-linecap="round" stroke-dasharray="2 9"/><text x="200" y="166" font-family="sans-serif" font-size="46" fill="#fff" text-anchor="middle">21°</text><path d="M192 196c8-14 20-14 20-14s0 14-14 18" fill="#2ecc71"/>"##,
    },
    Drawing {
        colour: "#5b8c85",
        focus: (200, 200),
        shapes: r##"<path d="M248 116c56 0 56 96 8 100" fill="none" stroke="#2f3640" stroke-width="16" stroke-linecap="round"/><path d="M152 116l-38-24 8 36 22 18z" fill="currentColor"/><path d="M150 250l12-140q38-18 76 0l12 140z" fill="currentColor"/><ellipse cx="200" cy="110" rx="38" ry="9" fill="#2f3640"/><rect x="192" y="92" width="16" height="12" rx="4" fill="#2f3640"/><rect x="176" y="150" width="12" height="80" rx="6" fill="#cfe8ff" stroke="#2f3640" stroke-width="2"/><rect x="130" y="248" width="140" height="16" rx="6" fill="#2f3640"/>"##,
    },
];

/// The colours the `colours` view shows besides the product's own.
const VARIANTS: [&str; 2] = ["#3d4451", "#d9b38c"];

fn render(category: usize, view: &str) -> String {
    let d = &DRAWINGS[category];
    let (background, body) = match view {
        "hero" => ("#eef2f6", "<use href=\"#p\"/>".to_owned()),
        "closeup" => (
            "#e9eef3",
            format!(
                "<use href=\"#p\" transform=\"translate({} {}) scale(2)\"/>",
                200 - 2 * i64::from(d.focus.0),
                150 - 2 * i64::from(d.focus.1)
            ),
        ),
        "colours" => (
            "#f4f1ec",
            [d.colour, VARIANTS[0], VARIANTS[1]]
                .iter()
                .zip([-26, 104, 234])
                .map(|(c, x)| {
                    format!(
                        "<use href=\"#p\" style=\"color:{c}\" transform=\"translate({x} 90) scale(.42)\"/>"
                    )
                })
                .collect(),
        ),
        // At home: the product on a table by a wall, with a plant.
        _ => (
            "#f3e9dc",
            "<rect y=\"232\" width=\"400\" height=\"68\" fill=\"#c89f7a\"/>\
             <rect x=\"330\" y=\"196\" width=\"40\" height=\"40\" rx=\"4\" fill=\"#b5651d\"/>\
             <circle cx=\"350\" cy=\"170\" r=\"30\" fill=\"#6a994e\"/>\
             <circle cx=\"334\" cy=\"150\" r=\"18\" fill=\"#81b29a\"/>\
             <use href=\"#p\" transform=\"translate(40 70) scale(.7)\"/>"
                .to_owned(),
        ),
    };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\"><defs><g id=\"p\">{shapes}</g></defs>\
         <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"{background}\"/>\
         <g style=\"color:{colour}\">{body}</g></svg>\n",
        shapes = d.shapes,
        colour = d.colour,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_image_is_small_sized_svg() {
        let all: Vec<_> = images().collect();
        assert_eq!(all.len(), CATEGORIES.len() * VIEWS.len());
        for (name, svg) in &all {
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\""));
            assert!(svg.len() < 3 * 1024, "{name}: {} bytes", svg.len());
            assert_eq!(path("drill", "hero"), "/demo/img/drill-hero.svg");
        }
    }
}
