package main

// The mechanics of the server's lifecycle: components start one after the other, then run as
// one oklog/run group; the first to end (a signal, /-/quit, the web server failing) stops them
// all, in the shutdown order. The orders themselves are declared in run (main.go).

import (
	"fmt"
	"log/slog"
	"sync"

	oklogrun "github.com/oklog/run"
)

// component is one part of the server.
type component struct {
	name string
	// start makes the component work; an error stops the components started before it and
	// ends the server. Nil: nothing to start.
	start func() error
	// wait, if set, returns when the component ends on its own (a termination request, the
	// web server failing); that ends the server. Stop must make it return.
	wait func() error
	// stop ends the component and returns when it has ended. It is called once, and only
	// if start succeeded. Nil: nothing to stop.
	stop func()
}

// lifecycle runs components in a start order and a shutdown order.
type lifecycle struct {
	logger *slog.Logger
	// startOrder lists every component, each started once the one before it has.
	startOrder []*component
	// stopOrder lists every component in the order they stop.
	stopOrder []*component
	// stopping is closed when termination was requested; the start phase checks it
	// between components so that a SIGTERM during a long start (WAL replay) is not lost.
	stopping <-chan struct{}
	// ready is called once every component has started.
	ready func()
}

// run starts the components, marks the server ready, and runs them until one ends; it
// returns once all have stopped, with the error that ended the server (nil for a requested
// termination).
func (l *lifecycle) run() error {
	if len(l.startOrder) != len(l.stopOrder) {
		return fmt.Errorf("lifecycle: %d components start but %d stop", len(l.startOrder), len(l.stopOrder))
	}
	started := map[*component]bool{}
	stopStarted := func() {
		for _, c := range l.stopOrder {
			if started[c] && c.stop != nil {
				l.logger.Debug("stopping", "component", c.name)
				c.stop()
			}
		}
	}
	for _, c := range l.startOrder {
		if c.start != nil {
			l.logger.Debug("starting", "component", c.name)
			if err := c.start(); err != nil {
				stopStarted()
				return err
			}
		}
		started[c] = true
		select {
		case <-l.stopping:
			l.logger.Info("termination requested during startup; stopping", "after", c.name)
			stopStarted()
			return nil
		default:
		}
	}
	for _, c := range l.stopOrder {
		if !started[c] {
			return fmt.Errorf("lifecycle: component %q stops but never started", c.name)
		}
	}
	l.ready()

	// run.Group interrupts its actors one after the other in the order they were added, and
	// each stop returns only when its component has ended: adding them in stopOrder is what
	// makes the shutdown order hold.
	var g oklogrun.Group
	for _, c := range l.stopOrder {
		stopped := make(chan struct{})
		var once sync.Once
		g.Add(func() error {
			if c.wait != nil {
				return c.wait()
			}
			<-stopped
			return nil
		}, func(error) {
			once.Do(func() {
				l.logger.Debug("stopping", "component", c.name)
				if c.stop != nil {
					c.stop()
				}
				close(stopped)
			})
		})
	}
	return g.Run()
}
