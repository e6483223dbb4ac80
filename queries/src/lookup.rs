//! What a read looks up while the dossier rows stream past: the supplements
//! and apologies of each dossier, and the codes it refers to.
//!
//! Supplements and apologies are read first and held compactly under a
//! 64-bit key of their dossier's code (24 and 8 bytes each, plus 5 to 10 of
//! index); then every dossier row is judged as it arrives and dropped, so
//! no read holds the source's rows. The exporter's ledger and the
//! dashboard's dataset both read this way.

use std::collections::HashMap;
use std::hash::BuildHasher;

use chrono::FixedOffset;

use crate::model::{Pause, SupplementRow, Ts};
use crate::source::{Source, SourceError, SqlFiles};

/// `None` of a compact timestamp.
pub(crate) const NONE: Ts = Ts::MIN;

/// A dossier code's key. 64 bits: with 10 million dossiers and a million
/// supplements, the chance that any dossier takes another's pauses is about
/// one in two million per read.
///
/// foldhash's quality variant with its fixed seed: as evenly spread as the
/// SipHash it replaced and far cheaper (hashing was a twentieth of a full
/// read). Neither resists codes crafted to collide — with fixed seeds
/// SipHash did not either, and foldhash less so — which is fine for codes
/// the one-stop system generates. Keys live only in memory, so a change of
/// hash between versions changes nothing a user sees.
pub(crate) fn key(code: &str) -> u64 {
    foldhash::quality::FixedState::default().hash_one(code)
}

/// A map keyed by code, with a hash faster than std's SipHash: lookups of
/// procedure and agency codes run once a dossier in a full read.
pub(crate) type CodeMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

pub(crate) fn some(t: Ts) -> Option<Ts> {
    (t != NONE).then_some(t)
}

/// Reads the supplements and apologies of the dossiers `condition` selects
/// (a SQL boolean over `dossier_code`; `None`: all of them).
pub(crate) async fn pauses_and_apologies(
    source: &Source,
    files: &SqlFiles,
    zone: FixedOffset,
    condition: Option<&str>,
) -> Result<(Pauses, Apologies), SourceError> {
    let mut pauses = Vec::new();
    source
        .stream_supplements(files, zone, condition, &mut |s| {
            pauses.push(PauseOf::new(&s))
        })
        .await?;
    let mut apologies = Vec::new();
    source
        .stream_apologies(files, zone, condition, &mut |a| {
            apologies.push(key(&a.dossier_code))
        })
        .await?;
    Ok((Pauses::new(pauses), Apologies::new(apologies)))
}

/// A supplement interval keyed by its dossier, sorted by key for lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PauseOf {
    pub(crate) dossier: u64,
    pub(crate) requested_at: Ts,
    /// [`NONE`] while the dossier waits.
    pub(crate) resumed_at: Ts,
}

impl PauseOf {
    fn new(s: &SupplementRow) -> PauseOf {
        PauseOf {
            dossier: key(&s.dossier_code),
            requested_at: s.requested_at,
            resumed_at: s.resumed_at.unwrap_or(NONE),
        }
    }

    pub(crate) fn pause(&self) -> Pause {
        Pause {
            start: self.requested_at,
            end: some(self.resumed_at),
        }
    }
}

/// Supplement intervals by dossier key.
pub(crate) struct Pauses {
    sorted: Vec<PauseOf>,
    index: KeyIndex,
}

impl Pauses {
    pub(crate) fn new(mut sorted: Vec<PauseOf>) -> Pauses {
        sorted.sort_unstable();
        // Held through the whole read: not a quarter more than needed.
        sorted.shrink_to_fit();
        let index = KeyIndex::new(sorted.iter().map(|p| p.dossier), sorted.len());
        Pauses { sorted, index }
    }

    /// The dossier's pauses, by request time.
    pub(crate) fn of(&self, dossier: u64) -> &[PauseOf] {
        self.at(self.find(dossier))
    }

