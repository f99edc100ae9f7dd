//! The unit tree as materialized paths.
//!
//! Every unit stores the ids from the root down to itself, `/1/5/23/`, so "is X
//! in Y's subtree" is a prefix test and a subtree query is an index range scan:
//! `path >= '/1/5/' AND path < '/1/50'` (the upper bound replaces the final
//! `/` by `0`, the next character in byte order).

use std::collections::HashMap;

/// Path of a unit given its parent's path.
pub fn child_path(parent_path: Option<&str>, id: i64) -> String {
    format!("{}{id}/", parent_path.unwrap_or("/"))
}

/// The exclusive upper bound of a subtree's paths (see the module doc).
pub fn subtree_end(path: &str) -> String {
    let mut end = path.trim_end_matches('/').to_string();
    end.push('0');
    end
}

pub fn is_in_subtree(path: &str, root_path: &str) -> bool {
    path.starts_with(root_path)
}

/// Depth of a path: the root is 0.
pub fn depth(path: &str) -> i64 {
    path.matches('/').count() as i64 - 2
}

/// Finds a cycle in a parent map (key → parent key). Returns the keys on the
/// cycle, in order, or `None` when the graph is a forest.
pub fn find_cycle<K>(parents: &HashMap<K, Option<K>>) -> Option<Vec<K>>
where
    K: Clone + Eq + std::hash::Hash + Ord,
{
    // 0 = unvisited, 1 = on the current walk, 2 = known to reach a root.
    let mut state: HashMap<&K, u8> = HashMap::with_capacity(parents.len());
    let mut keys: Vec<&K> = parents.keys().collect();
    keys.sort(); // deterministic reports
    for start in keys {
        if state.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut walk: Vec<&K> = Vec::new();
        let mut cur = Some(start);
        while let Some(k) = cur {
            match state.get(k).copied().unwrap_or(0) {
                2 => break,
                1 => {
                    let pos = walk.iter().position(|w| *w == k).unwrap_or(0);
                    return Some(walk[pos..].iter().map(|k| (*k).clone()).collect());
                }
                _ => {}
            }
            state.insert(k, 1);
            walk.push(k);
            cur = parents.get(k).and_then(|p| p.as_ref());
        }
        for k in walk {
            state.insert(k, 2);
        }
    }
    None
}

/// Computes every unit's path from its parent, for ids whose parents form a
/// forest (check [`find_cycle`] first). Units whose parent is missing from the
/// map are treated as roots.
pub fn compute_paths(parents: &HashMap<i64, Option<i64>>) -> HashMap<i64, String> {
    let mut paths: HashMap<i64, String> = HashMap::with_capacity(parents.len());
    for &id in parents.keys() {
        if paths.contains_key(&id) {
            continue;
        }
        // Climb to the nearest unit whose path is known (or a root), then descend.
        let mut chain = vec![id];
        let mut cur = id;
        let base = loop {
            match parents.get(&cur).copied().flatten() {
                Some(p) if parents.contains_key(&p) => {
                    if let Some(known) = paths.get(&p) {
                        break known.clone();
                    }
                    if chain.len() > parents.len() {
                        break "/".to_string(); // defensive: a cycle slipped through
                    }
                    chain.push(p);
                    cur = p;
                }
                _ => break "/".to_string(),
            }
        };
        let mut path = base;
        for unit in chain.into_iter().rev() {
            path = format!("{path}{unit}/");
            paths.insert(unit, path.clone());
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_bounds() {
        assert_eq!(subtree_end("/1/5/"), "/1/50");
        assert!("/1/5/23/" >= "/1/5/" && "/1/5/23/" < subtree_end("/1/5/").as_str());
        // A sibling whose id starts with the same digits is outside.
        assert!("/1/51/" >= subtree_end("/1/5/").as_str());
        assert_eq!(depth("/1/"), 0);
        assert_eq!(depth("/1/5/23/"), 2);
    }

    #[test]
    fn finds_cycles() {
        let mut g: HashMap<&str, Option<&str>> = HashMap::new();
        g.insert("a", None);
        g.insert("b", Some("a"));
        assert_eq!(find_cycle(&g), None);
        g.insert("c", Some("d"));
        g.insert("d", Some("c"));
        assert_eq!(find_cycle(&g), Some(vec!["c", "d"]));
        let mut self_loop: HashMap<&str, Option<&str>> = HashMap::new();
        self_loop.insert("x", Some("x"));
        assert_eq!(find_cycle(&self_loop), Some(vec!["x"]));
    }

    #[test]
    fn computes_paths() {
        let g: HashMap<i64, Option<i64>> = [(1, None), (5, Some(1)), (23, Some(5)), (7, Some(1))]
            .into_iter()
            .collect();
        let p = compute_paths(&g);
        assert_eq!(p[&23], "/1/5/23/");
        assert_eq!(p[&7], "/1/7/");
        assert_eq!(p[&1], "/1/");
    }
}
