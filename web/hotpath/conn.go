package hotpath

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"
)

const (
	initialBuf  = 4 << 10
	keptBufSize = 64 << 10 // a connection's buffer grown beyond this is let go after the request
)

// serveConn answers hot requests on hc until the peer closes it, sends something else (then
// net/http takes it over) or the listener closes. It keeps to net/http's serve loop (Go 1.26,
// net/http/server.go: conn.serve and conn.readRequest):
//   - the first request's header must arrive within the header timeout from the connection's
//     start, a later request's from the arrival of its first 4 bytes; nothing times out
//     between requests or while a body arrives;
//   - after an answer nothing is read until 4 bytes of the next request have arrived (EOF
//     before that ends the connection quietly), and since every hot request is a POST, up to 4
//     leading CR or LF bytes are dropped then;
//   - once the listener closes, a request whose header is complete only then is dropped
//     unanswered, and one already admitted is answered with Connection: close, which ends the
//     connection.
func (l *Listener) serveConn(hc *hotConn) {
	defer l.wg.Done()
	handedOff := false
	defer func() {
		if err := recover(); err != nil {
			l.logger.Error("panic serving the hot path", "remote", hc.RemoteAddr().String(), "err", fmt.Sprint(err), "stack", string(debug.Stack()))
		}
		l.untrack(hc)
		if !handedOff {
			hc.Close()
		}
	}()
	var (
		buf         = make([]byte, initialBuf)
		start, end  int       // the unread bytes are buf[start:end]
		st          reqState  // of the request at buf[start:]
		hdrDeadline time.Time // the header timeout's read deadline, while it runs
		between     bool      // an answer was sent and 4 bytes of the next request are awaited
	)
	setDeadline := func(t time.Time) {
		hdrDeadline = t
		_ = hc.SetReadDeadline(t)
	}
	for {
		if between && end-start >= 4 {
			start += leadingCRorLF(buf[start : start+4])
			between = false
		}
		if !between {
			if !l.parse(buf[start:end], &st) {
				handedOff = l.handOff(hc, buf[start:end], hdrDeadline)
				return
			}
			if st.headerDone() && !st.admitted {
				st.admitted = true
				if !hdrDeadline.IsZero() {
					setDeadline(time.Time{})
				}
				if l.closing.Load() {
					return // net/http drops a request read after its shutdown began
				}
			}
		}
		if between || !st.complete(buf[start:end]) {
			if !between && !st.headerDone() && hdrDeadline.IsZero() && l.headerTimeout > 0 {
				// The first read of a request's header: the connection's start, or the
				// arrival of the first 4 bytes of a later request.
				setDeadline(time.Now().Add(l.headerTimeout))
			}
			// Idle (nothing of the request read yet) is what Close ends; it is set before
			// closing is looked at, so that either this goroutine sees closing or Close sees
			// it idle and ends the Read with a deadline.
			idle := between || end == start
			if idle {
				hc.idle.Store(true)
				if l.closing.Load() {
					return
				}
			}
			if end == len(buf) {
				if start > 0 {
					end = copy(buf, buf[start:end])
					start = 0
				} else {
					buf = append(buf, make([]byte, len(buf))...)
				}
			}
			n, err := hc.Read(buf[end:])
			if idle {
				hc.idle.Store(false)
			}
			end += n
			if n == 0 && err != nil {
				// net/http answers a request cut short with 400: it gets what was read.
				if errors.Is(err, io.EOF) && end > start && !between {
					handedOff = l.handOff(hc, buf[start:end], hdrDeadline)
				}
				return
			}
			continue
		}
		length := st.headerLen + st.bodyLen
		if !l.serve(st.contentType, buf[start+st.headerLen:start+length]) {
			handedOff = l.handOff(hc, buf[start:end], time.Time{})
			return
		}
		l.served.Add(1)
		closing := l.closing.Load()
		if _, err := hc.Write(okResponse(closing)); err != nil || closing {
			return
		}
		start += length
		st, between = reqState{}, true
		if start == end {
			start, end = 0, 0
		}
		if len(buf) > keptBufSize {
			small := make([]byte, max(initialBuf, end-start))
			end = copy(small, buf[start:end])
			start, buf = 0, small
		}
	}
}