    /// Where the dossier's pauses are (see [`Pauses::at`]).
    fn find(&self, dossier: u64) -> std::ops::Range<usize> {
        let range = self.index.bucket(dossier);
        let bucket = &self.sorted[range.clone()];
        let start = bucket.partition_point(|p| p.dossier < dossier);
        let end = bucket.partition_point(|p| p.dossier <= dossier);
        range.start + start..range.start + end
    }

    /// [`Pauses::find`] for many dossiers. One lookup at a time, each waits
    /// for its cache misses (at 10 million dossiers, a tenth of a full
    /// read); a loop of lookups that do not depend on each other lets the
    /// processor wait for many at once.
    pub(crate) fn find_each(&self, dossiers: &[u64]) -> Vec<std::ops::Range<usize>> {
        dossiers.iter().map(|k| self.find(*k)).collect()
    }

    /// The pauses at a range [`Pauses::find_each`] gave.
    pub(crate) fn at(&self, found: std::ops::Range<usize>) -> &[PauseOf] {
        &self.sorted[found]
    }
}

/// The keys of the dossiers that have an apology.
pub(crate) struct Apologies {
    sorted: Vec<u64>,
    index: KeyIndex,
}

impl Apologies {
    pub(crate) fn new(mut sorted: Vec<u64>) -> Apologies {
        sorted.sort_unstable();
        sorted.dedup();
        let index = KeyIndex::new(sorted.iter().copied(), sorted.len());
        Apologies { sorted, index }
    }

    pub(crate) fn contains(&self, dossier: u64) -> bool {
        self.sorted[self.index.bucket(dossier)].contains(&dossier)
    }

    /// [`Apologies::contains`] for many dossiers, for the reason
    /// [`Pauses::find_each`] gives.
    pub(crate) fn contains_each(&self, dossiers: &[u64]) -> Vec<bool> {
        dossiers.iter().map(|k| self.contains(*k)).collect()
    }
}

/// Where each key lies in a list sorted by key. Keys are hashes, spread
/// evenly over `u64`, so their top bits cut the list into buckets of about
/// one entry: a lookup is one read here and one there. A binary search over
/// the 870,000 supplements of a 10-million-dossier source took a tenth of a
/// full read in cache misses; this costs 4 bytes per bucket (a bucket per
/// entry, at most two).
///
/// Most dossiers have no supplement and no apology, yet at 10 million
/// dossiers those two reads, both cache misses, still took 15 % of a full
/// read. A bit per eighth of a bucket, set where a key falls, answers "none"
/// for nine lookups in ten with one read from a table a quarter the size of
/// the bucket table (1 MB for a million supplements), more often in cache.
struct KeyIndex {
    /// `starts[b]..starts[b + 1]`: the entries whose key's top bits are `b`.
    starts: Vec<u32>,
    shift: u32,
    /// Bit `key >> present_shift` is set when an entry may have that key.
    present: Vec<u64>,
    present_shift: u32,
}

impl KeyIndex {
    fn new(sorted_keys: impl Iterator<Item = u64>, len: usize) -> KeyIndex {
        let bits = len.max(16).next_power_of_two().trailing_zeros();
        let shift = 64 - bits;
        let buckets = 1usize << bits;
        let mut starts = vec![0u32; buckets + 1];
        // 8 bits a bucket (at least 16 buckets, so at least two words).
        let present_shift = shift - 3;
        let mut present = vec![0u64; buckets * 8 / 64];
        // Count per bucket, then turn the counts into starts.
        for k in sorted_keys {
            starts[(k >> shift) as usize + 1] += 1;
            let bit = (k >> present_shift) as usize;
            present[bit / 64] |= 1 << (bit % 64);
        }
        for b in 1..=buckets {
            starts[b] += starts[b - 1];
        }
        KeyIndex {
            starts,
            shift,
            present,
            present_shift,
        }
    }

