//! Hostile input, generated: the dashboard's parameters and path segments
//! (arbitrary strings, arbitrary bytes percent-encoded, SQL, near-misses of
//! valid values) driven through the Router in-process, and the period
//! parser alone. A fixed seed: every run tries the same cases.
//!
//! Cases per property: `PROPTEST_CASES` (default 10 000; the drawn-chart one a
//! twentieth of it). A long run: `PROPTEST_CASES=1000000 cargo test --release
//! -p motcua-dashboard --test fuzz`.

mod common;

use axum::http::StatusCode;
use common::{Reply, demo_state, get, pct};
use motcua_dashboard::AppState;
use motcua_dashboard::charts::ChartKind;
use motcua_queries::report::PeriodName;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// SQL that would do harm if it ever reached a statement as text.
pub const SQL: &[&str] = &[
    "' OR 1=1--",
    "'; DROP TABLE dossiers;--",
    "1; DELETE FROM agencies",
    "\" OR \"\"=\"",
    "2025' UNION SELECT code FROM agencies--",
    "2025-Q1'; UPDATE dossiers SET status=0;--",
    "%27%20OR%201%3D1",
    "x') ; TRUNCATE evaluations; --",
    "1 OR sleep(5)",
    "pg_sleep(5)--",
];

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runner(cases: u32, seed: u8) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

/// A hostile value, already percent-encoded for a URI.
fn hostile() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "\\PC{0,24}".prop_map(|s| pct(s.as_bytes())),
        2 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(|b| pct(&b)),
        2 => proptest::sample::select(SQL).prop_map(|s| pct(s.as_bytes())),
        // Raw, unencoded: stray `%`, `&`, `=`, `+`, broken escapes.
        1 => "[A-Za-z0-9%=&+;:@,./?!*'()$~_-]{0,20}",
        1 => "-?[0-9]{0,25}",
    ]
    .boxed()
}

/// A valid value (from `valid`) or a hostile one.
fn field(valid: BoxedStrategy<String>, valid_weight: u32) -> BoxedStrategy<Option<String>> {
    prop_oneof![
        1 => Just(None),
        valid_weight => valid.prop_map(Some),
        3 => hostile().prop_map(Some),
    ]
    .boxed()
}

fn date() -> BoxedStrategy<String> {
    (1995..2106i32, 1..13u32, 1..32u32)
        .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
        .boxed()
}

fn side() -> BoxedStrategy<String> {
    prop_oneof![
        (150..4100u32).prop_map(|n| n.to_string()),
        Just("200".into())
    ]
    .boxed()
}

fn lang() -> BoxedStrategy<String> {
    proptest::sample::select(&["vi", "en", "VI", "fr", ""][..])
        .prop_map(str::to_owned)
        .boxed()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The demo's service (opened inside `rt`) and its agency codes.
fn demo(rt: &tokio::runtime::Runtime) -> (AppState, Vec<String>) {
    let _enter = rt.enter();
    let state = demo_state();
    let codes = rt.block_on(async {
        state
            .store
            .get()
            .await
            .unwrap()
            .dataset
            .agency_codes
            .clone()
    });
    (state, codes)
}

fn agency(codes: Vec<String>) -> BoxedStrategy<String> {
    proptest::sample::select(codes)
        .prop_map(|c| pct(c.as_bytes()))
        .boxed()
}

fn chart_name() -> BoxedStrategy<String> {
    let names: Vec<String> = ChartKind::ALL.iter().map(|k| k.name().to_owned()).collect();
    prop_oneof![3 => proptest::sample::select(names), 1 => hostile()].boxed()
}

fn period() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (1995..2106i32).prop_map(|y| y.to_string()),
        3 => (1995..2106i32, 0..4u32).prop_map(|(y, h)| format!("{y}-H{h}")),
        3 => (1995..2106i32, 0..6u32).prop_map(|(y, q)| format!("{y}-q{q}")),
        3 => (1995..2106i32, 0..14u32).prop_map(|(y, m)| format!("{y}-{m:02}")),
        4 => hostile(),
    ]
    .boxed()
}

/// A query string from named fields; sometimes an unknown or repeated name.
fn query(fields: Vec<(&'static str, Option<String>)>, extra: Option<(String, String)>) -> String {
    let mut parts: Vec<String> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}={v}"));
    }
    parts.join("&")
}

fn extra() -> BoxedStrategy<Option<(String, String)>> {
    prop_oneof![
        8 => Just(None),
        1 => ("[a-z_]{1,12}", hostile()).prop_map(Some),
        1 => (hostile(), hostile()).prop_map(Some),
        1 => proptest::sample::select(&["from", "width", "agency", "lang", "format"][..])
            .prop_flat_map(|k| hostile().prop_map(move |v| Some((k.to_owned(), v)))),
    ]
    .boxed()
}

