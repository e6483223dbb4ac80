//! The working-day calendar (DESIGN §3): weekends, days off and make-up
//! working days.
//!
//! A year named in the calendar file (by any date in `holidays` or
//! `workdays`) takes its days off and make-up days from the file alone;
//! every other year follows the statutory rules built in here. Working-day
//! counts for 2000–2100 come from prefix sums built once, so the KPI code
//! can call them per dossier.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::{Datelike, FixedOffset, NaiveDate};
use serde::Deserialize;
use toml::Spanned;

use crate::lunar::lunar_to_solar;

/// Days since 1970-01-01 (a local calendar date), used on hot paths.
pub type Day = i32;

/// `num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_CE: i32 = 719_163;
/// 2000-01-01 and 2100-12-31: the span of the prefix-sum table.
const TABLE_FIRST: Day = 10_957;
const TABLE_LAST: Day = 47_846;
const TABLE_FIRST_YEAR: i32 = 2000;
const TABLE_LAST_YEAR: i32 = 2100;
/// Years whose Tết and Giỗ Tổ are computed. Far outside, the lunar series
/// diverge (and slow down); such years keep only the solar holidays.
const LUNAR_YEARS: std::ops::RangeInclusive<i32> = 1000..=3000;

const SHIPPED: &str = include_str!("../calendar/vn-official.toml");
const SHIPPED_ORIGIN: &str = "vn-official.toml (built in)";

/// The day number of a date.
pub fn day_number(d: NaiveDate) -> Day {
    d.num_days_from_ce() - UNIX_EPOCH_CE
}

/// The date of a day number, saturating at chrono's range (about ±262,000
/// years), which no real date leaves.
pub fn date_of(day: Day) -> NaiveDate {
    day.checked_add(UNIX_EPOCH_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or(if day < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

/// Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
fn weekday_index(day: i64) -> usize {
    (day + 3).rem_euclid(7) as usize
}

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("{origin}: cannot read the calendar file: {error}")]
    Read {
        origin: String,
        error: std::io::Error,
    },
    /// TOML syntax, a wrong type or an unknown key; the message carries the
    /// line and column.
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: key `{key}`: {value} {problem}, at line {line}")]
    Value {
        origin: String,
        key: &'static str,
        /// The offending value as written (strings quoted).
        value: String,
        problem: String,
        line: usize,
    },
}

/// Days off and make-up working days of one year, sorted.
#[derive(Debug, Clone, Default)]
struct YearRules {
    off: Vec<Day>,
    /// Disjoint from `off`.
    makeup: Vec<Day>,
}

#[derive(Debug, Clone)]
struct Rules {
    weekend: [bool; 7],
    /// Years the file names, with their days off and make-up days.
    file_years: BTreeMap<i32, YearRules>,
}

impl Rules {
    fn is_weekend(&self, day: i64) -> bool {
        self.weekend[weekday_index(day)]
    }

    fn year(&self, year: i32) -> YearRules {
        match self.file_years.get(&year) {
            Some(rules) => rules.clone(),
            None => self.statutory_year(year),
        }
    }

    /// The built-in rules: 1/1, Tết (30 Tết to mùng 4), Giỗ Tổ (10/3 lunar),
    /// 30/4, 1/5, 1–2/9; a holiday on a weekend day gives the next day that
    /// is neither weekend nor holiday off. Coinciding holidays give one day.
    fn statutory_year(&self, year: i32) -> YearRules {
        let in_year = |d: NaiveDate| d.year() == year;
        let mut holidays = BTreeSet::new();
        for (month, day) in [(1, 1), (4, 30), (5, 1), (9, 1), (9, 2)] {
            if let Some(d) = NaiveDate::from_ymd_opt(year, month, day) {
                holidays.insert(day_number(d));
            }
        }
        if LUNAR_YEARS.contains(&year) {
            if let Some(tet) = lunar_to_solar(year, 1, 1, false) {
                let tet = day_number(tet);
                // The day before mùng 1 is the last of the year, 29 or 30 Tết.
                holidays.extend((tet - 1..=tet + 3).filter(|&d| in_year(date_of(d))));
            }
            if let Some(gio_to) = lunar_to_solar(year, 3, 10, false) {
                holidays.insert(day_number(gio_to));
            }
        }
        let mut off = holidays.clone();
        for &h in holidays.iter().filter(|&&h| self.is_weekend(h.into())) {
            let mut d = h + 1;
            while self.is_weekend(d.into()) || off.contains(&d) {
                d += 1;
            }
            if in_year(date_of(d)) {
                off.insert(d);
            }
        }
        YearRules {
            off: off.into_iter().collect(),
            makeup: Vec::new(),
        }
    }
}

impl YearRules {
    fn is_workday(&self, rules: &Rules, d: Day) -> bool {
        self.off.binary_search(&d).is_err()
            && (self.makeup.binary_search(&d).is_ok() || !rules.is_weekend(d.into()))
    }

    /// Working days in [a, b], both within this year.
    fn count(&self, rules: &Rules, a: i64, b: i64) -> i64 {
        let within = |d: &&Day| (a..=b).contains(&i64::from(**d));
        let weekend = |d: &&Day| rules.is_weekend(i64::from(**d));
        count_non_weekend(rules, a, b)
            - self
                .off
                .iter()
                .filter(within)
                .filter(|d| !weekend(d))
                .count() as i64
            + self.makeup.iter().filter(within).filter(weekend).count() as i64
    }
}

/// Days in [a, b] that are not weekend days.
fn count_non_weekend(rules: &Rules, a: i64, b: i64) -> i64 {
    if b < a {
        return 0;
    }
    let per_week = rules.weekend.iter().filter(|w| !**w).count() as i64;
    let n = b - a + 1;
    let rest = (a + n / 7 * 7..=b)
        .filter(|&d| !rules.is_weekend(d))
        .count() as i64;
    n / 7 * per_week + rest
}

/// Prefix sums over 2000–2100: `0[k]` = working days in
/// [TABLE_FIRST, TABLE_FIRST + k).
#[derive(Clone)]
struct Table(Arc<[u32]>);

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Table({TABLE_FIRST_YEAR}–{TABLE_LAST_YEAR}, {} days)",
            self.0.len() - 1
        )
    }
}

