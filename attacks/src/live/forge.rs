//! First handshake messages forged for a static key the attacker does not hold.
//!
//! In IK the first message authenticates the initiator's static key `s` only through the `ss`
//! Diffie-Hellman. Whoever holds the scheduler's private key can compute `ss` for any job key
//! from the responder's side — DH(scheduler secret, job public) equals DH(job secret,
//! scheduler public) — and so forge a first message "from" that job: key-compromise
//! impersonation. snow's API cannot build such a message, so this module gives snow a custom
//! [`snow::types::Dh`] whose static half claims the victim's public key and returns that
//! precomputed `ss`; the ephemeral half is an ordinary X25519 key. The same trick, with an
//! all-zero `ss`, handshakes as a low-order point, which needs no secret at all.

use protocol_core::PublicKey;
use protocol_core::keys::LOW_ORDER_POINTS;
use protocol_core::noise::NOISE_PARAMS;
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::{CryptoResolver, DefaultResolver, RingResolver};
use snow::types::{Cipher, Dh, Hash, Random};
use zeroize::Zeroizing;

/// Why a forged message could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// snow refused the parameters or the message.
    #[error("snow: {0}")]
    Snow(#[from] snow::Error),
}

/// A static key as an impostor holds it: a public key it claims, and the `ss` result it
/// arranged in advance.
struct ForcedStatic {
    public: [u8; 32],
    shared: Zeroizing<[u8; 32]>,
}

/// An X25519 half that is either ordinary (the ephemeral) or forced (the static).
struct ImpostorDh {
    inner: Box<dyn Dh>,
    forced: Option<ForcedStatic>,
}

impl Dh for ImpostorDh {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn pub_len(&self) -> usize {
        self.inner.pub_len()
    }

    fn priv_len(&self) -> usize {
        self.inner.priv_len()
    }

    fn set(&mut self, privkey: &[u8]) {
        // The static half is set from a placeholder key; the forced public key stands.
        self.inner.set(privkey);
    }

    fn generate(&mut self, rng: &mut dyn Random) -> Result<(), snow::Error> {
        // Only the ephemeral half is generated: it is a real key.
        self.forced = None;
        self.inner.generate(rng)
    }

    fn pubkey(&self) -> &[u8] {
        self.forced
            .as_ref()
            .map_or_else(|| self.inner.pubkey(), |f| f.public.as_slice())
    }

    fn privkey(&self) -> &[u8] {
        self.inner.privkey()
    }

    fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
        match &self.forced {
            Some(f) => {
                let n = out.len().min(32);
                out[..n].copy_from_slice(&f.shared[..n]);
                Ok(())
            }
            None => self.inner.dh(pubkey, out),
        }
    }
}

struct ImpostorResolver {
    public: [u8; 32],
    shared: Zeroizing<[u8; 32]>,
}

impl CryptoResolver for ImpostorResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        // This workspace builds snow with ring, which supplies the randomness.
        RingResolver.resolve_rng().or_else(|| DefaultResolver.resolve_rng())
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        Some(Box::new(ImpostorDh {
            inner: DefaultResolver.resolve_dh(choice)?,
            forced: Some(ForcedStatic {
                public: self.public,
                shared: self.shared.clone(),
            }),
        }))
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        RingResolver
            .resolve_hash(choice)
            .or_else(|| DefaultResolver.resolve_hash(choice))
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        RingResolver
            .resolve_cipher(choice)
            .or_else(|| DefaultResolver.resolve_cipher(choice))
    }
}

fn first_message(
    claimed: [u8; 32],
    shared: Zeroizing<[u8; 32]>,
    scheduler: &PublicKey,
    prologue: &[u8],
    payload: &[u8],
) -> Result<Vec<u8>, ForgeError> {
    let params = NOISE_PARAMS.parse()?;
    let resolver = ImpostorResolver {
        public: claimed,
        shared,
    };
    // IK needs a local private key; the forced static half ignores it.
    let placeholder = [0x55u8; 32];
    let mut state = snow::Builder::with_resolver(params, Box::new(resolver))
        .local_private_key(&placeholder)?
        .remote_public_key(scheduler.as_bytes())?
        .prologue(prologue)?
        .build_initiator()?;
    let mut out = vec![0u8; 96 + payload.len() + 16];
    let n = state.write_message(payload, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// A first IK message claiming `victim`'s static key and carrying `payload`, built with the
/// scheduler's stolen private key (key-compromise impersonation).
///
/// # Errors
/// [`ForgeError`] if snow refuses the parameters.
pub fn kci_first_message(
    scheduler_secret: &[u8; 32],
    scheduler: &PublicKey,
    victim: &PublicKey,
    prologue: &[u8],
    payload: &[u8],
) -> Result<Vec<u8>, ForgeError> {
    let shared = Zeroizing::new(x25519_dalek::x25519(*scheduler_secret, *victim.as_bytes()));
    first_message(*victim.as_bytes(), shared, scheduler, prologue, payload)
}

/// A first IK message whose static key is the low-order point 0: its `ss` is all zeros, so
/// anyone can make it.
///
/// # Errors
/// [`ForgeError`] if snow refuses the parameters.
pub fn low_order_first_message(scheduler: &PublicKey, prologue: &[u8], payload: &[u8]) -> Result<Vec<u8>, ForgeError> {
    first_message(
        LOW_ORDER_POINTS[0],
        Zeroizing::new([0u8; 32]),
        scheduler,
        prologue,
        payload,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol_core::noise::{NoiseError, Responder, prologue};
    use protocol_core::{StaticKeypair, WorkflowId};

    #[test]
    fn a_kci_message_authenticates_as_the_victim_to_the_real_responder() {
        let secret = Zeroizing::new([7u8; 32]);
        let scheduler = StaticKeypair::from_secret(secret.clone());
        let victim = StaticKeypair::generate_from_os();
        let prologue = prologue(&WorkflowId::new("alice", "wf").expect("valid"));
        let forged =
            kci_first_message(&secret, &scheduler.public(), &victim.public(), &prologue, b"act on me").expect("forge");
        let mut responder = Responder::new(&scheduler, &prologue).expect("responder");
        let first = responder.read_first(&forged).expect("the responder believes it");
        assert_eq!(first.peer, victim.public());
        assert_eq!(first.payload.as_slice(), b"act on me");
    }

    #[test]
    fn without_the_scheduler_secret_the_forgery_fails() {
        let scheduler = StaticKeypair::generate_from_os();
        let victim = StaticKeypair::generate_from_os();
        let prologue = prologue(&WorkflowId::new("alice", "wf").expect("valid"));
        let wrong = [9u8; 32];
        let forged = kci_first_message(&wrong, &scheduler.public(), &victim.public(), &prologue, b"").expect("forge");
        let mut responder = Responder::new(&scheduler, &prologue).expect("responder");
        // The forged static key is sealed under a DH the forger got wrong: the AEAD fails.
        assert!(matches!(responder.read_first(&forged), Err(NoiseError::Handshake)));
    }
}
