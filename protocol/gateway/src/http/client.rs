//! A small HTTP/1.1 client over hyper: the hub's proxy to UI servers, and a browser-like
//! [`HubClient`] for the demo, the tests and attack harnesses.
//!
//! One connection per request (nothing pooled, so an answer can never come from a UI server
//! instance other than the one asked), an optional local address to bind (loopback has all of
//! 127.0.0.0/8, so a test can speak from several sources), a deadline, and a cap on the
//! response size.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{HeaderName, HeaderValue};
pub use hyper::{HeaderMap, Method};
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;
use zeroize::Zeroizing;

use super::credentials::{CSRF_HEADER, REQUESTED_WITH, REQUESTED_WITH_VALUE};

/// The largest response body read.
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum HttpError {
    /// No connection: nothing was sent.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection failed after the request may have been sent.
    #[error("http: {0}")]
    Protocol(String),
    /// The request is not well formed (bad header).
    #[error("bad request: {0}")]
    Request(String),
    /// No response in time.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The response is larger than [`MAX_RESPONSE`].
    #[error("response too large")]
    TooLarge,
}

/// A request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request with no headers and no body.
    #[must_use]
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a JSON body.
    #[must_use]
    pub fn json(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.headers.push(("content-type".into(), "application/json".into()));
        self
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as text.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Null` if it is not JSON).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Every `Set-Cookie` value.
    #[must_use]
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(hyper::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

/// Sends one request to `addr` on a fresh connection, from `local` if given.
///
/// # Errors
/// [`HttpError`].
pub async fn send(
    addr: SocketAddr,
    local: Option<IpAddr>,
    req: &HttpRequest,
    timeout: Duration,
) -> Result<HttpResponse, HttpError> {
    tokio::time::timeout(timeout, send_inner(addr, local, req))
        .await
        .unwrap_or(Err(HttpError::Timeout(timeout)))
}

async fn send_inner(addr: SocketAddr, local: Option<IpAddr>, req: &HttpRequest) -> Result<HttpResponse, HttpError> {
    let connect = |e: std::io::Error| HttpError::Connect(e.kind().to_string());
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(connect)?;
    if let Some(ip) = local {
        socket.bind(SocketAddr::new(ip, 0)).map_err(connect)?;
    }
    let stream = socket.connect(addr).await.map_err(connect)?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::Connect(e.to_string()))?;
    let driver = tokio::spawn(conn);
    let mut request = Request::builder()
        .method(req.method.clone())
        .uri(&req.path)
        .header(hyper::header::HOST, addr.to_string());
    for (name, value) in &req.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| HttpError::Request(e.to_string()))?;
        let value = HeaderValue::from_str(value).map_err(|e| HttpError::Request(e.to_string()))?;
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(req.body.clone())))
        .map_err(|e| HttpError::Request(e.to_string()))?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_RESPONSE)
            .collect()
            .await
            .map_err(|_| HttpError::TooLarge)?
            .to_bytes();
        Ok(HttpResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.to_vec(),
        })
    }
    .await;
    driver.abort();
    result
}

/// A browser-like client of the hub: keeps its cookies, sends the CSRF token, the `Origin`
/// and the login header as the hub's own page would. `Debug` hides the credentials.
pub struct HubClient {
    addr: SocketAddr,
    local: Option<IpAddr>,
    origin: String,
    cookies: BTreeMap<String, Zeroizing<String>>,
    bearer: Option<Zeroizing<String>>,
    timeout: Duration,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("addr", &self.addr)
            .field("local", &self.local)
            .field("cookies", &self.cookies.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl HubClient {
    /// A client of the hub at `addr`, with a 30 s deadline per request.
    #[must_use]
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            local: None,
            origin: format!("http://{addr}"),
            cookies: BTreeMap::new(),
            bearer: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// Speaks from `ip` (any of 127.0.0.0/8 on loopback).
    #[must_use]
    pub const fn from_ip(mut self, ip: IpAddr) -> Self {
        self.local = Some(ip);
        self
    }

    /// The hub's address.
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The current session cookie's value (for tests that replay an old token).
    #[must_use]
    pub fn session_cookie(&self) -> Option<String> {
        self.cookies.get("tc_session").map(|v| v.to_string())
    }

    /// Uses a bearer token instead of cookies.
    pub fn set_bearer(&mut self, token: Option<String>) {
        self.bearer = token.map(Zeroizing::new);
    }

    /// Replaces the session cookie (for tests).
    pub fn set_session_cookie(&mut self, value: &str) {
        self.cookies
            .insert("tc_session".into(), Zeroizing::new(value.to_owned()));
    }

    /// Forgets every cookie and token.
    pub fn forget(&mut self) {
        self.cookies.clear();
        self.bearer = None;
    }

    fn decorate(&self, mut req: HttpRequest) -> HttpRequest {
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str()))
                .collect();
            req.headers.push(("cookie".into(), jar.join("; ")));
        }
        if let Some(b) = &self.bearer {
            req.headers
                .push(("authorization".into(), format!("Bearer {}", b.as_str())));
        }
        if req.method != Method::GET {
            req.headers.push(("origin".into(), self.origin.clone()));
            req.headers.push((REQUESTED_WITH.into(), REQUESTED_WITH_VALUE.into()));
            if let Some(csrf) = self.cookies.get("tc_csrf") {
                req.headers.push((CSRF_HEADER.into(), csrf.to_string()));
            }
        }
        req
    }

    fn absorb(&mut self, response: &HttpResponse) {
        for c in response.set_cookies() {
            let first = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = first.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), Zeroizing::new(v.to_owned()));
                }
            }
        }
    }

    /// Sends `req` as the hub's page would (cookies, CSRF, origin), without decorations if
    /// `raw`; remembers cookies the hub sets.
    ///
    /// # Errors
    /// [`HttpError`].
    pub async fn send(&mut self, req: HttpRequest, raw: bool) -> Result<HttpResponse, HttpError> {
        let req = if raw { req } else { self.decorate(req) };
        let response = send(self.addr, self.local, &req, self.timeout).await?;
        self.absorb(&response);
        Ok(response)
    }

    /// `GET path`.
    ///
    /// # Errors
    /// [`HttpError`].
    pub async fn get(&mut self, path: &str) -> Result<HttpResponse, HttpError> {
        self.send(HttpRequest::new(Method::GET, path), false).await
    }

    /// `POST path` with a JSON body.
    ///
    /// # Errors
    /// [`HttpError`].
    pub async fn post(&mut self, path: &str, body: &serde_json::Value) -> Result<HttpResponse, HttpError> {
        self.send(HttpRequest::new(Method::POST, path).json(body.to_string()), false)
            .await
    }

    /// Logs in with a session cookie.
    ///
    /// # Errors
    /// [`HttpError`].
    pub async fn login(&mut self, user: &str, password: &str) -> Result<HttpResponse, HttpError> {
        self.post("/login", &serde_json::json!({ "user": user, "password": password }))
            .await
    }

    /// Re-authenticates and raises the session to `level`.
    ///
    /// # Errors
    /// [`HttpError`].
    pub async fn elevate(&mut self, password: &str, level: &str) -> Result<HttpResponse, HttpError> {
        self.post("/elevate", &serde_json::json!({ "password": password, "level": level }))
            .await
    }
}
