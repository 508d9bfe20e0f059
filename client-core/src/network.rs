//! How both clients reach the service: timeouts and pooling, extra trusted root
//! certificates and HTTP proxies.
//!
//! The types here are checked settings, shared by both transports so the two clients
//! accept the same inputs, reject the same mistakes (with the same [`NetworkConfigError`])
//! and pick the same proxy for the same URL. Parsing and matching do no I/O; the only I/O
//! is [`NetworkSettings`] reading a CA bundle file it is given the path of (as
//! [`ClientSettings::config_file`](crate::settings::ClientSettings::config_file) reads a
//! config file).
//!
//! - [`TransportConfig`]: timeouts and connection pooling of the default transports.
//! - [`RootCertificates`]: the webpki (Mozilla) roots, plus certificates parsed from PEM
//!   ([`parse_pem_certificates`]), or only the latter.
//! - [`ProxyConfig`]: an `http://` proxy for `http` URLs and one for `https` URLs (often
//!   the same), and the [`NoProxy`] hosts reached directly. Both transports connect
//!   through a proxy with an HTTP `CONNECT` tunnel, for `http` and `https` endpoints
//!   alike (TLS runs end to end inside the tunnel).

use crate::settings::ReadFile;
use std::fmt;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The path of a PEM file of extra trusted root certificates
/// ([`ClientSettings::from_env`](crate::settings::ClientSettings::from_env)).
pub const ENV_CA_BUNDLE: &str = "MAXSTORAGE_CA_BUNDLE";

/// The proxy of `https` endpoints, read before [`ENV_ALL_PROXY`]; `https_proxy` also
/// counts.
pub const ENV_HTTPS_PROXY: &str = "HTTPS_PROXY";
/// The proxy of `http` endpoints, read before [`ENV_ALL_PROXY`]; `http_proxy` also counts.
pub const ENV_HTTP_PROXY: &str = "HTTP_PROXY";
/// The proxy of endpoints that no scheme-specific variable covers; `all_proxy` also counts.
pub const ENV_ALL_PROXY: &str = "ALL_PROXY";
/// Hosts reached without a proxy (see [`NoProxy::parse`]); `no_proxy` also counts.
pub const ENV_NO_PROXY: &str = "NO_PROXY";

/// Timeouts and pooling of the default transports (the blocking client's and the async
/// client's HTTP stacks honour every field the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportConfig {
    /// Connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Read timeout (default 120 s): the longest wait for the response head once the
    /// request body has been handed over, and for each read of a response body (a body
    /// that stops arriving fails, and a split read resumes, instead of hanging).
    pub read_timeout: Duration,
    /// Write timeout (default 120 s): the longest the service may take to accept the next
    /// piece of a request body (a peer that stops reading fails the request instead of
    /// hanging it).
    pub write_timeout: Duration,
    /// Idle connections kept per host (default 32).
    pub max_idle_per_host: usize,
    /// How long an idle connection is kept for reuse (default 15 s, the blocking client's
    /// HTTP stack's own default).
    /// Keep it below the idle timeout of the server and of any load balancer in between:
    /// a request sent on a connection the other side has just closed fails, and a streamed
    /// write body cannot be re-sent.
    pub idle_timeout: Duration,
}

maxstorage_protocol::option_setters!(TransportConfig {
    with_connect_timeout => connect_timeout: Duration,
    with_read_timeout => read_timeout: Duration,
    with_write_timeout => write_timeout: Duration,
    with_max_idle_per_host => max_idle_per_host: usize,
    with_idle_timeout => idle_timeout: Duration,
});

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(120),
            max_idle_per_host: 32,
            idle_timeout: Duration::from_secs(15),
        }
    }
}

