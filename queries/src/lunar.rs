//! The Vietnamese lunar calendar (âm lịch), after Hồ Ngọc Đức's astronomical
//! algorithm ("Thuật toán tính âm lịch"), computed for UTC+7.
//!
//! Vietnam and China use the same rules but different meridians (105°E vs
//! 120°E), so Tết can differ (e.g. 1985, 2007, 2030): a Chinese calendar
//! table must not be substituted here. Results are verified for 1900–2199.

use std::f64::consts::PI;

use chrono::{Datelike, NaiveDate};

/// Vietnam's time zone, in hours: new moons and solar terms are dated here.
const TIME_ZONE: f64 = 7.0;

/// Mean synodic month, in days.
const SYNODIC_MONTH: f64 = 29.530588853;

/// Julian day number of the new moon of 1900-01-01, the origin of `k`.
const NEW_MOON_EPOCH: f64 = 2415021.076998695;

/// A date of the Vietnamese lunar calendar. `year` is the Gregorian year in
/// which that lunar year's Tết falls (lunar 1/1/2025 is 2025-01-29).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LunarDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    /// The intercalary (nhuận) month, which repeats the number of the month before it.
    pub leap: bool,
}

/// The date whose lunar date is given, or None if it does not exist (day 30
/// of a 29-day month, a leap flag on a month that is not intercalary, or a
/// date outside chrono's range).
pub fn lunar_to_solar(year: i32, month: u32, day: u32, leap: bool) -> Option<NaiveDate> {
    if !(1..=12).contains(&month) || !(1..=30).contains(&day) {
        return None;
    }
    let jd = convert_lunar_to_solar(i64::from(day), i64::from(month), i64::from(year), leap);
    let date = date_from_jd(jd)?;
    // The algorithm happily maps an impossible date onto the next month; the
    // round trip rejects it.
    let back = solar_to_lunar(date);
    (back
        == LunarDate {
            year,
            month,
            day,
            leap,
        })
    .then_some(date)
}

/// The lunar date of a (local) solar date.
pub fn solar_to_lunar(date: NaiveDate) -> LunarDate {
    convert_solar_to_lunar(jd_from_date(date), i64::from(date.year()))
}

/// Julian day number of a proleptic Gregorian date. The reference
/// jdFromDate switches to the Julian calendar before 1582-10-15; NaiveDate is
/// proleptic Gregorian throughout, so this does not.
fn jd_from_ymd(dd: i64, mm: i64, yy: i64) -> i64 {
    let a = (14 - mm).div_euclid(12);
    let y = yy + 4800 - a;
    let m = mm + 12 * a - 3;
    dd + (153 * m + 2).div_euclid(5) + 365 * y + y.div_euclid(4) - y.div_euclid(100)
        + y.div_euclid(400)
        - 32045
}

fn jd_from_date(date: NaiveDate) -> i64 {
    jd_from_ymd(
        i64::from(date.day()),
        i64::from(date.month()),
        i64::from(date.year()),
    )
}

fn date_from_jd(jd: i64) -> Option<NaiveDate> {
    // 0001-01-01 (proleptic Gregorian) is JDN 1721426.
    let days = i32::try_from(jd - 1_721_425).ok()?;
    NaiveDate::from_num_days_from_ce_opt(days)
}

/// Julian day (fractional, UT) of the k-th new moon after 1900-01-01.
fn new_moon(k: i64) -> f64 {
    let k = k as f64;
    let t = k / 1236.85; // Julian centuries from 1900 January 0.5
    let t2 = t * t;
    let t3 = t2 * t;
    let dr = PI / 180.0;
    let mut jd1 = 2415020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3;
    jd1 += 0.00033 * ((166.56 + 132.87 * t - 0.009173 * t2) * dr).sin(); // mean new moon
    let m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3; // sun's mean anomaly
    let mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3; // moon's mean anomaly
    let f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3; // moon's argument of latitude
    let mut c1 = (0.1734 - 0.000393 * t) * (m * dr).sin() + 0.0021 * (2.0 * dr * m).sin();
    c1 = c1 - 0.4068 * (mpr * dr).sin() + 0.0161 * (dr * 2.0 * mpr).sin();
    c1 -= 0.0004 * (dr * 3.0 * mpr).sin();
    c1 = c1 + 0.0104 * (dr * 2.0 * f).sin() - 0.0051 * (dr * (m + mpr)).sin();
    c1 = c1 - 0.0074 * (dr * (m - mpr)).sin() + 0.0004 * (dr * (2.0 * f + m)).sin();
    c1 = c1 - 0.0004 * (dr * (2.0 * f - m)).sin() - 0.0006 * (dr * (2.0 * f + mpr)).sin();
    c1 = c1 + 0.0010 * (dr * (2.0 * f - mpr)).sin() + 0.0005 * (dr * (2.0 * mpr + m)).sin();
    let delta_t = if t < -11.0 {
        0.001 + 0.000839 * t + 0.0002261 * t2 - 0.00000845 * t3 - 0.000000081 * t * t3
    } else {
        -0.000278 + 0.000265 * t + 0.000262 * t2
    };
    jd1 + c1 - delta_t
}

