//! Crate docs.
//! More docs.

use std::fmt;

/// A thing.
pub struct Thing {
    // a field comment
    value: u32, // trailing comment

    name: String,
}

/* A block comment
   across lines */
fn main() {
    let s = "// not a comment";
    let t = "/* nor this */";
    /* inline */ let x = 1;
    println!("{s}{t}{x}");
}
