use super::validate::show_duration;
use super::*;

fn load_str(toml: &str, env: &[(&str, &str)], overrides: &[&str]) -> Result<Config, ConfigErrors> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, toml).unwrap();
    load(&Sources {
        file: Some(&path),
        env: env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        overrides: overrides.iter().map(|s| (*s).into()).collect(),
    })
}

#[test]
fn default_config_validates() {
    assert_eq!(Config::default().validate(), vec![]);
}

#[test]
fn shipped_default_toml_equals_builtin_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CONFIG_PATH);
    let cfg = load(&Sources {
        file: Some(&path),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cfg, Config::default());
}

#[test]
fn file_env_and_flags_layer_in_order() {
    let cfg = load_str(
        "[cache]\nttl = \"10m\"\nmax_bytes = \"64MiB\"\n[server]\nmax_connections = 10\n",
        &[
            ("SYNEDGE_CACHE__TTL", "90s"),
            ("SYNEDGE_ADMIN__TOKEN", "1234567890123456"),
            ("SYNEDGE_SERVER__MAX_CONNECTIONS", "20"),
            ("OTHER", "x"),
        ],
        &["server.max_connections=30"],
    )
    .unwrap();
    assert_eq!(cfg.cache.ttl, Duration::from_secs(90));
    assert_eq!(cfg.cache.max_bytes, ByteSize(64 << 20));
    assert_eq!(
        cfg.admin.token.as_ref().unwrap().expose(),
        "1234567890123456"
    );
    assert_eq!(cfg.server.max_connections, 30);
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = load_str(
        "[cache]\nttl = \"soon\"\n[server]\nlisten = \"nowhere\"\n[admin]\nlisten = \"0.0.0.0:9901\"\n[bogus]\nx = 1\n[origin]\nurl = \"ftp://x\"\n",
        &[("SYNEDGE_EVENTS__BATCH_SIZE", "many")],
        &[],
    )
    .unwrap_err();
    let keys: Vec<&str> = err.0.iter().map(|e| e.key.as_str()).collect();
    for k in [
        "cache.ttl",
        "server.listen",
        "events.batch_size",
        "bogus",
        "admin.listen",
        "origin.url",
    ] {
        assert!(keys.contains(&k), "missing {k} in {err}");
    }
    let text = err.to_string();
    assert!(text.contains("\"soon\" is not a duration"), "{text}");
    assert!(text.contains("needs admin.token"), "{text}");
}

#[test]
fn each_bad_key_is_named_with_an_example_however_many_share_a_section() {
    let err = load_str(
        "[cache]\nttl = \"5mn\"\nmax_bytes = \"lots\"\nnegative_ttl = 5\n[server]\nmax_connections = \"many\"\n",
        &[("SYNEDGE_EVENTS__BATCH_SIZE", "abc")],
        &["scaler.scale_up.max_instances=big"],
    )
    .unwrap_err();
    let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
    assert_eq!(err.0.len(), 6, "{err}");
    assert!(
        err.to_string().starts_with("6 configuration problems:\n"),
        "{err}"
    );
    for want in [
        "cache.ttl: \"5mn\" is not a duration; write e.g. \"5m\"",
        "cache.max_bytes: ",
        "cache.negative_ttl: ",
        "server.max_connections: \"many\" is not a whole number; write e.g. 16384",
        "events.batch_size: \"abc\" is not a whole number; write e.g. ",
        "scaler.scale_up.max_instances: \"big\" is not a whole number; write e.g. ",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "{want:?} not in {err}"
        );
    }
    // Where a value came from, when not from the file.
    assert!(
        lines.iter().any(|l| l.starts_with("events.batch_size")
            && l.ends_with("(set by SYNEDGE_EVENTS__BATCH_SIZE)")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("scaler.scale_up.max_instances")
                && l.ends_with("(set by --set scaler.scale_up.max_instances=big)")),
        "{err}"
    );
}

#[test]
fn unknown_keys_and_sections_get_the_nearest_known_one() {
    let err = load_str(
        "[cache]\ntll = \"5m\"\n[servr]\nlisten = \"0.0.0.0:1\"\n",
        &[],
        &[],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cache.tll: unknown key; did you mean cache.ttl?"),
        "{text}"
    );
    assert!(
        text.contains("servr: unknown section; did you mean [server]?"),
        "{text}"
    );
    let err = load_str("", &[("SYNEDGE_SERVER__LISTN", "0.0.0.0:1")], &[]).unwrap_err();
    assert!(
        err.to_string().contains(
            "server.listn: unknown key; did you mean server.listen? (set by SYNEDGE_SERVER__LISTN)"
        ),
        "{err}"
    );
}

