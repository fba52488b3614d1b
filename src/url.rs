//! URLs as they may be shown: [`redact`] hides the credentials in any URL the program
//! prints (check-config, log lines, error messages, admin JSON).
//!
//! A leaf module: it depends on nothing else in the crate (nor on any other crate), so
//! the config, the command line, the origins and the scaler all use this one function
//! and none of them borrows it from another.
//!
//! Invariant: [`redact`] never fails and never returns a secret it was given in a place
//! it knows: the password of the user part, or the value of a sensitive query (or
//! fragment) parameter. When a URL is ambiguous (a raw `@`, `/` or `?` in a password), it
//! hides too much rather than too little.

/// Query and fragment parameters whose values are secrets, compared case-insensitively
/// with the name, or with its last `_`/`-`/`.`-separated word (`client_secret`,
/// `X-Amz-Signature`, `refresh_token`). Any name ending in `password` counts too
/// (libpq's `sslpassword`).
pub const SENSITIVE_PARAMS: [&str; 10] = [
    "password",
    "token",
    "secret",
    "key",
    "api_key",
    "apikey",
    "access_token",
    "sig",
    "signature",
    "auth",
];

/// What a hidden secret is replaced with.
pub const HIDDEN: &str = "***";

/// `url` with the password in its user part (`user:***@host`) and the values of
/// sensitive query and fragment parameters (see [`SENSITIVE_PARAMS`]: `?token=***`)
/// replaced by `***`. Everything else is kept, so the URL still tells where it points.
/// A string that is not a URL comes back unchanged, unless it has a `user:password@`.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    let rest = match userinfo(rest) {
        Userinfo::None => rest,
        Userinfo::User { user, after } => {
            out.push_str(user);
            out.push('@');
            after
        }
        Userinfo::Password { user, after } => {
            out.push_str(user);
            out.push(':');
            out.push_str(HIDDEN);
            out.push('@');
            after
        }
    };
    // Host and path, then `?query`, then `#fragment`.
    let (base, query_and_fragment) = match rest.find(['?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    out.push_str(base);
    let (query, fragment) = match query_and_fragment.find('#') {
        Some(i) => query_and_fragment.split_at(i),
        None => (query_and_fragment, ""),
    };
    if let Some(q) = query.strip_prefix('?') {
        out.push('?');
        push_params(&mut out, q);
    }
    if let Some(f) = fragment.strip_prefix('#') {
        out.push('#');
        push_params(&mut out, f);
    }
    out
}

/// The user part of what follows `scheme://`.
enum Userinfo<'a> {
    None,
    /// `user@`, no password: the user is kept.
    User {
        user: &'a str,
        after: &'a str,
    },
    /// `user:password@`: the password is dropped.
    Password {
        user: &'a str,
        after: &'a str,
    },
}

/// Finds the user part. The user name runs to the first `:` and holds no `/`, `?`, `#` or
/// `@`; a password may hold anything (people write `p@ss/w?rd` unencoded), so it runs to
/// the last `@` of the whole URL: an `@` further on (in a query) hides more than the
/// password, never less. `host:8080/…` is a port, not a user with a password.
fn userinfo(rest: &str) -> Userinfo<'_> {
    let Some(first_at) = rest.find('@') else {
        return Userinfo::None;
    };
    let stop = |c: char| matches!(c, '/' | '?' | '#' | '@');
    match rest[..first_at].split_once(':') {
        Some((user, password)) if !user.contains(stop) && !looks_like_port(password) => {
            let last_at = rest.rfind('@').unwrap_or(first_at);
            Userinfo::Password {
                user,
                after: &rest[last_at + 1..],
            }
        }
        Some(_) => Userinfo::None,
        None if !rest[..first_at].contains(stop) => Userinfo::User {
            user: &rest[..first_at],
            after: &rest[first_at + 1..],
        },
        None => Userinfo::None,
    }
}

/// `8080/path?x=a` after `host:`: digits, then the end of the authority.
fn looks_like_port(after_colon: &str) -> bool {
    let digits = after_colon.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(after_colon.as_bytes().get(digits), Some(b'/' | b'?' | b'#'))
}

/// `k=v&k2=v2` with the values of sensitive names hidden.
fn push_params(out: &mut String, params: &str) {
    for (i, piece) in params.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match piece.split_once('=') {
            Some((name, _)) if is_sensitive(name) => {
                out.push_str(name);
                out.push('=');
                out.push_str(HIDDEN);
            }
            _ => out.push_str(piece),
        }
    }
}

