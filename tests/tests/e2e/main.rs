mod dashboard;
mod engines;
mod grafana;
mod incremental;
mod support;
