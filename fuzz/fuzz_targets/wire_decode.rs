//! Frames and messages: every decoder a peer's bytes reach on the job channel, job and client
//! messages and the scheduler's replies, and both frame splitters (the core's sans-IO
//! `FrameDecoder` and the server's `FrameReader`). None may panic; whatever decodes must
//! re-encode to the same bytes (the encoding is canonical; de-duplication relies on it); and
//! the two splitters must cut any byte stream, delivered in any pieces, into the same frames
//! and refuse it at the same point. Selector 3 still feeds the bootstrap decoders, as this
//! target always did; `bootstrap_lines` covers them in depth.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use protocol_core::bootstrap::{decode_key_reply, decode_offer, decode_registration};
use protocol_core::wire::{
    FrameDecoder, FrameError, JobBody, MAX_FRAME, MAX_MESSAGE_TEXT, MAX_OUTPUT_NAME, Message, Reply,
};
use protocol_net::framing::{ConnError, FrameReader};

/// Runs a future that never waits (reads from a byte slice complete at once).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a read from memory waited"),
    }
}

fn check_message(bytes: &[u8]) {
    let Ok(message) = Message::decode(bytes) else { return };
    assert_eq!(message.to_bytes(), bytes, "message encoding is not canonical");
    assert_eq!(Message::decode(&message.to_bytes()), Ok(message.clone()));
    assert!(message.seq() >= 1, "sequence numbers start at 1");
    if let Message::Job(m) = &message {
        match &m.body {
            JobBody::Message { text, .. } => {
                assert!(text.len() <= MAX_MESSAGE_TEXT);
                assert!(!text.chars().any(|c| c.is_control() && c != '\t' && c != '\n'));
            }
            JobBody::Output(name) => assert!(!name.as_str().is_empty() && name.as_str().len() <= MAX_OUTPUT_NAME),
            _ => {}
        }
    }
}

/// What one splitter made of a stream: the frames, and the error that ended it, if any.
type Split = (Vec<Vec<u8>>, Option<FrameError>);

fn split_with_decoder(pieces: &[&[u8]], max: usize) -> Split {
    let mut decoder = FrameDecoder::new(max);
    let mut frames = Vec::new();
    for piece in pieces {
        decoder.handle_bytes(piece);
        loop {
            match decoder.poll_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

fn split_with_reader(pieces: &[&[u8]], max: usize) -> Split {
    let mut reader = FrameReader::new(max);
    let mut frames = Vec::new();
    for piece in pieces {
        let mut rest: &[u8] = piece;
        while !rest.is_empty() {
            match now(reader.fill(&mut rest)) {
                Ok(()) => {}
                Err(ConnError::Closed) => panic!("a non-empty read reported end of stream"),
                Err(e) => panic!("reading from memory failed: {e}"),
            }
            loop {
                match reader.next_frame() {
                    Ok(Some(frame)) => frames.push(frame.to_vec()),
                    Ok(None) => break,
                    Err(e) => return (frames, Some(e)),
                }
            }
        }
        assert!(reader.buffered() <= piece.len() + max + 2);
    }
    (frames, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => check_message(rest),
        1 => {
            if let Ok(reply) = Reply::decode(rest) {
                let mut out = Vec::new();
                reply.encode(&mut out);
                assert_eq!(out, rest, "reply encoding is not canonical");
            }
        }
        2 => {
            // Byte 0: the frame limit (the server's 1024 for handshakes, a full frame, or a
            // small one); byte 1: the size of the pieces the stream arrives in.
            let [limit, piece, stream @ ..] = rest else { return };
            let max = match limit % 4 {
                0 => 1024,
                1 => MAX_FRAME,
                _ => usize::from(*limit),
            };
            let pieces: Vec<&[u8]> = stream.chunks(usize::from(*piece % 32) + 1).collect();
            let by_decoder = split_with_decoder(&pieces, max);
            let by_reader = split_with_reader(&pieces, max);
            assert_eq!(by_decoder, by_reader, "the two frame splitters disagree");
            for frame in &by_decoder.0 {
                assert!(!frame.is_empty() && frame.len() <= max.min(MAX_FRAME));
                check_message(frame);
            }
        }
        _ => {
            let _ = decode_offer(rest);
            let _ = decode_key_reply(rest);
            let _ = decode_registration(rest);
        }
    }
});
