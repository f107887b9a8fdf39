//! Empty: it exists so that the `[build-dependencies]` of Cargo.toml, which
//! only unify features of proc macros' dependencies, take part in the build.

fn main() {}
