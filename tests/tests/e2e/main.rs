mod grafana;
mod engines;
mod support;
