//! Sans-IO wrappers around snow for the job channel's `Noise_IK_25519_ChaChaPoly_BLAKE2s`.
//!
//! The wrappers add what snow leaves to the application: validation of the ephemeral and static
//! keys that arrive in handshake messages (snow accepts low-order points), the prologue that binds
//! protocol version and workflow, and the rule that handshake payloads are empty.

use std::fmt;

use zeroize::Zeroizing;

use crate::ids::WorkflowId;
use crate::keys::{KEY_LEN, KeyError, PublicKey, StaticKeypair, validate_public_key};
use crate::wire::{MAX_FRAME, MAX_PLAINTEXT};

/// The Noise protocol name.
pub const NOISE_PARAMS: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
/// First bytes of every prologue; the version is bound into the handshake through it.
pub const PROLOGUE_LABEL: &[u8] = b"threatcheck-job-channel/1";
/// Length of IK's first message with an empty payload: e (32), s (32 + 16), payload tag (16).
pub const FIRST_MESSAGE_LEN: usize = 96;
/// Length of IK's second message with an empty payload: e (32), payload tag (16).
pub const SECOND_MESSAGE_LEN: usize = 48;
/// AEAD tag length.
pub const TAG_LEN: usize = 16;

/// Why a handshake or transport operation failed. Carries no key material.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum NoiseError {
    /// The handshake message failed to authenticate or was malformed (snow's verdict).
    #[error("handshake message refused")]
    Handshake,
    /// A handshake message had the wrong length.
    #[error("handshake message of {got} bytes, expected {expected}")]
    HandshakeLength {
        /// Bytes received.
        got: usize,
        /// Bytes expected with an empty payload.
        expected: usize,
    },
    /// The peer's ephemeral key is non-canonical or of low order.
    #[error("peer ephemeral key refused: {0}")]
    BadEphemeral(KeyError),
    /// The peer's static key is non-canonical or of low order.
    #[error("peer static key refused: {0}")]
    BadStatic(KeyError),
    /// A transport frame failed to decrypt (tampered, replayed, reordered or truncated).
    #[error("transport frame failed to decrypt")]
    Decrypt,
    /// A plaintext too large for one frame.
    #[error("plaintext of {0} bytes exceeds one frame")]
    TooLarge(usize),
    /// snow refused an operation it should not (parameters, state).
    #[error("noise state error")]
    State,
}

/// The prologue for a workflow's job channel: label, a zero byte, then the workflow id.
#[must_use]
pub fn prologue(workflow: &WorkflowId) -> Vec<u8> {
    let mut p = PROLOGUE_LABEL.to_vec();
    p.push(0);
    p.extend_from_slice(workflow.to_string().as_bytes());
    p
}

fn builder<'a>(local: &'a [u8], prologue: &'a [u8]) -> Result<snow::Builder<'a>, NoiseError> {
    let params = NOISE_PARAMS.parse().map_err(|_| NoiseError::State)?;
    snow::Builder::new(params)
        .local_private_key(local)
        .and_then(|b| b.prologue(prologue))
        .map_err(|_| NoiseError::State)
}

fn check_ephemeral(message: &[u8]) -> Result<(), NoiseError> {
    let e = message.get(..KEY_LEN).ok_or(NoiseError::Handshake)?;
    validate_public_key(e).map(|_| ()).map_err(NoiseError::BadEphemeral)
}

/// Job side of the handshake.
pub struct Initiator {
    state: snow::HandshakeState,
}

impl Initiator {
    /// Starts a handshake to `scheduler`, whose key the job learnt on the bootstrap channel.
    ///
    /// # Errors
    /// [`NoiseError::State`] if snow refuses the parameters.
    pub fn new(local: &StaticKeypair, scheduler: &PublicKey, prologue: &[u8]) -> Result<Self, NoiseError> {
        let secret = local.secret_bytes();
        let state = builder(secret.as_slice(), prologue)?
            .remote_public_key(scheduler.as_bytes())
            .and_then(snow::Builder::build_initiator)
            .map_err(|_| NoiseError::State)?;
        Ok(Self { state })
    }

