//! Turning a call into an `http::Request`: URL, query, headers, body and signature.

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, Method, Request};

use crate::action::Action;
use crate::config::{ClientConfig, Credentials, Target};
use crate::error::{ConfigError, Error};
use crate::header;
use crate::sign::{SignedParts, authorization, canonical_string, date_header};
use crate::url::encode_query;

/// The body of a request built by the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body (e.g. tunnel discovery).
    Empty,
    /// A complete JSON body.
    Json(Bytes),
    /// A body the caller streams (Arrow IPC for `TableWrite`, blob bytes or frames). The
    /// transport sends it with this `Content-Length` when known, chunked otherwise.
    Streaming {
        /// The body length when known in advance.
        content_length: Option<u64>,
    },
}

impl Body {
    /// The bytes of a complete body (`Json`), or `None`.
    pub fn bytes(&self) -> Option<&Bytes> {
        match self {
            Body::Json(b) => Some(b),
            _ => None,
        }
    }
}

/// What every request is built with besides the call's own arguments.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// Endpoint, credentials, quota, tags, user agent.
    pub config: &'a ClientConfig,
    /// The time of the request, for the `Date` header and the v4 scope.
    pub now: SystemTime,
    /// The route token of the call's session, if one is known or given explicitly. It is
    /// sent only on calls that carry one (protocol.md B§3.3).
    pub route_token: Option<&'a str>,
    /// Credentials to sign with instead of the configuration's (e.g. a refreshed STS
    /// token).
    pub credentials: Option<&'a Credentials>,
}