impl Table {
    /// Working days in [TABLE_FIRST, d], for d in [TABLE_FIRST - 1, TABLE_LAST].
    fn upto(&self, d: i64) -> i64 {
        i64::from(self.0[(d - i64::from(TABLE_FIRST) + 1) as usize])
    }
}

/// Rules of years outside the table, computed on first use: the lunar
/// holidays cost microseconds per year, and placeholder dates (0001-01-01)
/// would otherwise recompute centuries on every call.
#[derive(Clone, Default)]
struct YearCache(Arc<Mutex<HashMap<i32, Arc<YearRules>>>>);

impl fmt::Debug for YearCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("YearCache")
    }
}

/// A stretch of consecutive days counted one way.
enum Block {
    /// Inside the prefix-sum table.
    Table,
    /// One year outside the table.
    Year(Arc<YearRules>),
    /// Beyond chrono's range: weekends only.
    Bare,
}

#[derive(Debug, Clone)]
pub struct WorkCalendar {
    timezone: FixedOffset,
    rules: Arc<Rules>,
    table: Table,
    far_years: YearCache,
    /// The due-soon horizon (DESIGN §9, `due_soon_workdays`). It travels
    /// with the calendar because every judgement in both services, the
    /// exporter's incremental ledger included, is handed the calendar.
    due_soon_workdays: u32,
}

/// `due_soon_workdays` when the config does not set it: due today or on the
/// next working day.
pub const DEFAULT_DUE_SOON_WORKDAYS: u32 = 1;
/// The largest `due_soon_workdays` a config may set.
pub const MAX_DUE_SOON_WORKDAYS: u32 = 30;

impl Default for WorkCalendar {
    fn default() -> Self {
        Self::builtin()
    }
}

impl WorkCalendar {
    /// The shipped calendar: Sat/Sun weekend, built-in rules, plus the
    /// official years in the embedded vn-official.toml.
    pub fn builtin() -> Self {
        static SHIPPED_CALENDAR: OnceLock<WorkCalendar> = OnceLock::new();
        SHIPPED_CALENDAR
            .get_or_init(|| {
                Self::from_toml(SHIPPED, SHIPPED_ORIGIN)
                    .unwrap_or_else(|e| panic!("the shipped calendar is invalid: {e}"))
            })
            .clone()
    }