    /// The first handshake message, with an empty payload.
    ///
    /// # Errors
    /// [`NoiseError::State`].
    pub fn write_first(&mut self) -> Result<Vec<u8>, NoiseError> {
        self.write_first_with_payload(&[])
    }

    /// The first handshake message carrying `payload`. Conforming jobs never send one; this
    /// exists so tests and attack harnesses can show the scheduler refuses it.
    ///
    /// # Errors
    /// [`NoiseError::State`].
    pub fn write_first_with_payload(&mut self, payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let mut out = vec![0u8; FIRST_MESSAGE_LEN + payload.len()];
        let n = self
            .state
            .write_message(payload, &mut out)
            .map_err(|_| NoiseError::State)?;
        out.truncate(n);
        Ok(out)
    }

    /// Reads the scheduler's answer and completes the handshake.
    ///
    /// # Errors
    /// [`NoiseError::HandshakeLength`], [`NoiseError::BadEphemeral`] or [`NoiseError::Handshake`].
    pub fn read_second(mut self, message: &[u8]) -> Result<Transport, NoiseError> {
        if message.len() != SECOND_MESSAGE_LEN {
            return Err(NoiseError::HandshakeLength {
                got: message.len(),
                expected: SECOND_MESSAGE_LEN,
            });
        }
        check_ephemeral(message)?;
        let mut payload = [0u8; SECOND_MESSAGE_LEN];
        let n = self
            .state
            .read_message(message, &mut payload)
            .map_err(|_| NoiseError::Handshake)?;
        if n != 0 {
            return Err(NoiseError::Handshake);
        }
        Transport::from_handshake(self.state)
    }
}

impl fmt::Debug for Initiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Initiator").finish_non_exhaustive()
    }
}

/// What the responder learnt from the first handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstMessage {
    /// The initiator's static key, authenticated by the `ss` DH once the handshake completes.
    pub peer: PublicKey,
    /// The first payload. Conforming peers send none, and the scheduler never acts on one: it
    /// is replayable and, in IK, forgeable by anyone holding the scheduler's key (KCI).
    pub payload: Zeroizing<Vec<u8>>,
}

/// Scheduler side of the handshake.
pub struct Responder {
    state: snow::HandshakeState,
}

impl Responder {
    /// Prepares to answer one handshake.
    ///
    /// # Errors
    /// [`NoiseError::State`] if snow refuses the parameters.
    pub fn new(local: &StaticKeypair, prologue: &[u8]) -> Result<Self, NoiseError> {
        let secret = local.secret_bytes();
        let state = builder(secret.as_slice(), prologue)?
            .build_responder()
            .map_err(|_| NoiseError::State)?;
        Ok(Self { state })
    }

    /// Reads the job's first message.
    ///
    /// # Errors
    /// [`NoiseError::HandshakeLength`] (below the minimum or above one frame),
    /// [`NoiseError::BadEphemeral`], [`NoiseError::BadStatic`] or [`NoiseError::Handshake`].
    pub fn read_first(&mut self, message: &[u8]) -> Result<FirstMessage, NoiseError> {
        if message.len() < FIRST_MESSAGE_LEN || message.len() > MAX_FRAME {
            return Err(NoiseError::HandshakeLength {
                got: message.len(),
                expected: FIRST_MESSAGE_LEN,
            });
        }
        check_ephemeral(message)?;
        let mut payload = Zeroizing::new(vec![0u8; message.len()]);
        let n = self
            .state
            .read_message(message, &mut payload)
            .map_err(|_| NoiseError::Handshake)?;
        payload.truncate(n);
        let peer = self.state.get_remote_static().ok_or(NoiseError::Handshake)?;
        let peer = validate_public_key(peer).map_err(NoiseError::BadStatic)?;
        Ok(FirstMessage { peer, payload })
    }

