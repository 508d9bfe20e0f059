//! Where configuration comes from besides code: the environment variables of the Alibaba
//! Cloud SDKs and odpscmd-style `odps_config.ini` files. Pure parsing — the caller reads the
//! environment or the file.

use std::collections::BTreeMap;

use crate::config::Credentials;

/// Access key id variable.
pub const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// Access key secret variable.
pub const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// STS security token variable.
pub const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";

/// Credentials from environment values, looked up with `get` (e.g. `std::env::var`):
/// `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET` and, optionally,
/// `ALIBABA_CLOUD_SECURITY_TOKEN`. `None` when the id or the secret is missing or empty.
pub fn credentials_from_env(get: impl Fn(&str) -> Option<String>) -> Option<Credentials> {
    let non_empty = |k: &str| {
        get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let creds = Credentials::new(
        non_empty(ENV_ACCESS_KEY_ID)?,
        non_empty(ENV_ACCESS_KEY_SECRET)?,
    );
    Some(match non_empty(ENV_SECURITY_TOKEN) {
        Some(token) => creds.with_security_token(token),
        None => creds,
    })
}

/// The settings of an odpscmd `odps_config.ini` (`key=value` lines, `#` comments).
///
/// Keys used: `access_id`, `access_key`, `project_name`, `end_point` (service endpoint),
/// `tunnel_endpoint`, `schema_name`, `quota_name`, `region`/`region_id`, `sts_token`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OdpsConfigFile {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for OdpsConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.values {
            let secret = k == "access_key" || k.contains("token") || k.contains("secret");
            m.entry(k, &if secret { "<redacted>" } else { v.as_str() });
        }
        m.finish()
    }
}

impl OdpsConfigFile {
    /// Parses the file's text. Lines without `=` and `[section]` lines are ignored; keys
    /// are case-insensitive; values are trimmed.
    pub fn parse(text: &str) -> OdpsConfigFile {
        let values = text
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty() && !l.starts_with('#') && !l.starts_with(';') && !l.starts_with('[')
            })
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        OdpsConfigFile { values }
    }

    /// A raw value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// `access_id` + `access_key` (+ `sts_token`).
    pub fn credentials(&self) -> Option<Credentials> {
        let creds = Credentials::new(self.get("access_id")?, self.get("access_key")?);
        Some(match self.get("sts_token") {
            Some(t) => creds.with_security_token(t),
            None => creds,
        })
    }

    /// `project_name`.
    pub fn project(&self) -> Option<&str> {
        self.get("project_name")
    }

    /// `end_point`: the service endpoint (used for tunnel discovery).
    pub fn service_endpoint(&self) -> Option<&str> {
        self.get("end_point")
    }

    /// `tunnel_endpoint`: an explicit tunnel endpoint.
    pub fn tunnel_endpoint(&self) -> Option<&str> {
        self.get("tunnel_endpoint")
    }

    /// `schema_name`.
    pub fn schema(&self) -> Option<&str> {
        self.get("schema_name")
    }

    /// `quota_name`.
    pub fn quota_name(&self) -> Option<&str> {
        self.get("quota_name")
    }

    /// `region_id` or `region`.
    pub fn region(&self) -> Option<&str> {
        self.get("region_id").or_else(|| self.get("region"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_credentials() {
        let env = |k: &str| match k {
            ENV_ACCESS_KEY_ID => Some("id".to_string()),
            ENV_ACCESS_KEY_SECRET => Some("secret".to_string()),
            _ => None,
        };
        let c = credentials_from_env(env).unwrap();
        assert_eq!(
            (c.access_id(), c.secret(), c.security_token()),
            ("id", "secret", None)
        );
        assert!(credentials_from_env(|_| None).is_none());
        let sts = credentials_from_env(|k| Some(format!("v-{k}"))).unwrap();
        assert_eq!(sts.security_token(), Some("v-ALIBABA_CLOUD_SECURITY_TOKEN"));
    }

    #[test]
    fn config_file() {
        let f = OdpsConfigFile::parse(
            "# odpscmd\nproject_name=my_proj\naccess_id = AK\naccess_key=SK-secret\nend_point=http://service.example.com/api\n\
             tunnel_endpoint=\nRegion_Id=cn-shanghai\nnot a setting\n",
        );
        assert_eq!(f.project(), Some("my_proj"));
        assert_eq!(f.service_endpoint(), Some("http://service.example.com/api"));
        assert_eq!(f.tunnel_endpoint(), None, "empty values are unset");
        assert_eq!(f.region(), Some("cn-shanghai"));
        let c = f.credentials().unwrap();
        assert_eq!((c.access_id(), c.secret()), ("AK", "SK-secret"));
        assert!(!format!("{f:?}").contains("SK-secret"));
    }
}