    /// Parse an operator's calendar file; it REPLACES the shipped file
    /// (built-in rules still apply to years it does not name).
    pub fn load(path: &Path) -> Result<Self, CalendarError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| CalendarError::Read {
            origin: origin.clone(),
            error,
        })?;
        Self::from_toml(&text, &origin)
    }

    /// Parse a calendar file's text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, CalendarError> {
        let (timezone, rules) = parse(text, origin)?;
        Ok(Self::build(timezone, rules))
    }

    fn build(timezone: FixedOffset, rules: Rules) -> Self {
        let mut prefix = Vec::with_capacity((TABLE_LAST - TABLE_FIRST + 2) as usize);
        let mut total = 0u32;
        prefix.push(total);
        for year in TABLE_FIRST_YEAR..=TABLE_LAST_YEAR {
            let year_rules = rules.year(year);
            let first = ymd_day(year, 1, 1);
            let last = ymd_day(year, 12, 31);
            for d in first..=last {
                total += u32::from(year_rules.is_workday(&rules, d));
                prefix.push(total);
            }
        }
        debug_assert_eq!(prefix.len(), (TABLE_LAST - TABLE_FIRST + 2) as usize);
        Self {
            timezone,
            rules: Arc::new(rules),
            table: Table(prefix.into()),
            far_years: YearCache::default(),
            due_soon_workdays: DEFAULT_DUE_SOON_WORKDAYS,
        }
    }

    /// The same calendar with another due-soon horizon (the config checks
    /// the range, 0 to [`MAX_DUE_SOON_WORKDAYS`]).
    pub fn with_due_soon_workdays(mut self, workdays: u32) -> Self {
        self.due_soon_workdays = workdays;
        self
    }

    /// A pending in-time dossier is due soon when at most this many working
    /// days lie between today and its due date.
    pub fn due_soon_workdays(&self) -> u32 {
        self.due_soon_workdays
    }

    /// The UTC offset of the source's wall-clock time and of "now" (default +07:00).
    pub fn timezone(&self) -> FixedOffset {
        self.timezone
    }

    pub fn is_workday(&self, d: NaiveDate) -> bool {
        self.is_workday_num(day_number(d))
    }

    pub fn is_workday_num(&self, d: Day) -> bool {
        if (TABLE_FIRST..=TABLE_LAST).contains(&d) {
            let d = i64::from(d);
            self.table.upto(d) != self.table.upto(d - 1)
        } else {
            self.is_workday_by_rules(d)
        }
    }

    /// The rules' answer, never the table's (the slow path, and the tests' oracle).
    fn is_workday_by_rules(&self, d: Day) -> bool {
        match self.far_block(i64::from(d)).2 {
            Block::Year(rules) => rules.is_workday(&self.rules, d),
            Block::Table => unreachable!("far_block never answers Table"),
            Block::Bare => !self.rules.is_weekend(d.into()),
        }
    }

    /// Number of working days d with after < d <= upto (0 if upto <= after).
    /// O(1) for days between 2000-01-01 and 2100-12-31, correct (slow path)
    /// outside.
    pub fn workdays_between(&self, after: Day, upto: Day) -> i64 {
        if upto <= after {
            return 0;
        }
        let (after, upto) = (i64::from(after), i64::from(upto));
        if after >= i64::from(TABLE_FIRST) - 1 && upto <= i64::from(TABLE_LAST) {
            return self.table.upto(upto) - self.table.upto(after);
        }
        let mut total = 0;
        let mut a = after + 1;
        while a <= upto {
            let (_, end, block) = self.block(a);
            let b = end.min(upto);
            total += self.count(&block, a, b);
            a = b + 1;
        }
        total
    }

    /// The `n`-th working day after `after` (n >= 1), i.e. the smallest d
    /// with workdays_between(after, d) == n. `after` itself when n <= 0;
    /// saturates at `Day::MAX`.
    pub fn nth_workday_after(&self, after: Day, n: i64) -> Day {
        if n <= 0 {
            return after;
        }
        let mut remaining = n;
        let mut a = i64::from(after) + 1;
        // Fewer days than working days wanted: past the end of Day.
        if remaining > i64::from(Day::MAX) - i64::from(after) {
            return Day::MAX;
        }
        while a <= i64::from(Day::MAX) {
            let (_, end, block) = self.block(a);
            let available = self.count(&block, a, end);
            if available >= remaining {
                return self.find(&block, a, remaining);
            }
            remaining -= available;
            a = end + 1;
        }
        Day::MAX
    }

    /// The block holding day `d`, as (first day, last day, block).
    fn block(&self, d: i64) -> (i64, i64, Block) {
        if (i64::from(TABLE_FIRST)..=i64::from(TABLE_LAST)).contains(&d) {
            (i64::from(TABLE_FIRST), i64::from(TABLE_LAST), Block::Table)
        } else {
            self.far_block(d)
        }
    }

    /// Like `block`, but a day inside the table gets its year's rules.
    fn far_block(&self, d: i64) -> (i64, i64, Block) {
        let min = i64::from(day_number(NaiveDate::MIN));
        let max = i64::from(day_number(NaiveDate::MAX));
        if d < min {
            return (i64::from(Day::MIN), min - 1, Block::Bare);
        }
        if d > max {
            return (max + 1, i64::from(Day::MAX), Block::Bare);
        }
        let year = date_of(d as Day).year();
        let first = NaiveDate::from_ymd_opt(year, 1, 1).map_or(min, |x| day_number(x).into());
        let last = NaiveDate::from_ymd_opt(year, 12, 31).map_or(max, |x| day_number(x).into());
        (first, last, Block::Year(self.year_rules(year)))
    }

    fn year_rules(&self, year: i32) -> Arc<YearRules> {
        let cache = |c: &YearCache| {
            c.0.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&year)
                .cloned()
        };
        if let Some(found) = cache(&self.far_years) {
            return found;
        }
        let computed = Arc::new(self.rules.year(year));
        self.far_years
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(year, computed.clone());
        computed
    }

    /// Working days in [a, b], both inside one block.
    fn count(&self, block: &Block, a: i64, b: i64) -> i64 {
        match block {
            Block::Table => self.table.upto(b) - self.table.upto(a - 1),
            Block::Year(rules) => rules.count(&self.rules, a, b),
            Block::Bare => count_non_weekend(&self.rules, a, b),
        }
    }

    /// The `n`-th working day from `a` on (counting `a`), known to lie in
    /// `block`.
    fn find(&self, block: &Block, a: i64, n: i64) -> Day {
        match block {
            Block::Table => {
                let target = self.table.upto(a - 1) + n;
                let k = self.table.0.partition_point(|&w| i64::from(w) < target);
                TABLE_FIRST + k as Day - 1
            }
            Block::Year(rules) => {
                let mut left = n;
                let mut d = a;
                loop {
                    if rules.is_workday(&self.rules, d as Day) {
                        left -= 1;
                        if left == 0 {
                            return d as Day;
                        }
                    }
                    d += 1;
                }
            }
            Block::Bare => {
                // Whole weeks first: the weekend leaves at least one working day.
                let per_week = count_non_weekend(&self.rules, 0, 6);
                let weeks = (n - 1) / per_week;
                let mut d = a + weeks * 7;
                let mut left = n - weeks * per_week;
                loop {
                    if !self.rules.is_weekend(d) {
                        left -= 1;
                        if left == 0 {
                            return d.min(i64::from(Day::MAX)) as Day;
                        }
                    }
                    d += 1;
                }
            }
        }
    }
}