/// A network setting that cannot be used: a CA bundle or a proxy URL. Returned by
/// `build` (as [`Error::NetworkConfig`](crate::Error::NetworkConfig)), never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkConfigError {
    /// The PEM text holds no `CERTIFICATE` section.
    #[error("{origin}: no certificate found (expected at least one PEM \"CERTIFICATE\" section)")]
    NoCertificate {
        /// Where the PEM came from (a path, an environment variable, or "PEM bytes").
        origin: String,
    },
    /// The PEM text is malformed (a section without its end line, bad base64, ...).
    #[error("{origin}: malformed PEM: {message}")]
    MalformedPem {
        /// Where the PEM came from.
        origin: String,
        /// What the PEM parser said.
        message: String,
    },
    /// A `CERTIFICATE` section does not hold a usable X.509 certificate.
    #[error("{origin}: certificate #{index} is not a valid X.509 certificate: {message}")]
    BadCertificate {
        /// Where the PEM came from.
        origin: String,
        /// Its position among the certificates of the PEM, from 1.
        index: usize,
        /// What the certificate parser said.
        message: String,
    },
    /// A CA bundle file could not be read.
    #[error("cannot read the CA bundle {path}: {message}")]
    UnreadableCaBundle {
        /// The path (after the variable that named it, if any).
        path: String,
        /// The I/O error.
        message: String,
    },
    /// Only the given roots are to be trusted, but none was given.
    #[error(
        "only the given root certificates are to be trusted, but none was given \
         (every TLS connection would fail)"
    )]
    NoRootCertificates,
    /// A proxy URL cannot be used. `url` has its password replaced by `***`.
    #[error("{origin}: invalid proxy URL {url}: {reason}")]
    BadProxyUrl {
        /// Where the URL came from (`proxy(..)` or the environment variable).
        origin: String,
        /// The URL, its password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The transport could not apply the settings.
    #[error("the transport cannot use these network settings: {0}")]
    Transport(String),
}

/// The root certificates TLS connections trust: by default the webpki (Mozilla) roots the
/// clients bundle; [`add`](Self::add) adds more (e.g. a corporate CA), and
/// [`only_added`](Self::only_added) drops the bundled ones.
#[derive(Clone, PartialEq, Eq)]
pub struct RootCertificates {
    added: Vec<CertificateDer<'static>>,
    webpki: bool,
}

impl Default for RootCertificates {
    fn default() -> Self {
        RootCertificates {
            added: Vec::new(),
            webpki: true,
        }
    }
}

impl fmt::Debug for RootCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootCertificates")
            .field("webpki", &self.webpki)
            .field("added", &self.added.len())
            .finish()
    }
}

impl RootCertificates {
    /// The bundled webpki roots and the `certificates` of a PEM text (see
    /// [`parse_pem_certificates`]; `origin` names it in errors).
    pub fn from_pem(pem: &[u8], origin: &str) -> Result<RootCertificates, NetworkConfigError> {
        let mut roots = RootCertificates::default();
        roots.add(parse_pem_certificates(pem, origin)?);
        Ok(roots)
    }

    /// Trusts these certificates too.
    pub fn add(&mut self, certificates: impl IntoIterator<Item = CertificateDer<'static>>) {
        self.added.extend(certificates);
    }

    /// Trusts only the added certificates, not the bundled webpki roots.
    pub fn only_added(mut self) -> RootCertificates {
        self.webpki = false;
        self
    }

    /// Whether the bundled webpki roots are trusted.
    pub fn includes_webpki(&self) -> bool {
        self.webpki
    }

    /// The added certificates (DER).
    pub fn added(&self) -> &[CertificateDer<'static>] {
        &self.added
    }

    /// Checks the roots can verify anything: an error if only the added certificates are
    /// trusted and there are none.
    pub fn check(&self) -> Result<(), NetworkConfigError> {
        if !self.webpki && self.added.is_empty() {
            return Err(NetworkConfigError::NoRootCertificates);
        }
        Ok(())
    }
}

