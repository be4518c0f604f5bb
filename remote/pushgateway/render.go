package pushgateway

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/prometheus/common/expfmt"
)

// chunkSize is about how large the pieces of an exposition WriteExposition hands out are.
const chunkSize = 256 << 10

// Negotiate returns the exposition format the Pushgateway's /metrics answers a scrape that
// sends accept as its Accept header with (promhttp with the Pushgateway's options: the
// Prometheus text and protobuf formats, not OpenMetrics).
func Negotiate(accept string) expfmt.Format {
	return expfmt.NegotiateAccept(http.Header{"Accept": []string{accept}}, expfmt.DefaultAcceptedFormats()...)
}

// WriteExposition renders every group's families in format, group after group, and hands the
// exposition to yield in pieces of about chunkSize bytes. Each piece is a complete exposition
// of whole families; a family name appears once per group, so it may appear in several pieces
// or several times in one. Families without metrics are left out, as an exposition leaves
// them out. It stops at the first error of yield.
func (s *Store) WriteExposition(format expfmt.Format, yield func([]byte) error) error {
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	flush := func() error {
		if c, ok := enc.(expfmt.Closer); ok {
			if err := c.Close(); err != nil {
				return err
			}
		}
		err := yield(buf.Bytes())
		buf.Reset()
		enc = expfmt.NewEncoder(&buf, format)
		return err
	}
	for _, g := range s.snapshot() {
		gl := g.labelMap()
		for i := range g.families {
			mf, err := decode(&g.families[i], gl)
			if err != nil {
				return err
			}
			if len(mf.Metric) == 0 {
				continue
			}
			if err := enc.Encode(mf); err != nil {
				return fmt.Errorf("rendering pushed family %s of group %s: %w", mf.GetName(), g.labels, err)
			}
			if buf.Len() >= chunkSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if buf.Len() > 0 {
		return flush()
	}
	return nil
}
