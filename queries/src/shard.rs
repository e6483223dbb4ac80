//! Sharding: which agencies one exporter reads.
//!
//! A large source (a whole province, or a national database) can be split
//! between several exporters, each given an [`AgencyFilter`]: a list of
//! exact agency codes (`000.00.12.H18`) and code prefixes ending in `*`
//! (`000.00.12.*`). An empty list means every agency.
//!
//! The filter has two faces that always agree: [`AgencyFilter::matches`]
//! for codes already in memory, and [`AgencyFilter::sql_condition`] for the
//! `WHERE` clause of a source query, so the database sends only the
//! shard's rows. Both compare codes exactly, byte for byte and case
//! sensitively, whatever the column's collation: `000.00.12.h18` is not
//! `000.00.12.H18`, a trailing space makes a different code, and `_` or
//! `%` in a code are ordinary characters.

use std::fmt;

use crate::source::Dialect;

/// The escape character of the generated `LIKE` patterns. `!` has no
/// special meaning in string literals on any engine (a backslash does on
/// MySQL/MariaDB and on PostgreSQL with `standard_conforming_strings` off),
/// and `ESCAPE '!'` reads the same on PostgreSQL, MySQL/MariaDB and SQLite.
const LIKE_ESCAPE: char = '!';

/// One pattern of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// An agency code, matched exactly.
    Exact(String),
    /// Every code that starts with this text (written `text*`).
    Prefix(String),
}

impl Pattern {
    fn matches(&self, code: &str) -> bool {
        match self {
            Pattern::Exact(c) => code == c,
            Pattern::Prefix(p) => code.starts_with(p.as_str()),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(c) => f.write_str(c),
            Pattern::Prefix(p) => write!(f, "{p}*"),
        }
    }
}

/// The agencies one exporter reads: exact codes and `prefix*` patterns;
/// no pattern at all (the default) means every agency.
///
/// Shards of one source must partition its agencies: an agency matched by
/// two exporters is counted twice by a `sum` over them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgencyFilter {
    /// Empty: every agency. Never holds `Prefix("")` (that is "every
    /// agency" too) nor the same pattern twice.
    patterns: Vec<Pattern>,
}

impl AgencyFilter {
    /// The filter that matches every agency.
    pub fn all() -> AgencyFilter {
        AgencyFilter::default()
    }

    /// Builds a filter from patterns: an exact agency code
    /// (`000.00.12.H18`) or a prefix ending in `*` (`000.00.12.*`); an
    /// empty list, or the pattern `*` alone, matches every agency.
    ///
    /// Rejected, with a message naming the pattern: an empty pattern, a `*`
    /// anywhere but at the end, whitespace, control characters and the
    /// backslash (no agency code has one, and it is an escape character in
    /// MySQL string literals).
    pub fn parse(patterns: &[String]) -> Result<AgencyFilter, String> {
        let mut parsed: Vec<Pattern> = Vec::with_capacity(patterns.len());
        let mut everything = false;
        for raw in patterns {
            let pattern = parse_pattern(raw)?;
            if pattern == Pattern::Prefix(String::new()) {
                everything = true;
            } else if !parsed.contains(&pattern) {
                parsed.push(pattern);
            }
        }
        if everything {
            parsed.clear();
        }
        Ok(AgencyFilter { patterns: parsed })
    }

