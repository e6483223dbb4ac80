mod dashboard;
mod engines;
mod grafana;
mod support;
