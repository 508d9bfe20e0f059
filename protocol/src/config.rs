//! Identity and configuration: where requests go, on whose behalf, and how they are signed.

use std::fmt;

use crate::error::ConfigError;

/// The Storage API path version (protocol.md A2).
///
/// `V2` is the default of the official Python SDK; `V3` adds the `WriteMode` query
/// parameter on write-side actions, `CustomFileName` in blob headers and staging ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ApiVersion {
    /// `/api/storage/v2`.
    #[default]
    V2,
    /// `/api/storage/v3`.
    V3,
}

impl ApiVersion {
    /// The path of the storage endpoint below the tunnel base URL.
    pub fn path(self) -> &'static str {
        match self {
            ApiVersion::V2 => "/api/storage/v2",
            ApiVersion::V3 => "/api/storage/v3",
        }
    }

    /// Whether this version carries `WriteMode` on write-side actions.
    pub fn sends_write_mode(self) -> bool {
        self == ApiVersion::V3
    }
}

/// The base URL of a tunnel (storage) endpoint, e.g. `http://dt.cn-shanghai.maxcompute.aliyun.com`,
/// and the API version to speak to it.
///
/// The base may carry a path prefix; as in the official SDKs, the prefix is part of the URL
/// but not of the signed resource (protocol.md B§2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    scheme: String,
    authority: String,
    prefix: String,
    version: ApiVersion,
}

impl Endpoint {
    /// Parses a base URL (`http://host[:port][/prefix]` or `https://…`). A missing scheme
    /// means `http`. A trailing `/` is ignored.
    pub fn parse(base: &str) -> Result<Endpoint, ConfigError> {
        let base = base.trim();
        let (scheme, rest) = match base.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("http".to_string(), base),
        };
        if scheme != "http" && scheme != "https" {
            return Err(ConfigError::InvalidEndpoint {
                endpoint: base.to_string(),
                reason: format!("unsupported scheme {scheme:?} (expected http or https)"),
            });
        }
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains(['?', '#', ' ', '@']) {
            return Err(ConfigError::InvalidEndpoint {
                endpoint: base.to_string(),
                reason: "missing or invalid host".to_string(),
            });
        }
        if prefix.contains(['?', '#', ' ']) {
            return Err(ConfigError::InvalidEndpoint {
                endpoint: base.to_string(),
                reason: "the path may not contain a query, fragment or space".to_string(),
            });
        }
        Ok(Endpoint {
            scheme,
            authority: authority.to_string(),
            prefix: prefix.to_string(),
            version: ApiVersion::V2,
        })
    }

    /// The same endpoint speaking another API version.
    pub fn with_api_version(mut self, version: ApiVersion) -> Endpoint {
        self.version = version;
        self
    }

    /// The API version requests use.
    pub fn api_version(&self) -> ApiVersion {
        self.version
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// `host[:port]`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The path prefix of the base URL (empty or starting with `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The storage path that is signed: `/api/storage/v2` or `/api/storage/v3`.
    pub fn signed_path(&self) -> &'static str {
        self.version.path()
    }

    /// The full request path: prefix + storage path.
    pub fn request_path(&self) -> String {
        format!("{}{}", self.prefix, self.version.path())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

/// The schema name used when a table is given without one.
pub const DEFAULT_SCHEMA: &str = "default";

/// A table: project, schema and table name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TableId {
    project: String,
    schema: Option<String>,
    table: String,
}

impl TableId {
    /// A table in the `default` schema; its target is the 6-part
    /// `projects.<p>.schemas.default.tables.<t>` that every official SDK sends.
    pub fn new(project: impl Into<String>, table: impl Into<String>) -> TableId {
        TableId {
            project: project.into(),
            schema: Some(DEFAULT_SCHEMA.to_string()),
            table: table.into(),
        }
    }

    /// A table in the given schema.
    pub fn with_schema(
        project: impl Into<String>,
        schema: impl Into<String>,
        table: impl Into<String>,
    ) -> TableId {
        TableId {
            project: project.into(),
            schema: Some(schema.into()),
            table: table.into(),
        }
    }

    /// A table addressed without a schema, as `odps.maxstorage` does for projects without
    /// schemas: its target is the 4-part `projects.<p>.tables.<t>`.
    pub fn without_schema(project: impl Into<String>, table: impl Into<String>) -> TableId {
        TableId {
            project: project.into(),
            schema: None,
            table: table.into(),
        }
    }

    /// Parses `project.table`, `project.schema.table`, or a `Target` string of either form
    /// (`projects.p.tables.t`, `projects.p.schemas.s.tables.t`).
    pub fn parse(s: &str) -> Result<TableId, ConfigError> {
        let parts: Vec<&str> = s.split('.').collect();
        let bad = || ConfigError::InvalidTable(s.to_string());
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            ["projects", p, "schemas", sc, "tables", t] => Ok(TableId::with_schema(*p, *sc, *t)),
            ["projects", p, "tables", t] => Ok(TableId::without_schema(*p, *t)),
            [p, sc, t] => Ok(TableId::with_schema(*p, *sc, *t)),
            [p, t] => Ok(TableId::new(*p, *t)),
            _ => Err(bad()),
        }
    }

    /// The project name.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The schema name (`default` when the table was given without one).
    pub fn schema(&self) -> &str {
        self.schema.as_deref().unwrap_or(DEFAULT_SCHEMA)
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The `Target` query value.
    pub fn target(&self) -> String {
        match &self.schema {
            Some(s) => format!(
                "projects.{}.schemas.{}.tables.{}",
                self.project, s, self.table
            ),
            None => format!("projects.{}.tables.{}", self.project, self.table),
        }
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.project, self.schema(), self.table)
    }
}

