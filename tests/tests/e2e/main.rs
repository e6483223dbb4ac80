mod dashboard;
mod engines;
mod grafana;
mod incremental;
mod support;
mod vendor_types;
