//! The hub ↔ UI server rendezvous over the child's standard input and output.
//!
//! Like the job bootstrap channel, the channel is the pipe of a process the hub itself
//! started, so nothing on it needs more authentication:
//!
//! 1. hub → UI server, on stdin: `{"v":1,"hub_key":"<64 hex>"}` — the [`HubKey`] that signs
//!    this instance's assertions;
//! 2. UI server → hub, on stdout: `{"v":1,"address":"127.0.0.1:PORT","client_key":"<64 hex>"}`
//!    — where it listens (a port it chose itself) and the public key it will present to
//!    schedulers.
//!
//! Each line is one JSON object of at most [`MAX_LINE`] bytes with no unknown fields. The hub
//! keeps the UI server's stdin open for its lifetime: end of file tells the UI server that
//! its hub is gone, and it stops. The UI server writes nothing else on stdout.

use std::net::SocketAddr;
use std::time::Duration;

use protocol_core::PublicKey;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use zeroize::Zeroizing;

use crate::assertion::HubKey;

/// The longest rendezvous line, newline included.
pub const MAX_LINE: usize = 1024;

/// Why a rendezvous line was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RendezvousError {
    /// The pipe closed before a complete line.
    #[error("the rendezvous channel closed before a complete line")]
    Closed,
    /// The line is longer than [`MAX_LINE`].
    #[error("rendezvous line longer than {MAX_LINE} bytes")]
    TooLong,
    /// The line is not the expected JSON object.
    #[error("malformed rendezvous line")]
    Malformed,
    /// The version is not 1.
    #[error("unsupported rendezvous version")]
    Version,
    /// The UI server announced an address that is not on this host's loopback.
    #[error("the UI server announced a non-loopback address")]
    NotLoopback,
    /// The key is not a valid X25519 public key.
    #[error("the UI server announced an invalid client key")]
    BadKey,
    /// Reading failed.
    #[error("rendezvous i/o: {0}")]
    Io(String),
    /// Nothing arrived in time.
    #[error("no rendezvous line within {0:?}")]
    Timeout(Duration),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HelloLine {
    v: u8,
    hub_key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadyLine {
    v: u8,
    address: String,
    client_key: String,
}

/// What the UI server announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ready {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its public key for schedulers.
    pub client_key: PublicKey,
}

/// The hub's line, newline included. Zeroised when dropped.
#[must_use]
pub fn hello_line(key: &HubKey) -> Zeroizing<String> {
    let hex = key.to_hex();
    Zeroizing::new(format!("{{\"v\":1,\"hub_key\":\"{}\"}}\n", hex.as_str()))
}

/// Parses the hub's line.
///
/// # Errors
/// [`RendezvousError::Malformed`] or [`RendezvousError::Version`].
pub fn parse_hello(line: &[u8]) -> Result<HubKey, RendezvousError> {
    let parsed: HelloLine = serde_json::from_slice(line).map_err(|_| RendezvousError::Malformed)?;
    let hex = Zeroizing::new(parsed.hub_key);
    if parsed.v != 1 {
        return Err(RendezvousError::Version);
    }
    HubKey::from_hex(&hex).map_err(|_| RendezvousError::Malformed)
}

/// The UI server's line, newline included.
#[must_use]
pub fn ready_line(ready: &Ready) -> String {
    let line = ReadyLine {
        v: 1,
        address: ready.address.to_string(),
        client_key: ready.client_key.to_hex(),
    };
    let mut s = serde_json::to_string(&line).unwrap_or_default();
    s.push('\n');
    s
}

/// Parses the UI server's line; the address must be on loopback.
///
/// # Errors
/// [`RendezvousError`].
pub fn parse_ready(line: &[u8]) -> Result<Ready, RendezvousError> {
    let parsed: ReadyLine = serde_json::from_slice(line).map_err(|_| RendezvousError::Malformed)?;
    if parsed.v != 1 {
        return Err(RendezvousError::Version);
    }
    let address: SocketAddr = parsed.address.parse().map_err(|_| RendezvousError::Malformed)?;
    if !address.ip().is_loopback() {
        return Err(RendezvousError::NotLoopback);
    }
    let client_key = PublicKey::from_hex(&parsed.client_key).map_err(|_| RendezvousError::BadKey)?;
    Ok(Ready { address, client_key })
}