/// The rules every answer keeps: no 5xx, only 200/400/404 (the data is
/// loaded, so no 503), a 400 names a parameter that was given or is part of
/// the path, a 404 names the agency (or is the router's own, empty 404).
fn check(uri: &str, r: &Reply, given: &[String]) -> Result<(), TestCaseError> {
    let body = r.text();
    match r.status {
        StatusCode::OK => {}
        StatusCode::BAD_REQUEST => {
            prop_assert!(r.content_type.starts_with("text/plain"), "{uri}: {body}");
            let named = body.strip_prefix("parameter `");
            prop_assert!(
                named.is_some(),
                "{uri}: a 400 that names no parameter: {body:?}"
            );
            let named = named.unwrap_or_default();
            let ok = ["chart", "format", "period"]
                .iter()
                .map(|s| s.to_string())
                .chain(given.iter().cloned())
                .any(|p| named.starts_with(&format!("{p}`")));
            prop_assert!(ok, "{uri}: a 400 naming something not given: {body:?}");
        }
        StatusCode::NOT_FOUND => {
            prop_assert!(
                body.is_empty() || body.starts_with("parameter `agency`"),
                "{uri}: {body:?}"
            );
        }
        s => prop_assert!(false, "{uri}: status {s}: {body}"),
    }
    Ok(())
}