/// The certificates of a PEM text (its `CERTIFICATE` sections; other sections such as
/// keys are skipped), each checked to be a usable X.509 trust anchor. `origin` names the
/// text in errors (a path, a variable). Errors: no certificate at all, malformed PEM, or a
/// section whose content is not a certificate.
pub fn parse_pem_certificates(
    pem: &[u8],
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, NetworkConfigError> {
    let mut certificates = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let certificate = item.map_err(|e| NetworkConfigError::MalformedPem {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        if let Err(e) = webpki::anchor_from_trusted_cert(&certificate) {
            return Err(NetworkConfigError::BadCertificate {
                origin: origin.to_string(),
                index: i + 1,
                message: format!("{e:?}"),
            });
        }
        certificates.push(certificate);
    }
    if certificates.is_empty() {
        return Err(NetworkConfigError::NoCertificate {
            origin: origin.to_string(),
        });
    }
    Ok(certificates)
}

/// An HTTP proxy: `http://[user[:password]@]host[:port]` (the port defaults to 80; a URL
/// without a scheme is taken as `http://`). The user and password may be
/// percent-encoded; they are sent as `Proxy-Authorization: Basic`. `Debug` and `Display`
/// show the password as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
}

impl ProxyUrl {
    /// Parses a proxy URL; `origin` names where it came from in errors. Only `http://`
    /// proxies are supported (no `https://` or SOCKS proxies); a path other than `/`, a
    /// query or a fragment is an error.
    pub fn parse(url: &str, origin: &str) -> Result<ProxyUrl, NetworkConfigError> {
        let bad = |reason: &str| NetworkConfigError::BadProxyUrl {
            origin: origin.to_string(),
            url: redact_url(url),
            reason: reason.to_string(),
        };
        let trimmed = url.trim();
        let rest = match trimmed.split_once("://") {
            Some((scheme, rest)) => {
                if !scheme.eq_ignore_ascii_case("http") {
                    return Err(bad(&format!(
                        "unsupported scheme {scheme:?}: only http:// proxies are supported"
                    )));
                }
                rest
            }
            None => trimmed,
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if !(path.is_empty() || path == "/") {
            return Err(bad("a proxy URL has no path, query or fragment"));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pass) = match u.split_once(':') {
                    Some((user, pass)) => (user, Some(pass)),
                    None => (u, None),
                };
                let user = percent_decode(user)
                    .ok_or_else(|| bad("the user name is not valid percent-encoded UTF-8"))?;
                let pass =
                    match pass {
                        Some(p) => Some(percent_decode(p).ok_or_else(|| {
                            bad("the password is not valid percent-encoded UTF-8")
                        })?),
                        None => None,
                    };
                (Some(user), pass)
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address without its closing ']'"))?;
            if addr.parse::<core::net::Ipv6Addr>().is_err() {
                return Err(bad("not an IPv6 address between '[' and ']'"));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("unexpected text after the IPv6 address"))?,
                ),
            };
            (format!("[{addr}]"), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | '%' | '\\'))
        {
            return Err(bad("the host has characters a host name cannot have"));
        }
        let port = match port {
            None => 80,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => return Err(bad("the port is not a number from 1 to 65535")),
            },
        };
        let host = host.to_ascii_lowercase();
        if http::uri::Authority::try_from(format!("{host}:{port}")).is_err() {
            return Err(bad("the host has characters a host name cannot have"));
        }
        Ok(ProxyUrl {
            host,
            port,
            username,
            password,
        })
    }

    /// The proxy's host, as in a URL (an IPv6 address in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The user name (decoded), if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The password (decoded), if any.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// `http://host:port`, without the credentials.
    pub fn uri(&self) -> http::Uri {
        // Host and port were checked when parsing; a failure here is only possible for a
        // host `http` rejects, and falls back to a URI that fails to connect.
        format!("http://{}", self.authority())
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("http://invalid.invalid"))
    }

    /// The value of a `Proxy-Authorization` header (`Basic ...`), if the URL has a user.
    pub fn basic_authorization(&self) -> Option<String> {
        use base64::Engine as _;
        let user = self.username.as_deref()?;
        let credentials = format!("{user}:{}", self.password.as_deref().unwrap_or(""));
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        ))
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("http://")?;
        if let Some(user) = &self.username {
            f.write_str(user)?;
            if self.password.is_some() {
                f.write_str(":***")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// `url` with everything between the scheme and the last `@` of its authority replaced
/// by `***` (for errors about URLs that could not be parsed).
fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_string(),
    };
    match scheme {
        Some(s) => format!("{s}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

/// Decodes `%XX` escapes; `None` if an escape is broken or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Hosts reached without a proxy, from a comma-separated list (`NO_PROXY`):
///
/// - `*` alone: every host;
/// - `example.com`, `.example.com` or `*.example.com`: `example.com` and every host under
///   it (`a.example.com`, not `badexample.com`);
/// - an IP address (`127.0.0.1`, `::1` or `[::1]`): that address.
///
/// Matching ignores case and a trailing dot; a `:port` after an entry is ignored (the
/// entry matches every port). CIDR ranges are not supported (such an entry matches
/// nothing). Empty entries and surrounding spaces are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    hosts: Vec<String>,
}

impl NoProxy {
    /// Parses a `NO_PROXY` list (never fails: an entry that cannot match is kept and
    /// matches nothing).
    pub fn parse(list: &str) -> NoProxy {
        let mut no_proxy = NoProxy::default();
        for entry in list.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                no_proxy.all = true;
                continue;
            }
            let entry = entry.trim_start_matches('*').trim_start_matches('.');
            let host = strip_port(entry);
            let host = normalize_host(host);
            if !host.is_empty() {
                no_proxy.hosts.push(host);
            }
        }
        no_proxy
    }

    /// Whether `host` (a host name or IP address, IPv6 with or without brackets) is
    /// reached without a proxy.
    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = normalize_host(host);
        self.hosts.iter().any(|entry| {
            host == *entry
                || (host.len() > entry.len()
                    && host.ends_with(entry.as_str())
                    && host.as_bytes()[host.len() - entry.len() - 1] == b'.')
        })
    }

    /// Whether the list is empty (every host goes through the proxy).
    pub fn is_empty(&self) -> bool {
        !self.all && self.hosts.is_empty()
    }
}

