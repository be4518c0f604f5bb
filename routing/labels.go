package routing

import (
	"sort"
	"strings"

	"github.com/prometheus/common/model"
)

// Labels is a label set packed into one string: name 0xff value 0xff for each pair, sorted by
// name. 0xff never occurs in valid UTF-8, and every stored name and value is valid UTF-8
// (upstream's alert validation), so the packing is unambiguous. It costs one allocation and
// len(name)+len(value)+2 bytes per pair, against a map's buckets and string headers, and the
// alert's fingerprint is FNV-1a over the packed bytes — exactly what model.LabelSet's
// Fingerprint hashes.
type Labels string

const sep = model.SeparatorByte

// PackLabels packs ls. Pairs with an empty value are kept; callers drop them first where
// upstream does.
func PackLabels(ls model.LabelSet) Labels {
	if len(ls) == 0 {
		return ""
	}
	names := make([]string, 0, len(ls))
	n := 0
	for k, v := range ls {
		names = append(names, string(k))
		n += len(k) + len(v) + 2
	}
	sort.Strings(names)
	var b strings.Builder
	b.Grow(n)
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte(sep)
		b.WriteString(string(ls[model.LabelName(k)]))
		b.WriteByte(sep)
	}
	return Labels(b.String())
}

// LabelPair is one name and value, for LabelsBuilder.
type LabelPair struct{ Name, Value string }

// PackPairs packs pairs that are already sorted by name and free of duplicates.
func PackPairs(pairs []LabelPair) Labels {
	n := 0
	for _, p := range pairs {
		n += len(p.Name) + len(p.Value) + 2
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range pairs {
		b.WriteString(p.Name)
		b.WriteByte(sep)
		b.WriteString(p.Value)
		b.WriteByte(sep)
	}
	return Labels(b.String())
}

// AppendPairs appends the packed form of pairs (sorted by name, no duplicates) to b.
func AppendPairs(b []byte, pairs []LabelPair) []byte {
	for _, p := range pairs {
		b = append(b, p.Name...)
		b = append(b, sep)
		b = append(b, p.Value...)
		b = append(b, sep)
	}
	return b
}

// next returns the first pair of l and the rest; ok is false when l is empty.
func (l Labels) next() (name, value string, rest Labels, ok bool) {
	if l == "" {
		return "", "", "", false
	}
	i := strings.IndexByte(string(l), sep)
	j := strings.IndexByte(string(l[i+1:]), sep) + i + 1
	return string(l[:i]), string(l[i+1 : j]), l[j+1:], true
}

// Len is the number of pairs.
func (l Labels) Len() int { return strings.Count(string(l), string([]byte{sep})) / 2 }

// Range calls f for each pair in name order.
func (l Labels) Range(f func(name, value string)) {
	for {
		name, value, rest, ok := l.next()
		if !ok {
			return
		}
		f(name, value)
		l = rest
	}
}

// Get returns the value of name and whether it is present.
func (l Labels) Get(name string) (string, bool) {
	for {
		n, v, rest, ok := l.next()
		if !ok || n > name {
			return "", false
		}
		if n == name {
			return v, true
		}
		l = rest
	}
}

// LabelSet unpacks l into a new map (never nil).
func (l Labels) LabelSet() model.LabelSet {
	ls := make(model.LabelSet, l.Len())
	l.Range(func(n, v string) { ls[model.LabelName(n)] = model.LabelValue(v) })
	return ls
}

// Fingerprint equals l.LabelSet().Fingerprint().
func (l Labels) Fingerprint() model.Fingerprint { return model.Fingerprint(fnv64a(string(l))) }

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnv64a(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// groupSubset returns the pairs of l whose names are in groupBy (all of them when all is set),
// packed, and their fingerprint, which equals the group labels' model fingerprint.
func (l Labels) groupSubset(groupBy map[model.LabelName]struct{}, all bool) (Labels, model.Fingerprint) {
	if all {
		return l, l.Fingerprint()
	}
	h := uint64(fnvOffset64)
	n, whole := 0, true
	rest := l
	for {
		start := len(l) - len(rest)
		name, _, r, ok := rest.next()
		if !ok {
			break
		}
		end := len(l) - len(r)
		if _, in := groupBy[model.LabelName(name)]; in {
			for i := start; i < end; i++ {
				h ^= uint64(l[i])
				h *= fnvPrime64
			}
			n += end - start
		} else {
			whole = false
		}
		rest = r
	}
	if whole {
		return l, model.Fingerprint(h)
	}
	b := make([]byte, 0, n)
	rest = l
	for {
		start := len(l) - len(rest)
		name, _, r, ok := rest.next()
		if !ok {
			break
		}
		if _, in := groupBy[model.LabelName(name)]; in {
			b = append(b, l[start:len(l)-len(r)]...)
		}
		rest = r
	}
	return Labels(b), model.Fingerprint(h)
}