fn ymd_day(year: i32, month: u32, day: u32) -> Day {
    NaiveDate::from_ymd_opt(year, month, day).map_or(0, day_number)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    timezone: Option<Spanned<String>>,
    weekend: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    holidays: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    workdays: Vec<Spanned<toml::Value>>,
}

fn parse(text: &str, origin: &str) -> Result<(FixedOffset, Rules), CalendarError> {
    let file: CalendarFile = toml::from_str(text).map_err(|e| CalendarError::Syntax {
        origin: origin.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let bad = |key: &'static str, value: String, problem: &str, span: std::ops::Range<usize>| {
        CalendarError::Value {
            origin: origin.to_owned(),
            key,
            value,
            problem: problem.to_owned(),
            line: line_of(text, span.start),
        }
    };

    let timezone = match &file.timezone {
        None => FixedOffset::east_opt(7 * 3600).expect("+07:00 is a valid offset"),
        Some(tz) => parse_offset(tz.get_ref()).ok_or_else(|| {
            bad(
                "timezone",
                format!("{:?}", tz.get_ref()),
                "is not a UTC offset (+HH:MM, e.g. \"+07:00\")",
                tz.span(),
            )
        })?,
    };

    let mut weekend = [false, false, false, false, false, true, true];
    if let Some(list) = &file.weekend {
        weekend = [false; 7];
        for name in list.get_ref() {
            let index = parse_weekday(name.get_ref()).ok_or_else(|| {
                bad(
                    "weekend",
                    format!("{:?}", name.get_ref()),
                    "is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
                    name.span(),
                )
            })?;
            weekend[index] = true;
        }
        if weekend.iter().all(|w| *w) {
            let names: Vec<String> = list
                .get_ref()
                .iter()
                .map(|n| format!("{:?}", n.get_ref()))
                .collect();
            return Err(bad(
                "weekend",
                format!("[{}]", names.join(", ")),
                "leaves no working day in the week",
                list.span(),
            ));
        }
    }

    let dates = |key: &'static str, values: &[Spanned<toml::Value>]| {
        values
            .iter()
            .map(|v| {
                parse_date(v.get_ref()).map(day_number).ok_or_else(|| {
                    bad(
                        key,
                        render(v.get_ref()),
                        "is not a date (YYYY-MM-DD)",
                        v.span(),
                    )
                })
            })
            .collect::<Result<Vec<Day>, _>>()
    };
    let holidays = dates("holidays", &file.holidays)?;
    let workdays = dates("workdays", &file.workdays)?;

    let off: BTreeSet<Day> = holidays.iter().copied().collect();
    if let Some(i) = workdays.iter().position(|d| off.contains(d)) {
        let v = &file.workdays[i];
        return Err(bad(
            "workdays",
            render(v.get_ref()),
            "is also listed in `holidays`",
            v.span(),
        ));
    }
    let mut file_years: BTreeMap<i32, YearRules> = BTreeMap::new();
    for &d in &holidays {
        file_years.entry(date_of(d).year()).or_default().off.push(d);
    }
    for &d in &workdays {
        file_years
            .entry(date_of(d).year())
            .or_default()
            .makeup
            .push(d);
    }
    for year in file_years.values_mut() {
        year.off.sort_unstable();
        year.off.dedup();
        year.makeup.sort_unstable();
        year.makeup.dedup();
    }
    Ok((
        timezone,
        Rules {
            weekend,
            file_years,
        },
    ))
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// A value as the file wrote it (strings quoted).
pub(crate) fn render(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// "YYYY-MM-DD" (strictly), or a TOML local date (`2025-01-01` unquoted).
fn parse_date(value: &toml::Value) -> Option<NaiveDate> {
    match value {
        toml::Value::String(s) => {
            let b = s.as_bytes();
            let digits = |r: std::ops::Range<usize>| {
                b[r.clone()]
                    .iter()
                    .all(u8::is_ascii_digit)
                    .then(|| s[r].parse::<u32>().ok())
                    .flatten()
            };
            if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
                return None;
            }
            let year = i32::try_from(digits(0..4)?).ok()?;
            NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
        }
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            let date = dt.date?;
            NaiveDate::from_ymd_opt(date.year.into(), date.month.into(), date.day.into())
        }
        _ => None,
    }
}