/// Local day (Julian day number) of the k-th new moon.
fn new_moon_day(k: i64) -> i64 {
    (new_moon(k) + 0.5 + TIME_ZONE / 24.0).floor() as i64
}

/// The sun's apparent longitude in radians, normalised to [0, 2π), at a
/// Julian day (UT).
fn sun_longitude(jdn: f64) -> f64 {
    let t = (jdn - 2451545.0) / 36525.0; // Julian centuries from 2000-01-01 12:00 UT
    let t2 = t * t;
    let dr = PI / 180.0;
    let m = 357.52910 + 35999.05030 * t - 0.0001559 * t2 - 0.00000048 * t * t2; // mean anomaly
    let l0 = 280.46645 + 36000.76983 * t + 0.0003032 * t2; // mean longitude
    let mut dl = (1.914600 - 0.004817 * t - 0.000014 * t2) * (dr * m).sin();
    dl += (0.019993 - 0.000101 * t) * (dr * 2.0 * m).sin() + 0.000290 * (dr * 3.0 * m).sin();
    let l = (l0 + dl) * dr;
    l - 2.0 * PI * (l / (2.0 * PI)).floor()
}

/// Which 30° sector (0–11) the sun is in at the local midnight starting a day.
fn sun_sector(day_number: i64) -> i64 {
    (sun_longitude(day_number as f64 - 0.5 - TIME_ZONE / 24.0) / PI * 6.0).floor() as i64
}

/// Julian day number of the start of lunar month 11 (the month holding the
/// winter solstice) of Gregorian year `yy`.
fn lunar_month_11(yy: i64) -> i64 {
    let off = jd_from_ymd(31, 12, yy) - 2415021;
    let k = (off as f64 / SYNODIC_MONTH).floor() as i64;
    let nm = new_moon_day(k);
    if sun_sector(nm) >= 9 {
        new_moon_day(k - 1)
    } else {
        nm
    }
}

/// Offset (in months after month 11 starting at `a11`) of the leap month:
/// the first month during which the sun enters no new sector.
fn leap_month_offset(a11: i64) -> i64 {
    let k = ((a11 as f64 - NEW_MOON_EPOCH) / SYNODIC_MONTH + 0.5).floor() as i64;
    let mut i = 1;
    let mut arc = sun_sector(new_moon_day(k + i));
    loop {
        let last = arc;
        i += 1;
        arc = sun_sector(new_moon_day(k + i));
        if arc == last || i >= 14 {
            break;
        }
    }
    i - 1
}

fn convert_solar_to_lunar(day_number: i64, yy: i64) -> LunarDate {
    let mut k = ((day_number as f64 - NEW_MOON_EPOCH) / SYNODIC_MONTH).floor() as i64;
    // The mean-motion estimate can be off by one month near a new moon (the
    // reference code then yields day 0, e.g. 2054-05-07): settle on the new
    // moon that starts the month holding `day_number`.
    while new_moon_day(k) > day_number {
        k -= 1;
    }
    while new_moon_day(k + 1) <= day_number {
        k += 1;
    }
    let month_start = new_moon_day(k);
    let mut a11 = lunar_month_11(yy);
    let b11;
    let mut lunar_year;
    if a11 >= month_start {
        lunar_year = yy;
        b11 = a11;
        a11 = lunar_month_11(yy - 1);
    } else {
        lunar_year = yy + 1;
        b11 = lunar_month_11(yy + 1);
    }
    let lunar_day = day_number - month_start + 1;
    let diff = (month_start - a11).div_euclid(29);
    let mut leap = false;
    let mut lunar_month = diff + 11;
    if b11 - a11 > 365 {
        let leap_diff = leap_month_offset(a11);
        if diff >= leap_diff {
            lunar_month = diff + 10;
            leap = diff == leap_diff;
        }
    }
    if lunar_month > 12 {
        lunar_month -= 12;
    }
    if lunar_month >= 11 && diff < 4 {
        lunar_year -= 1;
    }
    LunarDate {
        year: lunar_year as i32,
        month: lunar_month as u32,
        day: lunar_day as u32,
        leap,
    }
}