/// `host` of `host:port`, `[v6]:port` or `v6` (an address with several colons has no port).
fn strip_port(entry: &str) -> &str {
    if let Some(v6) = entry.strip_prefix('[') {
        return v6.split_once(']').map(|(a, _)| a).unwrap_or(v6);
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            host
        }
        _ => entry,
    }
}

/// Lower case, without IPv6 brackets or a trailing dot.
fn normalize_host(host: &str) -> String {
    let host = host.strip_prefix('[').unwrap_or(host);
    let host = host.strip_suffix(']').unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Which proxy, if any, each request goes through: one for `http` URLs, one for `https`
/// URLs, and the [`NoProxy`] hosts reached directly. The default is no proxy at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyConfig {
    http: Option<ProxyUrl>,
    https: Option<ProxyUrl>,
    no_proxy: NoProxy,
}

impl ProxyConfig {
    /// No proxy: every request connects directly.
    pub fn none() -> ProxyConfig {
        ProxyConfig::default()
    }

    /// `proxy` for every URL (`http` and `https`).
    pub fn all(proxy: ProxyUrl) -> ProxyConfig {
        ProxyConfig {
            http: Some(proxy.clone()),
            https: Some(proxy),
            no_proxy: NoProxy::default(),
        }
    }

    /// A proxy for `http` URLs and one for `https` URLs.
    pub fn new(http: Option<ProxyUrl>, https: Option<ProxyUrl>) -> ProxyConfig {
        ProxyConfig {
            http,
            https,
            no_proxy: NoProxy::default(),
        }
    }

    /// The same proxies, but not for the hosts of `no_proxy`.
    pub fn with_no_proxy(mut self, no_proxy: NoProxy) -> ProxyConfig {
        self.no_proxy = no_proxy;
        self
    }

    /// The proxies of the environment, read through `var`: `HTTPS_PROXY` (or
    /// `https_proxy`) for `https` URLs, `HTTP_PROXY` (or `http_proxy`) for `http` URLs,
    /// `ALL_PROXY` (or `all_proxy`) for either when its own variable is unset, and
    /// `NO_PROXY` (or `no_proxy`). The upper-case name is read first; empty values count
    /// as unset. A proxy URL that cannot be used is an error naming its variable.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<ProxyConfig, NetworkConfigError> {
        let env = EnvProxies::read(var).resolve(true, true)?;
        Ok(ProxyConfig::new(env.http, env.https).with_no_proxy(env.no_proxy.unwrap_or_default()))
    }

    /// The proxy a request to `uri` goes through, if any.
    pub fn proxy_for(&self, uri: &http::Uri) -> Option<&ProxyUrl> {
        let proxy = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
            self.https.as_ref()
        } else {
            self.http.as_ref()
        }?;
        match uri.host() {
            Some(host) if self.no_proxy.matches(host) => None,
            _ => Some(proxy),
        }
    }

    /// The proxy of `http` URLs.
    pub fn http(&self) -> Option<&ProxyUrl> {
        self.http.as_ref()
    }

    /// The proxy of `https` URLs.
    pub fn https(&self) -> Option<&ProxyUrl> {
        self.https.as_ref()
    }

    /// The hosts reached without a proxy.
    pub fn no_proxy(&self) -> &NoProxy {
        &self.no_proxy
    }

    /// The distinct proxies of the configuration (none, one or two).
    pub fn proxies(&self) -> Vec<&ProxyUrl> {
        let mut proxies: Vec<&ProxyUrl> = Vec::new();
        for p in [self.http.as_ref(), self.https.as_ref()]
            .into_iter()
            .flatten()
        {
            if !proxies.contains(&p) {
                proxies.push(p);
            }
        }
        proxies
    }

    /// Whether no request goes through a proxy.
    pub fn is_none(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }
}