/// "+HH:MM" or "-HH:MM".
fn parse_offset(s: &str) -> Option<FixedOffset> {
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' || !(b[1..3].iter().chain(&b[4..6])).all(u8::is_ascii_digit) {
        return None;
    }
    let hours: i32 = s[1..3].parse().ok()?;
    let minutes: i32 = s[4..6].parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let seconds = hours * 3600 + minutes * 60;
    match b[0] {
        b'+' => FixedOffset::east_opt(seconds),
        b'-' => FixedOffset::west_opt(seconds),
        _ => None,
    }
}

/// Monday = 0 … Sunday = 6; three-letter or full English names, any case.
fn parse_weekday(name: &str) -> Option<usize> {
    const NAMES: [(&str, &str); 7] = [
        ("mon", "monday"),
        ("tue", "tuesday"),
        ("wed", "wednesday"),
        ("thu", "thursday"),
        ("fri", "friday"),
        ("sat", "saturday"),
        ("sun", "sunday"),
    ];
    let name = name.to_ascii_lowercase();
    NAMES
        .iter()
        .position(|(short, long)| name == *short || name == *long)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> Day {
        day_number(ymd(y, m, d))
    }

    fn rules_only() -> WorkCalendar {
        WorkCalendar::from_toml("", "empty.toml").unwrap()
    }

    fn assert_off(cal: &WorkCalendar, days: &[(i32, u32, u32)]) {
        for &(y, m, d) in days {
            assert!(
                !cal.is_workday(ymd(y, m, d)),
                "{y}-{m:02}-{d:02} should be off"
            );
        }
    }

    fn assert_working(cal: &WorkCalendar, days: &[(i32, u32, u32)]) {
        for &(y, m, d) in days {
            assert!(
                cal.is_workday(ymd(y, m, d)),
                "{y}-{m:02}-{d:02} should be a working day"
            );
        }
    }

    fn error(text: &str) -> String {
        WorkCalendar::from_toml(text, "calendar.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn day_numbers() {
        assert_eq!(day(1970, 1, 1), 0);
        assert_eq!(day(1969, 12, 31), -1);
        assert_eq!(day(2000, 1, 1), TABLE_FIRST);
        assert_eq!(day(2100, 12, 31), TABLE_LAST);
        assert_eq!(date_of(day(2025, 4, 26)), ymd(2025, 4, 26));
        assert_eq!(date_of(Day::MAX), NaiveDate::MAX);
        assert_eq!(date_of(Day::MIN), NaiveDate::MIN);
        // Thursday.
        assert_eq!(weekday_index(0), 3);
        assert_eq!(weekday_index(day(2025, 4, 26).into()), 5);
    }

    #[test]
    fn builtin_rules_2024() {
        let cal = WorkCalendar::builtin();
        assert_eq!(cal.timezone(), FixedOffset::east_opt(7 * 3600).unwrap());
        // Tết Giáp Thìn: 30 Tết (Fri 9 Feb) to mùng 4 (Tue 13 Feb); mùng 1–2
        // fall on Sat/Sun, so Wed 14 and Thu 15 are off as well.
        assert_off(
            &cal,
            &[
                (2024, 2, 9),
                (2024, 2, 10),
                (2024, 2, 11),
                (2024, 2, 12),
                (2024, 2, 13),
                (2024, 2, 14),
                (2024, 2, 15),
            ],
        );
        assert_working(&cal, &[(2024, 2, 8), (2024, 2, 16)]);
        // 1/9 is a Sunday, 2/9 a Monday: Tuesday 3 Sep is off in lieu.
        assert_off(&cal, &[(2024, 9, 1), (2024, 9, 2), (2024, 9, 3)]);
        assert_working(&cal, &[(2024, 8, 30), (2024, 9, 4)]);
        // 1/1, Giỗ Tổ (Thu 18 Apr), 30/4, 1/5; an ordinary weekend.
        assert_off(
            &cal,
            &[
                (2024, 1, 1),
                (2024, 4, 18),
                (2024, 4, 30),
                (2024, 5, 1),
                (2024, 3, 2),
                (2024, 3, 3),
            ],
        );
        assert_working(
            &cal,
            &[(2024, 1, 2), (2024, 3, 1), (2024, 3, 4), (2024, 5, 2)],
        );
    }

    #[test]
    fn shipped_2025_comes_from_the_file() {
        let cal = WorkCalendar::builtin();
        assert_off(
            &cal,
            &[
                (2025, 1, 1),
                (2025, 1, 27),
                (2025, 1, 31),
                (2025, 4, 7),
                (2025, 4, 30),
                (2025, 5, 2),
                (2025, 9, 1),
                (2025, 9, 2),
                (2025, 4, 27),
            ],
        );
        // Saturday 26 Apr was worked in exchange for 2 May; the rules would
        // have given Mon 3 Feb off for mùng 4 on a Saturday, the decision did not.
        assert_working(
            &cal,
            &[(2025, 4, 26), (2025, 1, 24), (2025, 2, 3), (2025, 9, 3)],
        );
        // 2025: 261 weekdays, 12 of them off, one Saturday worked.
        assert_eq!(
            cal.workdays_between(day(2024, 12, 31), day(2025, 12, 31)),
            250
        );
    }

    #[test]
    fn shipped_2026_is_the_statutory_rules() {
        let shipped = WorkCalendar::builtin();
        let rules = rules_only();
        assert!(shipped.rules.file_years.contains_key(&2026));
        for d in day(2026, 1, 1)..=day(2026, 12, 31) {
            assert_eq!(
                shipped.is_workday_num(d),
                rules.is_workday_num(d),
                "{}",
                date_of(d)
            );
        }
        // Confirmed: 14–22 Feb off with the weekends.
        assert_working(&shipped, &[(2026, 2, 13), (2026, 2, 23)]);
        for d in 14..=22 {
            assert_off(&shipped, &[(2026, 2, d)]);
        }
        // Giỗ Tổ on Sunday 26 Apr: Monday 27 off.
        assert_off(&shipped, &[(2026, 4, 27)]);
        assert_working(&shipped, &[(2026, 4, 28)]);
    }

    #[test]
    fn weekend_holiday_moves_to_the_next_working_day() {
        let cal = rules_only();
        // 1/1/2028 is a Saturday.
        assert_off(&cal, &[(2028, 1, 3)]);
        assert_working(&cal, &[(2028, 1, 4)]);
        // 1/9/2029 Saturday, 2/9 Sunday: Monday 3 and Tuesday 4 off.
        assert_off(&cal, &[(2029, 9, 3), (2029, 9, 4)]);
        assert_working(&cal, &[(2029, 9, 5)]);
        // A Sunday-only weekend: 1/1/2028 (Saturday) is itself a day off, and
        // Saturday 8 Jan a working day.
        let sundays = WorkCalendar::from_toml("weekend = [\"sun\"]", "c.toml").unwrap();
        assert_off(&sundays, &[(2028, 1, 1)]);
        assert_working(&sundays, &[(2028, 1, 3), (2028, 1, 8)]);
        // 2/9/2029 on a Sunday: Monday 3 Sep.
        assert_off(&sundays, &[(2029, 9, 1), (2029, 9, 2), (2029, 9, 3)]);
        assert_working(&sundays, &[(2029, 9, 4)]);
    }

    #[test]
    fn operator_file_replaces_the_shipped_years() {
        let cal = WorkCalendar::from_toml("holidays = [\"2025-01-01\"]", "c.toml").unwrap();
        assert_off(&cal, &[(2025, 1, 1)]);
        assert_working(&cal, &[(2025, 1, 28), (2025, 1, 29), (2025, 4, 7)]);
        // Other years keep the rules, 2026 included (the shipped file is gone).
        assert_off(&cal, &[(2024, 2, 12), (2026, 2, 17), (2026, 4, 27)]);

        let cal = WorkCalendar::from_toml("holidays = [\"2024-01-01\"]", "c.toml").unwrap();
        assert_working(&cal, &[(2024, 2, 12)]);
        // 2025 on the rules: 29 Tết (Tue 28 Jan) to mùng 4 (Sat 1 Feb), Mon 3
        // Feb in lieu, Saturday 26 Apr not worked.
        assert_off(
            &cal,
            &[(2025, 1, 28), (2025, 2, 3), (2025, 4, 26), (2025, 4, 7)],
        );
        assert_working(&cal, &[(2025, 1, 27), (2025, 2, 4)]);

        // Naming a year only through a make-up day still takes it whole.
        let cal = WorkCalendar::from_toml("workdays = [\"2027-01-02\"]", "c.toml").unwrap();
        assert_working(&cal, &[(2027, 1, 1), (2027, 1, 2)]);
        assert_off(&cal, &[(2027, 1, 3)]);
    }

    #[test]
    fn file_values_and_load() {
        let text = "timezone = \"-03:30\"\nweekend = [\"Friday\", \"SAT\"]\nholidays = [2030-01-02, \"2030-01-02\"]\nworkdays = [\"2030-01-04\"]\n";
        let cal = WorkCalendar::from_toml(text, "c.toml").unwrap();
        assert_eq!(
            cal.timezone(),
            FixedOffset::west_opt(3 * 3600 + 1800).unwrap()
        );
        // 2030 is named: Tue 1 Jan works, Wed 2 is off, Fri 4 (a weekend day
        // here) is worked, Sat 5 is off and Sun 6 a working day.
        assert_off(&cal, &[(2030, 1, 2), (2030, 1, 5)]);
        assert_working(
            &cal,
            &[(2030, 1, 1), (2030, 1, 3), (2030, 1, 4), (2030, 1, 6)],
        );

        let path =
            std::env::temp_dir().join(format!("motcua-calendar-{}.toml", std::process::id()));
        std::fs::write(&path, "holidays = [\"2025-01-01\"]\n").unwrap();
        let loaded = WorkCalendar::load(&path);
        std::fs::remove_file(&path).unwrap();
        assert_working(&loaded.unwrap(), &[(2025, 1, 28)]);
        let missing = path.with_extension("missing");
        let message = WorkCalendar::load(&missing).unwrap_err().to_string();
        assert!(
            message.starts_with(&missing.display().to_string()),
            "{message}"
        );
    }

    #[test]
    fn workdays_between_basics() {
        let cal = WorkCalendar::builtin();
        let fri = day(2024, 3, 1);
        assert_eq!(cal.workdays_between(fri, day(2024, 3, 4)), 1);
        assert_eq!(cal.workdays_between(fri, fri), 0);
        assert_eq!(cal.workdays_between(fri, fri - 5), 0);
        assert_eq!(cal.nth_workday_after(fri, 1), day(2024, 3, 4));
        assert_eq!(cal.nth_workday_after(fri, 0), fri);
        // Across Tết 2025: from Friday 24 Jan, the next working day is Mon 3 Feb.
        assert_eq!(cal.workdays_between(day(2025, 1, 24), day(2025, 2, 3)), 1);
        assert_eq!(cal.workdays_between(day(2025, 1, 24), day(2025, 2, 2)), 0);
        assert_eq!(cal.nth_workday_after(day(2025, 1, 24), 1), day(2025, 2, 3));
        assert_eq!(cal.nth_workday_after(day(2025, 1, 24), 2), day(2025, 2, 4));
        // Ending on a day off counts up to it.
        assert_eq!(cal.workdays_between(day(2025, 1, 23), day(2025, 1, 31)), 1);
    }

    /// Deterministic pseudo-random numbers (Knuth's MMIX LCG).
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    fn naive_between(cal: &WorkCalendar, after: Day, upto: Day) -> i64 {
        ((after + 1)..=upto)
            .filter(|&d| cal.is_workday_by_rules(d))
            .count() as i64
    }

    #[test]
    fn table_matches_the_rules_day_by_day() {
        for cal in [WorkCalendar::builtin(), rules_only()] {
            for d in TABLE_FIRST..=TABLE_LAST {
                assert_eq!(
                    cal.is_workday_num(d),
                    cal.is_workday_by_rules(d),
                    "{}",
                    date_of(d)
                );
            }
        }
    }

    #[test]
    fn fast_path_equals_naive_loop_on_random_ranges() {
        let cal = WorkCalendar::builtin();
        let mut rng = Lcg(20250101);
        // 1995–2105: mostly inside the table, some ranges crossing its edges.
        let lo = day(1995, 1, 1);
        let span = (day(2105, 12, 31) - lo) as u64;
        for _ in 0..400 {
            let after = lo + rng.below(span) as Day;
            let upto = after + rng.below(800) as Day - 20;
            let expected = naive_between(&cal, after, upto);
            assert_eq!(
                cal.workdays_between(after, upto),
                expected,
                "{} .. {}",
                date_of(after),
                date_of(upto)
            );
            let n = 1 + rng.below(60) as i64;
            let nth = cal.nth_workday_after(after, n);
            assert!(cal.is_workday_num(nth), "{}", date_of(nth));
            assert_eq!(cal.workdays_between(after, nth), n);
            assert_eq!(cal.workdays_between(after, nth - 1), n - 1);
        }
    }

    #[test]
    fn ranges_outside_the_table() {
        let cal = WorkCalendar::builtin();
        // Built-in rules in 1990 and 2150 (Tết 1990 = 27 Jan, Sat).
        assert_off(
            &cal,
            &[(1990, 1, 26), (1990, 1, 29), (1990, 1, 30), (1990, 1, 31)],
        );
        for (after, upto) in [
            (day(1989, 12, 31), day(1990, 12, 31)),
            (day(1998, 6, 1), day(2001, 3, 1)),
            (day(2100, 11, 1), day(2102, 2, 1)),
            (day(2150, 1, 1), day(2150, 12, 31)),
        ] {
            assert_eq!(
                cal.workdays_between(after, upto),
                naive_between(&cal, after, upto)
            );
        }
        let after = day(1999, 12, 20);
        let nth = cal.nth_workday_after(after, 30);
        assert_eq!(cal.workdays_between(after, nth), 30);
        assert!(cal.is_workday_num(nth));
        // Placeholder dates and the ends of Day: finite, weekends only out there.
        let y1 = cal.workdays_between(day(1, 1, 1), day(2025, 1, 1));
        assert!(y1 > 2000 * 220 && y1 < 2025 * 262, "{y1}");
        assert_eq!(cal.workdays_between(Day::MIN, Day::MIN + 7), 5);
        assert_eq!(cal.workdays_between(Day::MAX - 7, Day::MAX), 5);
        assert_eq!(cal.nth_workday_after(Day::MAX - 3, 10), Day::MAX);
        let far = cal.nth_workday_after(Day::MIN, 5);
        assert_eq!(cal.workdays_between(Day::MIN, far), 5);
    }

    #[test]
    fn error_bad_toml_shows_the_line() {
        let message = error("weekend = [\"sat\", \"sun\"]\nholidays = [\"2025-01-01\"\n");
        assert!(message.starts_with("calendar.toml: "), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn error_bad_date_names_key_and_value() {
        let message = error("holidays = [\"2025-01-01\",\n  \"2025-13-01\"]");
        assert_eq!(
            message,
            "calendar.toml: key `holidays`: \"2025-13-01\" is not a date (YYYY-MM-DD), at line 2"
        );
        let message = error("workdays = [\"2025-2-8\"]");
        assert!(
            message.contains("key `workdays`: \"2025-2-8\" is not a date"),
            "{message}"
        );
        let message = error("holidays = [20250101]");
        assert!(
            message.contains("key `holidays`: 20250101 is not a date"),
            "{message}"
        );
        let message = error("holidays = [\"2025-01-01\"]\nworkdays = [\"2025-01-01\"]");
        assert!(
            message.contains("key `workdays`: \"2025-01-01\" is also listed in `holidays`"),
            "{message}"
        );
    }

    #[test]
    fn error_unknown_key() {
        let message = error("holiday = [\"2025-01-01\"]");
        assert!(message.starts_with("calendar.toml: "), "{message}");
        assert!(message.contains("unknown field `holiday`"), "{message}");
        assert!(message.contains("line 1"), "{message}");
    }

    #[test]
    fn error_bad_weekday() {
        let message = error("weekend = [\"sat\", \"caturday\"]");
        assert!(
            message.starts_with("calendar.toml: key `weekend`: \"caturday\" is not a weekday"),
            "{message}"
        );
        let message =
            error("weekend = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]");
        assert!(message.contains("leaves no working day"), "{message}");
    }

    #[test]
    fn error_bad_timezone() {
        for tz in ["Asia/Ho_Chi_Minh", "+25:00", "07:00", "+7:00"] {
            let message = error(&format!("timezone = \"{tz}\""));
            assert_eq!(
                message,
                format!(
                    "calendar.toml: key `timezone`: \"{tz}\" is not a UTC offset (+HH:MM, e.g. \"+07:00\"), at line 1"
                )
            );
        }
    }
}