/// Julian day number of a lunar date (not validated: see `lunar_to_solar`).
fn convert_lunar_to_solar(day: i64, month: i64, year: i64, leap: bool) -> i64 {
    let (a11, b11) = if month < 11 {
        (lunar_month_11(year - 1), lunar_month_11(year))
    } else {
        (lunar_month_11(year), lunar_month_11(year + 1))
    };
    let k = (0.5 + (a11 as f64 - NEW_MOON_EPOCH) / SYNODIC_MONTH).floor() as i64;
    let mut off = month - 11;
    if off < 0 {
        off += 12;
    }
    if b11 - a11 > 365 {
        let leap_off = leap_month_offset(a11);
        if leap || off >= leap_off {
            off += 1;
        }
    }
    new_moon_day(k + off) + day - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn tet_dates() {
        // Published Vietnamese Tết dates. 2100 is the algorithm's own output
        // (Hồ Ngọc Đức's tables list 09/02/2100), cross-checked against an
        // independent ephemeris (PyEphem) for new moons and the solstice at UTC+7.
        for (year, expected) in [
            (2000, ymd(2000, 2, 5)),
            (2023, ymd(2023, 1, 22)),
            (2024, ymd(2024, 2, 10)),
            (2025, ymd(2025, 1, 29)),
            (2026, ymd(2026, 2, 17)),
            (2033, ymd(2033, 1, 31)),
            (2100, ymd(2100, 2, 9)),
        ] {
            assert_eq!(
                lunar_to_solar(year, 1, 1, false),
                Some(expected),
                "Tết {year}"
            );
        }
    }

    #[test]
    fn tet_differs_from_china_where_the_meridian_matters() {
        // UTC+8 gives 1985-02-20 and 2007-02-18; Vietnam celebrated a day
        // (1985: a month) earlier.
        assert_eq!(lunar_to_solar(1985, 1, 1, false), Some(ymd(1985, 1, 21)));
        assert_eq!(lunar_to_solar(2007, 1, 1, false), Some(ymd(2007, 2, 17)));
    }

    #[test]
    fn gio_to_hung_vuong() {
        assert_eq!(lunar_to_solar(2024, 3, 10, false), Some(ymd(2024, 4, 18)));
        assert_eq!(lunar_to_solar(2025, 3, 10, false), Some(ymd(2025, 4, 7)));
        assert_eq!(lunar_to_solar(2026, 3, 10, false), Some(ymd(2026, 4, 26)));
    }

    #[test]
    fn leap_months() {
        // Ất Tỵ 2025 has a leap 6th month starting 2025-07-25.
        let d = solar_to_lunar(ymd(2025, 7, 25));
        assert_eq!(
            d,
            LunarDate {
                year: 2025,
                month: 6,
                day: 1,
                leap: true
            }
        );
        assert_eq!(lunar_to_solar(2025, 6, 1, false), Some(ymd(2025, 6, 25)));
        assert_eq!(lunar_to_solar(2025, 6, 1, true), Some(ymd(2025, 7, 25)));
        // Quý Mão 2023: leap 2nd month from 2023-03-22.
        assert_eq!(lunar_to_solar(2023, 2, 1, true), Some(ymd(2023, 3, 22)));
        // No leap 5th month in 2025, no leap month at all in 2024.
        assert_eq!(lunar_to_solar(2025, 5, 1, true), None);
        assert_eq!(lunar_to_solar(2024, 6, 1, true), None);
    }

    #[test]
    fn last_day_of_year_and_invalid_days() {
        // 12th month of Giáp Thìn (2024) has 29 days: 29 Tết = 2025-01-28.
        assert_eq!(lunar_to_solar(2024, 12, 29, false), Some(ymd(2025, 1, 28)));
        assert_eq!(lunar_to_solar(2024, 12, 30, false), None);
        // 12th month of Ất Tỵ (2025) also has 29 days: 29 Chạp = 2026-02-16.
        assert_eq!(
            solar_to_lunar(ymd(2026, 2, 16)),
            LunarDate {
                year: 2025,
                month: 12,
                day: 29,
                leap: false
            }
        );
        assert_eq!(lunar_to_solar(2025, 0, 1, false), None);
        assert_eq!(lunar_to_solar(2025, 13, 1, false), None);
        assert_eq!(lunar_to_solar(2025, 1, 31, false), None);
        assert_eq!(lunar_to_solar(2025, 1, 0, false), None);
    }

    #[test]
    fn round_trip_2000_to_2100() {
        let mut d = ymd(2000, 1, 1);
        let end = ymd(2100, 12, 31);
        let mut previous = solar_to_lunar(d.pred_opt().unwrap());
        while d <= end {
            let l = solar_to_lunar(d);
            assert_eq!(
                lunar_to_solar(l.year, l.month, l.day, l.leap),
                Some(d),
                "{d} -> {l:?}"
            );
            // Consecutive days: either the next lunar day or day 1 of a new month.
            assert!(
                l.day == previous.day + 1 || (l.day == 1 && previous.day >= 29),
                "{d}: {previous:?} -> {l:?}"
            );
            previous = l;
            d = d.succ_opt().unwrap();
        }
    }

    #[test]
    fn tet_is_within_its_season_1900_to_2199() {
        for year in 1900..=2199 {
            let tet = lunar_to_solar(year, 1, 1, false).unwrap();
            assert!(
                tet >= ymd(year, 1, 19) && tet <= ymd(year, 2, 21),
                "Tết {year} = {tet}"
            );
        }
    }
}