/// A SQL instance (query) whose result can be read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct InstanceId {
    project: String,
    instance: String,
}

impl InstanceId {
    /// An instance of a project.
    pub fn new(project: impl Into<String>, instance: impl Into<String>) -> InstanceId {
        InstanceId {
            project: project.into(),
            instance: instance.into(),
        }
    }

    /// The project name.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The instance id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The `Target` query value `projects.<p>.instances.<id>`.
    pub fn target(&self) -> String {
        format!("projects.{}.instances.{}", self.project, self.instance)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/instances/{}", self.project, self.instance)
    }
}

/// What a request acts on: the `Target` query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A table.
    Table(TableId),
    /// A query result.
    Instance(InstanceId),
    /// The generic blob store (`generic.blob`) of `BlobRead`; the project is the one of the
    /// `curr_project` parameter.
    Blob {
        /// The project the request is made in.
        project: String,
    },
}

impl Target {
    /// The `Target` query value.
    pub fn value(&self) -> String {
        match self {
            Target::Table(t) => t.target(),
            Target::Instance(i) => i.target(),
            Target::Blob { .. } => "generic.blob".to_string(),
        }
    }

    /// The project this target lives in.
    pub fn project(&self) -> &str {
        match self {
            Target::Table(t) => t.project(),
            Target::Instance(i) => i.project(),
            Target::Blob { project } => project,
        }
    }
}

/// An Alibaba Cloud access key, optionally with an STS security token.
///
/// `Debug` shows the access id and redacts the secret and the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_id: String,
    secret: String,
    security_token: Option<String>,
}

impl Credentials {
    /// An access key pair.
    pub fn new(access_id: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            access_id: access_id.into(),
            secret: secret.into(),
            security_token: None,
        }
    }

    /// The same key with an STS security token (sent as `authorization-sts-token`).
    pub fn with_security_token(mut self, token: impl Into<String>) -> Credentials {
        self.security_token = Some(token.into());
        self
    }

    /// The access key id (not secret).
    pub fn access_id(&self) -> &str {
        &self.access_id
    }

    /// The access key secret. Keep it out of logs.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The STS security token, if any. Keep it out of logs.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_id", &self.access_id)
            .field("secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// How requests are signed (protocol.md A3, B§2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum SignatureVersion {
    /// `ODPS <id>:<HMAC-SHA1>` (the default).
    #[default]
    Legacy,
    /// The v4 (region) variant with an HMAC-SHA256 key chain.
    V4 {
        /// The region id, e.g. `cn-shanghai`.
        region: String,
    },
}

/// The user agent sent by default: `maxstorage-rust/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("maxstorage-rust/", env!("CARGO_PKG_VERSION"));

/// Everything requests have in common: endpoint, credentials, signing, and the optional
/// quota, tags and user agent.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Where requests go.
    pub endpoint: Endpoint,
    /// Who signs them.
    pub credentials: Credentials,
    /// How they are signed.
    pub signature: SignatureVersion,
    /// The project sent as `curr_project` (the caller's working project). When `None`, the
    /// target's project is used.
    pub project: Option<String>,
    /// A quota name, sent as `quotaName` on every storage call (as the user guide SDK does).
    pub quota_name: Option<String>,
    /// Request tags, sent joined by `,` in the `odps-tunnel-tags` header.
    pub tags: Vec<String>,
    /// The `User-Agent` (also sent, and signed, as `x-odps-user-agent`).
    pub user_agent: String,
}

impl ClientConfig {
    /// A configuration with legacy signing, no quota, no tags and the default user agent.
    pub fn new(endpoint: Endpoint, credentials: Credentials) -> ClientConfig {
        ClientConfig {
            endpoint,
            credentials,
            signature: SignatureVersion::Legacy,
            project: None,
            quota_name: None,
            tags: Vec::new(),
            user_agent: DEFAULT_USER_AGENT.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_parsing() {
        let e = Endpoint::parse("https://dt.example.com:8443/odps/").unwrap();
        assert_eq!(e.scheme(), "https");
        assert_eq!(e.authority(), "dt.example.com:8443");
        assert_eq!(e.request_path(), "/odps/api/storage/v2");
        assert_eq!(e.signed_path(), "/api/storage/v2");
        let e = Endpoint::parse("127.0.0.1:9000")
            .unwrap()
            .with_api_version(ApiVersion::V3);
        assert_eq!(e.to_string(), "http://127.0.0.1:9000");
        assert_eq!(e.request_path(), "/api/storage/v3");
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("http://").is_err());
    }

    #[test]
    fn targets() {
        assert_eq!(
            TableId::new("p", "t").target(),
            "projects.p.schemas.default.tables.t"
        );
        assert_eq!(
            TableId::without_schema("p", "t").target(),
            "projects.p.tables.t"
        );
        assert_eq!(
            TableId::parse("p.s.t").unwrap().target(),
            "projects.p.schemas.s.tables.t"
        );
        assert_eq!(
            TableId::parse("projects.p.tables.t").unwrap(),
            TableId::without_schema("p", "t")
        );
        assert!(TableId::parse("p..t").is_err());
        assert_eq!(
            InstanceId::new("p", "i1").target(),
            "projects.p.instances.i1"
        );
        assert_eq!(
            Target::Blob {
                project: "p".into()
            }
            .value(),
            "generic.blob"
        );
    }

    #[test]
    fn credentials_debug_redacts_secrets() {
        let c = Credentials::new("id", "very-secret").with_security_token("sts-token-value");
        let s = format!("{c:?}");
        assert!(s.contains("id"));
        assert!(!s.contains("very-secret"));
        assert!(!s.contains("sts-token-value"));
    }
}