    /// The range of entries that may hold `key` (empty when none can).
    fn bucket(&self, key: u64) -> std::ops::Range<usize> {
        let bit = (key >> self.present_shift) as usize;
        if self.present[bit / 64] & (1 << (bit % 64)) == 0 {
            return 0..0;
        }
        let b = (key >> self.shift) as usize;
        self.starts[b] as usize..self.starts[b + 1] as usize
    }
}

/// Codes stored once, referred to by number in the order first seen.
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    codes: Vec<String>,
    index: CodeMap<u32>,
}

impl Interner {
    pub(crate) fn intern(&mut self, code: &str) -> u32 {
        if let Some(i) = self.index.get(code) {
            return *i;
        }
        let i = self.codes.len() as u32;
        self.codes.push(code.to_owned());
        self.index.insert(code.to_owned(), i);
        i
    }

    pub(crate) fn get(&self, i: u32) -> &str {
        &self.codes[i as usize]
    }

    pub(crate) fn codes(&self) -> &[String] {
        &self.codes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_is_24_bytes() {
        // The module documentation gives this cost: keep them in step.
        assert_eq!(std::mem::size_of::<PauseOf>(), 24);
    }

    #[test]
    fn finds_the_pauses_of_one_dossier() {
        let p = |dossier, at| PauseOf {
            dossier,
            requested_at: at,
            resumed_at: NONE,
        };
        let pauses = Pauses::new(vec![p(9, 1), p(3, 7), p(1, 10), p(3, 5)]);
        assert_eq!(pauses.of(3), &[p(3, 5), p(3, 7)]);
        assert_eq!(pauses.of(9), &[p(9, 1)]);
        assert!(pauses.of(2).is_empty());
        assert!(pauses.of(10).is_empty());
        // Keys sharing a bucket (the top bits) with one that has pauses.
        assert!(pauses.of(3 + 1).is_empty());
        assert!(pauses.of(u64::MAX).is_empty());
        let high = |k: u64| PauseOf {
            dossier: k,
            ..p(0, 1)
        };
        let pauses = Pauses::new((0..1000).map(|i| high(i * (u64::MAX / 999))).collect());
        for i in 0..1000 {
            assert_eq!(
                pauses.of(i * (u64::MAX / 999)),
                &[high(i * (u64::MAX / 999))]
            );
            assert!(pauses.of(i * (u64::MAX / 999) + 1).is_empty());
        }
    }

    #[test]
    fn finds_apologies() {
        let apologies = Apologies::new(vec![u64::MAX, 0, 7, 7, 1 << 63]);
        for k in [u64::MAX, 0, 7, 1 << 63] {
            assert!(apologies.contains(k), "{k}");
        }
        for k in [1, 6, 8, (1 << 63) - 1, (1 << 63) + 1, u64::MAX - 1] {
            assert!(!apologies.contains(k), "{k}");
        }
        assert!(!Apologies::new(Vec::new()).contains(0));
    }

    /// The presence bits may say "maybe" for a key that is absent, never
    /// "no" for one that is there.
    #[test]
    fn every_key_is_found_among_many() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            // xorshift64: spread like the hashes the index is built for.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let keys: Vec<u64> = (0..50_000).map(|_| next()).collect();
        let pause = |dossier| PauseOf {
            dossier,
            requested_at: 1,
            resumed_at: NONE,
        };
        let pauses = Pauses::new(keys.iter().map(|k| pause(*k)).collect());
        let apologies = Apologies::new(keys.clone());
        for k in &keys {
            assert_eq!(pauses.of(*k), &[pause(*k)]);
            assert!(apologies.contains(*k));
        }
        let absent: Vec<u64> = (0..50_000).map(|_| next()).collect();
        for k in &absent {
            assert!(pauses.of(*k).is_empty());
            assert!(!apologies.contains(*k));
        }
        // Most absent keys are turned away by the presence bits alone.
        let turned_away = absent
            .iter()
            .filter(|k| pauses.index.bucket(**k).is_empty())
            .count();
        assert!(turned_away > 40_000, "{turned_away}");
    }
}