/// The proxy variables of an environment, parsed (a bad value is kept as its error, which
/// matters only if a request would use that proxy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EnvProxies {
    http: Option<Result<ProxyUrl, NetworkConfigError>>,
    https: Option<Result<ProxyUrl, NetworkConfigError>>,
    no_proxy: Option<NoProxy>,
}

impl EnvProxies {
    /// Reads the variables through `var` (empty values count as unset).
    pub(crate) fn read(var: impl Fn(&str) -> Option<String>) -> EnvProxies {
        let first = |names: [&'static str; 2]| {
            names.into_iter().find_map(|name| {
                var(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (name, v))
            })
        };
        let parse =
            |found: Option<(&str, String)>| found.map(|(name, url)| ProxyUrl::parse(&url, name));
        let all = || first([ENV_ALL_PROXY, "all_proxy"]);
        EnvProxies {
            https: parse(first([ENV_HTTPS_PROXY, "https_proxy"]).or_else(all)),
            http: parse(first([ENV_HTTP_PROXY, "http_proxy"]).or_else(all)),
            no_proxy: first([ENV_NO_PROXY, "no_proxy"]).map(|(_, v)| NoProxy::parse(&v)),
        }
    }

    /// The proxy of `http` URLs (an error only if `http_used`), of `https` URLs (likewise),
    /// and the `NO_PROXY` list (`None` if unset).
    pub(crate) fn resolve(
        &self,
        http_used: bool,
        https_used: bool,
    ) -> Result<EnvProxyChoice, NetworkConfigError> {
        let pick = |v: &Option<Result<ProxyUrl, NetworkConfigError>>, used: bool| match v {
            Some(Ok(p)) => Ok(Some(p.clone())),
            Some(Err(e)) if used => Err(e.clone()),
            _ => Ok(None),
        };
        Ok(EnvProxyChoice {
            http: pick(&self.http, http_used)?,
            https: pick(&self.https, https_used)?,
            no_proxy: self.no_proxy.clone(),
        })
    }
}

/// The usable proxies of an environment.
#[derive(Debug, Default)]
pub(crate) struct EnvProxyChoice {
    http: Option<ProxyUrl>,
    https: Option<ProxyUrl>,
    no_proxy: Option<NoProxy>,
}

/// How requests pick a proxy, as set on a builder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum ProxyChoice {
    /// Not set: the environment's proxies if `from_env` read them, else none.
    #[default]
    Unset,
    /// `proxy(url)` (or the error of its URL).
    Url(Result<ProxyUrl, NetworkConfigError>),
    /// `disable_proxy()`.
    Disabled,
}

/// The network settings of a builder, as given: explicit values, what `from_env` read,
/// and the first error of an explicit value. [`resolve`](Self::resolve) checks them.
#[derive(Clone, Default)]
pub struct NetworkSettings {
    roots: Vec<CertificateDer<'static>>,
    roots_given: bool,
    only_given_roots: bool,
    env_roots: Option<Result<Vec<CertificateDer<'static>>, NetworkConfigError>>,
    proxy: ProxyChoice,
    no_proxy: Option<NoProxy>,
    env_proxies: Option<EnvProxies>,
    error: Option<NetworkConfigError>,
}

impl fmt::Debug for NetworkSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkSettings")
            .field("roots", &self.roots.len())
            .field("only_given_roots", &self.only_given_roots)
            .field(
                "env_roots",
                &self.env_roots.as_ref().map(|r| r.as_ref().map(Vec::len)),
            )
            .field("proxy", &self.proxy)
            .field("no_proxy", &self.no_proxy)
            .field("env_proxies", &self.env_proxies)
            .field("error", &self.error)
            .finish()
    }
}

impl NetworkSettings {
    /// Trusts the certificates of a PEM text too (`origin` names it in errors).
    pub fn root_certificates_pem(&mut self, pem: &[u8], origin: &str) {
        self.roots_given = true;
        match parse_pem_certificates(pem, origin) {
            Ok(certificates) => self.roots.extend(certificates),
            Err(e) => self.fail(e),
        }
    }

    /// Trusts the certificates of a PEM file too (read now, through `read`).
    pub fn root_certificates_file(&mut self, path: &std::path::Path, read: ReadFile<'_>) {
        self.roots_given = true;
        match read_pem_file(path, &path.display().to_string(), read) {
            Ok(certificates) => self.roots.extend(certificates),
            Err(e) => self.fail(e),
        }
    }

