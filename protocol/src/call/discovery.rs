//! Tunnel endpoint discovery (protocol.md B§1.2): ask the service endpoint where the
//! project's tunnel (storage) endpoint is.

use http::Method;
use http::response::Parts;

use super::{Call, check_status};
use crate::action::Action;
use crate::config::{ClientConfig, Endpoint};
use crate::error::{Error, InvalidResponse};
use crate::header;
use crate::request::{Body, RequestContext, sign_and_assemble};

/// `GET <service endpoint>/projects/<project>/tunnel?service[&quotaName=<q>]`.
///
/// Build it with a [`RequestContext`] whose config's endpoint is the **service** endpoint
/// (e.g. `http://service.cn-shanghai.maxcompute.aliyun.com/api`). The answer is the tunnel
/// endpoint, with the service endpoint's scheme, speaking `api_version`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoverTunnel {
    /// The project.
    pub project: String,
    /// The quota whose tunnel to use, if any.
    pub quota_name: Option<String>,
}

impl DiscoverTunnel {
    /// The path below the service endpoint.
    fn resource(&self) -> String {
        format!("/projects/{}/tunnel", self.project)
    }
}

impl Call for DiscoverTunnel {
    type Output = Endpoint;

    fn action(&self) -> Action {
        Action::TunnelDiscovery
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let config: &ClientConfig = ctx.config;
        let mut query = vec![("service".to_string(), String::new())];
        if let Some(q) = self.quota_name.as_ref().or(config.quota_name.as_ref()) {
            query.push(("quotaName".to_string(), q.clone()));
        }
        query.push((
            "curr_project".to_string(),
            config
                .project
                .clone()
                .unwrap_or_else(|| self.project.clone()),
        ));
        let headers = vec![
            (header::DATE.to_string(), crate::sign::date_header(ctx.now)),
            (header::USER_AGENT.to_string(), config.user_agent.clone()),
            (
                header::ODPS_USER_AGENT.to_string(),
                config.user_agent.clone(),
            ),
        ];
        let resource = self.resource();
        let path = format!("{}{}", config.endpoint.prefix(), resource);
        sign_and_assemble(
            ctx,
            Method::GET,
            &resource,
            &path,
            query,
            headers,
            Body::Empty,
        )
    }

    /// Parses the bare `host[:port]` body (a scheme prefix, as the Java answer carries, is
    /// accepted). The scheme is taken from the service endpoint: pass it with
    /// [`DiscoverTunnel::parse_with_scheme`]; this method assumes `http`.
    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<Endpoint, Error> {
        self.parse_with_scheme(parts, body, "http")
    }
}

impl DiscoverTunnel {
    /// Parses the answer, using `scheme` (the service endpoint's) when the body has none.
    pub fn parse_with_scheme(
        &self,
        parts: &Parts,
        body: &[u8],
        scheme: &str,
    ) -> Result<Endpoint, Error> {
        check_status(self.action(), parts, body)?;
        let invalid = |detail: String| {
            Error::InvalidResponse(InvalidResponse {
                action: self.action(),
                field: Some("tunnel endpoint".into()),
                detail,
                request_id: super::request_id(parts),
            })
        };
        let text = std::str::from_utf8(body)
            .map_err(|_| invalid("the body is not UTF-8".into()))?
            .trim();
        if text.is_empty() {
            return Err(invalid("the body is empty".into()));
        }
        let url = if text.contains("://") {
            text.to_string()
        } else {
            format!("{scheme}://{text}")
        };
        Endpoint::parse(&url).map_err(|e| invalid(e.to_string()))
    }
}