/// Reads one line of at most [`MAX_LINE`] bytes, within `limit`.
///
/// # Errors
/// [`RendezvousError::Closed`], [`RendezvousError::TooLong`], [`RendezvousError::Io`] or
/// [`RendezvousError::Timeout`].
pub async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    limit: Duration,
) -> Result<Zeroizing<Vec<u8>>, RendezvousError> {
    let read = async {
        let mut line = Zeroizing::new(Vec::with_capacity(128));
        loop {
            let available = reader
                .fill_buf()
                .await
                .map_err(|e| RendezvousError::Io(e.kind().to_string()))?;
            if available.is_empty() {
                return Err(RendezvousError::Closed);
            }
            let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            if line.len() + chunk.len() > MAX_LINE {
                return Err(RendezvousError::TooLong);
            }
            line.extend_from_slice(chunk);
            let n = chunk.len();
            reader.consume(n);
            if done {
                return Ok(line);
            }
        }
    };
    tokio::time::timeout(limit, read)
        .await
        .unwrap_or(Err(RendezvousError::Timeout(limit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_round_trip() {
        let key = HubKey::from_bytes([9; 32]);
        let hello = hello_line(&key);
        assert!(hello.ends_with('\n') && hello.len() < MAX_LINE);
        assert_eq!(parse_hello(hello.as_bytes()).map(|k| k.to_hex()), Ok(key.to_hex()));
        let ready = Ready {
            address: "127.0.0.1:4000".parse().expect("addr"),
            client_key: protocol_core::StaticKeypair::generate_from_os().public(),
        };
        assert_eq!(parse_ready(ready_line(&ready).as_bytes()), Ok(ready));
    }

    #[test]
    fn bad_lines_are_refused() {
        let key = protocol_core::StaticKeypair::generate_from_os().public().to_hex();
        for (line, err) in [
            ("{\"v\":2,\"hub_key\":\"00\"}".to_owned(), RendezvousError::Version),
            (
                "{\"v\":1,\"hub_key\":\"00\",\"x\":1}".to_owned(),
                RendezvousError::Malformed,
            ),
            ("not json".to_owned(), RendezvousError::Malformed),
            (
                format!("{{\"v\":1,\"hub_key\":\"{}\"}}", "0".repeat(63)),
                RendezvousError::Malformed,
            ),
        ] {
            assert_eq!(parse_hello(line.as_bytes()).map(|_| ()), Err(err), "{line}");
        }
        for (line, err) in [
            (
                format!("{{\"v\":1,\"address\":\"10.0.0.1:80\",\"client_key\":\"{key}\"}}"),
                RendezvousError::NotLoopback,
            ),
            (
                format!(
                    "{{\"v\":1,\"address\":\"127.0.0.1:80\",\"client_key\":\"{}\"}}",
                    "0".repeat(64)
                ),
                RendezvousError::BadKey,
            ),
            (
                format!("{{\"v\":1,\"address\":\"somewhere\",\"client_key\":\"{key}\"}}"),
                RendezvousError::Malformed,
            ),
        ] {
            assert_eq!(parse_ready(line.as_bytes()), Err(err), "{line}");
        }
    }

    #[tokio::test]
    async fn reading_is_bounded_in_size_and_time() {
        let long = vec![b'x'; MAX_LINE + 10];
        let mut r = BufReader::new(&long[..]);
        assert_eq!(
            read_line(&mut r, Duration::from_secs(1)).await.map(|_| ()),
            Err(RendezvousError::TooLong)
        );
        let mut r = BufReader::new(&b"partial"[..]);
        assert_eq!(
            read_line(&mut r, Duration::from_secs(1)).await.map(|_| ()),
            Err(RendezvousError::Closed)
        );
        let (_keep, rx) = tokio::io::duplex(64);
        let mut r = BufReader::new(rx);
        assert_eq!(
            read_line(&mut r, Duration::from_millis(20)).await.map(|_| ()),
            Err(RendezvousError::Timeout(Duration::from_millis(20)))
        );
        let mut r = BufReader::new(&b"one\ntwo\n"[..]);
        let first = read_line(&mut r, Duration::from_secs(1)).await.expect("line");
        assert_eq!(first.as_slice(), b"one\n");
    }
}