    /// Trusts only the given root certificates (explicit, else `MAXSTORAGE_CA_BUNDLE`),
    /// not the bundled webpki roots.
    pub fn trust_only_given_roots(&mut self) {
        self.only_given_roots = true;
    }

    /// Sends every request through this proxy (wins over the environment).
    pub fn proxy(&mut self, url: &str) {
        self.proxy = ProxyChoice::Url(ProxyUrl::parse(url, "proxy(..)"));
    }

    /// Connects directly to these hosts (a `NO_PROXY` list; wins over the environment's).
    pub fn no_proxy(&mut self, list: &str) {
        self.no_proxy = Some(NoProxy::parse(list));
    }

    /// Connects directly, whatever `proxy(..)` or the environment say.
    pub fn disable_proxy(&mut self) {
        self.proxy = ProxyChoice::Disabled;
    }

    /// Reads `MAXSTORAGE_CA_BUNDLE` (and, through `read`, the file it names) and the proxy
    /// variables through `var`.
    pub fn from_env(&mut self, var: impl Fn(&str) -> Option<String>, read: ReadFile<'_>) {
        if let Some(path) = var(ENV_CA_BUNDLE).filter(|v| !v.trim().is_empty()) {
            let origin = format!("{ENV_CA_BUNDLE} ({path})");
            self.env_roots = Some(read_pem_file(std::path::Path::new(&path), &origin, read));
        }
        self.env_proxies = Some(EnvProxies::read(var));
    }

    /// Whether root certificates or a proxy were set explicitly (not from the
    /// environment): settings a transport of one's own would silently ignore.
    /// (`no_proxy(..)` and `disable_proxy()` only take proxies away, so they do not count.)
    pub fn is_explicit(&self) -> bool {
        self.roots_given || self.only_given_roots || matches!(self.proxy, ProxyChoice::Url(_))
    }

    /// The checked configuration, for a client whose endpoint uses `http` and/or
    /// `https` (a bad environment proxy of an unused scheme is not an error). Explicit
    /// values win over the environment: roots given explicitly replace
    /// `MAXSTORAGE_CA_BUNDLE`, `proxy(..)` / `disable_proxy()` replace the proxy variables,
    /// `no_proxy(..)` replaces `NO_PROXY`.
    pub fn resolve(
        &self,
        http_used: bool,
        https_used: bool,
    ) -> Result<NetworkConfig, NetworkConfigError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut roots = RootCertificates::default();
        if self.roots_given {
            roots.add(self.roots.iter().cloned());
        } else if let Some(env) = &self.env_roots {
            roots.add(env.clone()?);
        }
        if self.only_given_roots {
            roots = roots.only_added();
        }
        roots.check()?;
        let env = match &self.env_proxies {
            Some(env) => env.resolve(
                http_used && self.proxy == ProxyChoice::Unset,
                https_used && self.proxy == ProxyChoice::Unset,
            )?,
            None => EnvProxyChoice::default(),
        };
        let (http, https) = match &self.proxy {
            ProxyChoice::Url(url) => {
                let url = url.clone()?;
                (Some(url.clone()), Some(url))
            }
            ProxyChoice::Disabled => (None, None),
            ProxyChoice::Unset => (env.http, env.https),
        };
        let no_proxy = self.no_proxy.clone().or(env.no_proxy).unwrap_or_default();
        Ok(NetworkConfig {
            roots,
            proxy: ProxyConfig::new(http, https).with_no_proxy(no_proxy),
        })
    }

    fn fail(&mut self, e: NetworkConfigError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}

/// The certificates of the PEM file at `path`.
fn read_pem_file(
    path: &std::path::Path,
    origin: &str,
    read: ReadFile<'_>,
) -> Result<Vec<CertificateDer<'static>>, NetworkConfigError> {
    let pem = read(path).map_err(|e| NetworkConfigError::UnreadableCaBundle {
        path: origin.to_string(),
        message: e.to_string(),
    })?;
    parse_pem_certificates(&pem, origin)
}