#[test]
fn toml_syntax_errors_point_at_file_line_and_column() {
    let err = load_str("[cache]\nttl = \"5m\"\nmax_bytes = = 1\n", &[], &[]).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    let e = &err.0[0];
    assert!(e.key.ends_with("c.toml:3:13"), "{e}");
    assert!(e.message.starts_with("not valid TOML: "), "{e}");
}

#[test]
fn kubernetes_service_links_are_not_configuration() {
    let links = [
        ("SYNEDGE_SERVICE_HOST", "10.0.0.1"),
        ("SYNEDGE_SERVICE_PORT", "80"),
        ("SYNEDGE_SERVICE_PORT_HTTP", "80"),
        ("SYNEDGE_PORT", "tcp://10.0.0.1:80"),
        ("SYNEDGE_PORT_80_TCP", "tcp://10.0.0.1:80"),
        ("SYNEDGE_PORT_80_TCP_PROTO", "tcp"),
        ("SYNEDGE_PORT_80_TCP_PORT", "80"),
        ("SYNEDGE_PORT_80_TCP_ADDR", "10.0.0.1"),
        ("SYNEDGE_ADMIN_SERVICE_HOST", "10.0.0.2"),
        ("SYNEDGE_ADMIN_PORT_9901_TCP_ADDR", "10.0.0.2"),
        ("SYNEDGE_CACHE__TTL", "90s"),
    ];
    let config = load_str("", &links, &[]).unwrap();
    assert_eq!(config.cache.ttl, Duration::from_secs(90));
    // A misspelt key is still named, not skipped.
    let err = load_str("", &[("SYNEDGE_SERVER_LISTEN", "0.0.0.0:1")], &[]).unwrap_err();
    assert!(err.to_string().contains("SYNEDGE_SERVER_LISTEN"), "{err}");
}

#[test]
fn unknown_keys_and_bad_sizes_are_named() {
    let err = load_str("[cache]\nmax_bytez = 1\n", &[], &[]).unwrap_err();
    assert!(err.to_string().contains("max_bytez"), "{err}");
    let err = load_str("[cache]\nmax_bytes = \"12 parsecs\"\n", &[], &[]).unwrap_err();
    assert!(err.to_string().contains("unknown size unit"), "{err}");
    let err = load_str("[tls]\ncert = \"/etc/c.pem\"\n", &[], &[]).unwrap_err();
    assert!(
        err.to_string().contains("set both tls.cert and tls.key"),
        "{err}"
    );
    let both = load_str(
        "[tls]\ncert = \"/etc/c.pem\"\nkey = \"/etc/k.pem\"\n",
        &[],
        &[],
    );
    assert!(both.is_ok(), "{both:?}");
}

#[test]
fn the_fleet_example_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/fleet.example.toml");
    // The token comes from the environment, as the file says.
    let sources = |env: Vec<(String, String)>| Sources {
        file: Some(&path),
        env,
        ..Default::default()
    };
    let err = load(&sources(vec![])).unwrap_err();
    assert!(err.to_string().contains("needs admin.token"), "{err}");
    let token = (
        "SYNEDGE_ADMIN__TOKEN".into(),
        "0123456789abcdef-token".into(),
    );
    let cfg = load(&sources(vec![token])).unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.origin.url.starts_with("postgres://"));
    assert_eq!(cfg.scaler.actuator.kind, ActuatorKind::Kubernetes);
}

