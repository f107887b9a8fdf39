//! A byte trie for piece lookup: built once, then frozen into flat arrays with a
//! dense table at the root, so prefix traversal stops at the first byte that no
//! piece continues with and costs one table load or a short search per byte.

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

    /// Freezes into the lookup form.
    pub(crate) fn build(self) -> ByteTrie {
        let mut root = vec![NONE; 256];
        for &(b, child) in &self.nodes[0].edges {
            root[usize::from(b)] = child;
        }
        let mut first = Vec::with_capacity(self.nodes.len());
        let mut len = Vec::with_capacity(self.nodes.len());
        let mut values = Vec::with_capacity(self.nodes.len());
        let mut labels = Vec::new();
        let mut children = Vec::new();
        for n in &self.nodes {
            first.push(labels.len() as u32);
            len.push(n.edges.len() as u32);
            values.push(n.value.unwrap_or(NONE));
            for &(b, c) in &n.edges {
                labels.push(b);
                children.push(c);
            }
        }
        ByteTrie {
            root: root.into_boxed_slice(),
            first,
            len,
            values,
            labels,
            children,
        }
    }
}

/// The frozen trie.
#[derive(Debug, Clone)]
pub(crate) struct ByteTrie {
    root: Box<[u32]>,
    first: Vec<u32>,
    len: Vec<u32>,
    values: Vec<u32>,
    labels: Vec<u8>,
    children: Vec<u32>,
}

impl ByteTrie {
    pub(crate) const ROOT: u32 = 0;

    /// The child of `node` along byte `b`.
    #[inline]
    pub(crate) fn step(&self, node: u32, b: u8) -> Option<u32> {
        if node == Self::ROOT {
            let c = self.root[usize::from(b)];
            return (c != NONE).then_some(c);
        }
        let start = self.first[node as usize] as usize;
        let labels = &self.labels[start..start + self.len[node as usize] as usize];
        // Edge lists below the root are short; a linear scan beats a binary search.
        labels
            .iter()
            .position(|&l| l == b)
            .map(|i| self.children[start + i])
    }

    /// The value stored at `node`, if a key ends there.
    #[inline]
    pub(crate) fn value(&self, node: u32) -> Option<u32> {
        let v = self.values[node as usize];
        (v != NONE).then_some(v)
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

    /// The value of exactly `key`.
    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Option<u32> {
        let mut node = Self::ROOT;
        for &b in key {
            node = self.step(node, b)?;
        }
        self.value(node)
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
