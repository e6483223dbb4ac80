//! Canonical rows (what every source SQL file yields) and the compact,
//! indexed form the KPIs are computed from.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::calendar::Day;

/// A local wall-clock instant: seconds since 1970-01-01T00:00:00 *local*
/// time. The source stores timestamps without a zone, already local, so
/// they are used as stored; only "now" is converted with the configured zone.
pub type Ts = i64;

pub const SECONDS_PER_DAY: i64 = 86_400;

/// The local calendar date of an instant.
pub fn day_of(ts: Ts) -> Day {
    ts.div_euclid(SECONDS_PER_DAY) as Day
}

/// Midnight at the start of a local date.
pub fn start_of(day: Day) -> Ts {
    i64::from(day) * SECONDS_PER_DAY
}

pub fn ts_of(dt: NaiveDateTime) -> Ts {
    dt.and_utc().timestamp()
}

pub fn ts_of_date(d: NaiveDate) -> Ts {
    ts_of(d.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

pub fn datetime_of(ts: Ts) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.naive_utc())
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agency {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub level: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sector {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Procedure {
    pub code: String,
    pub name: String,
    pub sector_code: String,
    pub deadline_days: Option<f64>,
    pub online_level: String,
    /// The procedure carries a fee or charge; None when the source does not
    /// say (no `has_fee` column, or NULL): the payment indicators of the
    /// service index then have nothing to count (DESIGN §8).
    pub has_fee: Option<bool>,
}

/// What the service index needs to know of a dossier's procedure.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcedureTraits {
    pub code: String,
    /// online_level `full` (toàn trình).
    pub online_full: bool,
    pub has_fee: Option<bool>,
}

/// One row of `dossiers.sql`, as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DossierRow {
    pub code: String,
    pub procedure_code: String,
    pub agency_code: String,
    pub channel: Option<i64>,
    pub status: i64,
    pub received_at: Option<Ts>,
    pub due_at: Option<Ts>,
    pub finished_at: Option<Ts>,
    pub returned_at: Option<Ts>,
    pub digitized: bool,
    pub e_result: bool,
    pub paid_online: bool,
    pub updated_at: Option<Ts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SupplementRow {
    pub dossier_code: String,
    pub requested_at: Ts,
    pub resumed_at: Option<Ts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApologyRow {
    pub dossier_code: String,
    pub issued_at: Option<Ts>,
    pub new_due_at: Option<Ts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationRow {
    pub dossier_code: Option<String>,
    pub agency_code: String,
    pub evaluated_at: Option<Ts>,
    pub rating: String,
}

/// Everything the SQL files returned, before judgement.
#[derive(Debug, Clone, Default)]
pub struct SourceRows {
    pub agencies: Vec<Agency>,
    pub sectors: Vec<Sector>,
    pub procedures: Vec<Procedure>,
    pub dossiers: Vec<DossierRow>,
    pub supplements: Vec<SupplementRow>,
    pub apologies: Vec<ApologyRow>,
    pub evaluations: Vec<EvaluationRow>,
}

macro_rules! label_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The label value used in metrics and reports.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

label_enum!(
    /// KenhThucHien. A NULL or unknown channel counts as direct, as the national index does.
    Channel { Direct => "direct", Online => "online", Postal => "postal" }
);
label_enum!(Timeliness { Early => "early", OnTime => "on_time", Late => "late" });
label_enum!(CancelReason { Withdrawn => "withdrawn", Stopped => "stopped" });
label_enum!(PendingState { InTime => "in_time", Overdue => "overdue", Paused => "paused" });
label_enum!(Rating {
    VerySatisfied => "very_satisfied",
    Satisfied => "satisfied",
    Dissatisfied => "dissatisfied",
});
label_enum!(DigitizedKind { Dossier => "dossier", Result => "result" });
label_enum!(
    /// Why a source row was left out of every KPI (DESIGN §2), in the order the reasons are tried.
    RejectReason {
        UnknownStatus => "unknown_status",
        MissingReceivedAt => "missing_received_at",
        MissingFinishedAt => "missing_finished_at",
        EndedBeforeReceived => "ended_before_received",
        UnknownRating => "unknown_rating",
    }
);

impl Channel {
    pub fn from_code(code: Option<i64>) -> Channel {
        match code {
            Some(2) => Channel::Online,
            Some(3) => Channel::Postal,
            _ => Channel::Direct,
        }
    }
}

impl Rating {
    pub fn parse(s: &str) -> Option<Rating> {
        Rating::ALL.iter().copied().find(|r| r.label() == s)
    }
}

/// Where an intake dossier stands, by its status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// 2, 4, 5, 6: still being worked on (5 and 6 wait on the citizen).
    Open { waiting_on_citizen: bool },
    /// 9, 10.
    Resolved,
    /// 7, 8.
    Cancelled(CancelReason),
}

/// An intake dossier in compact form: indices instead of codes, instants as
/// [`Ts`]. 80 bytes a dossier plus its pauses.
#[derive(Debug, Clone, PartialEq)]
pub struct Dossier {
    pub agency: u32,
    pub sector: u32,
    /// Index into [`Dataset::procedures`]; [`NO_PROCEDURE`] when the
    /// procedure is not in the catalogue.
    pub procedure: u32,
    pub channel: Channel,
    pub stage: Stage,
    pub received: Ts,
    pub due: Option<Ts>,
    /// finished_at for resolved dossiers; finished_at, else updated_at, for
    /// cancelled ones; None while open.
    pub ended: Option<Ts>,
    /// The procedure's deadline_days, as f32 to keep a dossier at 80 bytes
    /// (exact for whole and half days; no KPI compares it finer).
    pub deadline_days: Option<f32>,
    pub digitized: bool,
    pub e_result: bool,
    pub paid_online: bool,
    pub has_apology: bool,
    /// Range into [`Dataset::pauses`], sorted by start.
    pub pauses: (u32, u32),
}

/// [`Dossier::procedure`] of a dossier whose procedure is not in the catalogue.
pub const NO_PROCEDURE: u32 = u32::MAX;

impl Dossier {
    pub fn deadline(&self) -> Option<f64> {
        self.deadline_days.map(f64::from)
    }
}

/// A supplement interval [start, end): the legal clock stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub start: Ts,
    pub end: Option<Ts>,
}

/// Who an open dossier is, for the worklist (DESIGN §9): kept for open
/// dossiers only, beside the compact [`Dossier`], so ten million dossiers
/// cost no codes. Nothing about the applicant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIdentity {
    /// Index into [`Dataset::dossiers`].
    pub dossier: u32,
    /// MaHoSo.
    pub code: Box<str>,
    /// MaTTHC.
    pub procedure: Box<str>,
    /// TrangThaiHoSo (2, 4, 5 or 6).
    pub status: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub agency: u32,
    pub rating: Rating,
    pub evaluated_at: Option<Ts>,
}

/// Judged, indexed source data: what every KPI is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    /// Agency codes, sorted; a dossier's or evaluation's `agency` indexes here.
    pub agency_codes: Vec<String>,
    /// Catalogue entry for each code, when the agencies table has one.
    pub agencies: Vec<Option<Agency>>,
    /// Sector codes, sorted (`unknown` for dossiers whose procedure is not in the catalogue).
    pub sector_codes: Vec<String>,
    pub sectors: Vec<Option<Sector>>,
    /// The catalogue's procedures; a dossier's `procedure` indexes here.
    pub procedures: Vec<ProcedureTraits>,
    /// Intake dossiers, in an order fixed by their codes, not by the order
    /// the engine returned them: by code ([`crate::judge::build_dataset`]),
    /// or by a 64-bit hash of it (a streamed read, which keeps no codes).
    /// A dataset only summed is in the order its rows came
    /// ([`crate::judge::DatasetBuilder::finish_for_sums`]).
    pub dossiers: Vec<Dossier>,
    pub pauses: Vec<Pause>,
    pub evaluations: Vec<Evaluation>,
    /// The identities of the open dossiers, by dossier index, when the
    /// builder was asked to keep them ([`crate::judge::DatasetBuilder::keep_open_identities`]).
    pub open: Vec<OpenIdentity>,
    /// Source rows that could not be judged, by reason (every reason present).
    pub rejected: Vec<(RejectReason, u64)>,
}

impl Dataset {
    pub fn pauses_of(&self, d: &Dossier) -> &[Pause] {
        &self.pauses[d.pauses.0 as usize..d.pauses.1 as usize]
    }

    /// The traits of a dossier's procedure, when it is in the catalogue.
    pub fn procedure_of(&self, d: &Dossier) -> Option<&ProcedureTraits> {
        self.procedures.get(d.procedure as usize)
    }

    pub fn agency_index(&self, code: &str) -> Option<u32> {
        self.agency_codes
            .binary_search_by(|c| c.as_str().cmp(code))
            .ok()
            .map(|i| i as u32)
    }

    pub fn rejected_count(&self, reason: RejectReason) -> u64 {
        self.rejected
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}