    /// Writes the answer and completes the handshake.
    ///
    /// # Errors
    /// [`NoiseError::State`].
    pub fn write_second(mut self) -> Result<(Vec<u8>, Transport), NoiseError> {
        let mut out = vec![0u8; SECOND_MESSAGE_LEN];
        let n = self.state.write_message(&[], &mut out).map_err(|_| NoiseError::State)?;
        out.truncate(n);
        Ok((out, Transport::from_handshake(self.state)?))
    }
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder").finish_non_exhaustive()
    }
}

/// An established channel: encrypts and decrypts transport frames in order.
pub struct Transport {
    state: snow::TransportState,
    /// Only in weakened builds: frames carry plaintexts as they are (see
    /// [`Transport::into_plaintext`]).
    #[cfg(feature = "weaken")]
    plaintext: bool,
}

impl Transport {
    fn from_handshake(state: snow::HandshakeState) -> Result<Self, NoiseError> {
        Ok(Self {
            state: state.into_transport_mode().map_err(|_| NoiseError::State)?,
            #[cfg(feature = "weaken")]
            plaintext: false,
        })
    }

    /// Encrypts one plaintext into `out` (cleared first), ready to frame.
    ///
    /// # Errors
    /// [`NoiseError::TooLarge`] or [`NoiseError::State`].
    pub fn encrypt(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), NoiseError> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(NoiseError::TooLarge(plaintext.len()));
        }
        #[cfg(feature = "weaken")]
        if weakened::in_the_clear(self, plaintext, out) {
            return Ok(());
        }
        out.clear();
        out.resize(plaintext.len() + TAG_LEN, 0);
        let n = self
            .state
            .write_message(plaintext, out)
            .map_err(|_| NoiseError::State)?;
        out.truncate(n);
        Ok(())
    }

    /// Decrypts one frame body into `out` (cleared first).
    ///
    /// # Errors
    /// [`NoiseError::Decrypt`] for anything that fails to authenticate.
    pub fn decrypt(&mut self, frame: &[u8], out: &mut Vec<u8>) -> Result<(), NoiseError> {
        #[cfg(feature = "weaken")]
        if weakened::in_the_clear(self, frame, out) {
            return Ok(());
        }
        if frame.len() < TAG_LEN {
            return Err(NoiseError::Decrypt);
        }
        out.clear();
        out.resize(frame.len() - TAG_LEN, 0);
        let n = self.state.read_message(frame, out).map_err(|_| NoiseError::Decrypt)?;
        out.truncate(n);
        Ok(())
    }
}

/// Verification builds only: the transport without encryption or integrity.
#[cfg(feature = "weaken")]
mod weakened {
    use super::Transport;

    impl Transport {
        /// The same channel carrying every later frame in the clear, without encryption or
        /// integrity: the design without transport protection, for attack controls that must
        /// show what a passive or active network attacker gains from it. Both ends must switch.
        #[must_use]
        pub fn into_plaintext(mut self) -> Self {
            self.plaintext = true;
            self
        }
    }

