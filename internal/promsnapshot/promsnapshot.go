// Package promsnapshot turns a snapshot of a component's own counters into
// Prometheus metrics at scrape time. The agent and the relay keep their
// counters where the work happens (spool, uplink, relay log, dispatchers);
// their metrics packages declare the metrics once and, at each scrape, read
// a snapshot and emit its values. The hot paths carry no metric code and
// nothing is counted twice.
package promsnapshot

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric is one declared metric: a name, its help, its labels, its type.
type Metric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
}

// Counter declares a counter (a value that only grows while the process
// lives).
func Counter(name, help string, labels ...string) Metric {
	return Metric{prometheus.NewDesc(name, help, labels, nil), prometheus.CounterValue}
}

// Gauge declares a gauge.
func Gauge(name, help string, labels ...string) Metric {
	return Metric{prometheus.NewDesc(name, help, labels, nil), prometheus.GaugeValue}
}

// Emit reports one sample of m, with its label values in m's order.
type Emit func(m Metric, v float64, labels ...string)

// Collector is a prometheus.Collector of the declared metrics whose Collect
// calls collect with an Emit.
func Collector(metrics []Metric, collect func(Emit)) prometheus.Collector {
	return &collector{metrics: metrics, collect: collect}
}

type collector struct {
	metrics []Metric
	collect func(Emit)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.collect(func(m Metric, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, v, labels...)
	})
}

// Handler serves c and the Go runtime's and the process's metrics in the
// Prometheus text format.
func Handler(c prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// OneHot is 1 for true and 0 for false: a state gauge with one series per
// possible state, the current one at 1.
func OneHot(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
