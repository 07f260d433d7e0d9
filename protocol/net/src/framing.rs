//! Async framing over a byte stream: `u16` big-endian length, then the body (SPEC.md §4).
//!
//! [`FrameReader`] is cancel-safe (it only ever calls `read_buf`), so a connection task can
//! wait on it and on its reply queue at the same time in one `select!`.

use std::time::Duration;

use protocol_core::noise::NoiseError;
use protocol_core::wire::{DecodeError, FRAME_HEADER, FrameError, frame_length};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why a connection ended or was refused. Only that connection is affected.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection.
    #[error("connection closed by peer")]
    Closed,
    /// A frame header was bad.
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    /// A handshake or transport frame failed cryptographically.
    #[error("noise: {0}")]
    Noise(#[from] NoiseError),
    /// A decrypted message did not decode.
    #[error("bad message: {0}")]
    Decode(#[from] DecodeError),
    /// The peer took too long.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The peer completed the handshake but sent no authenticated transport frame before the
    /// handshake deadline (a replayed first message, or a peer without the key).
    #[error("no authenticated message before the handshake deadline")]
    Unconfirmed,
    /// Closed by the scheduler before its first authenticated message: every handshake slot
    /// was taken, and a newer connection took this one's, the longest held.
    #[error("handshake slot taken by a newer connection")]
    Evicted,
}

/// Buffers a byte stream and splits it into frames.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    max: usize,
}

impl FrameReader {
    /// A reader refusing frames longer than `max`.
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::with_capacity(256),
            start: 0,
            max,
        }
    }

    /// Changes the frame limit (handshake frames are capped tighter than transport frames).
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// The next complete frame already buffered.
    ///
    /// # Errors
    /// [`FrameError`] for an empty or oversize frame.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let pending = &self.buf[self.start..];
        let Some(header) = pending.first_chunk::<FRAME_HEADER>() else {
            return Ok(None);
        };
        let len = frame_length(*header, self.max)?;
        if pending.len() < FRAME_HEADER + len {
            return Ok(None);
        }
        let begin = self.start + FRAME_HEADER;
        self.start = begin + len;
        Ok(Some(&self.buf[begin..begin + len]))
    }

    /// Reads more bytes. Cancel-safe.
    ///
    /// # Errors
    /// [`ConnError::Closed`] at end of stream, [`ConnError::Io`].
    pub async fn fill<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> Result<(), ConnError> {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 {
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(self.buf.len() - self.start);
            self.start = 0;
        }
        if self.buf.capacity() - self.buf.len() < 512 {
            self.buf.reserve(4096.min(self.max + FRAME_HEADER));
        }
        match reader.read_buf(&mut self.buf).await? {
            0 => Err(ConnError::Closed),
            _ => Ok(()),
        }
    }

    /// Reads until one whole frame is buffered, and returns it.
    ///
    /// # Errors
    /// As [`FrameReader::fill`] and [`FrameReader::next_frame`].
    pub async fn read_frame<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> Result<Vec<u8>, ConnError> {
        loop {
            if let Some(frame) = self.next_frame()? {
                return Ok(frame.to_vec());
            }
            self.fill(reader).await?;
        }
    }

    /// Bytes buffered beyond the frames returned so far.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// Appends a frame header and body to `out`.
///
/// # Errors
/// [`FrameError`] if the body is empty or too long.
pub fn push_frame(out: &mut Vec<u8>, body: &[u8]) -> Result<(), FrameError> {
    protocol_core::wire::encode_frame(body, out)
}

/// Writes one frame.
///
/// # Errors
/// [`ConnError::Frame`] or [`ConnError::Io`].
pub async fn write_frame<W: AsyncWrite + Unpin>(writer: &mut W, body: &[u8]) -> Result<(), ConnError> {
    let mut out = Vec::with_capacity(body.len() + FRAME_HEADER);
    push_frame(&mut out, body)?;
    writer.write_all(&out).await?;
    Ok(())
}

/// Runs `fut` with a deadline.
///
/// # Errors
/// [`ConnError::Timeout`], or the future's own error.
pub async fn with_timeout<T>(limit: Duration, fut: impl Future<Output = Result<T, ConnError>>) -> Result<T, ConnError> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or(Err(ConnError::Timeout(limit)))
}
