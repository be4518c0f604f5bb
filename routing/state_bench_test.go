package routing

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func benchSilence(i int) *silencepb.Silence {
	now := time.Now()
	return &silencepb.Silence{
		MatcherSets: []*silencepb.MatcherSet{{Matchers: []*silencepb.Matcher{{Type: silencepb.Matcher_EQUAL, Name: "instance", Pattern: fmt.Sprintf("host-%d:9100", i)}}}},
		StartsAt:    timestamppb.New(now),
		EndsAt:      timestamppb.New(now.Add(time.Hour)),
		CreatedBy:   "bench",
		Comment:     "planned maintenance",
	}
}

// BenchmarkDurableState measures what durability costs per change: creating a silence (the
// API's Silences.Set) and writing a notification log entry (the pipeline's Log), journaled
// and fsynced ("durable", Vigil's router) against upstream's in-memory state that is only
// snapshotted periodically ("memory", Alertmanager and the previous Vigil). The parallel
// variants show the notification log's group commit.
func BenchmarkDurableState(b *testing.B) {
	newRouter := func(b *testing.B) *Router {
		r, err := New(Options{DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(r.Stop)
		return r
	}
	memSilences := func(b *testing.B) *silence.Silences {
		s, err := silence.New(silence.Options{Retention: DefaultRetention, Metrics: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	memNflog := func(b *testing.B) *nflog.Log {
		l, err := nflog.New(nflog.Options{Retention: DefaultRetention, Metrics: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	ctx := context.Background()
	b.Run("silence/memory", func(b *testing.B) {
		s := memSilences(b)
		for i := 0; b.Loop(); i++ {
			if err := s.Set(ctx, benchSilence(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("silence/durable", func(b *testing.B) {
		s := newRouter(b).Silences()
		for i := 0; b.Loop(); i++ {
			if err := s.Set(ctx, benchSilence(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	nflogBench := func(b *testing.B, l func(gkey string, i int) error, parallel bool) {
		var n atomic.Int64
		if !parallel {
			for i := 0; b.Loop(); i++ {
				if err := l(fmt.Sprintf("{}:{alertname=\"A%d\"}", i%1000), i); err != nil {
					b.Fatal(err)
				}
			}
			return
		}
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				if err := l(fmt.Sprintf("{}:{alertname=\"A%d\"}", i%1000), i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for _, parallel := range []bool{false, true} {
		suffix := ""
		if parallel {
			suffix = "-parallel"
		}
		b.Run("nflog/memory"+suffix, func(b *testing.B) {
			l := memNflog(b)
			nflogBench(b, func(gkey string, i int) error {
				return l.Log(crashReceiver, gkey, []uint64{uint64(i)}, nil, nil, 0)
			}, parallel)
		})
		b.Run("nflog/durable"+suffix, func(b *testing.B) {
			l := newRouter(b).durableNflog
			nflogBench(b, func(gkey string, i int) error {
				return l.Log(crashReceiver, gkey, []uint64{uint64(i)}, nil, nil, 0)
			}, parallel)
		})
	}
}
