//! The job channel's wire format: length-prefixed frames and the typed messages inside them.
//!
//! Frames (this module) carry Noise messages: a big-endian `u16` length, then that many bytes.
//! Messages ([`message`]) are the plaintexts inside Noise transport frames. Both decoders are
//! strict: every malformed input gets its own [`FrameError`] or [`DecodeError`] variant and no
//! input can make them panic (fuzzed by `fuzz/fuzz_targets/wire_decode.rs`).

pub mod message;

pub use message::{
    ClientCommand, CommandOp, DecodeError, FailReason, JobBody, JobMessage, MAX_MESSAGE_TEXT, MAX_OUTPUT_NAME, Message,
    OutputName, RejectCode, Reply, Severity,
};

/// Largest Noise message (and so largest frame body), fixed by the Noise specification.
pub const MAX_FRAME: usize = 65_535;
/// Largest plaintext in one Noise transport frame: the frame less the 16-byte AEAD tag.
pub const MAX_PLAINTEXT: usize = MAX_FRAME - 16;
/// Length of the frame header.
pub const FRAME_HEADER: usize = 2;

/// Why a frame stream was refused. The connection is closed; nothing else is affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FrameError {
    /// A frame announced zero bytes (never produced by a conforming peer).
    #[error("empty frame")]
    Empty,
    /// A frame announced more bytes than this connection allows.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    Oversize {
        /// Announced length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
}

/// Writes one frame (header and body) to `out`.
///
/// # Errors
/// [`FrameError::Empty`] or [`FrameError::Oversize`] when the body cannot be framed.
pub fn encode_frame(body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    let len = u16::try_from(body.len()).map_err(|_| FrameError::Oversize {
        len: body.len(),
        max: MAX_FRAME,
    })?;
    if len == 0 {
        return Err(FrameError::Empty);
    }
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// Reads the length announced by a frame header, refusing empty and oversize frames.
///
/// # Errors
/// [`FrameError::Empty`] or [`FrameError::Oversize`].
pub fn frame_length(header: [u8; FRAME_HEADER], max: usize) -> Result<usize, FrameError> {
    let len = usize::from(u16::from_be_bytes(header));
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > max {
        return Err(FrameError::Oversize { len, max });
    }
    Ok(len)
}

/// Incremental frame splitter for byte streams that arrive in arbitrary pieces.
#[derive(Debug, Clone, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max: usize,
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max` bytes (at most [`MAX_FRAME`]).
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max: max.min(MAX_FRAME),
        }
    }

    /// Appends received bytes.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame body, if one has arrived.
    ///
    /// # Errors
    /// A [`FrameError`] once the stream holds a bad header; the stream is then unusable.
    pub fn poll_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(header) = self.buf.first_chunk::<FRAME_HEADER>() else {
            return Ok(None);
        };
        let len = frame_length(*header, self.max)?;
        if self.buf.len() < FRAME_HEADER + len {
            return Ok(None);
        }
        let body = self.buf[FRAME_HEADER..FRAME_HEADER + len].to_vec();
        self.buf.drain(..FRAME_HEADER + len);
        Ok(Some(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_plaintext_is_the_65519_bytes_spec_md_names() {
        // SPEC.md §4: a Noise message is at most 65,535 bytes, of which 16 are the AEAD tag.
        assert_eq!(MAX_FRAME, 65_535);
        assert_eq!(MAX_PLAINTEXT, 65_519);
    }

    #[test]
    fn a_partial_frame_is_no_frame_yet_and_one_of_exactly_the_limit_is_read() {
        let mut decoder = FrameDecoder::new(1024);
        assert_eq!(decoder.poll_frame(), Ok(None), "nothing yet");
        decoder.handle_bytes(&[0x00]);
        assert_eq!(decoder.poll_frame(), Ok(None), "half a header");
        decoder.handle_bytes(&[0x03, 1, 2]);
        assert_eq!(decoder.poll_frame(), Ok(None), "a header and part of its body");
        decoder.handle_bytes(&[3]);
        assert_eq!(decoder.poll_frame(), Ok(Some(vec![1, 2, 3])));
        assert_eq!(decoder.poll_frame(), Ok(None), "nothing left");
        let mut stream = Vec::new();
        encode_frame(&[7u8; 1024], &mut stream).expect("frame");
        decoder.handle_bytes(&stream);
        assert_eq!(decoder.poll_frame(), Ok(Some(vec![7u8; 1024])), "exactly the limit");
        assert_eq!(frame_length(1024u16.to_be_bytes(), 1024), Ok(1024));
        assert_eq!(
            frame_length(1025u16.to_be_bytes(), 1024),
            Err(FrameError::Oversize { len: 1025, max: 1024 })
        );
    }

    #[test]
    fn frames_split_across_arbitrary_reads_are_reassembled() {
        let mut stream = Vec::new();
        encode_frame(b"hello", &mut stream).expect("frame");
        encode_frame(&[9u8; 300], &mut stream).expect("frame");
        let mut decoder = FrameDecoder::new(MAX_FRAME);
        let mut frames = Vec::new();
        for byte in &stream {
            decoder.handle_bytes(std::slice::from_ref(byte));
            // Bounded, so a decoder that never says "no frame yet" fails here instead of hanging.
            for _ in 0..4 {
                match decoder.poll_frame().expect("valid stream") {
                    Some(frame) => frames.push(frame),
                    None => break,
                }
            }
            assert!(frames.len() <= 2, "more frames than were sent");
        }
        assert_eq!(frames, vec![b"hello".to_vec(), vec![9u8; 300]]);
    }

    #[test]
    fn decoder_refuses_empty_and_oversize_frames() {
        let mut decoder = FrameDecoder::new(1024);
        decoder.handle_bytes(&[0, 0]);
        assert_eq!(decoder.poll_frame(), Err(FrameError::Empty));
        let mut decoder = FrameDecoder::new(1024);
        decoder.handle_bytes(&[0x04, 0x01]);
        assert_eq!(decoder.poll_frame(), Err(FrameError::Oversize { len: 1025, max: 1024 }));
    }

    #[test]
    fn encoder_refuses_bodies_a_u16_cannot_describe() {
        let mut out = Vec::new();
        assert_eq!(encode_frame(&[], &mut out), Err(FrameError::Empty));
        assert_eq!(
            encode_frame(&vec![0u8; MAX_FRAME + 1], &mut out),
            Err(FrameError::Oversize {
                len: MAX_FRAME + 1,
                max: MAX_FRAME
            })
        );
        assert!(out.is_empty());
    }
}
