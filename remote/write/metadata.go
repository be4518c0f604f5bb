package write

import (
	"time"
)

// metadataLoop refreshes the metadata of the active targets every send_interval: 2.0 queues
// attach it to each series, 1.0 queues send it in metadata-only requests (as Prometheus).
func (q *queue) metadataLoop() {
	defer q.bgDone.Done()
	if q.metadataSource == nil {
		return
	}
	interval := time.Duration(q.cfg.MetadataConfig.SendInterval)
	if interval <= 0 {
		interval = time.Minute
	}
	enc := newEncoder(false, nil)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		md := q.metadataSource()
		if q.v2 {
			m := make(map[string]Metadata, len(md))
			for _, e := range md {
				m[e.MetricFamily] = e
			}
			q.metadataMap.Store(&m)
		} else {
			q.sendMetadata(enc, md)
		}
		select {
		case <-q.stopc:
			return
		case <-q.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// lookupMetadata returns a metric family's metadata for 2.0 requests.
func (q *queue) lookupMetadata(name string) (Metadata, bool) {
	m := q.metadataMap.Load()
	if m == nil {
		return Metadata{}, false
	}
	md, ok := (*m)[name]
	return md, ok
}

func (q *queue) sendMetadata(enc *encoder, md []Metadata) {
	per := max(q.cfg.MetadataConfig.MaxSamplesPerSend, 1)
	for len(md) > 0 {
		part := md[:min(per, len(md))]
		md = md[len(part):]
		body, _, err := enc.encodeMetadata(part)
		if err != nil {
			q.m.metadataFailed.Add(float64(len(part)))
			continue
		}
		backoff := time.Duration(q.qc.MinBackoff)
		for attempt := 0; ; attempt++ {
			_, err := q.client.store(q.ctx, body, attempt)
			if err == nil {
				q.m.metadataTotal.Add(float64(len(part)))
				q.m.metadataBytesTotal.Add(float64(len(body)))
				break
			}
			if _, ok := isRecoverable(err); !ok {
				q.m.metadataFailed.Add(float64(len(part)))
				if ok, _ := q.logLimit.allow("metadata", time.Now()); ok {
					q.logger.Warn("Non-recoverable error sending metadata", "count", len(part), "err", err)
				}
				break
			}
			q.m.metadataRetried.Add(float64(len(part)))
			select {
			case <-time.After(backoff):
			case <-q.stopc:
				return
			case <-q.ctx.Done():
				return
			}
			backoff = min(backoff*2, time.Duration(q.qc.MaxBackoff))
		}
	}
}