impl<'a> RequestContext<'a> {
    /// A context without a route token.
    pub fn new(config: &'a ClientConfig, now: SystemTime) -> RequestContext<'a> {
        RequestContext {
            config,
            now,
            route_token: None,
            credentials: None,
        }
    }

    /// The same context signing with `credentials` (when given) instead of the
    /// configuration's.
    pub fn with_credentials(mut self, credentials: Option<&'a Credentials>) -> RequestContext<'a> {
        self.credentials = credentials;
        self
    }

    /// The same context with a route token.
    pub fn with_route_token(mut self, token: Option<&'a str>) -> RequestContext<'a> {
        self.route_token = token;
        self
    }
}

/// The parts of a storage request that a call decides; [`RequestSpec::build`] adds the
/// common parts (curr_project, quota, user agent, tags, date, signature).
#[derive(Debug, Clone)]
pub(crate) struct RequestSpec {
    pub method: Method,
    pub action: Action,
    pub target: Target,
    /// Call-specific query parameters (after `Action` and `Target`), decoded.
    pub query: Vec<(String, String)>,
    /// Call-specific headers.
    pub headers: Vec<(&'static str, String)>,
    pub content_type: Option<&'static str>,
    pub body: Body,
    /// Whether this call carries the session's route token.
    pub sends_route_token: bool,
}

impl RequestSpec {
    /// A POST with a JSON body.
    pub(crate) fn json(
        action: Action,
        target: Target,
        body: &impl serde::Serialize,
    ) -> RequestSpec {
        // Serializing plain data structs and maps into a Vec cannot fail.
        let bytes = serde_json::to_vec(body)
            .unwrap_or_else(|e| unreachable!("request body serialization: {e}"));
        RequestSpec {
            method: Method::POST,
            action,
            target,
            query: Vec::new(),
            headers: Vec::new(),
            content_type: Some(header::JSON_CONTENT_TYPE),
            body: Body::Json(Bytes::from(bytes)),
            sends_route_token: false,
        }
    }

    /// A POST on a table's session with an empty JSON body (`{}`) and `SessionId`: the
    /// shape of the get, abort and schema calls.
    pub(crate) fn session_call(
        action: Action,
        table: &crate::config::TableId,
        session_id: &str,
    ) -> RequestSpec {
        RequestSpec::json(action, Target::Table(table.clone()), &serde_json::json!({}))
            .param("SessionId", session_id)
    }

    /// A POST whose body the caller streams.
    pub(crate) fn streaming(
        action: Action,
        target: Target,
        content_type: &'static str,
        content_length: Option<u64>,
    ) -> RequestSpec {
        RequestSpec {
            method: Method::POST,
            action,
            target,
            query: Vec::new(),
            headers: Vec::new(),
            content_type: Some(content_type),
            body: Body::Streaming { content_length },
            sends_route_token: false,
        }
    }

    pub(crate) fn param(mut self, name: &str, value: impl ToString) -> RequestSpec {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    pub(crate) fn param_opt(self, name: &str, value: Option<impl ToString>) -> RequestSpec {
        match value {
            Some(v) => self.param(name, v),
            None => self,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> RequestSpec {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn route_token(mut self) -> RequestSpec {
        self.sends_route_token = true;
        self
    }

    /// Assembles and signs the request.
    pub(crate) fn build(self, ctx: &RequestContext<'_>) -> Result<Request<Body>, Error> {
        let config = ctx.config;
        let mut query = Vec::with_capacity(self.query.len() + 4);
        query.push(("Action".to_string(), self.action.as_str().to_string()));
        query.push(("Target".to_string(), self.target.value()));
        query.extend(self.query);
        if let Some(q) = &config.quota_name {
            query.push(("quotaName".to_string(), q.clone()));
        }
        let project = config.project.as_deref().unwrap_or(self.target.project());
        query.push(("curr_project".to_string(), project.to_string()));

        let mut headers: Vec<(String, String)> = Vec::with_capacity(8);
        if let Some(ct) = self.content_type {
            headers.push((header::CONTENT_TYPE.into(), ct.into()));
        }
        headers.push((header::DATE.into(), date_header(ctx.now)));
        headers.push((header::USER_AGENT.into(), config.user_agent.clone()));
        headers.push((header::ODPS_USER_AGENT.into(), config.user_agent.clone()));
        if self.sends_route_token
            && let Some(token) = ctx.route_token.filter(|t| !t.is_empty())
        {
            headers.push((header::ROUTE_TOKEN.into(), token.to_string()));
        }
        for (name, value) in self.headers {
            headers.push((name.to_string(), value));
        }
        if !config.tags.is_empty() {
            headers.push((header::TUNNEL_TAGS.into(), config.tags.join(",")));
        }

        let uri_path = config.endpoint.request_path();
        sign_and_assemble(
            ctx,
            self.method,
            config.endpoint.signed_path(),
            &uri_path,
            query,
            headers,
            self.body,
        )
    }
}

/// Signs a request (adding `Authorization` and the STS token) and assembles it. `resource`
/// is the signed path, `path` the path on the wire (with the endpoint's prefix).
pub(crate) fn sign_and_assemble(
    ctx: &RequestContext<'_>,
    method: Method,
    resource: &str,
    path: &str,
    query: Vec<(String, String)>,
    mut headers: Vec<(String, String)>,
    body: Body,
) -> Result<Request<Body>, Error> {
    let config = ctx.config;
    let credentials = ctx.credentials.unwrap_or(&config.credentials);
    let canonical = canonical_string(&SignedParts {
        method: method.as_str(),
        resource,
        query: &query,
        headers: &headers,
    });
    headers.push((
        header::AUTHORIZATION.into(),
        authorization(credentials, &config.signature, &canonical, ctx.now),
    ));
    if let Some(token) = credentials.security_token() {
        headers.push((header::STS_TOKEN.into(), token.to_string()));
    }
    let mut uri = format!(
        "{}://{}{}",
        config.endpoint.scheme(),
        config.endpoint.authority(),
        path
    );
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&encode_query(&query));
    }
    assemble(method, &uri, headers, body)
}

/// Builds an `http::Request` from parts, validating header values.
pub(crate) fn assemble(
    method: Method,
    uri: &str,
    headers: Vec<(String, String)>,
    body: Body,
) -> Result<Request<Body>, Error> {
    let mut builder = Request::builder().method(method).uri(uri);
    let map = builder.headers_mut().ok_or_else(|| invalid_uri(uri))?;
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConfigError::InvalidHeaderValue {
                header: "header name",
            }
        })?;
        let value = HeaderValue::from_str(&value).map_err(|_| ConfigError::InvalidHeaderValue {
            header: static_name(&name),
        })?;
        map.append(name, value);
    }
    builder.body(body).map_err(|_| invalid_uri(uri))
}

fn invalid_uri(uri: &str) -> Error {
    Error::Config(ConfigError::InvalidEndpoint {
        endpoint: uri.split('?').next().unwrap_or(uri).to_string(),
        reason: "the request URL is not valid".into(),
    })
}

fn static_name(name: &http::HeaderName) -> &'static str {
    [
        header::USER_AGENT,
        header::ODPS_USER_AGENT,
        header::ROUTE_TOKEN,
        header::WRITE_ACCESS_TOKEN,
        header::TUNNEL_TAGS,
        header::STS_TOKEN,
    ]
    .into_iter()
    .find(|h| *h == name.as_str())
    .unwrap_or("request header")
}
