//! Every decoder a peer's bytes reach: frames, job and client messages, replies and the
//! bootstrap lines. None may panic, and whatever decodes must re-encode to the same bytes
//! (the encoding is canonical; de-duplication relies on it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol_core::bootstrap::{decode_key_reply, decode_offer, decode_registration};
use protocol_core::wire::{FrameDecoder, Message, Reply, MAX_FRAME};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 4 {
        0 => {
            if let Ok(message) = Message::decode(rest) {
                assert_eq!(message.to_bytes(), rest, "message encoding is not canonical");
            }
        }
        1 => {
            if let Ok(reply) = Reply::decode(rest) {
                let mut out = Vec::new();
                reply.encode(&mut out);
                assert_eq!(out, rest, "reply encoding is not canonical");
            }
        }
        2 => {
            let mut frames = FrameDecoder::new(MAX_FRAME);
            for chunk in rest.chunks(7) {
                frames.handle_bytes(chunk);
                loop {
                    match frames.poll_frame() {
                        Ok(Some(frame)) => {
                            let _ = Message::decode(&frame);
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        _ => {
            let _ = decode_offer(rest);
            let _ = decode_key_reply(rest);
            let _ = decode_registration(rest);
        }
    }
});