    /// True when the filter matches every agency (no pattern, or `*`).
    pub fn is_all(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the agency `code` belongs to this shard: equal to one of the
    /// exact codes or starting with one of the prefixes (case sensitive).
    pub fn matches(&self, code: &str) -> bool {
        self.is_all() || self.patterns.iter().any(|p| p.matches(code))
    }

    /// The patterns as written (`000.00.12.H18`, `000.00.12.*`), without
    /// duplicates; empty for every agency.
    pub fn patterns(&self) -> Vec<String> {
        self.patterns.iter().map(Pattern::to_string).collect()
    }

    /// A boolean SQL expression, for a `WHERE` clause, that is true exactly
    /// for the rows whose `column` [`matches`](Self::matches); `None` when
    /// the filter matches every agency (no condition needed). Rows where
    /// `column` is NULL are not selected.
    ///
    /// `column` is written into the SQL as is: pass a column name or
    /// expression from the program, never user input. The codes are
    /// written as string literals, single quotes doubled; the patterns can
    /// hold no backslash ([`parse`](Self::parse) refuses it), so the
    /// literals mean the same whatever the server's string settings.
    ///
    /// Per engine, so that the comparison is exact and case sensitive like
    /// `matches` whatever the column's collation:
    ///
    /// - PostgreSQL: `col = 'code'`, `col LIKE 'prefix%' ESCAPE '!'`
    ///   (`%`, `_` and `!` in the prefix escaped with `!`).
    /// - MySQL/MariaDB: the same on `CAST(col AS BINARY)`: the usual
    ///   collations ignore case, accents and trailing spaces.
    /// - SQLite: `col = 'code' COLLATE BINARY`, `col GLOB 'prefix*'` (`*`,
    ///   `?` and `[` in the prefix written `[*]`, `[?]`, `[[]`): SQLite's
    ///   `LIKE` ignores ASCII case, `GLOB` never does.
    ///
    /// For example, on PostgreSQL, `["000.00.12.H18", "000.00.12.*"]` gives
    /// `(agency_code = '000.00.12.H18' OR agency_code LIKE '000.00.12.%' ESCAPE '!')`.
    pub fn sql_condition(&self, column: &str, dialect: Dialect) -> Option<String> {
        if self.is_all() {
            return None;
        }
        let subject = match dialect {
            Dialect::MySql => format!("CAST({column} AS BINARY)"),
            Dialect::Postgres | Dialect::Sqlite => column.to_owned(),
        };
        let terms: Vec<String> = self
            .patterns
            .iter()
            .map(|p| match (p, dialect) {
                (Pattern::Exact(code), Dialect::Sqlite) => {
                    format!("{subject} = {} COLLATE BINARY", quote(code))
                }
                (Pattern::Exact(code), _) => format!("{subject} = {}", quote(code)),
                (Pattern::Prefix(prefix), Dialect::Sqlite) => {
                    format!("{subject} GLOB {}", quote(&glob_prefix(prefix)))
                }
                (Pattern::Prefix(prefix), _) => format!(
                    "{subject} LIKE {} ESCAPE '{LIKE_ESCAPE}'",
                    quote(&like_prefix(prefix))
                ),
            })
            .collect();
        Some(format!("({})", terms.join(" OR ")))
    }
}

impl fmt::Display for AgencyFilter {
    /// `all agencies`, or the patterns separated by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("all agencies");
        }
        for (i, p) in self.patterns.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

fn parse_pattern(raw: &str) -> Result<Pattern, String> {
    if raw.is_empty() {
        return Err(
            "empty agency pattern \"\": write an agency code like \"000.00.12.H18\" \
             or a prefix like \"000.00.12.*\""
                .to_owned(),
        );
    }
    if raw.chars().any(char::is_whitespace) {
        return Err(format!(
            "agency pattern {raw:?} contains whitespace; agency codes have none"
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(format!(
            "agency pattern {raw:?} contains a control character"
        ));
    }
    if raw.contains('\\') {
        return Err(format!(
            "agency pattern {raw:?} contains a backslash; agency codes have none"
        ));
    }
    match raw.find('*') {
        None => Ok(Pattern::Exact(raw.to_owned())),
        Some(i) if i == raw.len() - 1 => Ok(Pattern::Prefix(raw[..i].to_owned())),
        Some(_) => Err(format!(
            "agency pattern {raw:?}: `*` may only end a prefix, as in \"000.00.12.*\""
        )),
    }
}

/// A SQL string literal: single quotes doubled. Callers never pass a
/// backslash (see [`parse_pattern`]).
fn quote(text: &str) -> String {
    debug_assert!(!text.contains('\\'));
    format!("'{}'", text.replace('\'', "''"))
}

/// `prefix%` with `%`, `_` and the escape character escaped.
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `prefix*` with SQLite's GLOB wildcards made literal.
fn glob_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        match c {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out.push('*');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(patterns: &[&str]) -> AgencyFilter {
        let patterns: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        AgencyFilter::parse(&patterns).unwrap()
    }

    fn parse_err(pattern: &str) -> String {
        AgencyFilter::parse(&["000.00.12.H18".to_owned(), pattern.to_owned()]).unwrap_err()
    }

    #[test]
    fn empty_list_and_star_match_everything() {
        for f in [filter(&[]), AgencyFilter::all(), filter(&["000.*", "*"])] {
            assert!(f.is_all());
            assert!(f.matches("000.00.12.H18") && f.matches(""));
            assert_eq!(f.sql_condition("agency_code", Dialect::Postgres), None);
            assert_eq!(f.to_string(), "all agencies");
        }
    }

    #[test]
    fn exact_codes_and_prefixes() {
        let f = filter(&["000.00.12.H18", "000.00.13.*"]);
        assert!(!f.is_all());
        assert!(f.matches("000.00.12.H18"));
        assert!(!f.matches("000.00.12.H180"), "exact means exact");
        assert!(!f.matches("000.00.12.h18"), "case sensitive");
        assert!(!f.matches("000.00.12.H18 "));
        assert!(!f.matches("000.00.12.H1"));
        assert!(f.matches("000.00.13.H18"));
        assert!(f.matches("000.00.13."), "a prefix matches itself");
        assert!(!f.matches("000.00.13"));
        assert!(!f.matches("000.00.130.H18"));
        assert!(!f.matches(""));
        assert_eq!(f.patterns(), ["000.00.12.H18", "000.00.13.*"]);
        assert_eq!(f.to_string(), "000.00.12.H18, 000.00.13.*");
    }

    #[test]
    fn wildcards_of_sql_are_ordinary_characters() {
        let f = filter(&["A_B.*", "C%", "O'Brien"]);
        assert!(f.matches("A_B.1") && !f.matches("AXB.1"));
        assert!(f.matches("C%") && !f.matches("Cx"));
        assert!(f.matches("O'Brien") && !f.matches("OBrien"));
    }

    #[test]
    fn duplicates_are_dropped() {
        let f = filter(&["X.*", "Y", "X.*", "Y"]);
        assert_eq!(f.patterns(), ["X.*", "Y"]);
        assert_eq!(f, filter(&["X.*", "Y"]));
    }

    #[test]
    fn bad_patterns_are_named() {
        let msg = parse_err("");
        assert!(msg.contains("empty agency pattern"), "{msg}");
        for (bad, why) in [
            ("000.*.H18", "`*` may only end"),
            ("*.H18", "`*` may only end"),
            ("000.00.**", "`*` may only end"),
            ("000.00.12.H18 ", "whitespace"),
            (" 000.00.12.H18", "whitespace"),
            ("000.00\t12", "whitespace"),
            ("000.00.12.H18,000.00.13.H18 ", "whitespace"),
            ("000\u{0}", "control character"),
            ("000\\12", "backslash"),
        ] {
            let msg = parse_err(bad);
            assert!(msg.contains(&format!("{bad:?}")), "names {bad:?}: {msg}");
            assert!(msg.contains(why), "{bad:?}: {msg}");
        }
    }

    #[test]
    fn postgres_condition_is_the_documented_one() {
        let f = filter(&["000.00.12.H18", "000.00.12.*"]);
        assert_eq!(
            f.sql_condition("agency_code", Dialect::Postgres).unwrap(),
            "(agency_code = '000.00.12.H18' OR agency_code LIKE '000.00.12.%' ESCAPE '!')"
        );
    }

    #[test]
    fn literals_are_escaped() {
        let f = filter(&["O'B", "a_%!'*"]);
        assert_eq!(
            f.sql_condition("c", Dialect::Postgres).unwrap(),
            "(c = 'O''B' OR c LIKE 'a!_!%!!''%' ESCAPE '!')"
        );
        assert_eq!(
            f.sql_condition("c", Dialect::MySql).unwrap(),
            "(CAST(c AS BINARY) = 'O''B' OR CAST(c AS BINARY) LIKE 'a!_!%!!''%' ESCAPE '!')"
        );
        let f = filter(&["O'B", "a[?_%'*"]);
        assert_eq!(
            f.sql_condition("c", Dialect::Sqlite).unwrap(),
            "(c = 'O''B' COLLATE BINARY OR c GLOB 'a[[][?]_%''*')"
        );
    }

    #[test]
    fn escaping_helpers() {
        assert_eq!(like_prefix("x!%_y"), "x!!!%!_y%");
        assert_eq!(glob_prefix("a*?[]"), "a[*][?][[]]*");
        assert_eq!(quote("it's"), "'it''s'");
    }
}
