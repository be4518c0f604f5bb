package tsdb

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/labels"
)

// headSymbols interns the label names and values of the head's series. A series keeps its label
// set as a string of uvarint symbol ids (name, value, name, value, ... in label order): about 60
// bytes for a series of 15 labels instead of about 270 for the strings, and each name and value
// is held once for the whole head, shared with the postings index. Symbols count their uses and
// are freed when the last series using them goes, so label churn (pods coming and going) does
// not grow the table for good.
//
// Reads take no lock. A slot is written before any series using it is published (through the
// series store's locks), and it is only reused after every series using it has been marked
// removed under its mutex, taken out of the hash index and postings, and every querier opened
// before that has closed (Head.truncate). Readers outside a querier look at a series' labels only
// through the hash index or under the series' mutex after checking it is not removed.
type headSymbols struct {
	mu    sync.Mutex // guards ids, free, next and the pages' uses
	ids   map[string]uint32
	free  []uint32
	next  uint32
	pages atomic.Pointer[[]*symbolPage]
}

const (
	symbolPageBits = 10
	symbolPageSize = 1 << symbolPageBits
)

type symbolPage struct {
	strs [symbolPageSize]string
	uses [symbolPageSize]uint32
}

func newHeadSymbols() *headSymbols {
	t := &headSymbols{ids: map[string]uint32{}}
	t.pages.Store(&[]*symbolPage{})
	return t
}

// Len is the number of symbols in use.
func (t *headSymbols) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ids)
}

// strs returns the symbol pages, from which a reader reads the ids of a series it found: they
// were all allocated before the series was published, so they are in this directory.
func (t *headSymbols) strs() symbolPages { return *t.pages.Load() }

type symbolPages []*symbolPage

func (ps symbolPages) at(id uint32) string {
	return ps[id>>symbolPageBits].strs[id&(symbolPageSize-1)]
}

// intern returns the encoded form of ls, adding a use of each of its symbols.
func (t *headSymbols) intern(ls labels.Labels, buf []byte) string {
	t.mu.Lock()
	ls.Range(func(l labels.Label) {
		buf = appendUvarint(buf, t.use(l.Name))
		buf = appendUvarint(buf, t.use(l.Value))
	})
	t.mu.Unlock()
	return string(buf)
}

// use adds a use of s and returns its id (caller holds mu).
func (t *headSymbols) use(s string) uint32 {
	id, ok := t.ids[s]
	if !ok {
		s = strings.Clone(s) // never keep a caller's buffer (a scrape body, a WAL record) alive
		if n := len(t.free); n > 0 {
			id, t.free = t.free[n-1], t.free[:n-1]
		} else {
			id = t.next
			t.next++
			ps := *t.pages.Load()
			if int(id>>symbolPageBits) >= len(ps) {
				// Copy on grow: readers keep using the old directory, whose pages are shared.
				nps := make([]*symbolPage, len(ps)+1, 2*len(ps)+1)
				copy(nps, ps)
				nps[len(ps)] = new(symbolPage)
				t.pages.Store(&nps)
			}
		}
		(*t.pages.Load())[id>>symbolPageBits].strs[id&(symbolPageSize-1)] = s
		t.ids[s] = id
	}
	(*t.pages.Load())[id>>symbolPageBits].uses[id&(symbolPageSize-1)]++
	return id
}

// release drops a use of each symbol of enc (a series being removed), freeing unused ones.
func (t *headSymbols) release(enc string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := *t.pages.Load()
	for i := 0; i < len(enc); {
		id, n := uvarintString(enc[i:])
		i += n
		pg := ps[id>>symbolPageBits]
		j := id & (symbolPageSize - 1)
		if pg.uses[j]--; pg.uses[j] == 0 {
			delete(t.ids, pg.strs[j])
			pg.strs[j] = ""
			t.free = append(t.free, id)
		}
	}
}

// each calls f with the name and value of each label of enc, as the table's strings.
func (t *headSymbols) each(enc string, f func(name, value string)) {
	ps := t.strs()
	for i := 0; i < len(enc); {
		nid, n := uvarintString(enc[i:])
		i += n
		vid, n := uvarintString(enc[i:])
		i += n
		f(ps.at(nid), ps.at(vid))
	}
}

// rangeLabels calls f for each label of enc, with the table's strings.
func (t *headSymbols) rangeLabels(enc string, f func(labels.Label)) {
	t.each(enc, func(name, value string) { f(labels.Label{Name: name, Value: value}) })
}

// labels materialises enc; b is reset and reused (one allocation, the returned labels).
func (t *headSymbols) labels(enc string, b *labels.ScratchBuilder) labels.Labels {
	b.Reset()
	t.each(enc, b.Add)
	return b.Labels()
}

// equal reports whether enc encodes ls, without materialising it.
func (t *headSymbols) equal(enc string, ls labels.Labels) bool {
	ps := t.strs()
	i, eq := 0, true
	ls.Range(func(l labels.Label) {
		if !eq || i >= len(enc) {
			eq = false
			return
		}
		nid, n := uvarintString(enc[i:])
		i += n
		vid, n := uvarintString(enc[i:])
		i += n
		eq = ps.at(nid) == l.Name && ps.at(vid) == l.Value
	})
	return eq && i == len(enc)
}

func appendUvarint(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// uvarintString decodes a uvarint written by appendUvarint at the start of s.
func uvarintString(s string) (uint32, int) {
	var v uint32
	var shift uint
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			return v | uint32(c)<<shift, i + 1
		}
		v |= uint32(c&0x7f) << shift
		shift += 7
	}
	return v, len(s) // only reached for corrupt input, which the head never makes
}
