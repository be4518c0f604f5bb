package scrape

import (
	"context"
	"io"
	"sync"
	"time"
)

// netClock is a scrape's timeout counted over the time spent on the network only: the request
// until its response headers, and each read of the body. The body is parsed and appended as it
// arrives (appendTextChunks); the clock is paused while that happens, so that a process short of
// CPU does not fail scrapes whose target answered in time. That is what scrape_timeout bounds in
// Prometheus, which reads the body whole under the timeout and appends it after without one.
//
// When the clock runs out, the request's context is cancelled with context.DeadlineExceeded as
// its cause: the HTTP client's errors then read "context deadline exceeded", as Prometheus's.
type netClock struct {
	cancel context.CancelCauseFunc
	cr     clockedReader

	mu      sync.Mutex
	left    time.Duration
	started time.Time // when the clock last resumed; zero while paused
	// The timer is not stopped by a pause (a body is read in many small reads): it fires at or
	// before the clock's end, since pauses only move the end later, and re-arms itself for
	// what is left. armed tells whether it is set.
	timer   *time.Timer
	armed   bool
	expired bool
}

// startNetClock returns the context a scrape's request is made under, with a running clock of
// timeout. Stop releases it.
func startNetClock(parent context.Context, timeout time.Duration) (context.Context, *netClock) {
	ctx, cancel := context.WithCancelCause(parent)
	c := &netClock{cancel: cancel, left: timeout, started: time.Now(), armed: true}
	c.timer = time.AfterFunc(timeout, c.fire)
	return ctx, c
}

func (c *netClock) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
	if c.started.IsZero() || c.expired {
		return // paused: resume arms the timer again
	}
	if rest := c.left - time.Since(c.started); rest > 0 {
		c.timer.Reset(rest) // pauses in between moved the end
		c.armed = true
		return
	}
	c.expire()
}

func (c *netClock) expire() {
	c.expired = true
	c.left = 0
	c.cancel(context.DeadlineExceeded)
}

// pause stops the clock; the time left is kept.
func (c *netClock) pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started.IsZero() || c.expired {
		return
	}
	c.left -= time.Since(c.started)
	c.started = time.Time{}
}

// resume runs the clock again for the time left.
func (c *netClock) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started.IsZero() || c.expired {
		return
	}
	if c.left <= 0 {
		c.expire()
		return
	}
	c.started = time.Now()
	if !c.armed {
		c.timer.Reset(c.left)
		c.armed = true
	}
}

// stop ends the clock and cancels the request's context.
func (c *netClock) stop() {
	c.mu.Lock()
	c.timer.Stop()
	c.armed = false
	c.started = time.Time{}
	c.expired = true
	c.mu.Unlock()
	c.cancel(context.Canceled)
}

// reader returns r read on the clock: it runs during each Read only.
func (c *netClock) reader(r io.Reader) io.Reader {
	c.cr = clockedReader{r: r, c: c}
	return &c.cr
}

type clockedReader struct {
	r io.Reader
	c *netClock
}

func (cr *clockedReader) Read(p []byte) (int, error) {
	cr.c.resume()
	n, err := cr.r.Read(p)
	cr.c.pause()
	return n, err
}
