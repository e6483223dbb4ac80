//! motcua-queries: reads a one-stop electronic system's database and holds
//! the one definition of every administrative-reform KPI.
//!
//! Data flows one way: SQL files ([`source`]) → canonical rows
//! ([`model::SourceRows`]) → judged, indexed [`model::Dataset`] ([`judge`])
//! → per-dossier meaning ([`classify`], with the working-day [`calendar`])
//! → aggregates: [`snapshot::Snapshot`] for the exporter, [`report`] for
//! the official form. Nothing downstream computes a KPI itself.

pub mod calendar;
pub mod charts;
pub mod classify;
pub mod daily;
pub mod demo;
pub mod incremental;
pub mod judge;
mod lookup;
pub mod lunar;
pub mod model;
pub mod report;
pub mod service_index;
pub mod shard;
pub mod snapshot;
pub mod source;
pub mod worklist;

use std::path::Path;

use chrono::{FixedOffset, Utc};

pub use calendar::WorkCalendar;
pub use classify::Judge;
pub use model::{Dataset, Ts};
pub use snapshot::Snapshot;
pub use source::{ConnectOptions, Dialect, Source, SourceError, SqlFiles};

/// "Now" as local wall-clock time in `zone`.
pub fn now_local(zone: FixedOffset) -> Ts {
    model::ts_of(Utc::now().with_timezone(&zone).naive_local())
}

/// A source together with the SQL files that read it.
#[derive(Debug, Clone)]
pub struct Reader {
    pub source: Source,
    pub files: SqlFiles,
}

impl Reader {
    /// Opens `url` (without connecting yet) with the built-in SQL files, or
    /// the operator's files in `queries_dir`.
    pub fn open(
        url: &str,
        queries_dir: Option<&Path>,
        options: &ConnectOptions,
    ) -> Result<Reader, SourceError> {
        let source = Source::open(url, options)?;
        let files = match queries_dir {
            Some(dir) => SqlFiles::with_overrides(source.dialect(), dir)?,
            None => SqlFiles::embedded(source.dialect()),
        };
        Ok(Reader { source, files })
    }

    /// Reads and judges every row. Dossier rows are judged as they stream
    /// in and dropped, so the read holds the dataset (about 100 bytes a
    /// dossier), never the source's rows.
    pub async fn read(&self, zone: FixedOffset) -> Result<Dataset, SourceError> {
        let (source, files) = (&self.source, &self.files);
        let mut catalogue = model::SourceRows::default();
        source.catalogue(files, zone, &mut catalogue).await?;
        let (pauses, apologies) = lookup::pauses_and_apologies(source, files, zone, None).await?;
        let mut builder = judge::DatasetBuilder::new(
            &catalogue.agencies,
            &catalogue.sectors,
            &catalogue.procedures,
        )
        .keep_open_identities();
        source
            .stream_dossiers(files, zone, None, &mut |row| {
                let k = lookup::key(&row.code);
                let own = pauses.of(k).iter().map(lookup::PauseOf::pause);
                builder.dossier(k, &row, own, apologies.contains(k));
            })
            .await?;
        source
            .stream_evaluations(files, zone, None, &mut |e| builder.evaluation(&e))
            .await?;
        let mut dataset = builder.finish();
        dataset.dossiers.shrink_to_fit();
        dataset.pauses.shrink_to_fit();
        dataset.evaluations.shrink_to_fit();
        Ok(dataset)
    }
}
