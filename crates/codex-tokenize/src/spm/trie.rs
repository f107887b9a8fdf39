//! A byte trie for piece lookup: prefix traversal stops at the first byte that no piece continues with.

#[derive(Debug, Default, Clone)]
struct Node {
    /// Children sorted by byte.
    edges: Vec<(u8, u32)>,
    value: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct ByteTrie {
    nodes: Vec<Node>,
}

impl ByteTrie {
    pub(crate) const ROOT: u32 = 0;

    pub(crate) fn new() -> Self {
        Self {
            nodes: vec![Node::default()],
        }
    }

    /// Inserts `key`; an existing key keeps its first value, as SentencePiece's
    /// piece map keeps the first occurrence.
    pub(crate) fn insert(&mut self, key: &[u8], value: u32) {
        let mut node = Self::ROOT;
        for &b in key {
            node = match self.step(node, b) {
                Some(next) => next,
                None => {
                    let next = self.nodes.len() as u32;
                    self.nodes.push(Node::default());
                    let edges = &mut self.nodes[node as usize].edges;
                    let at = edges.partition_point(|(e, _)| *e < b);
                    edges.insert(at, (b, next));
                    next
                }
            };
        }
        self.nodes[node as usize].value.get_or_insert(value);
    }

    #[inline]
    pub(crate) fn step(&self, node: u32, b: u8) -> Option<u32> {
        let edges = &self.nodes[node as usize].edges;
        edges
            .binary_search_by_key(&b, |(e, _)| *e)
            .ok()
            .map(|i| edges[i].1)
    }

    #[inline]
    pub(crate) fn value(&self, node: u32) -> Option<u32> {
        self.nodes[node as usize].value
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
}
