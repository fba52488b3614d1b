//! What a configuration must satisfy beyond its types: per section, then across them.

use std::time::Duration;

use super::*;

impl Config {
    /// Every semantic problem at once (types were already checked while reading).
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        let mut check = |ok: bool, key: &str, msg: &str| {
            if !ok {
                e.push(ConfigError::new(key, msg));
            }
        };
        let s = &self.server;
        check(
            !s.request_timeout.is_zero(),
            "server.request_timeout",
            "must be more than zero",
        );
        check(
            !s.header_read_timeout.is_zero(),
            "server.header_read_timeout",
            "must be more than zero",
        );
        check(
            !s.keep_alive_timeout.is_zero(),
            "server.keep_alive_timeout",
            "must be more than zero",
        );
        check(
            !s.body_read_timeout.is_zero(),
            "server.body_read_timeout",
            "must be more than zero",
        );
        check(
            s.max_connections > 0,
            "server.max_connections",
            "must be at least 1",
        );
        // SECURITY: admin calls purge the cache and (later) steer the fleet; off loopback
        // they must be authenticated.
        check(
            self.admin.listen.ip().is_loopback()
                || self
                    .admin
                    .token
                    .as_ref()
                    .is_some_and(|t| !t.expose().is_empty()),
            "admin.listen",
            "a non-loopback admin address needs admin.token to be set",
        );
        check(
            self.admin
                .token
                .as_ref()
                .is_none_or(|t| t.expose().len() >= 16),
            "admin.token",
            "must be at least 16 characters",
        );
        check(
            self.admin.listen != s.listen || s.listen.port() == 0,
            "admin.listen",
            "must differ from server.listen",
        );
        // One parser for store URLs (the leaf `store_url`); its messages never show a
        // password.
        let origin = StoreUrl::parse(&self.origin.url);
        if let Err(why) = &origin {
            check(false, "origin.url", &why.0);
        }
        let http = origin.as_ref().is_ok_and(|u| u.scheme() == Scheme::Http);
        if self.events.store.is_empty() {
            check(
                !http,
                "events.store",
                "an http(s) origin keeps no event counts: set events.store to sqlite://PATH or postgres://USER@HOST/DATABASE",
            );
        } else {
            match StoreUrl::parse(&self.events.store) {
                Ok(u) if u.scheme() == Scheme::Http => check(
                    false,
                    "events.store",
                    "must be empty (the origin store), sqlite://PATH or postgres://USER@HOST/DATABASE",
                ),
                Ok(_) => {}
                Err(why) => check(false, "events.store", &why.0),
            }
        }
        check(
            !self.origin.timeout.is_zero(),
            "origin.timeout",
            "must be more than zero",
        );
        let c = &self.cache;
        check(
            c.max_bytes.0 >= 1 << 20,
            "cache.max_bytes",
            "must be at least 1MiB",
        );
        check(!c.ttl.is_zero(), "cache.ttl", "must be more than zero");
        check(
            !c.negative_ttl.is_zero(),
            "cache.negative_ttl",
            "must be more than zero",
        );
        for p in c.warm_from.iter().flatten() {
            check(
                p.starts_with("http://") || p.starts_with("dns://"),
                "cache.warm_from",
                "each peer is an admin URL (http://HOST:PORT) or dns://NAME:PORT",
            );
        }
        // Refuse rather than serve plain HTTP to someone who asked for HTTPS.
        check(
            self.tls.cert.is_some() == self.tls.key.is_some(),
            "tls",
            "set both tls.cert and tls.key (PEM files) for HTTPS, or neither for plain HTTP",
        );
        let ev = &self.events;
        check(ev.batch_size > 0, "events.batch_size", "must be at least 1");
        check(
            ev.queue_capacity >= ev.batch_size,
            "events.queue_capacity",
            "must be at least events.batch_size",
        );
        check(
            !ev.flush_interval.is_zero(),
            "events.flush_interval",
            "must be more than zero",
        );
        check(
            !self.shutdown.grace.is_zero(),
            "shutdown.grace",
            "must be more than zero",
        );
        let sc = &self.scaler;
        check(
            !sc.interval.is_zero(),
            "scaler.interval",
            "must be more than zero",
        );
        check(
            sc.min_instances >= 1,
            "scaler.min_instances",
            "must be at least 1",
        );
        check(
            sc.max_instances >= sc.min_instances,
            "scaler.max_instances",
            "must be at least scaler.min_instances",
        );
        check(
            sc.target_rps_per_instance.is_finite() && sc.target_rps_per_instance > 0.0,
            "scaler.target_rps_per_instance",
            "must be more than zero",
        );
        check(
            sc.target_cpu > 0.0 && sc.target_cpu <= 1.0,
            "scaler.target_cpu",
            "must be a share of the cores, more than 0 and at most 1",
        );
        check(
            !sc.latency_slo.is_zero(),
            "scaler.latency_slo",
            "must be more than zero",
        );
        check(
            sc.scale_up.max_percent > 0 || sc.scale_up.max_instances > 0,
            "scaler.scale_up",
            "max_percent or max_instances must be more than zero",
        );
        check(
            sc.scale_down.max_percent_per_minute <= 100,
            "scaler.scale_down.max_percent_per_minute",
            "must be at most 100",
        );
        for p in &sc.peers {
            check(
                p.starts_with("http://") || p.starts_with("https://") || p.starts_with("dns://"),
                "scaler.peers",
                "each peer is an admin URL (http://HOST:PORT) or dns://NAME:PORT",
            );
        }
        for (i, w) in sc.schedule.iter().enumerate() {
            let ok = w.window().is_some_and(|(a, b)| a < b);
            check(
                ok,
                &format!("scaler.schedule[{i}]"),
                "start and end must be RFC 3339 times (2026-11-27T06:00:00Z), start before end",
            );
        }
        let a = &sc.actuator;
        match a.kind {
            ActuatorKind::Log => {}
            ActuatorKind::Webhook => check(
                a.url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://")),
                "scaler.actuator.url",
                "the webhook actuator needs an http:// or https:// url",
            ),
            ActuatorKind::Command => check(
                !a.command.is_empty() && a.command.iter().any(|arg| arg.contains("{desired}")),
                "scaler.actuator.command",
                "the command actuator needs an argv list with {desired} in it",
            ),
            ActuatorKind::Kubernetes => check(
                a.deployment.as_deref().is_some_and(|d| !d.is_empty()),
                "scaler.actuator.deployment",
                "the kubernetes actuator needs the Deployment's name",
            ),
        }
        check(
            !a.timeout.is_zero(),
            "scaler.actuator.timeout",
            "must be more than zero",
        );
        self.check_bounds(&mut e);
        e
    }

    /// Every duration, size and count against its upper bound (`MAX_*`).
    fn check_bounds(&self, e: &mut Vec<ConfigError>) {
        let (s, c, ev, sc) = (&self.server, &self.cache, &self.events, &self.scaler);
        let durations = [
            ("server.request_timeout", s.request_timeout, MAX_TIMEOUT),
            (
                "server.header_read_timeout",
                s.header_read_timeout,
                MAX_TIMEOUT,
            ),
            (
                "server.keep_alive_timeout",
                s.keep_alive_timeout,
                MAX_TIMEOUT,
            ),
            ("server.body_read_timeout", s.body_read_timeout, MAX_TIMEOUT),
            ("origin.timeout", self.origin.timeout, MAX_TIMEOUT),
            ("cache.ttl", c.ttl, MAX_CACHE_LIFETIME),
            (
                "cache.stale_while_revalidate",
                c.stale_while_revalidate,
                MAX_CACHE_LIFETIME,
            ),
            ("cache.stale_if_error", c.stale_if_error, MAX_CACHE_LIFETIME),
            ("cache.negative_ttl", c.negative_ttl, MAX_CACHE_LIFETIME),
            ("cache.warm_timeout", c.warm_timeout, MAX_TIMEOUT),
            ("events.flush_interval", ev.flush_interval, MAX_PERIOD),
            ("scaler.interval", sc.interval, MAX_PERIOD),
            ("scaler.latency_slo", sc.latency_slo, MAX_TIMEOUT),
            ("scaler.forecast_lead", sc.forecast_lead, MAX_PERIOD),
            (
                "scaler.scale_down.stabilization",
                sc.scale_down.stabilization,
                MAX_PERIOD,
            ),
            ("scaler.actuator.timeout", sc.actuator.timeout, MAX_TIMEOUT),
            ("shutdown.grace", self.shutdown.grace, MAX_TIMEOUT),
            (
                "shutdown.pre_stop_delay",
                self.shutdown.pre_stop_delay,
                MAX_TIMEOUT,
            ),
        ];
        for (key, value, max) in durations {
            if value > max {
                e.push(ConfigError::new(
                    key,
                    format!(
                        "must be at most {} (got {})",
                        show_duration(max),
                        show_duration(value)
                    ),
                ));
            }
        }
        if c.max_bytes.0 > MAX_CACHE_MAX_BYTES {
            e.push(ConfigError::new(
                "cache.max_bytes",
                format!(
                    "must be at most {} (got {})",
                    ByteSize(MAX_CACHE_MAX_BYTES),
                    c.max_bytes
                ),
            ));
        }
        let counts = [
            (
                "server.max_connections",
                s.max_connections,
                MAX_MAX_CONNECTIONS,
            ),
            (
                "events.queue_capacity",
                ev.queue_capacity,
                MAX_EVENTS_QUEUE_CAPACITY,
            ),
            ("events.batch_size", ev.batch_size, MAX_EVENTS_BATCH_SIZE),
            (
                "scaler.max_instances",
                usize::try_from(sc.max_instances).unwrap_or(usize::MAX),
                MAX_SCALER_INSTANCES as usize,
            ),
        ];
        for (key, value, max) in counts {
            if value > max {
                e.push(ConfigError::new(
                    key,
                    format!("must be at most {max} (got {value})"),
                ));
            }
        }
    }
}

/// `d` in days and smaller units (`"365days"`, `"1h 30m"`, `"250ms"`), as humantime reads
/// it back. Unlike `humantime::format_duration`, no months or years: humantime's are
/// 30.44 and 365.25 days, so a bound of 365 days would read "11months 30days 3h 50m 24s".
pub(super) fn show_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    let parts = [
        (secs / 86_400, "day"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (u64::from(nanos / 1_000_000), "ms"),
        (u64::from(nanos / 1000 % 1000), "us"),
        (u64::from(nanos % 1000), "ns"),
    ];
    let shown: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|&(n, unit)| match unit {
            "day" if n == 1 => "1day".to_owned(),
            "day" => format!("{n}days"),
            _ => format!("{n}{unit}"),
        })
        .collect();
    if shown.is_empty() {
        "0s".to_owned()
    } else {
        shown.join(" ")
    }
}
