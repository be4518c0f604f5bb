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

	mu      sync.Mutex
	left    time.Duration
	started time.Time // when the clock last resumed; zero while paused
	timer   *time.Timer
	expired bool
}

// startNetClock returns the context a scrape's request is made under, with a running clock of
// timeout. Stop releases it.
func startNetClock(parent context.Context, timeout time.Duration) (context.Context, *netClock) {
	ctx, cancel := context.WithCancelCause(parent)
	c := &netClock{cancel: cancel, left: timeout, started: time.Now()}
	c.timer = time.AfterFunc(timeout, c.fire)
	return ctx, c
}

func (c *netClock) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started.IsZero() || c.expired {
		return // paused (or stopped) just as the timer fired
	}
	if rest := c.left - time.Since(c.started); rest > 0 {
		c.timer.Reset(rest) // a pause and resume in between moved the end
		return
	}
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
	c.timer.Stop()
}

// resume runs the clock again for the time left.
func (c *netClock) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started.IsZero() || c.expired {
		return
	}
	if c.left <= 0 {
		c.expired = true
		c.cancel(context.DeadlineExceeded)
		return
	}
	c.started = time.Now()
	c.timer.Reset(c.left)
}

// stop ends the clock and cancels the request's context.
func (c *netClock) stop() {
	c.mu.Lock()
	c.timer.Stop()
	c.started = time.Time{}
	c.expired = true
	c.mu.Unlock()
	c.cancel(context.Canceled)
}

// reader returns r read on the clock: it runs during each Read only.
func (c *netClock) reader(r io.Reader) io.Reader { return &clockedReader{r: r, c: c} }

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
