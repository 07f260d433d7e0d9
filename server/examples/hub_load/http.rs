//! The load generator's own HTTP/1.1 client: a TCP connection bound, when asked, to a chosen
//! source address of 127.0.0.0/8 (so that every flood connection is a new source to the hub),
//! one request and one answer read up to its `Content-Length`, the requests the run sends
//! (login, `GET /me`, elevation, `/operator/status`) and short names for network errors. It is
//! handwritten so that nothing (pooling, retries, keep-alive) sits between a measurement and
//! the socket.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use crate::USER;

/// A short name for a network error.
pub fn io_kind(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(24) => return "emfile (load generator out of fds)".into(),
        Some(99) => return "addr-not-available".into(),
        _ => {}
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "refused".into(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => "reset".into(),
        io::ErrorKind::TimedOut => "timeout".into(),
        io::ErrorKind::UnexpectedEof => "closed-early".into(),
        k => format!("io-{k:?}"),
    }
}

/// Connects to `to`, from `from` when given (any address of 127.0.0.0/8 is local on Linux).
pub async fn connect_from(from: Option<Ipv4Addr>, to: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = from {
        socket.bind(SocketAddr::V4(SocketAddrV4::new(ip, 0)))?;
    }
    socket.connect(to).await
}

/// Source addresses per second octet: 127.OCTET.X.Y, X and Y in 1..=254.
pub const ADDRESSES_PER_OCTET: u64 = 254 * 254;

/// The `index`-th flood source address of a phase: 127.OCTET.X.Y, X and Y in 1..=254, going on
/// to the next OCTET after [`ADDRESSES_PER_OCTET`] of them.
pub fn source_ip(octet: u8, index: u64) -> Ipv4Addr {
    let n = index % ADDRESSES_PER_OCTET;
    let octet = u8::try_from(index / ADDRESSES_PER_OCTET)
        .ok()
        .and_then(|k| octet.checked_add(k))
        .unwrap_or(octet);
    let x = u8::try_from(1 + n / 254).unwrap_or(1);
    let y = u8::try_from(1 + n % 254).unwrap_or(1);
    Ipv4Addr::new(127, octet, x, y)
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends one request and reads one answer (up to its Content-Length, or to the end).
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> Result<Answer, String> {
    stream.write_all(request).await.map_err(|e| io_kind(&e))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err("bad-response".into());
        }
        let n = stream.read(&mut chunk).await.map_err(|e| io_kind(&e))?;
        if n == 0 {
            return Err("closed-early".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| "bad-response".to_string())?;
    let length = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    let mut body = buf.split_off(head_end);
    loop {
        if length.is_some_and(|l| body.len() >= l) || body.len() > 1024 * 1024 {
            break;
        }
        let n = stream.read(&mut chunk).await.map_err(|e| io_kind(&e))?;
        if n == 0 {
            if length.is_some() {
                return Err("closed-early".into());
            }
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Answer { status, body })
}

/// Connect, send, read, all within `limit`.
pub async fn request(from: Option<Ipv4Addr>, to: SocketAddr, req: &[u8], limit: Duration) -> Result<Answer, String> {
    let attempt = async {
        let mut s = connect_from(from, to).await.map_err(|e| io_kind(&e))?;
        exchange(&mut s, req).await
    };
    tokio::time::timeout(limit, attempt)
        .await
        .unwrap_or_else(|_| Err("timeout".into()))
}

/// `POST /login` for [`USER`]; a login must carry `X-Requested-With: threatcheck`.
pub fn login_request(to: SocketAddr, password: &str, bearer: bool) -> Vec<u8> {
    let body = serde_json::json!({ "user": USER, "password": password, "bearer": bearer }).to_string();
    format!(
        "POST /login HTTP/1.1\r\nHost: {to}\r\nX-Requested-With: threatcheck\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn me_request(to: SocketAddr, token: &str) -> Vec<u8> {
    format!("GET /me HTTP/1.1\r\nHost: {to}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").into_bytes()
}

/// `POST /elevate` with a bearer token (a bearer request needs no CSRF token and, not being a
/// login, no `X-Requested-With`).
pub fn elevate_request(to: SocketAddr, token: &str, password: &str, level: &str) -> Vec<u8> {
    let body = serde_json::json!({ "password": password, "level": level }).to_string();
    format!(
        "POST /elevate HTTP/1.1\r\nHost: {to}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn status_request(to: SocketAddr, token: &str) -> Vec<u8> {
    format!("GET /operator/status HTTP/1.1\r\nHost: {to}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
        .into_bytes()
}