#[test]
fn an_http_origin_needs_an_events_store() {
    let err = load_str(
        "[origin]\nurl = \"https://content.example/fragments\"\n",
        &[],
        &[],
    )
    .unwrap_err();
    assert!(err.to_string().contains("events.store"), "{err}");
    let ok = load_str(
        "[origin]\nurl = \"https://content.example/fragments\"\n[events]\nstore = \"sqlite://data/events.db\"\n",
        &[],
        &[],
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn secrets_are_redacted() {
    let mut cfg = Config::default();
    cfg.admin.token = Some(Secret::new("super-secret-token-value"));
    assert!(!format!("{cfg:?}").contains("super-secret"));
    assert!(!cfg.to_toml().contains("super-secret"));
    assert!(cfg.to_toml().contains("<redacted>"));
    cfg.origin.url = "postgres://synedge:hunter2-secret@db.internal/synedge".into();
    cfg.events.store = "postgres://ev:ev-secret@db.internal/events".into();
    let shown = cfg.to_toml();
    assert!(
        !shown.contains("hunter2") && !shown.contains("ev-secret"),
        "{shown}"
    );
    assert!(
        shown.contains("postgres://synedge:***@db.internal/synedge"),
        "{shown}"
    );

    // Every URL of the config, with a password or a secret parameter.
    cfg.origin.url = "https://edge:origin-SECRET@content.example/fragments".into();
    cfg.events.store = "postgres://ev@db/events?password=events-SECRET".into();
    cfg.scaler.peers = vec![
        "http://peer:peer-SECRET@10.0.0.7:9901".into(),
        "dns://dns:dns-SECRET@synedge-admin:9901".into(),
    ];
    cfg.scaler.actuator.url = Some("https://hooks.example/scale?token=hook-SECRET".into());
    cfg.scaler.actuator.api_url = "https://k8s:api-SECRET@kubernetes.example".into();
    cfg.cache.warm_from = Some(vec!["http://warm:warm-SECRET@10.0.0.8:9901".into()]);
    let shown = cfg.to_toml();
    assert!(!shown.contains("SECRET"), "{shown}");
    for url in [
        "https://edge:***@content.example/fragments",
        "postgres://ev@db/events?password=***",
        "http://peer:***@10.0.0.7:9901",
        "dns://dns:***@synedge-admin:9901",
        "https://hooks.example/scale?token=***",
        "https://k8s:***@kubernetes.example",
        "http://warm:***@10.0.0.8:9901",
    ] {
        assert!(shown.contains(url), "{url} not in {shown}");
    }
    assert_eq!(
        cfg.shown_peers(),
        [
            "http://peer:***@10.0.0.7:9901",
            "dns://dns:***@synedge-admin:9901"
        ]
    );
    // Only what is shown changes.
    assert!(cfg.scaler.peers[0].contains("peer-SECRET"));
}

#[test]
fn warm_from_defaults_to_the_scaler_peers_and_can_be_turned_off() {
    let peers = r#"scaler.peers=["http://10.0.0.7:9901", "dns://synedge-admin:9901"]"#;
    let cfg = load_str("", &[], &[peers]).unwrap();
    assert_eq!(cfg.cache.warm_timeout, DEFAULT_WARM_TIMEOUT);
    assert_eq!(cfg.warm_peers(), cfg.scaler.peers.as_slice());
    // Its own list wins; an empty one, or no time for it, turns the warm-up off.
    let cfg = load_str(
        "",
        &[("SYNEDGE_CACHE__WARM_FROM", r#"["http://10.0.0.9:9901"]"#)],
        &[peers],
    )
    .unwrap();
    assert_eq!(cfg.warm_peers(), ["http://10.0.0.9:9901"]);
    let cfg = load_str("[cache]\nwarm_from = []\n", &[], &[peers]).unwrap();
    assert!(cfg.warm_peers().is_empty());
    let cfg = load_str("", &[], &[peers, "cache.warm_timeout=0s"]).unwrap();
    assert!(cfg.warm_peers().is_empty());

    let err = load_str(
        "[cache]\nwarm_from = [\"10.0.0.7:9901\", \"https://a:9901\"]\nwarm_timeout = \"2h\"\n",
        &[],
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "cache.warm_from: each peer is an admin URL (http://HOST:PORT) or dns://NAME:PORT"
        ),
        "{err}"
    );
    assert!(
        err.contains("cache.warm_timeout: must be at most 1h"),
        "{err}"
    );
    assert!(err.starts_with("3 configuration problems"), "{err}");
}

#[test]
fn keep_alive_and_body_read_timeouts_are_read_and_must_be_positive() {
    let cfg = load_str(
        "[server]\nkeep_alive_timeout = \"90s\"\nbody_read_timeout = \"250ms\"\n",
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(cfg.server.keep_alive_timeout, Duration::from_secs(90));
    assert_eq!(cfg.server.body_read_timeout, Duration::from_millis(250));
    let err = load_str(
        "",
        &[("SYNEDGE_SERVER__KEEP_ALIVE_TIMEOUT", "0s")],
        &["server.body_read_timeout=0ms"],
    )
    .unwrap_err();
    let keys: Vec<&str> = err.0.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["server.keep_alive_timeout", "server.body_read_timeout"],
        "{err}"
    );
}

/// Every duration key with its bound: at the bound it loads, just past it it is named.
const DURATION_BOUNDS: [(&str, Duration); 18] = [
    ("server.request_timeout", MAX_TIMEOUT),
    ("server.header_read_timeout", MAX_TIMEOUT),
    ("server.keep_alive_timeout", MAX_TIMEOUT),
    ("server.body_read_timeout", MAX_TIMEOUT),
    ("origin.timeout", MAX_TIMEOUT),
    ("cache.ttl", MAX_CACHE_LIFETIME),
    ("cache.stale_while_revalidate", MAX_CACHE_LIFETIME),
    ("cache.stale_if_error", MAX_CACHE_LIFETIME),
    ("cache.negative_ttl", MAX_CACHE_LIFETIME),
    ("cache.warm_timeout", MAX_TIMEOUT),
    ("events.flush_interval", MAX_PERIOD),
    ("scaler.interval", MAX_PERIOD),
    ("scaler.latency_slo", MAX_TIMEOUT),
    ("scaler.forecast_lead", MAX_PERIOD),
    ("scaler.scale_down.stabilization", MAX_PERIOD),
    ("scaler.actuator.timeout", MAX_TIMEOUT),
    ("shutdown.grace", MAX_TIMEOUT),
    ("shutdown.pre_stop_delay", MAX_TIMEOUT),
];

#[test]
fn every_duration_is_bounded() {
    // The list above is every duration of the config: each default that reads as one.
    let defaults = toml::Table::try_from(Config::default()).unwrap();
    let mut found = Vec::new();
    fn walk(prefix: &str, t: &toml::Table, found: &mut Vec<String>) {
        for (k, v) in t {
            let key = format!("{prefix}{k}");
            match v {
                toml::Value::Table(sub) => walk(&format!("{key}."), sub, found),
                toml::Value::String(s) if humantime::parse_duration(s).is_ok() => {
                    found.push(key);
                }
                _ => {}
            }
        }
    }
    walk("", &defaults, &mut found);
    let mut listed: Vec<String> = DURATION_BOUNDS.iter().map(|(k, _)| (*k).into()).collect();
    found.sort();
    listed.sort();
    assert_eq!(found, listed);

    for (key, max) in DURATION_BOUNDS {
        let at = format!("{key}={}", show_duration(max));
        let ok = load_str("", &[], &[&at]);
        assert!(ok.is_ok(), "{at}: {ok:?}");
        let past = format!("{key}={}", show_duration(max + Duration::from_millis(1)));
        let err = load_str("", &[], &[&past]).unwrap_err();
        assert_eq!(err.0.len(), 1, "{past}: {err}");
        assert_eq!(err.0[0].key, key, "{err}");
        let bound = format!("must be at most {}", show_duration(max));
        assert!(err.0[0].message.contains(&bound), "{err}");
    }
    // What used to pass validation and panic in `serve` (SQLite's busy timeout).
    let err = load_str("[origin]\ntimeout = \"25days\"\n", &[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 configuration problem:\n  - origin.timeout: must be at most 1h (got 25days)\n"
    );
}

#[test]
fn sizes_and_counts_are_bounded() {
    let at_bounds = [
        format!("cache.max_bytes={}", MAX_CACHE_MAX_BYTES),
        format!("server.max_connections={MAX_MAX_CONNECTIONS}"),
        format!("events.queue_capacity={MAX_EVENTS_QUEUE_CAPACITY}"),
        format!("events.batch_size={MAX_EVENTS_BATCH_SIZE}"),
        format!("scaler.max_instances={MAX_SCALER_INSTANCES}"),
    ];
    let at: Vec<&str> = at_bounds.iter().map(String::as_str).collect();
    let ok = load_str("", &[], &at);
    assert!(ok.is_ok(), "{ok:?}");

    let err = load_str(
        "[cache]\nmax_bytes = \"1025GiB\"\n[events]\nqueue_capacity = 10000001\nbatch_size = 1000001\n",
        &[("SYNEDGE_SERVER__MAX_CONNECTIONS", "3000000000000000000")],
        &["scaler.max_instances=4294967295"],
    )
    .unwrap_err();
    let text = err.to_string();
    for line in [
        "cache.max_bytes: must be at most 1024GiB (got 1025GiB)",
        "server.max_connections: must be at most 1048576 (got 3000000000000000000)",
        "events.queue_capacity: must be at most 10000000 (got 10000001)",
        "events.batch_size: must be at most 1000000 (got 1000001)",
        "scaler.max_instances: must be at most 10000 (got 4294967295)",
    ] {
        assert!(text.contains(line), "missing {line:?} in {text}");
    }
    assert_eq!(err.0.len(), 5, "{text}");
}

#[test]
fn durations_are_shown_in_days_at_most() {
    assert_eq!(show_duration(MAX_CACHE_LIFETIME), "365days");
    assert_eq!(
        show_duration(Duration::from_secs(86_400 + 90)),
        "1day 1m 30s"
    );
    assert_eq!(show_duration(Duration::from_micros(1_250)), "1ms 250us");
    assert_eq!(show_duration(Duration::ZERO), "0s");
    for d in [MAX_TIMEOUT, MAX_CACHE_LIFETIME, Duration::new(3661, 7)] {
        assert_eq!(humantime::parse_duration(&show_duration(d)).unwrap(), d);
    }
}

#[test]
fn byte_sizes() {
    assert_eq!(ByteSize::parse("512MiB").unwrap().0, 512 << 20);
    assert_eq!(ByteSize::parse("64 KiB").unwrap().0, 64 << 10);
    assert_eq!(ByteSize::parse("1GB").unwrap().0, 1_000_000_000);
    assert_eq!(ByteSize::parse("100").unwrap().0, 100);
    assert!(ByteSize::parse("-1").is_err());
    assert_eq!(ByteSize(512 << 20).to_string(), "512MiB");
}
