mod corrections;
mod dashboard;
mod engines;
mod grafana;
mod incremental;
mod live;
mod support;
mod vendor_types;