/// The names in a query string: decoded as the service decodes them (and
/// cut as it cuts them, at 40 characters), or as given when they do not decode.
fn names(q: &str) -> Vec<String> {
    q.split('&')
        .map(|p| {
            let k = p.split_once('=').map_or(p, |(k, _)| k);
            percent_decode(k)
                .and_then(|b| String::from_utf8(b).ok())
                .map_or_else(|| k.to_owned(), |s| s.chars().take(40).collect())
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

fn run_all(
    runner: &mut TestRunner,
    strategy: BoxedStrategy<String>,
    state: &AppState,
    rt: &tokio::runtime::Runtime,
    label: &str,
) -> (usize, usize) {
    let ok = std::cell::Cell::new(0usize);
    let all = std::cell::Cell::new(0usize);
    let started = std::time::Instant::now();
    let result = runner.run(&strategy, |uri| {
        let r = rt.block_on(get(state, &uri));
        all.set(all.get() + 1);
        if r.status == StatusCode::OK {
            ok.set(ok.get() + 1);
            if uri.starts_with("/charts/") {
                prop_assert!(r.content_type.starts_with("image/"), "{uri}");
            }
        }
        let q = uri.split_once('?').map_or("", |(_, q)| q);
        check(&uri, &r, &names(q))
    });
    if let Err(e) = result {
        panic!("{label}: {e}");
    }
    eprintln!(
        "{label}: {} requests ({} answered 200) in {:.1} s",
        all.get(),
        ok.get(),
        started.elapsed().as_secs_f64()
    );
    (all.get(), ok.get())
}

fn chart_uris(codes: Vec<String>, valid_weight: u32) -> BoxedStrategy<String> {
    let ext = prop_oneof![
        3 => proptest::sample::select(&["png", "svg"][..]).prop_map(str::to_owned),
        1 => hostile(),
    ];
    (
        chart_name(),
        ext,
        field(date(), valid_weight),
        field(date(), valid_weight),
        field(agency(codes), valid_weight),
        field(lang(), valid_weight),
        field(side(), valid_weight),
        field(side(), valid_weight),
        extra(),
    )
        .prop_map(
            |(name, ext, from, to, agency, lang, width, height, extra)| {
                let q = query(
                    vec![
                        ("from", from),
                        ("to", to),
                        ("agency", agency),
                        ("lang", lang),
                        ("width", width),
                        ("height", height),
                    ],
                    extra,
                );
                format!("/charts/{name}.{ext}?{q}")
            },
        )
        .boxed()
}

#[test]
fn chart_parameters_never_give_a_5xx() {
    let rt = rt();
    let (state, codes) = demo(&rt);
    // Valid values weigh little here: most requests stop at validation, so
    // ten thousand of them take seconds (a chart takes milliseconds to draw).
    let (all, _) = run_all(
        &mut runner(cases(10_000), 1),
        chart_uris(codes, 2),
        &state,
        &rt,
        "charts (validation)",
    );
    assert!(all >= cases(10_000) as usize);
}

#[test]
fn charts_drawn_from_fuzzed_parameters() {
    let rt = rt();
    let (state, codes) = demo(&rt);
    let n = (cases(10_000) / 20).max(50);
    // Mostly valid values with small sizes: these are drawn.
    let small = prop_oneof![(200..420u32).prop_map(|n| n.to_string())].boxed();
    let near = || {
        (2024..2027i32, 1..13u32, 1..29u32)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
            .boxed()
    };
    let strategy = (
        chart_name(),
        proptest::sample::select(&["png", "svg"][..]),
        field(near(), 40),
        field(near(), 40),
        field(agency(codes), 40),
        field(lang(), 40),
        field(small.clone(), 40),
        field(small, 40),
    )
        .prop_map(|(name, ext, a, b, agency, lang, width, height)| {
            // The earlier date first, mostly.
            let (from, to) = match (a, b) {
                (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                other => other,
            };
            let q = query(
                vec![
                    ("from", from),
                    ("to", to),
                    ("agency", agency),
                    ("lang", lang),
                    ("width", width),
                    ("height", height),
                ],
                None,
            );
            format!("/charts/{name}.{ext}?{q}")
        })
        .boxed();
    let (all, ok) = run_all(&mut runner(n, 2), strategy, &state, &rt, "charts (drawn)");
    assert!(
        ok * 10 >= all,
        "only {ok} of {all} drawn: the test draws too little"
    );
}

#[test]
fn report_parameters_never_give_a_5xx() {
    let rt = rt();
    let (state, codes) = demo(&rt);
    let format = proptest::sample::select(&["html", "csv", "json", "xlsx"][..])
        .prop_map(str::to_owned)
        .boxed();
    let report = (
        period(),
        field(format, 2),
        field(agency(codes.clone()), 2),
        field(lang(), 2),
        extra(),
    )
        .prop_map(|(p, format, agency, lang, extra)| {
            let q = query(
                vec![("format", format), ("agency", agency), ("lang", lang)],
                extra,
            );
            format!("/reports/{p}?{q}")
        });
    let form = (
        field(period(), 2),
        field(agency(codes), 2),
        field(lang(), 2),
    )
        .prop_map(|(p, agency, lang)| {
            format!(
                "/reports?{}",
                query(
                    vec![("period", p), ("agency", agency), ("lang", lang)],
                    None
                )
            )
        });
    let index =
        field(lang(), 2).prop_map(|lang| format!("/?{}", query(vec![("lang", lang)], None)));
    let strategy = prop_oneof![8 => report, 1 => form, 1 => index].boxed();
    // The form's target redirects (303): allowed there only.
    let mut runner = runner(cases(10_000), 3);
    let started = std::time::Instant::now();
    let mut seen = [0usize; 4];
    let seen_cell = std::cell::RefCell::new(&mut seen);
    runner
        .run(&strategy, |uri| {
            let r = rt.block_on(get(&state, &uri));
            let mut s = seen_cell.borrow_mut();
            s[match r.status.as_u16() {
                200 => 0,
                303 => 1,
                400 => 2,
                _ => 3,
            }] += 1;
            if r.status == StatusCode::SEE_OTHER {
                prop_assert!(uri.starts_with("/reports?"), "{uri}: a redirect");
                return Ok(());
            }
            let q = uri.split_once('?').map_or("", |(_, q)| q);
            check(&uri, &r, &names(q))
        })
        .unwrap_or_else(|e| panic!("reports: {e}"));
    eprintln!(
        "reports: 200 ×{}, 303 ×{}, 400 ×{}, other ×{} in {:.1} s",
        seen[0],
        seen[1],
        seen[2],
        seen[3],
        started.elapsed().as_secs_f64()
    );
    assert!(seen[0] > 0 && seen[2] > 0, "{seen:?}");
}

/// Any string: the parser answers without panicking, and whatever it
/// accepts prints back to a name it parses to the same period.
#[test]
fn the_period_parser_never_panics_and_round_trips() {
    let mut runner = runner(cases(10_000), 4);
    let strategy = prop_oneof![
        "\\PC{0,16}",
        "[0-9]{3,5}(-([HhQq]?[0-9]{0,3}))?",
        any::<String>(),
    ];
    runner
        .run(&strategy, |s| {
            if let Ok(p) = s.parse::<PeriodName>() {
                let printed = p.to_string();
                prop_assert_eq!(printed.parse::<PeriodName>(), Ok(p), "{:?}", s);
            }
            Ok(())
        })
        .unwrap();
    // Every valid period: parse → print → parse is the identity.
    let valid = prop_oneof![
        (2000..=2100i32).prop_map(PeriodName::Year),
        (2000..=2100i32, 1..=2u32).prop_map(|(y, h)| PeriodName::Half(y, h)),
        (2000..=2100i32, 1..=4u32).prop_map(|(y, q)| PeriodName::Quarter(y, q)),
        (2000..=2100i32, 1..=12u32).prop_map(|(y, m)| PeriodName::Month(y, m)),
    ];
    runner
        .run(&valid, |p| {
            let printed = p.to_string();
            prop_assert_eq!(printed.parse::<PeriodName>(), Ok(p));
            prop_assert_eq!(printed.to_lowercase().parse::<PeriodName>(), Ok(p));
            Ok(())
        })
        .unwrap();
}