/// Whether a (possibly percent-encoded) parameter name names a secret.
fn is_sensitive(name: &str) -> bool {
    let name = percent_decoded(name).to_ascii_lowercase();
    let last_word = name.rsplit(['_', '-', '.']).next().unwrap_or(&name);
    name.ends_with("password")
        || SENSITIVE_PARAMS
            .iter()
            .any(|s| name == *s || last_word == *s)
}

/// `%XX` and `+` decoded, for comparing names (`pass%77ord` is `password`); bytes that do
/// not decode are kept as they are.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match (b[i], b.get(i + 1).copied(), b.get(i + 2).copied()) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                let (h, l) = (hex(h).unwrap_or(0), hex(l).unwrap_or(0));
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_the_user_part_are_hidden() {
        for (url, shown) in [
            (
                "postgres://app:s3cr/t@db.internal:5432/synedge?sslmode=require",
                "postgres://app:***@db.internal:5432/synedge?sslmode=require",
            ),
            (
                "https://bot:hunter2@hooks.example/scale",
                "https://bot:***@hooks.example/scale",
            ),
            ("http://u:p@ss@10.0.0.7:9901", "http://u:***@10.0.0.7:9901"),
            ("postgres://u:pa?ss#w@h/db", "postgres://u:***@h/db"),
            (
                "dns://u:pw@synedge-admin:9901",
                "dns://u:***@synedge-admin:9901",
            ),
            // The user alone is no secret.
            ("postgresql://app@db/synedge", "postgresql://app@db/synedge"),
            // An empty password is still a password field.
            ("http://u:@h/", "http://u:***@h/"),
            // Not a URL, but user:password@ all the same.
            ("u:pw@h", "u:***@h"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn sensitive_query_and_fragment_values_are_hidden() {
        for (url, shown) in [
            (
                "postgresql://app@db/synedge?password=hunter2&sslmode=disable",
                "postgresql://app@db/synedge?password=***&sslmode=disable",
            ),
            (
                "https://hooks.example/scale?Token=abc&x=1&API_KEY=k&apikey=k2&Sig=s",
                "https://hooks.example/scale?Token=***&x=1&API_KEY=***&apikey=***&Sig=***",
            ),
            (
                "https://h/p?access_token=a&signature=b&auth=c&secret=d&key=e",
                "https://h/p?access_token=***&signature=***&auth=***&secret=***&key=***",
            ),
            (
                "https://h/p?client_secret=a&X-Amz-Signature=b&refresh_token=c&keyboard=qwerty",
                "https://h/p?client_secret=***&X-Amz-Signature=***&refresh_token=***&keyboard=qwerty",
            ),
            ("https://h/p?pass%77ord=x", "https://h/p?pass%77ord=***"),
            (
                "postgres://u@h/db?sslpassword=x&sslmode=require",
                "postgres://u@h/db?sslpassword=***&sslmode=require",
            ),
            (
                "https://h/cb#access_token=t&state=s",
                "https://h/cb#access_token=***&state=s",
            ),
            (
                "https://h/p?token=a#token=b",
                "https://h/p?token=***#token=***",
            ),
            // Names without values, and repeated or empty pieces, are kept as they are.
            ("https://h/p?token&&x=", "https://h/p?token&&x="),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn both_at_once_and_an_at_sign_further_on_hides_more_never_less() {
        assert_eq!(
            redact("postgres://u:pw@h/db?password=x&sslmode=require"),
            "postgres://u:***@h/db?password=***&sslmode=require"
        );
        // The password runs to the last '@': a query with one is hidden with it.
        let shown = redact("https://u:pw@h/p?token=t&mail=a@b.example");
        assert!(
            !shown.contains("pw") && !shown.contains("token=t"),
            "{shown}"
        );
        // No user part: an '@' in the query is just a character.
        assert_eq!(
            redact("https://h:8443/p?mail=a@b.example&token=t"),
            "https://h:8443/p?mail=a@b.example&token=***"
        );
        assert_eq!(redact("http://h/p/@x?token=t"), "http://h/p/@x?token=***");
    }

    #[test]
    fn what_holds_no_secret_is_unchanged() {
        for url in [
            "",
            "not a url",
            "sqlite://data/synedge.db",
            "postgres://db/synedge",
            "http://10.0.0.7:9901",
            "dns://synedge-admin.synedge.svc.cluster.local:9901",
            "https://kubernetes.default.svc",
            "http://[::1]:8080/prefix?window=10",
        ] {
            assert_eq!(redact(url), url);
        }
    }
}
