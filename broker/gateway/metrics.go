package gateway

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	decisions    *prometheus.CounterVec
	decisionTime *prometheus.HistogramVec
	execTime     *prometheus.HistogramVec
	rateLimited  prometheus.Counter
	authFailures *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clawbroker_decisions_total", Help: "Policy decisions by action and result.",
		}, []string{"action", "result"}),
		decisionTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "clawbroker_decision_duration_seconds", Help: "Time spent evaluating policy.",
			Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 1e-2, 0.1},
		}, []string{"action"}),
		execTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "clawbroker_exec_duration_seconds", Help: "Sandboxed tool run time.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"tool"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clawbroker_rate_limited_total", Help: "Requests refused by the rate limiter.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clawbroker_auth_failures_total", Help: "Requests refused for authentication, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.decisions, m.decisionTime, m.execTime, m.rateLimited, m.authFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveDecision is the broker's decision hook.
func (m *metrics) ObserveDecision(action string, allow bool, eval time.Duration) {
	result := "deny"
	if allow {
		result = "allow"
	}
	m.decisions.WithLabelValues(action, result).Inc()
	m.decisionTime.WithLabelValues(action).Observe(eval.Seconds())
}

func (m *metrics) handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
