//! A byte trie for piece lookup: built once, then frozen into a double array,
//! so each byte of a traversal costs two loads and a comparison, and traversal
//! stops at the first byte that no piece continues with.

const NONE: u32 = u32::MAX;

#[derive(Debug, Default, Clone)]
struct BuildNode {
    edges: Vec<(u8, u32)>,
    value: Option<u32>,
}

/// Collects keys; [`TrieBuilder::build`] freezes them.
#[derive(Debug, Clone)]
pub(crate) struct TrieBuilder {
    nodes: Vec<BuildNode>,
}

impl TrieBuilder {
    pub(crate) fn new() -> Self {
        Self {
            nodes: vec![BuildNode::default()],
        }
    }

    /// Inserts `key`; an existing key keeps its first value, as SentencePiece's
    /// piece map keeps the first occurrence.
    pub(crate) fn insert(&mut self, key: &[u8], value: u32) {
        let mut node = 0usize;
        for &b in key {
            let edges = &self.nodes[node].edges;
            node = match edges.binary_search_by_key(&b, |(e, _)| *e) {
                Ok(i) => edges[i].1 as usize,
                Err(at) => {
                    let next = self.nodes.len();
                    self.nodes.push(BuildNode::default());
                    self.nodes[node].edges.insert(at, (b, next as u32));
                    next
                }
            };
        }
        self.nodes[node].value.get_or_insert(value);
    }

    /// Freezes into a double array: slot `base[s] + b` holds the child of slot
    /// `s` along byte `b` when `check` of that slot names `s`.
    pub(crate) fn build(self) -> ByteTrie {
        let mut base: Vec<u32> = vec![0];
        let mut check: Vec<u32> = vec![NONE];
        let mut values: Vec<u32> = vec![self.nodes[0].value.unwrap_or(NONE)];
        // Slot 0 is the root; it is its own parent so that no step lands on it.
        check[0] = 0;
        let mut queue = std::collections::VecDeque::from([(0usize, 0usize)]);
        let mut free_from = 1usize;
        while let Some((node, slot)) = queue.pop_front() {
            let edges = &self.nodes[node].edges;
            if edges.is_empty() {
                continue;
            }
            while free_from < check.len() && check[free_from] != NONE {
                free_from += 1;
            }
            let first_label = usize::from(edges[0].0);
            // First fit: the smallest base whose child slots are all free.
            let mut b = free_from.saturating_sub(first_label).max(1);
            loop {
                let fits = edges.iter().all(|&(label, _)| {
                    let t = b + usize::from(label);
                    t >= check.len() || check[t] == NONE
                });
                if fits {
                    break;
                }
                b += 1;
            }
            let needed = b + 256;
            if check.len() < needed {
                base.resize(needed, 0);
                check.resize(needed, NONE);
                values.resize(needed, NONE);
            }
            base[slot] = b as u32;
            for &(label, child) in edges {
                let t = b + usize::from(label);
                check[t] = slot as u32;
                values[t] = self.nodes[child as usize].value.unwrap_or(NONE);
                queue.push_back((child as usize, t));
            }
        }
        ByteTrie {
            base,
            check,
            values,
        }
    }
}

/// The frozen trie, as a double array.
#[derive(Debug, Clone)]
pub(crate) struct ByteTrie {
    base: Vec<u32>,
    check: Vec<u32>,
    values: Vec<u32>,
}

impl ByteTrie {
    pub(crate) const ROOT: u32 = 0;

    /// The child of `node` along byte `b`.
    #[inline]
    pub(crate) fn step(&self, node: u32, b: u8) -> Option<u32> {
        let t = self.base[node as usize] as usize + usize::from(b);
        match self.check.get(t) {
            Some(&parent) if parent == node && t != 0 => Some(t as u32),
            _ => None,
        }
    }

    /// The value stored at `node`, if a key ends there.
    #[inline]
    pub(crate) fn value(&self, node: u32) -> Option<u32> {
        let v = self.values[node as usize];
        (v != NONE).then_some(v)
    }

    /// The value of exactly `key`.
    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Option<u32> {
        let mut node = Self::ROOT;
        for &b in key {
            node = self.step(node, b)?;
        }
        self.value(node)
    }

    /// Length of the longest key that prefixes `text`, if any.
    pub(crate) fn longest_prefix(&self, text: &[u8]) -> Option<usize> {
        let mut node = Self::ROOT;
        let mut best = None;
        for (i, &b) in text.iter().enumerate() {
            match self.step(node, b) {
                Some(next) => node = next,
                None => break,
            }
            if self.value(node).is_some() {
                best = Some(i + 1);
            }
        }
        best
    }

    /// Whether some key starts with `prefix`.
    pub(crate) fn has_prefix(&self, prefix: &[u8]) -> bool {
        let mut node = Self::ROOT;
        for &b in prefix {
            match self.step(node, b) {
                Some(next) => node = next,
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let mut b = TrieBuilder::new();
        for (i, k) in ["a", "ab", "abc", "b", "\u{2581}x"].iter().enumerate() {
            b.insert(k.as_bytes(), i as u32);
        }
        b.insert(b"a", 99);
        let t = b.build();
        assert_eq!(t.longest_prefix(b"abd"), Some(2));
        assert_eq!(t.longest_prefix(b"abcd"), Some(3));
        assert_eq!(t.longest_prefix(b"c"), None);
        assert!(t.has_prefix(b"ab") && !t.has_prefix(b"ac"));
        let a = t.step(ByteTrie::ROOT, b'a').unwrap();
        assert_eq!(t.value(a), Some(0), "first value wins");
    }
}
