mod grafana;
