package hotpath

import (
	"bytes"
	"unsafe"

	"golang.org/x/net/http/httpguts"
)

// Limits of what the hot path reads itself; larger requests go to net/http.
const (
	maxHeader = 64 << 10
	maxBody   = 16 << 20
)

// reqState is what parse has learnt so far of the request at the start of a connection's
// unread bytes, so that each byte is examined once however the request arrives.
type reqState struct {
	scanned     int // bytes examined: the request line and the complete header lines
	searched    int // bytes searched for the end of the current header line
	headerLen   int // the whole header's, once it is complete; 0 before
	bodyLen     int
	hosts       int
	lengths     int
	types       int
	contentType string
	admitted    bool // the header is complete and the request is to be answered
}

func (st *reqState) headerDone() bool { return st.headerLen > 0 }

// complete reports whether b, which starts with the request, holds all of it.
func (st *reqState) complete(b []byte) bool {
	return st.headerLen > 0 && len(b) >= st.headerLen+st.bodyLen
}

var (
	hContentLen  = []byte("Content-Length")
	hContentType = []byte("Content-Type")
	hHost        = []byte("Host")
	hConnection  = []byte("Connection")
	hTransferEnc = []byte("Transfer-Encoding")
	hExpect      = []byte("Expect")
	hUpgrade     = []byte("Upgrade")
	hTrailer     = []byte("Trailer")
	vKeepAlive   = []byte("keep-alive")
)

// parse goes on reading the request at the start of b, strictly: it returns false as soon as
// the request shows anything that net/http would reject, treat specially or answer otherwise
// than the hot path does, and true while it is a hot request (complete or not).
func (l *Listener) parse(b []byte, st *reqState) bool {
	if st.headerDone() {
		return true
	}
	if st.scanned == 0 {
		if len(b) < len(l.line) {
			return bytes.HasPrefix(l.line, b)
		}
		if !bytes.HasPrefix(b, l.line) {
			return false
		}
		st.scanned, st.searched = len(l.line), len(l.line)
	}
	for {
		i := bytes.IndexByte(b[st.searched:], '\n')
		if i < 0 {
			st.searched = len(b)
			return len(b) <= maxHeader
		}
		i += st.searched
		if i == st.scanned || b[i-1] != '\r' {
			return false // a bare LF, which net/http accepts and the hot path need not
		}
		line := b[st.scanned : i-1]
		st.scanned, st.searched = i+1, i+1
		if st.scanned > maxHeader {
			return false
		}
		if len(line) == 0 {
			break // the end of the header
		}
		if !st.headerLine(line) {
			return false
		}
	}
	if st.hosts != 1 || st.lengths != 1 || st.types > 1 || st.bodyLen > maxBody {
		return false
	}
	st.headerLen = st.scanned
	return true
}

// headerLine takes one header line (without its CRLF).
func (st *reqState) headerLine(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false // no name, or an obs-fold continuation (leading space: not a token)
	}
	name, value := line[:colon], trimOWS(line[colon+1:])
	for _, ch := range name {
		if !tokenByte[ch] {
			return false
		}
	}
	if !validValue(value) {
		return false
	}
	switch len(name) { // the names the hot path looks at, by length first
	case len(hContentLen):
		if bytes.EqualFold(name, hContentLen) {
			st.lengths++
			n, ok := parseLength(value)
			if !ok {
				return false
			}
			st.bodyLen = n
		}
	case len(hContentType):
		if bytes.EqualFold(name, hContentType) {
			st.types++
			st.contentType = contentType(value)
		}
	case len(hHost):
		if bytes.EqualFold(name, hHost) {
			st.hosts++
			if !httpguts.ValidHostHeader(unsafe.String(unsafe.SliceData(value), len(value))) {
				return false
			}
		}
	case len(hConnection):
		if bytes.EqualFold(name, hConnection) && !bytes.EqualFold(value, vKeepAlive) {
			return false
		}
	case len(hTransferEnc), len(hExpect), len(hUpgrade): // Upgrade and Trailer: 7
		if bytes.EqualFold(name, hTransferEnc) || bytes.EqualFold(name, hExpect) ||
			bytes.EqualFold(name, hUpgrade) || bytes.EqualFold(name, hTrailer) {
			return false
		}
	}
	return true
}

// tokenByte holds the bytes of a header name (RFC 7230 tchar), as httpguts.IsTokenRune.
var tokenByte = func() (t [256]bool) {
	for c := range 128 {
		t[c] = httpguts.IsTokenRune(rune(c))
	}
	return t
}()

const jsonType = "application/json"

// contentType is the Content-Type value as a string, without a copy for the usual one.
func contentType(v []byte) string {
	if string(v) == jsonType {
		return jsonType
	}
	return string(v)
}

// trimOWS drops the optional white space around a header value.
func trimOWS(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// validValue is httpguts.ValidHeaderFieldValue on bytes: no control characters but tab.
func validValue(v []byte) bool {
	for _, ch := range v {
		if (ch < ' ' && ch != '\t') || ch == 0x7f {
			return false
		}
	}
	return true
}

// parseLength takes the plain decimal Content-Length net/http takes, and no other form.
func parseLength(v []byte) (int, bool) {
	if len(v) == 0 || len(v) > 9 {
		return 0, false
	}
	n := 0
	for _, ch := range v {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + int(ch-'0')
	}
	return n, true
}

// leadingCRorLF counts the CR and LF bytes b starts with, as net/http's numLeadingCRorLF:
// after a POST it drops them before the next request (RFC 7230 section 3).
func leadingCRorLF(b []byte) int {
	n := 0
	for _, ch := range b {
		if ch != '\r' && ch != '\n' {
			break
		}
		n++
	}
	return n
}