/// The network settings of a transport: trusted roots and proxies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetworkConfig {
    /// The root certificates TLS connections trust.
    pub roots: RootCertificates,
    /// The proxies requests go through.
    pub proxy: ProxyConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn no_proxy_matches_hosts_their_subdomains_ips_and_star() {
        let n = NoProxy::parse(
            " example.com, .internal.net ,*.corp.io,127.0.0.1, [::1]:8080,, LOCALHOST:9000",
        );
        for host in [
            "example.com",
            "a.example.com",
            "A.B.Example.COM.",
            "internal.net",
            "x.internal.net",
            "corp.io",
            "y.corp.io",
            "127.0.0.1",
            "::1",
            "[::1]",
            "localhost",
        ] {
            assert!(n.matches(host), "{host} should bypass the proxy");
        }
        for host in [
            "badexample.com",
            "example.com.evil.org",
            "127.0.0.2",
            "10.0.0.1",
            "net",
            "localhost2",
            "",
        ] {
            assert!(!n.matches(host), "{host} should use the proxy");
        }
        assert!(NoProxy::parse("*").matches("anything.at.all"));
        assert!(NoProxy::parse(" , ").is_empty());
        assert!(!NoProxy::parse("").matches("example.com"));
    }

    #[test]
    fn proxies_are_chosen_by_scheme_and_no_proxy() {
        let a = ProxyUrl::parse("http://a:1", "t").unwrap();
        let b = ProxyUrl::parse("b:2", "t").unwrap();
        let c = ProxyConfig::new(Some(a.clone()), Some(b.clone()))
            .with_no_proxy(NoProxy::parse("direct.example"));
        assert_eq!(c.proxy_for(&uri("http://h.example/x")), Some(&a));
        assert_eq!(c.proxy_for(&uri("https://h.example:8443/x")), Some(&b));
        assert_eq!(c.proxy_for(&uri("https://x.direct.example/")), None);
        assert_eq!(c.proxies(), vec![&a, &b]);
        let all = ProxyConfig::all(a.clone());
        assert_eq!(all.proxies(), vec![&a]);
        assert!(ProxyConfig::none().proxy_for(&uri("http://h/")).is_none());
        assert!(ProxyConfig::none().is_none());
    }

    #[test]
    fn proxy_urls_parse_and_bad_ones_are_typed_errors() {
        let p = ProxyUrl::parse("http://us%40er:p%3Ass@Proxy.Example:3128/", "proxy(..)").unwrap();
        assert_eq!(p.host(), "proxy.example");
        assert_eq!(p.port(), 3128);
        assert_eq!(p.username(), Some("us@er"));
        assert_eq!(p.password(), Some("p:ss"));
        assert_eq!(p.authority(), "proxy.example:3128");
        assert_eq!(p.uri(), uri("http://proxy.example:3128"));
        assert_eq!(
            p.basic_authorization().as_deref(),
            Some("Basic dXNAZXI6cDpzcw==")
        );
        let p = ProxyUrl::parse("[::1]", "t").unwrap();
        assert_eq!((p.host(), p.port()), ("[::1]", 80));
        assert!(p.basic_authorization().is_none());

        for (url, what) in [
            ("https://proxy:443", "unsupported scheme"),
            ("socks5://proxy:1080", "unsupported scheme"),
            ("http://proxy:notaport", "port"),
            ("http://proxy:0", "port"),
            ("http://proxy:3128/path", "path"),
            ("http://", "no host"),
            ("http://user:pw@", "no host"),
            ("http://[::1", "IPv6"),
            ("http://bad host:1", "characters"),
            ("http://bad{host}:1", "characters"),
            ("http://u:%zz@h:1", "password"),
        ] {
            match ProxyUrl::parse(url, "HTTPS_PROXY") {
                Err(e @ NetworkConfigError::BadProxyUrl { .. }) => {
                    let message = e.to_string();
                    assert!(message.contains(what), "{url}: {message}");
                    assert!(message.starts_with("HTTPS_PROXY: "), "{message}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn proxy_passwords_never_show() {
        let p = ProxyUrl::parse("http://alice:s3cr3t@proxy:8080", "t").unwrap();
        let config = ProxyConfig::all(p.clone());
        let network = NetworkConfig {
            proxy: config,
            ..NetworkConfig::default()
        };
        for shown in [
            format!("{p:?}"),
            format!("{p}"),
            format!("{network:?}"),
            format!("{network:#?}"),
        ] {
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains("alice:***@proxy:8080"), "{shown}");
        }
        // Nor in the error of a URL that does not parse.
        let e = ProxyUrl::parse("http://alice:s3cr3t@proxy:badport", "proxy(..)").unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("***@proxy:badport"), "{shown}");
        let e = ProxyUrl::parse("ftp://alice:s3cr3t@proxy/", "t").unwrap_err();
        assert!(!format!("{e} {e:?}").contains("s3cr3t"));
    }

    #[test]
    fn proxies_from_the_environment() {
        let c = ProxyConfig::from_env(env(&[
            ("HTTPS_PROXY", "http://secure:1"),
            ("http_proxy", "plain:2"),
            ("ALL_PROXY", "http://all:3"),
            ("no_proxy", "internal"),
        ]))
        .unwrap();
        assert_eq!(
            c.https().map(ProxyUrl::authority).as_deref(),
            Some("secure:1")
        );
        assert_eq!(
            c.http().map(ProxyUrl::authority).as_deref(),
            Some("plain:2")
        );
        assert!(c.proxy_for(&uri("https://a.internal/")).is_none());

        // ALL_PROXY fills in; empty values count as unset; upper case is read first.
        let c = ProxyConfig::from_env(env(&[
            ("HTTPS_PROXY", " "),
            ("all_proxy", "http://all:3"),
            ("NO_PROXY", "a"),
            ("no_proxy", "b"),
        ]))
        .unwrap();
        assert_eq!(c.https().map(ProxyUrl::authority).as_deref(), Some("all:3"));
        assert_eq!(c.http().map(ProxyUrl::authority).as_deref(), Some("all:3"));
        assert!(c.no_proxy().matches("a") && !c.no_proxy().matches("b"));

        assert!(ProxyConfig::from_env(env(&[])).unwrap().is_none());

        // A bad value is an error naming its variable (and hiding the password).
        let e = ProxyConfig::from_env(env(&[("https_proxy", "socks5://u:pw@h:1")])).unwrap_err();
        assert!(e.to_string().starts_with("https_proxy: "), "{e}");
        assert!(!e.to_string().contains("pw"), "{e}");
    }

    /// A self-signed certificate, as PEM.
    fn certificate_pem() -> String {
        rcgen::generate_simple_self_signed(vec!["ca.test".to_string()])
            .unwrap()
            .cert
            .pem()
    }

    #[test]
    fn pem_certificates_are_parsed_and_other_sections_skipped() {
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let pem = format!("{}{key}{}", certificate_pem(), certificate_pem());
        let roots = RootCertificates::from_pem(pem.as_bytes(), "bundle").unwrap();
        assert_eq!(roots.added().len(), 2);
        assert!(roots.includes_webpki());
        let only = roots.only_added();
        assert!(!only.includes_webpki());
        assert!(only.check().is_ok());
        assert_eq!(
            format!("{only:?}"),
            "RootCertificates { webpki: false, added: 2 }"
        );
    }

    #[test]
    fn pem_without_certificates_or_with_bad_ones_is_a_typed_error() {
        assert_eq!(
            parse_pem_certificates(b"", "ca.pem"),
            Err(NetworkConfigError::NoCertificate {
                origin: "ca.pem".into()
            })
        );
        let key_only = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            parse_pem_certificates(key_only, "k.pem"),
            Err(NetworkConfigError::NoCertificate { .. })
        ));
        assert!(matches!(
            parse_pem_certificates(b"not a pem at all", "x"),
            Err(NetworkConfigError::NoCertificate { .. })
        ));
        let unterminated = b"-----BEGIN CERTIFICATE-----\nMIIB\n";
        let e = parse_pem_certificates(unterminated, "cut.pem").unwrap_err();
        assert!(
            matches!(e, NetworkConfigError::MalformedPem { .. }),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("cut.pem: malformed PEM"), "{e}");
        let bad_base64 = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_pem_certificates(bad_base64, "b64"),
            Err(NetworkConfigError::MalformedPem { .. })
        ));
        // Valid base64, but not a certificate: the second section is named.
        let not_der = format!(
            "{}-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
            certificate_pem()
        );
        match parse_pem_certificates(not_der.as_bytes(), "two.pem") {
            Err(NetworkConfigError::BadCertificate { origin, index, .. }) => {
                assert_eq!((origin.as_str(), index), ("two.pem", 2));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_added_roots_need_a_root() {
        assert!(RootCertificates::default().check().is_ok());
        assert_eq!(
            RootCertificates::default().only_added().check(),
            Err(NetworkConfigError::NoRootCertificates)
        );
    }
}