    /// For a plaintext transport, copies `input` to `out` as it is and says so.
    pub(super) fn in_the_clear(t: &Transport, input: &[u8], out: &mut Vec<u8>) -> bool {
        if t.plaintext {
            out.clear();
            out.extend_from_slice(input);
        }
        t.plaintext
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(name: &str) -> WorkflowId {
        WorkflowId::new("alice", name).expect("valid")
    }

    fn handshake(
        job: &StaticKeypair,
        sched: &StaticKeypair,
        job_wf: &str,
        sched_wf: &str,
    ) -> Result<(Transport, Transport, PublicKey), NoiseError> {
        let mut init = Initiator::new(job, &sched.public(), &prologue(&wf(job_wf)))?;
        let mut resp = Responder::new(sched, &prologue(&wf(sched_wf)))?;
        let first = resp.read_first(&init.write_first()?)?;
        let (second, resp_t) = resp.write_second()?;
        let init_t = init.read_second(&second)?;
        Ok((init_t, resp_t, first.peer))
    }

    #[test]
    fn handshake_authenticates_the_job_key_and_carries_messages() {
        let job = StaticKeypair::generate_from_os();
        let sched = StaticKeypair::generate_from_os();
        let (mut j, mut s, peer) = handshake(&job, &sched, "wf", "wf").expect("handshake");
        assert_eq!(peer, job.public());
        let (mut frame, mut plain) = (Vec::new(), Vec::new());
        j.encrypt(b"started", &mut frame).expect("encrypt");
        s.decrypt(&frame, &mut plain).expect("decrypt");
        assert_eq!(plain, b"started");
    }

    #[test]
    fn handshake_fails_when_the_prologue_names_another_workflow() {
        let job = StaticKeypair::generate_from_os();
        let sched = StaticKeypair::generate_from_os();
        assert!(matches!(
            handshake(&job, &sched, "wf", "other"),
            Err(NoiseError::Handshake)
        ));
    }

    #[test]
    fn handshake_fails_against_an_impostor_scheduler_key() {
        let job = StaticKeypair::generate_from_os();
        let real = StaticKeypair::generate_from_os();
        let impostor = StaticKeypair::generate_from_os();
        let mut init = Initiator::new(&job, &real.public(), &prologue(&wf("wf"))).expect("init");
        let mut resp = Responder::new(&impostor, &prologue(&wf("wf"))).expect("resp");
        assert_eq!(
            resp.read_first(&init.write_first().expect("write")),
            Err(NoiseError::Handshake)
        );
    }

    #[test]
    fn a_first_message_outside_its_length_bounds_is_refused_by_length_alone() {
        let sched = StaticKeypair::generate_from_os();
        let mut resp = Responder::new(&sched, &prologue(&wf("wf"))).expect("resp");
        for len in [0, FIRST_MESSAGE_LEN - 1, MAX_FRAME + 1, MAX_FRAME + 2] {
            // A valid ephemeral in front, so only the length can be what refuses it.
            let mut msg = vec![0x09u8; len];
            if let Some(b) = msg.get_mut(31) {
                *b = 0x10;
            }
            assert_eq!(
                resp.read_first(&msg),
                Err(NoiseError::HandshakeLength {
                    got: len,
                    expected: FIRST_MESSAGE_LEN
                }),
                "{len} bytes"
            );
        }
        // At the bounds the length passes and the handshake itself fails.
        for len in [FIRST_MESSAGE_LEN, MAX_FRAME] {
            let mut msg = vec![0x09u8; len];
            msg[31] = 0x10;
            assert_eq!(resp.read_first(&msg), Err(NoiseError::Handshake), "{len} bytes");
        }
    }

    #[test]
    fn noise_states_debug_as_their_names_and_nothing_secret() {
        let job = StaticKeypair::generate_from_os();
        let sched = StaticKeypair::generate_from_os();
        let init = Initiator::new(&job, &sched.public(), &prologue(&wf("wf"))).expect("init");
        let resp = Responder::new(&sched, &prologue(&wf("wf"))).expect("resp");
        let (j, _, _) = handshake(&job, &sched, "wf", "wf").expect("handshake");
        for (debug, name) in [
            (format!("{init:?}"), "Initiator"),
            (format!("{resp:?}"), "Responder"),
            (format!("{j:?}"), "Transport"),
        ] {
            assert!(debug.starts_with(name), "{debug}");
            for secret in [job.secret_bytes(), sched.secret_bytes()] {
                assert!(!debug.contains(&hex::encode(&secret[..6])), "{debug}");
            }
        }
    }

    #[test]
    fn empty_and_largest_plaintexts_round_trip_and_one_byte_more_is_too_large() {
        let job = StaticKeypair::generate_from_os();
        let sched = StaticKeypair::generate_from_os();
        let (mut j, mut s, _) = handshake(&job, &sched, "wf", "wf").expect("handshake");
        let (mut frame, mut plain) = (Vec::new(), Vec::new());
        for len in [0, 1, MAX_PLAINTEXT] {
            let sent = vec![0x5a; len];
            j.encrypt(&sent, &mut frame).expect("encrypt");
            assert_eq!(frame.len(), len + TAG_LEN);
            s.decrypt(&frame, &mut plain).expect("decrypt");
            assert_eq!(plain, sent, "{len} bytes");
        }
        for len in [MAX_PLAINTEXT + 1, MAX_PLAINTEXT + 2] {
            assert_eq!(j.encrypt(&vec![0; len], &mut frame), Err(NoiseError::TooLarge(len)));
        }
    }

    #[test]
    fn responder_refuses_a_low_order_ephemeral_before_any_dh() {
        let sched = StaticKeypair::generate_from_os();
        let mut resp = Responder::new(&sched, &prologue(&wf("wf"))).expect("resp");
        let mut msg = vec![0u8; FIRST_MESSAGE_LEN];
        msg[0] = 1;
        assert_eq!(resp.read_first(&msg), Err(NoiseError::BadEphemeral(KeyError::LowOrder)));
    }

    #[test]
    fn tampered_replayed_and_truncated_frames_fail_to_decrypt() {
        let job = StaticKeypair::generate_from_os();
        let sched = StaticKeypair::generate_from_os();
        let (mut j, mut s, _) = handshake(&job, &sched, "wf", "wf").expect("handshake");
        let (mut f1, mut plain) = (Vec::new(), Vec::new());
        j.encrypt(b"one", &mut f1).expect("encrypt");
        let mut flipped = f1.clone();
        flipped[0] ^= 1;
        assert_eq!(s.decrypt(&flipped, &mut plain), Err(NoiseError::Decrypt));
        let (mut j, mut s, _) = handshake(&job, &sched, "wf", "wf").expect("handshake");
        j.encrypt(b"one", &mut f1).expect("encrypt");
        s.decrypt(&f1, &mut plain).expect("first delivery");
        assert_eq!(s.decrypt(&f1, &mut plain), Err(NoiseError::Decrypt), "replay");
        assert_eq!(s.decrypt(&f1[..10], &mut plain), Err(NoiseError::Decrypt), "truncated");
    }

    #[cfg(feature = "weaken")]
    #[test]
    fn a_plaintext_transport_carries_messages_in_the_clear_and_accepts_altered_frames() {
        let job = StaticKeypair::generate_from_os();
        let sched = StaticKeypair::generate_from_os();
        let (j, s, _) = handshake(&job, &sched, "wf", "wf").expect("handshake");
        let (mut j, mut s) = (j.into_plaintext(), s.into_plaintext());
        let (mut frame, mut plain) = (Vec::new(), Vec::new());
        j.encrypt(b"started", &mut frame).expect("encode");
        assert_eq!(frame, b"started", "nothing hides the message");
        frame[0] ^= 1;
        s.decrypt(&frame, &mut plain).expect("nothing protects it either");
        assert_eq!(plain, b"rtarted");
    }

    #[test]
    fn first_payload_is_surfaced_so_the_scheduler_can_refuse_it() {
        let job = StaticKeypair::generate_from_os();
        let sched = StaticKeypair::generate_from_os();
        let mut init = Initiator::new(&job, &sched.public(), &prologue(&wf("wf"))).expect("init");
        let mut resp = Responder::new(&sched, &prologue(&wf("wf"))).expect("resp");
        let first = resp
            .read_first(&init.write_first_with_payload(b"act on me").expect("write"))
            .expect("read");
        assert_eq!(first.payload.as_slice(), b"act on me");
    }
}
