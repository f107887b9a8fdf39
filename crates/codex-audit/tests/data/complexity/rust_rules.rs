#![allow(dead_code)]
//! Rules fixture.

/// Let chains: only the `&&` before the first `let` and after it are chain tokens.
pub(crate) fn chains(a: Option<u8>, b: bool, c: bool) -> u8 {
    if b && c && let Some(x) = a && x > 1 && b {
        return x;
    }
    while let Some(y) = a && c {
        break;
    }
    0
}

fn guards(v: Option<u8>, f: bool) -> u8 {
    match v {
        Some(x) if x > 1 && f => 1,
        Some(x) if let Some(y) = Some(x) && f => y,
        Some(_) => {
            2
        }
        None => if f { 3 } else { 4 },
    }
}

fn closures(v: &[u8], d: &&u8) -> bool {
    let f = || true;
    let g = move || v.is_empty() || f();
    let h = std::convert::identity(#[inline] || g());
    assert!(v.len() > 1 && h());
    for &&x in [d].iter() {
        let _ = x;
    }
    matches!(v.first(), Some(1)) && vec![1][0] > 0 || h()
}

fn blocks(mut n: u32, it: &mut dyn Iterator<Item = u8>) -> [u8; { 1 + 1 }] {
    while {
        n >>= 1;
        n
    } != 0
    {
        if n == 3 { break; }
    }
    while let Some(b) = if n > 2 { it.next() } else { None } {
        let _ = b;
    }
    if match n { 0 => true, _ => false } {
        n += 1;
    }
    for _ in 0.. {
        break;
    }
    let x = unsafe { 1.5f32 } as u32 + 2. as u32;
    if 1. < 2.0 || x > 0 {}
    [0; 2]
}

struct S<const N: usize>;
trait T { fn sig(&self, a: u8); fn dflt(&self) -> u8 { if true { 1 } else { 2 } } }
impl<const N: usize> T for S<{ N }> where S<N>: Sized {
    fn sig(&self, _a: u8) {}
}
impl S<1> {
    pub const unsafe fn qualified(
        #[allow(unused)] a: u8, // comment
        /* block */ b: (u8, u8),
        c: std::collections::HashMap<u8, u16>,
    ) -> u8 {
        let s = r#"fn fake() { if x {} }"#;
        let c = '"';
        let l: &'static str = "}";
        fn inner(x: bool) -> bool { x || !x }
        a
    }
}
impl<'a> Iterator for <S<2> as Tr<'a>>::Out { }
