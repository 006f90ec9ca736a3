//! Where a target is: `redis://[user:pass@]host:port[/db]` URLs, bare
//! `host:port`, and passwords from places that do not show in `ps`.

use std::fmt;
use std::path::Path;

/// Environment variable holding the target's password.
pub const TARGET_PASSWORD_ENV: &str = "FERRY_TARGET_PASSWORD";
/// Environment variable holding the source's password.
pub const SOURCE_PASSWORD_ENV: &str = "FERRY_SOURCE_PASSWORD";

/// A parsed target address.
#[derive(Clone, PartialEq, Eq)]
pub struct TargetUrl {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// ACL user, if given.
    pub user: Option<String>,
    /// Password, if given in the URL.
    pub password: Option<String>,
    /// Database in the path (`/3`), if given.
    pub db: Option<u64>,
}

impl fmt::Debug for TargetUrl {
    // Never print the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("db", &self.db)
            .finish()
    }
}

impl TargetUrl {
    /// `host:port`.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Parses `redis://[user[:pass]@]host[:port][/db]` or `host:port`.
    ///
    /// # Errors
    /// A message saying what is wrong with the text.
    pub fn parse(text: &str) -> Result<TargetUrl, String> {
        let rest = if let Some(rest) = text.strip_prefix("redis://") {
            rest
        } else if text.starts_with("rediss://") {
            return Err("rediss:// (TLS) is not supported yet; use redis://".into());
        } else if text.contains("://") {
            return Err(format!("{text:?}: the scheme must be redis://"));
        } else {
            text
        };
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((auth, rest)) => (Some(auth), rest),
            None => (None, rest),
        };
        let (hostport, db) = match rest.split_once('/') {
            Some((hp, "")) => (hp, None),
            Some((hp, db)) => (
                hp,
                Some(
                    db.parse::<u64>()
                        .map_err(|_| format!("{db:?} is not a database number"))?,
                ),
            ),
            None => (rest, None),
        };
        let (host, port) = split_host_port(hostport)?;
        let (user, password) = match auth {
            None => (None, None),
            Some(auth) => {
                let (user, pass) = match auth.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (auth, None),
                };
                let user = (!user.is_empty())
                    .then(|| percent_decode(user))
                    .transpose()?;
                let pass = pass.map(percent_decode).transpose()?;
                match (user, pass) {
                    // `redis://secret@host`: a lone word is the password, as redis-cli reads it.
                    (Some(u), None) => (None, Some(u)),
                    other => other,
                }
            }
        };
        Ok(TargetUrl {
            host,
            port,
            user,
            password,
            db,
        })
    }
}

fn split_host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, rest) = rest
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: unclosed [ in the address"))?;
        (host, rest.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{text:?}: no host"));
    }
    let port = match port {
        None => 6379,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("{p:?} is not a port number"))?,
    };
    Ok((host.to_owned(), port))
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "bad %-escape in the URL's user or password".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's user or password is not UTF-8".to_owned())
}

/// The password to use: from a file (first line), else the environment,
/// else the URL, else the command line.
///
/// # Errors
/// The file cannot be read.
pub fn resolve_password(
    url: &TargetUrl,
    file: Option<&Path>,
    env_value: Option<String>,
    flag: Option<&str>,
) -> Result<Option<String>, String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
        return Ok(Some(text.lines().next().unwrap_or("").to_owned()));
    }
    if let Some(value) = env_value.filter(|v| !v.is_empty()) {
        return Ok(Some(value));
    }
    Ok(url.password.clone().or_else(|| flag.map(str::to_owned)))
}

/// Parses `text` and finds its password: from `password_file` (first
/// line), else the environment variable `env`, else the URL.
///
/// # Errors
/// The URL is malformed or the file cannot be read.
pub fn parse_with_password(
    text: &str,
    password_file: Option<&Path>,
    env: &str,
) -> Result<(TargetUrl, Option<String>), String> {
    let url = TargetUrl::parse(text)?;
    let password = resolve_password(&url, password_file, std::env::var(env).ok(), None)?;
    Ok((url, password))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_bare_addresses() {
        let u = TargetUrl::parse("redis://alice:p%40ss@10.0.0.1:7000/3").unwrap();
        assert_eq!(
            (
                u.host.as_str(),
                u.port,
                u.user.as_deref(),
                u.password.as_deref(),
                u.db
            ),
            ("10.0.0.1", 7000, Some("alice"), Some("p@ss"), Some(3))
        );
        let u = TargetUrl::parse("127.0.0.1:6380").unwrap();
        assert_eq!((u.port, u.user, u.password, u.db), (6380, None, None, None));
        let u = TargetUrl::parse("redis://:secret@h").unwrap();
        assert_eq!(
            (u.port, u.user, u.password.as_deref()),
            (6379, None, Some("secret"))
        );
        let u = TargetUrl::parse("redis://secret@h:1").unwrap();
        assert_eq!(u.password.as_deref(), Some("secret"));
        let u = TargetUrl::parse("redis://[::1]:6379").unwrap();
        assert_eq!(u.addr(), "[::1]:6379");
        assert!(!format!("{u:?}").contains("secret"));
        assert!(
            TargetUrl::parse("rediss://h:1")
                .unwrap_err()
                .contains("TLS")
        );
        assert!(TargetUrl::parse("http://h:1").is_err());
        assert!(TargetUrl::parse("h:0").is_err());
        assert!(TargetUrl::parse("h:x").is_err());
        assert!(TargetUrl::parse("redis://h:1/x").is_err());
        assert!(TargetUrl::parse(":1").is_err());
    }

    #[test]
    fn password_file_wins_over_env_url_and_flag() {
        let url = TargetUrl::parse("redis://:fromurl@h:1").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "fromfile\nignored").unwrap();
        let pw = |f: Option<&Path>, e: Option<&str>, flag| {
            resolve_password(&url, f, e.map(str::to_owned), flag).unwrap()
        };
        assert_eq!(
            pw(Some(&file), Some("env"), Some("flag")).as_deref(),
            Some("fromfile")
        );
        assert_eq!(pw(None, Some("env"), Some("flag")).as_deref(), Some("env"));
        assert_eq!(pw(None, None, Some("flag")).as_deref(), Some("fromurl"));
        assert!(resolve_password(&url, Some(Path::new("/nonexistent/x")), None, None).is_err());
    }
}
