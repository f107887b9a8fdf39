//! Seeding: one master seed, and per-component seeds derived from it by name.
//!
//! Derivation: `seed(component) = u64::from_le_bytes(first 8 bytes of
//! BLAKE3.derive_key("codex 2026 seed derivation v1", master.to_le_bytes() ++ component))`.
//! It depends only on the master seed and the component's name, so adding a
//! component never shifts the seeds of the others, and the result is the same
//! on every platform and thread count.

use serde::{Deserialize, Serialize};

const CONTEXT: &str = "codex 2026 seed derivation v1";

/// The run's master seed and the derivation of component seeds from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Seeds {
    master: u64,
}

impl Seeds {
    /// Names of the components codex derives seeds for, so that provenance can list them.
    pub const COMPONENTS: &'static [&'static str] = &[
        "data.shuffle",
        "data.split",
        "data.sampler",
        "data.synth",
        "model.init",
        "train.dropout",
        "generate.sampling",
        "eval.bootstrap",
    ];

    /// Wraps a master seed.
    pub fn new(master: u64) -> Self {
        Self { master }
    }

    /// The master seed.
    pub fn master(&self) -> u64 {
        self.master
    }

    /// The seed for a named component, e.g. `"model.init"`.
    pub fn derive(&self, component: &str) -> u64 {
        let mut material = Vec::with_capacity(8 + component.len());
        material.extend_from_slice(&self.master.to_le_bytes());
        material.extend_from_slice(component.as_bytes());
        let key = blake3::derive_key(CONTEXT, &material);
        u64::from_le_bytes(key[..8].try_into().expect("32-byte key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_stable() {
        // Pinned literals: a change to the derivation would silently change every
        // run's randomness, so it must fail here first. Cross-checked against the
        // Python `blake3` package computing the documented formula.
        let s = Seeds::new(1337);
        assert_eq!(
            [
                s.derive("model.init"),
                s.derive("data.split"),
                Seeds::new(0).derive("model.init")
            ],
            [647042382640321108, 2607225355953545582, 7019189120048453563]
        );
    }

    #[test]
    fn components_and_masters_differ() {
        let a = Seeds::new(0);
        let b = Seeds::new(1);
        let mut seen = std::collections::HashSet::new();
        for c in Seeds::COMPONENTS {
            assert!(seen.insert(a.derive(c)), "collision for {c}");
            assert!(seen.insert(b.derive(c)), "collision for {c}");
        }
    }
}
