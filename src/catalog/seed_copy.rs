//! The words of the demo catalog ([`super::seed`]): per product category, its name,
//! feature tiles, questions and spec ranges, in English, German and French.
//!
//! Invariants (tested in `seed`): every tile's text is about its heading and its
//! category; within one category and language no two tile headings are equal, and none
//! equals a section heading; spec ranges are what such a product measures. Templates use
//! `{b}` for the brand and `{p}` for the product name, nothing else, and no numbers
//! that could contradict the spec table.

/// One spec row: labels (en, de, fr), units (en, de, fr), and the value range in units
/// of 10^-`decimals`.
pub(super) struct Spec {
    pub labels: [&'static str; 3],
    pub units: [&'static str; 3],
    pub lo: usize,
    pub hi: usize,
    pub decimals: u32,
}

const fn spec(
    labels: [&'static str; 3],
    unit: &'static str,
    lo: usize,
    hi: usize,
    decimals: u32,
) -> Spec {
    Spec {
        labels,
        units: [unit; 3],
        lo,
        hi,
        decimals,
    }
}

const fn warranty(lo: usize, hi: usize) -> Spec {
    Spec {
        labels: ["Warranty", "Garantie", "Garantie"],
        units: ["years", "Jahre", "ans"],
        lo,
        hi,
        decimals: 0,
    }
}

const WEIGHT: [&str; 3] = ["Weight", "Gewicht", "Poids"];
const NOISE: [&str; 3] = ["Noise level", "Geräuschpegel", "Niveau sonore"];
const CHARGING: [&str; 3] = ["Charging time", "Ladezeit", "Temps de charge"];
const POWER: [&str; 3] = ["Rated power", "Nennleistung", "Puissance nominale"];

/// The words of one category in one language.
pub(super) struct Words {
    pub name: &'static str,
    pub tagline: &'static str,
    /// (heading, text): a fragment shows six to eight of them, each at most once.
    pub tiles: [(&'static str, &'static str); 8],
    /// (question, answer), before the language's general ones.
    pub faqs: [(&'static str, &'static str); 3],
}

pub(super) struct Category {
    /// The illustration's name in `art::CATEGORIES`.
    pub art: &'static str,
    /// Copy in English, German, French (`Lang::idx`).
    pub words: [Words; 3],
    pub specs: &'static [Spec],
}

pub(super) const CATEGORIES: [Category; 6] = [
    Category {
        art: "drill",
        words: [
            Words {
                name: "Cordless Drill",
                tagline: "Drives screws and drills clean holes all day long, built by {b}.",
                tiles: [
                    (
                        "Brushless motor",
                        "More torque from every charge and no brushes to wear out, so the {p} keeps its power for years.",
                    ),
                    (
                        "Keyless chuck",
                        "Change bits in seconds with one hand: the all-metal chuck grips tight and lets go just as easily.",
                    ),
                    (
                        "Two-speed gearbox",
                        "Low gear for driving long screws, high gear for clean holes in wood, metal and plastic.",
                    ),
                    (
                        "Built-in work light",
                        "A bright LED under the chuck lights up the work in cupboards, lofts and dark corners.",
                    ),
                    (
                        "Precise clutch",
                        "Pick the torque setting that suits the job, so small screws sink flush without stripping the head.",
                    ),
                    (
                        "Balanced grip",
                        "The battery sits under your hand, so the {p} feels light and steady, even overhead.",
                    ),
                    (
                        "Battery gauge",
                        "Lights on the battery show how much charge is left before you start a job.",
                    ),
                    (
                        "One battery for every tool",
                        "The battery fits every tool in the {b} cordless range, so one charger does for all of them.",
                    ),
                ],
                faqs: [
                    (
                        "Is a battery included?",
                        "Yes: the {p} comes with one battery, a fast charger and a carry case.",
                    ),
                    (
                        "Can it drill into masonry?",
                        "It drills brick and block with masonry bits; for concrete, use a hammer drill.",
                    ),
                    (
                        "Does the battery fit other {b} tools?",
                        "Yes, every tool in the {b} cordless range takes the same battery.",
                    ),
                ],
            },
            Words {
                name: "Akku-Bohrschrauber",
                tagline: "Schraubt und bohrt saubere Löcher, den ganzen Tag – gebaut von {b}.",
                tiles: [
                    (
                        "Bürstenloser Motor",
                        "Mehr Drehmoment aus jeder Akkuladung und keine Kohlebürsten, die verschleißen: Der {p} behält seine Kraft über Jahre.",
                    ),
                    (
                        "Schnellspannbohrfutter",
                        "Bits in Sekunden mit einer Hand wechseln: Das Vollmetallfutter hält fest und löst sich ebenso leicht.",
                    ),
                    (
                        "Zwei-Gang-Getriebe",
                        "Der erste Gang für lange Schrauben, der zweite für saubere Löcher in Holz, Metall und Kunststoff.",
                    ),
                    (
                        "Integriertes Arbeitslicht",
                        "Eine helle LED unter dem Bohrfutter leuchtet in Schränke, Dachböden und dunkle Ecken.",
                    ),
                    (
                        "Präzise Drehmomentkupplung",
                        "Wählen Sie die passende Stufe, damit kleine Schrauben bündig sitzen, ohne dass der Kopf ausreißt.",
                    ),
                    (
                        "Ausgewogener Griff",
                        "Der Akku sitzt unter der Hand, deshalb liegt der {p} leicht und ruhig, auch über Kopf.",
                    ),
                    (
                        "Ladestandsanzeige",
                        "Leuchten am Akku zeigen die verbleibende Ladung, bevor Sie mit der Arbeit beginnen.",
                    ),
                    (
                        "Ein Akku für alle Geräte",
                        "Der Akku passt in jedes Gerät der {b} Akku-Serie, ein Ladegerät genügt für alle.",
                    ),
                ],
                faqs: [
                    (
                        "Ist ein Akku enthalten?",
                        "Ja: Der {p} wird mit einem Akku, einem Schnellladegerät und einem Koffer geliefert.",
                    ),
                    (
                        "Kann ich damit in Mauerwerk bohren?",
                        "In Ziegel und Kalksandstein mit Steinbohrern, ja; für Beton nehmen Sie einen Schlagbohrer.",
                    ),
                    (
                        "Passt der Akku in andere {b} Geräte?",
                        "Ja, alle Geräte der {b} Akku-Serie verwenden denselben Akku.",
                    ),
                ],
            },
            Words {
                name: "Perceuse-visseuse sans fil",
                tagline: "Visse et perce proprement toute la journée, signée {b}.",
                tiles: [
                    (
                        "Moteur sans charbons",
                        "Plus de couple à chaque charge et aucun charbon à user : la {p} garde sa puissance pendant des années.",
                    ),
                    (
                        "Mandrin automatique",
                        "Changez d'embout en quelques secondes d'une seule main : le mandrin métallique serre fort et se libère facilement.",
                    ),
                    (
                        "Deux vitesses",
                        "La première pour les longues vis, la seconde pour percer proprement le bois, le métal et le plastique.",
                    ),
                    (
                        "Éclairage intégré",
                        "Une LED puissante sous le mandrin éclaire l'intérieur des placards, les combles et les coins sombres.",
                    ),
                    (
                        "Embrayage précis",
                        "Choisissez le réglage de couple adapté : les petites vis affleurent sans abîmer leur tête.",
                    ),
                    (
                        "Prise en main équilibrée",
                        "La batterie se place sous la main : la {p} reste légère et stable, même au plafond.",
                    ),
                    (
                        "Indicateur de charge",
                        "Des voyants sur la batterie indiquent la charge restante avant de commencer.",
                    ),
                    (
                        "Une batterie pour tous les outils",
                        "La batterie s'adapte à tous les outils sans fil {b} : un seul chargeur suffit.",
                    ),
                ],
                faqs: [
                    (
                        "La batterie est-elle fournie ?",
                        "Oui : la {p} est livrée avec une batterie, un chargeur rapide et une mallette.",
                    ),
                    (
                        "Peut-elle percer la maçonnerie ?",
                        "La brique et le parpaing avec des forets à pierre ; pour le béton, utilisez un perforateur.",
                    ),
                    (
                        "La batterie convient-elle aux autres outils {b} ?",
                        "Oui, tous les outils sans fil {b} utilisent la même batterie.",
                    ),
                ],
            },
        ],
        specs: &[
            spec(
                [
                    "Weight (with battery)",
                    "Gewicht (mit Akku)",
                    "Poids (avec batterie)",
                ],
                "kg",
                12,
                21,
                1,
            ),
            spec(
                ["Max. torque", "Max. Drehmoment", "Couple max."],
                "Nm",
                30,
                80,
                0,
            ),
            spec(
                ["No-load speed", "Leerlaufdrehzahl", "Vitesse à vide"],
                "rpm",
                1400,
                2100,
                0,
            ),
            spec(
                [
                    "Battery capacity",
                    "Akkukapazität",
                    "Capacité de la batterie",
                ],
                "Ah",
                20,
                50,
                1,
            ),
            spec(
                [
                    "Chuck capacity",
                    "Bohrfutter-Spannweite",
                    "Capacité du mandrin",
                ],
                "mm",
                10,
                13,
                0,
            ),
            spec(CHARGING, "min", 30, 90, 0),
            spec(NOISE, "dB(A)", 70, 84, 0),
            warranty(2, 5),
        ],
    },
    Category {
        art: "espresso",
        words: [
            Words {
                name: "Espresso Machine",
                tagline: "Café-style espresso at home, made simple by {b}.",
                tiles: [
                    (
                        "Steady extraction",
                        "A powerful pump and precise temperature control pull a rich, balanced shot every time.",
                    ),
                    (
                        "Silky milk foam",
                        "The steam wand turns cold milk into fine microfoam for flat whites and cappuccinos.",
                    ),
                    (
                        "Fast heat-up",
                        "The thermoblock heater has the {p} ready for the first cup in well under a minute.",
                    ),
                    (
                        "Large water tank",
                        "The tank lifts out from the front and fills at the tap, without moving the machine.",
                    ),
                    (
                        "Easy to clean",
                        "The drip tray, tank and milk jug rinse clean, and a light tells you when to descale.",
                    ),
                    (
                        "Cup warmer",
                        "A heated tray on top keeps cups warm, so the espresso stays hot to the last sip.",
                    ),
                    (
                        "Pressure gauge",
                        "The gauge on the front shows the extraction pressure while the shot runs.",
                    ),
                    (
                        "Ground coffee or pods",
                        "Use freshly ground coffee in the portafilter, or ESE pods when you are in a hurry.",
                    ),
                ],
                faqs: [
                    (
                        "Can I use pre-ground coffee?",
                        "Yes; for the best crema, choose a fine espresso grind.",
                    ),
                    (
                        "How often should I descale it?",
                        "The {p} reminds you; in hard-water areas that is about once a month.",
                    ),
                    (
                        "Can it make two cups at once?",
                        "Yes: it comes with single and double filter baskets and a twin spout.",
                    ),
                ],
            },
            Words {
                name: "Espressomaschine",
                tagline: "Espresso wie im Café, zu Hause – einfach gemacht von {b}.",
                tiles: [
                    (
                        "Gleichmäßige Extraktion",
                        "Eine kräftige Pumpe und präzise Temperaturregelung sorgen für einen vollen, ausgewogenen Espresso.",
                    ),
                    (
                        "Feiner Milchschaum",
                        "Die Dampflanze macht aus kalter Milch feinporigen Schaum für Flat White und Cappuccino.",
                    ),
                    (
                        "Schnell aufgeheizt",
                        "Dank Thermoblock ist die {p} in deutlich unter einer Minute für die erste Tasse bereit.",
                    ),
                    (
                        "Großer Wassertank",
                        "Der Tank lässt sich nach vorn entnehmen und am Hahn füllen, ohne die Maschine zu verschieben.",
                    ),
                    (
                        "Leicht zu reinigen",
                        "Abtropfschale, Tank und Milchkännchen sind schnell ausgespült; eine Leuchte meldet, wann entkalkt werden muss.",
                    ),
                    (
                        "Tassenwärmer",
                        "Eine beheizte Ablage hält die Tassen warm, damit der Espresso bis zum letzten Schluck heiß bleibt.",
                    ),
                    (
                        "Manometer",
                        "Die Anzeige vorn zeigt den Brühdruck, während der Espresso läuft.",
                    ),
                    (
                        "Pulver oder Pads",
                        "Frisch gemahlener Kaffee im Siebträger oder ESE-Pads, wenn es schnell gehen soll.",
                    ),
                ],
                faqs: [
                    (
                        "Kann ich gemahlenen Kaffee verwenden?",
                        "Ja; für die beste Crema wählen Sie einen feinen Espresso-Mahlgrad.",
                    ),
                    (
                        "Wie oft muss ich entkalken?",
                        "Die {p} erinnert Sie daran; bei hartem Wasser etwa einmal im Monat.",
                    ),
                    (
                        "Kann sie zwei Tassen gleichzeitig zubereiten?",
                        "Ja: Sie wird mit Einzel- und Doppelsieb und einem doppelten Auslauf geliefert.",
                    ),
                ],
            },
            Words {
                name: "Machine à expresso",
                tagline: "L'expresso du café, à la maison, en toute simplicité avec {b}.",
                tiles: [
                    (
                        "Extraction régulière",
                        "Une pompe puissante et une température précise donnent un expresso riche et équilibré.",
                    ),
                    (
                        "Mousse de lait onctueuse",
                        "La buse vapeur transforme le lait froid en microfoam pour vos flat whites et cappuccinos.",
                    ),
                    (
                        "Chauffe rapide",
                        "Grâce au thermobloc, la {p} est prête pour la première tasse en bien moins d'une minute.",
                    ),
                    (
                        "Grand réservoir",
                        "Le réservoir se retire par l'avant et se remplit au robinet, sans déplacer la machine.",
                    ),
                    (
                        "Entretien facile",
                        "Égouttoir, réservoir et pot à lait se rincent vite ; un voyant signale le détartrage.",
                    ),
                    (
                        "Chauffe-tasses",
                        "Un plateau chauffant garde les tasses chaudes, pour un expresso chaud jusqu'à la dernière gorgée.",
                    ),
                    (
                        "Manomètre",
                        "Le cadran en façade indique la pression pendant l'extraction.",
                    ),
                    (
                        "Café moulu ou dosettes",
                        "Du café fraîchement moulu dans le porte-filtre, ou des dosettes ESE quand vous êtes pressé.",
                    ),
                ],
                faqs: [
                    (
                        "Puis-je utiliser du café déjà moulu ?",
                        "Oui ; pour une belle crema, choisissez une mouture fine spéciale expresso.",
                    ),
                    (
                        "À quelle fréquence détartrer ?",
                        "La {p} vous le rappelle ; environ une fois par mois si l'eau est calcaire.",
                    ),
                    (
                        "Peut-elle préparer deux tasses à la fois ?",
                        "Oui : elle est livrée avec des filtres simple et double et un bec double.",
                    ),
                ],
            },
        ],
        specs: &[
            spec(
                ["Pump pressure", "Pumpendruck", "Pression de la pompe"],
                "bar",
                15,
                19,
                0,
            ),
            spec(
                ["Water tank", "Wassertank", "Réservoir d'eau"],
                "l",
                12,
                20,
                1,
            ),
            spec(POWER, "W", 1200, 1700, 0),
            spec(
                ["Heat-up time", "Aufheizzeit", "Temps de chauffe"],
                "s",
                25,
                45,
                0,
            ),
            spec(["Width", "Breite", "Largeur"], "cm", 180, 300, 1),
            spec(["Height", "Höhe", "Hauteur"], "cm", 300, 400, 1),
            spec(WEIGHT, "kg", 45, 95, 1),
            warranty(2, 3),
        ],
    },
    Category {
        art: "headphones",
        words: [
            Words {
                name: "Wireless Headphones",
                tagline: "Your music without the noise, tuned by {b}.",
                tiles: [
                    (
                        "Active noise cancelling",
                        "Microphones inside and out cancel engine hum and office chatter, so you hear the music, not the room.",
                    ),
                    (
                        "Long battery life",
                        "Listen through a long-haul flight on one charge; a short top-up gives hours more.",
                    ),
                    (
                        "Soft ear cushions",
                        "Memory-foam cushions seal gently around your ears and stay comfortable for hours.",
                    ),
                    (
                        "Clear calls",
                        "Beam-forming microphones pick out your voice and filter out wind and traffic.",
                    ),
                    (
                        "Ambient mode",
                        "One touch lets the world back in, for station announcements or a quick chat.",
                    ),
                    (
                        "Folds flat",
                        "The ear cups swivel flat, so the {p} slips into the slim case that comes with it.",
                    ),
                    (
                        "Two devices at once",
                        "Stay connected to your laptop and your phone, and switch between them without re-pairing.",
                    ),
                    (
                        "Touch controls",
                        "Swipe on the right ear cup to change the volume or skip a track.",
                    ),
                ],
                faqs: [
                    (
                        "Can I use them with a cable?",
                        "Yes: the {p} comes with an audio cable for in-flight systems, which also works when the battery is flat.",
                    ),
                    (
                        "Do they work with any phone?",
                        "They connect to any Bluetooth phone, tablet or computer.",
                    ),
                    (
                        "Can I replace the ear cushions?",
                        "Yes; they clip off, and spare cushions are available from {b}.",
                    ),
                ],
            },
            Words {
                name: "Kabellose Kopfhörer",
                tagline: "Ihre Musik ohne Lärm, abgestimmt von {b}.",
                tiles: [
                    (
                        "Aktive Geräuschunterdrückung",
                        "Mikrofone innen und außen löschen Triebwerksbrummen und Bürogespräche aus: Sie hören die Musik, nicht den Raum.",
                    ),
                    (
                        "Lange Akkulaufzeit",
                        "Eine Ladung reicht für einen Langstreckenflug; kurzes Nachladen bringt Stunden mehr.",
                    ),
                    (
                        "Weiche Ohrpolster",
                        "Polster aus Memory-Schaum umschließen die Ohren sanft und bleiben stundenlang bequem.",
                    ),
                    (
                        "Klare Telefonate",
                        "Richtmikrofone erfassen Ihre Stimme und filtern Wind und Verkehr heraus.",
                    ),
                    (
                        "Umgebungsmodus",
                        "Eine Berührung holt die Umgebung zurück, für Durchsagen oder ein kurzes Gespräch.",
                    ),
                    (
                        "Flach zusammenklappbar",
                        "Die Ohrmuscheln lassen sich flach drehen, so passen die {p} in das mitgelieferte schmale Etui.",
                    ),
                    (
                        "Zwei Geräte gleichzeitig",
                        "Mit Laptop und Smartphone verbunden bleiben und ohne neues Koppeln wechseln.",
                    ),
                    (
                        "Touch-Bedienung",
                        "Wischen Sie über die rechte Ohrmuschel, um die Lautstärke zu ändern oder einen Titel zu überspringen.",
                    ),
                ],
                faqs: [
                    (
                        "Kann ich sie mit Kabel nutzen?",
                        "Ja: Die {p} werden mit einem Audiokabel für Bordunterhaltung geliefert, das auch bei leerem Akku funktioniert.",
                    ),
                    (
                        "Funktionieren sie mit jedem Smartphone?",
                        "Sie verbinden sich mit jedem Bluetooth-Smartphone, Tablet oder Computer.",
                    ),
                    (
                        "Kann ich die Ohrpolster tauschen?",
                        "Ja; sie werden nur eingeklipst, Ersatzpolster gibt es bei {b}.",
                    ),
                ],
            },
            Words {
                name: "Casque sans fil",
                tagline: "Votre musique, sans le bruit, réglée par {b}.",
                tiles: [
                    (
                        "Réduction de bruit active",
                        "Des micros intérieurs et extérieurs effacent le ronronnement des moteurs et le brouhaha du bureau.",
                    ),
                    (
                        "Grande autonomie",
                        "Une charge suffit pour un long-courrier ; quelques minutes de recharge donnent des heures d'écoute.",
                    ),
                    (
                        "Coussinets moelleux",
                        "Des coussinets à mémoire de forme entourent les oreilles en douceur et restent confortables des heures.",
                    ),
                    (
                        "Appels clairs",
                        "Des micros directionnels captent votre voix et filtrent le vent et la circulation.",
                    ),
                    (
                        "Mode ambiant",
                        "Une touche laisse revenir les sons extérieurs, pour une annonce en gare ou une courte discussion.",
                    ),
                    (
                        "Se replie à plat",
                        "Les écouteurs pivotent à plat : le {p} se glisse dans l'étui fin fourni.",
                    ),
                    (
                        "Deux appareils à la fois",
                        "Restez connecté à l'ordinateur et au téléphone, et passez de l'un à l'autre sans rappairer.",
                    ),
                    (
                        "Commandes tactiles",
                        "Glissez le doigt sur l'écouteur droit pour régler le volume ou changer de morceau.",
                    ),
                ],
                faqs: [
                    (
                        "Puis-je l'utiliser avec un câble ?",
                        "Oui : le {p} est livré avec un câble audio pour les avions, qui fonctionne même batterie vide.",
                    ),
                    (
                        "Fonctionne-t-il avec tous les téléphones ?",
                        "Il se connecte à tout téléphone, tablette ou ordinateur Bluetooth.",
                    ),
                    (
                        "Puis-je remplacer les coussinets ?",
                        "Oui ; ils se clipsent, et {b} vend des coussinets de rechange.",
                    ),
                ],
            },
        ],
        specs: &[
            spec(
                [
                    "Battery life (noise cancelling on)",
                    "Akkulaufzeit (mit Geräuschunterdrückung)",
                    "Autonomie (réduction de bruit active)",
                ],
                "h",
                20,
                60,
                0,
            ),
            spec(CHARGING, "min", 90, 180, 0),
            spec(
                ["Driver size", "Treibergröße", "Taille des transducteurs"],
                "mm",
                30,
                45,
                0,
            ),
            spec(WEIGHT, "g", 220, 320, 0),
            spec(
                ["Wireless range", "Funkreichweite", "Portée sans fil"],
                "m",
                10,
                30,
                0,
            ),
            warranty(2, 3),
        ],
    },
    Category {
        art: "vacuum",
        words: [
            Words {
                name: "Robot Vacuum",
                tagline: "Clean floors every day without lifting a finger, thanks to {b}.",
                tiles: [
                    (
                        "Laser navigation",
                        "The {p} maps your home room by room and cleans in tidy lanes instead of bumping around.",
                    ),
                    (
                        "Strong suction",
                        "It picks up fine dust, crumbs and pet hair from hard floors and short-pile rugs.",
                    ),
                    (
                        "Slim profile",
                        "Low enough to reach under most sofas and beds, where the dust gathers.",
                    ),
                    (
                        "Returns to charge",
                        "When the battery runs low it docks, recharges and carries on where it left off.",
                    ),
                    (
                        "No-go zones",
                        "Draw virtual walls in the {b} app to keep it away from cables, pet bowls and tasselled rugs.",
                    ),
                    (
                        "Cleaning schedules",
                        "Let it clean while you are at work, and come home to clean floors.",
                    ),
                    (
                        "Climbs thresholds",
                        "Large wheels carry it over door sills and rug edges without getting stuck.",
                    ),
                    (
                        "Tangle-free brush",
                        "The rubber brush roll resists hair wrapping and lifts out for cleaning.",
                    ),
                ],
                faqs: [
                    (
                        "Does it clean carpets?",
                        "Yes; it raises the suction on carpet by itself and cleans short- and medium-pile rugs.",
                    ),
                    (
                        "How often does the dust bin need emptying?",
                        "About every two or three runs, depending on your home and your pets.",
                    ),
                    (
                        "Does it need Wi-Fi?",
                        "Only for the app; the button on top starts a full clean without it.",
                    ),
                ],
            },
            Words {
                name: "Saugroboter",
                tagline: "Jeden Tag saubere Böden, ohne einen Finger zu rühren – dank {b}.",
                tiles: [
                    (
                        "Lasernavigation",
                        "Der {p} kartiert Ihr Zuhause Raum für Raum und reinigt in ordentlichen Bahnen statt kreuz und quer.",
                    ),
                    (
                        "Starke Saugkraft",
                        "Er nimmt feinen Staub, Krümel und Tierhaare von Hartböden und Kurzflorteppichen auf.",
                    ),
                    (
                        "Flache Bauweise",
                        "Flach genug für die meisten Sofas und Betten, wo sich der Staub sammelt.",
                    ),
                    (
                        "Fährt selbst zum Laden",
                        "Wird der Akku schwach, fährt er zur Station, lädt und macht dort weiter, wo er aufgehört hat.",
                    ),
                    (
                        "Sperrzonen",
                        "Ziehen Sie in der {b} App virtuelle Wände, damit er Kabel, Futternäpfe und Fransenteppiche meidet.",
                    ),
                    (
                        "Reinigungspläne",
                        "Lassen Sie ihn putzen, während Sie arbeiten, und kommen Sie in eine saubere Wohnung.",
                    ),
                    (
                        "Überwindet Schwellen",
                        "Große Räder tragen ihn über Türschwellen und Teppichkanten, ohne dass er hängen bleibt.",
                    ),
                    (
                        "Verhedderungsfreie Bürste",
                        "Die Gummibürste wickelt kaum Haare auf und lässt sich zum Reinigen herausnehmen.",
                    ),
                ],
                faqs: [
                    (
                        "Reinigt er Teppiche?",
                        "Ja; auf Teppich erhöht er die Saugkraft selbst und reinigt Kurz- und Mittelflor.",
                    ),
                    (
                        "Wie oft muss der Staubbehälter geleert werden?",
                        "Etwa alle zwei bis drei Durchgänge, je nach Wohnung und Haustieren.",
                    ),
                    (
                        "Braucht er WLAN?",
                        "Nur für die App; die Taste oben startet auch ohne WLAN eine vollständige Reinigung.",
                    ),
                ],
            },
            Words {
                name: "Aspirateur robot",
                tagline: "Des sols propres chaque jour sans lever le petit doigt, grâce à {b}.",
                tiles: [
                    (
                        "Navigation laser",
                        "Le {p} cartographie votre logement pièce par pièce et nettoie en lignes droites, sans errer.",
                    ),
                    (
                        "Aspiration puissante",
                        "Il ramasse poussière fine, miettes et poils d'animaux sur les sols durs et les tapis ras.",
                    ),
                    (
                        "Profil bas",
                        "Assez fin pour passer sous la plupart des canapés et des lits, là où la poussière s'accumule.",
                    ),
                    (
                        "Retour à la base",
                        "Quand la batterie faiblit, il rentre se recharger puis reprend là où il s'était arrêté.",
                    ),
                    (
                        "Zones interdites",
                        "Tracez des murs virtuels dans l'application {b} pour l'éloigner des câbles et des gamelles.",
                    ),
                    (
                        "Nettoyage programmé",
                        "Programmez-le pendant que vous êtes au travail et rentrez dans un intérieur propre.",
                    ),
                    (
                        "Franchit les seuils",
                        "De grandes roues le font passer sur les seuils de porte et les bords de tapis.",
                    ),
                    (
                        "Brosse anti-enchevêtrement",
                        "La brosse en caoutchouc évite que les cheveux s'enroulent et se retire pour le nettoyage.",
                    ),
                ],
                faqs: [
                    (
                        "Nettoie-t-il les tapis ?",
                        "Oui ; il augmente seul l'aspiration sur les tapis à poils ras et moyens.",
                    ),
                    (
                        "À quelle fréquence vider le bac ?",
                        "Environ tous les deux ou trois passages, selon le logement et les animaux.",
                    ),
                    (
                        "Faut-il le Wi-Fi ?",
                        "Seulement pour l'application ; le bouton du dessus lance un nettoyage complet sans lui.",
                    ),
                ],
            },
        ],
        specs: &[
            spec(
                ["Suction power", "Saugleistung", "Puissance d'aspiration"],
                "Pa",
                2000,
                6000,
                0,
            ),
            spec(["Runtime", "Laufzeit", "Autonomie"], "min", 90, 180, 0),
            spec(
                ["Dust bin", "Staubbehälter", "Bac à poussière"],
                "l",
                30,
                60,
                2,
            ),
            spec(["Height", "Höhe", "Hauteur"], "cm", 80, 105, 1),
            spec(["Diameter", "Durchmesser", "Diamètre"], "cm", 320, 350, 1),
            spec(NOISE, "dB(A)", 55, 68, 0),
            spec(CHARGING, "min", 180, 300, 0),
            warranty(2, 3),
        ],
    },
    Category {
        art: "thermostat",
        words: [
            Words {
                name: "Smart Thermostat",
                tagline: "A warm home when you need it and savings when you don't, from {b}.",
                tiles: [
                    (
                        "Learns your routine",
                        "The {p} learns when you get up, go out and come home, and builds a heating schedule to match.",
                    ),
                    (
                        "Control from anywhere",
                        "Turn the heating up on the way home, or down when plans change, in the {b} app.",
                    ),
                    (
                        "Knows when you're out",
                        "It lowers the temperature when the last person leaves, using your phones' location.",
                    ),
                    (
                        "Energy reports",
                        "A monthly report shows how much you heated, and where you could save.",
                    ),
                    (
                        "Easy to install",
                        "It fits most heating systems, connects to the old thermostat's wires and guides you through setup.",
                    ),
                    (
                        "Clear round display",
                        "The set and room temperatures are readable at a glance, and the display wakes as you walk up.",
                    ),
                    (
                        "Works with voice assistants",
                        "Ask your smart speaker to make it warmer, without reaching for your phone.",
                    ),
                    (
                        "Frost protection",
                        "Even when you are away for weeks, it keeps the house warm enough to protect the pipes.",
                    ),
                ],
                faqs: [
                    (
                        "Will it work with my boiler?",
                        "It works with most gas and oil boilers, heat pumps and district heating; the {b} website has a compatibility check.",
                    ),
                    (
                        "What happens if the Wi-Fi goes down?",
                        "It keeps to its schedule, and you can still turn the dial by hand.",
                    ),
                    (
                        "Does it need batteries?",
                        "No: the {p} is powered by the heating system's wiring.",
                    ),
                ],
            },
            Words {
                name: "Smartes Thermostat",
                tagline: "Warm, wenn Sie es brauchen, sparsam, wenn nicht – von {b}.",
                tiles: [
                    (
                        "Lernt Ihren Alltag",
                        "Das {p} lernt, wann Sie aufstehen, gehen und heimkommen, und erstellt passend einen Heizplan.",
                    ),
                    (
                        "Steuerung von überall",
                        "Drehen Sie die Heizung auf dem Heimweg auf oder herunter, wenn sich Pläne ändern – in der {b} App.",
                    ),
                    (
                        "Merkt, wenn niemand da ist",
                        "Verlässt die letzte Person das Haus, senkt es die Temperatur anhand der Smartphone-Standorte.",
                    ),
                    (
                        "Energieberichte",
                        "Ein Monatsbericht zeigt, wie viel Sie geheizt haben und wo Sie sparen können.",
                    ),
                    (
                        "Einfache Installation",
                        "Es passt zu den meisten Heizungen, wird an die Leitungen des alten Thermostats angeschlossen und führt Sie durch die Einrichtung.",
                    ),
                    (
                        "Klares rundes Display",
                        "Soll- und Raumtemperatur sind auf einen Blick lesbar, das Display wacht auf, wenn Sie näherkommen.",
                    ),
                    (
                        "Sprachsteuerung",
                        "Bitten Sie Ihren smarten Lautsprecher, es wärmer zu machen, ohne zum Smartphone zu greifen.",
                    ),
                    (
                        "Frostschutz",
                        "Auch wenn Sie wochenlang verreist sind, bleibt das Haus warm genug, um die Leitungen zu schützen.",
                    ),
                ],
                faqs: [
                    (
                        "Funktioniert es mit meiner Heizung?",
                        "Mit den meisten Gas- und Ölkesseln, Wärmepumpen und Fernwärme; auf der {b} Website gibt es einen Kompatibilitätscheck.",
                    ),
                    (
                        "Was passiert, wenn das WLAN ausfällt?",
                        "Es hält sich an den Heizplan, und Sie können weiterhin am Drehring einstellen.",
                    ),
                    (
                        "Braucht es Batterien?",
                        "Nein: Das {p} wird über die Leitungen der Heizung versorgt.",
                    ),
                ],
            },
            Words {
                name: "Thermostat connecté",
                tagline: "Une maison chaude quand il le faut, des économies le reste du temps, avec {b}.",
                tiles: [
                    (
                        "Apprend vos habitudes",
                        "Le {p} apprend quand vous vous levez, sortez et rentrez, et crée un programme de chauffage adapté.",
                    ),
                    (
                        "Pilotage à distance",
                        "Montez le chauffage sur le chemin du retour, ou baissez-le si vos plans changent, dans l'application {b}.",
                    ),
                    (
                        "Détecte votre absence",
                        "Il baisse la température quand la dernière personne part, grâce à la localisation des téléphones.",
                    ),
                    (
                        "Bilans énergétiques",
                        "Un bilan mensuel montre votre consommation de chauffage et où économiser.",
                    ),
                    (
                        "Installation simple",
                        "Compatible avec la plupart des chauffages, il se branche sur les fils de l'ancien thermostat et vous guide pas à pas.",
                    ),
                    (
                        "Écran rond lisible",
                        "Températures de consigne et ambiante se lisent d'un coup d'œil ; l'écran s'allume à votre approche.",
                    ),
                    (
                        "Commande vocale",
                        "Demandez à votre enceinte connectée d'augmenter la température, sans sortir votre téléphone.",
                    ),
                    (
                        "Protection antigel",
                        "Même pendant des semaines d'absence, la maison reste assez chaude pour protéger les canalisations.",
                    ),
                ],
                faqs: [
                    (
                        "Est-il compatible avec ma chaudière ?",
                        "Avec la plupart des chaudières gaz et fioul, pompes à chaleur et réseaux de chaleur ; le site {b} propose un test de compatibilité.",
                    ),
                    (
                        "Que se passe-t-il si le Wi-Fi tombe ?",
                        "Il suit son programme, et la bague reste réglable à la main.",
                    ),
                    (
                        "Faut-il des piles ?",
                        "Non : le {p} est alimenté par le câblage du chauffage.",
                    ),
                ],
            },
        ],
        specs: &[
            spec(["Diameter", "Durchmesser", "Diamètre"], "cm", 80, 105, 1),
            spec(["Depth", "Tiefe", "Profondeur"], "cm", 20, 32, 1),
            spec(
                [
                    "Lowest set temperature",
                    "Niedrigste Solltemperatur",
                    "Consigne minimale",
                ],
                "°C",
                5,
                9,
                0,
            ),
            spec(
                [
                    "Highest set temperature",
                    "Höchste Solltemperatur",
                    "Consigne maximale",
                ],
                "°C",
                28,
                32,
                0,
            ),
            spec(
                [
                    "Standby power",
                    "Standby-Verbrauch",
                    "Consommation en veille",
                ],
                "W",
                3,
                9,
                1,
            ),
            spec(
                ["Wireless range", "Funkreichweite", "Portée sans fil"],
                "m",
                20,
                40,
                0,
            ),
            warranty(2, 5),
        ],
    },
    Category {
        art: "kettle",
        words: [
            Words {
                name: "Electric Kettle",
                tagline: "The right temperature for every cup, from {b}.",
                tiles: [
                    (
                        "Rapid boil",
                        "A concealed element brings the water to the boil quickly, and the flat base wipes clean.",
                    ),
                    (
                        "Temperature control",
                        "Choose a lower temperature for green tea and coffee, or a full boil for black tea.",
                    ),
                    (
                        "Keep warm",
                        "The {p} holds your chosen temperature for half an hour, ready for a second cup.",
                    ),
                    (
                        "Boil-dry protection",
                        "It switches off when the water boils, and will not switch on when it is empty.",
                    ),
                    (
                        "Clear water window",
                        "A window on each side shows exactly how much water you are heating.",
                    ),
                    (
                        "Limescale filter",
                        "A removable mesh filter in the spout keeps flakes out of your cup.",
                    ),
                    (
                        "Cordless base",
                        "Lift it off the base from any angle; the cable tidies away underneath.",
                    ),
                    (
                        "Soft-open lid",
                        "The lid opens gently at the press of a button, so steam never rushes out.",
                    ),
                ],
                faqs: [
                    (
                        "Can I boil just one cup?",
                        "Yes; the minimum mark is one cup, which saves time and energy.",
                    ),
                    (
                        "How do I descale it?",
                        "Fill it with water and a little citric acid, boil, leave it for an hour, then rinse.",
                    ),
                    (
                        "Is the inside plastic?",
                        "No: the water touches only stainless steel and glass.",
                    ),
                ],
            },
            Words {
                name: "Wasserkocher",
                tagline: "Die richtige Temperatur für jede Tasse, von {b}.",
                tiles: [
                    (
                        "Schnell gekocht",
                        "Ein verdecktes Heizelement bringt das Wasser schnell zum Kochen, der flache Boden ist leicht sauber zu wischen.",
                    ),
                    (
                        "Temperaturwahl",
                        "Eine niedrigere Temperatur für grünen Tee und Kaffee oder sprudelnd kochend für Schwarztee.",
                    ),
                    (
                        "Warmhaltefunktion",
                        "Der {p} hält die gewählte Temperatur eine halbe Stunde lang, bereit für die zweite Tasse.",
                    ),
                    (
                        "Trockengehschutz",
                        "Er schaltet ab, wenn das Wasser kocht, und lässt sich leer gar nicht einschalten.",
                    ),
                    (
                        "Klares Wasserfenster",
                        "Ein Fenster auf jeder Seite zeigt genau, wie viel Wasser Sie erhitzen.",
                    ),
                    (
                        "Kalkfilter",
                        "Ein herausnehmbarer Siebfilter in der Tülle hält Kalkflocken aus der Tasse.",
                    ),
                    (
                        "Kabelloser Sockel",
                        "Aus jedem Winkel abnehmbar; das Kabel verschwindet unter dem Sockel.",
                    ),
                    (
                        "Sanft öffnender Deckel",
                        "Der Deckel öffnet sich auf Knopfdruck langsam, damit kein Dampf herausschießt.",
                    ),
                ],
                faqs: [
                    (
                        "Kann ich nur eine Tasse kochen?",
                        "Ja; die Mindestmarke ist eine Tasse, das spart Zeit und Energie.",
                    ),
                    (
                        "Wie entkalke ich ihn?",
                        "Mit Wasser und etwas Zitronensäure füllen, aufkochen, eine Stunde stehen lassen, ausspülen.",
                    ),
                    (
                        "Ist er innen aus Kunststoff?",
                        "Nein: Das Wasser berührt nur Edelstahl und Glas.",
                    ),
                ],
            },
            Words {
                name: "Bouilloire électrique",
                tagline: "La bonne température pour chaque tasse, par {b}.",
                tiles: [
                    (
                        "Ébullition rapide",
                        "Une résistance cachée porte l'eau à ébullition rapidement, et le fond plat se nettoie d'un geste.",
                    ),
                    (
                        "Choix de la température",
                        "Une température plus basse pour le thé vert et le café, ou l'ébullition pour le thé noir.",
                    ),
                    (
                        "Maintien au chaud",
                        "La {p} garde la température choisie pendant une demi-heure, prête pour une deuxième tasse.",
                    ),
                    (
                        "Sécurité anti-surchauffe",
                        "Elle s'arrête à l'ébullition et refuse de chauffer à vide.",
                    ),
                    (
                        "Fenêtre de niveau",
                        "Une fenêtre de chaque côté montre exactement la quantité d'eau chauffée.",
                    ),
                    (
                        "Filtre anticalcaire",
                        "Un filtre amovible dans le bec retient les particules de calcaire.",
                    ),
                    (
                        "Socle sans fil",
                        "Elle se soulève de son socle sous tous les angles ; le cordon se range dessous.",
                    ),
                    (
                        "Couvercle à ouverture douce",
                        "Le couvercle s'ouvre doucement d'une pression, sans jet de vapeur.",
                    ),
                ],
                faqs: [
                    (
                        "Puis-je chauffer une seule tasse ?",
                        "Oui ; le repère minimum correspond à une tasse, ce qui économise temps et énergie.",
                    ),
                    (
                        "Comment la détartrer ?",
                        "Remplissez d'eau avec un peu d'acide citrique, faites bouillir, laissez agir une heure, rincez.",
                    ),
                    (
                        "L'intérieur est-il en plastique ?",
                        "Non : l'eau ne touche que l'inox et le verre.",
                    ),
                ],
            },
        ],
        specs: &[
            spec(["Capacity", "Fassungsvermögen", "Capacité"], "l", 10, 17, 1),
            spec(POWER, "W", 2000, 3000, 0),
            spec(
                [
                    "Temperature settings",
                    "Temperaturstufen",
                    "Réglages de température",
                ],
                "",
                4,
                6,
                0,
            ),
            spec(
                ["Cable length", "Kabellänge", "Longueur du cordon"],
                "m",
                70,
                100,
                2,
            ),
            spec(WEIGHT, "kg", 9, 14, 1),
            warranty(2, 3),
        ],
    },
];
