// Package index implements postings lists (sorted series references) and Vigil's block index
// file: symbols, series with their chunk metadata, and an inverted index from label pairs to
// series.
package index

import "fmt"

// Postings iterates over a list of series references sorted in strictly ascending order.
//
// Next and Seek may be called in any order, including Seek before the first Next. At is only
// valid after Next or Seek returned true. Once either returns false the iterator is exhausted
// (or failed, see Err) and stays so.
type Postings interface {
	// Next advances to the next reference. It returns false at the end or on error.
	Next() bool
	// Seek advances to the first reference >= v. If the current reference already satisfies
	// that, it does not move. It returns false if there is no such reference.
	Seek(v uint64) bool
	// At returns the current reference.
	At() uint64
	// Err returns the error that stopped iteration, if any.
	Err() error
}

// errPostings is an exhausted iterator that reports err (nil for the empty postings).
type errPostings struct{ err error }

func (errPostings) Next() bool       { return false }
func (errPostings) Seek(uint64) bool { return false }
func (errPostings) At() uint64       { return 0 }
func (e errPostings) Err() error     { return e.err }

// emptyPostings is a single value so that Intersect/Merge can recognise and skip it cheaply.
var emptyPostings Postings = errPostings{}

// EmptyPostings returns a postings list with nothing in it.
func EmptyPostings() Postings { return emptyPostings }

// IsEmptyPostings reports whether p is the value returned by EmptyPostings. It does not
// consume p; a non-empty-typed list may still turn out to be empty when iterated.
func IsEmptyPostings(p Postings) bool { return p == emptyPostings }

// ErrPostings returns a postings list that yields nothing and reports err.
func ErrPostings(err error) Postings { return errPostings{err: err} }

// ListPostings iterates over an in-memory sorted slice. It does not copy the slice; the caller
// must not modify it while iterating.
type ListPostings struct {
	list []uint64
	i    int // index of the current element; -1 before the first Next/Seek
}

// NewListPostings returns an iterator over list, which must be sorted ascending without
// duplicates.
func NewListPostings(list []uint64) Postings {
	if len(list) == 0 {
		return emptyPostings
	}
	return &ListPostings{list: list, i: -1}
}

// Next implements Postings.
func (it *ListPostings) Next() bool {
	if it.i < len(it.list) {
		it.i++
	}
	return it.i < len(it.list)
}

// Seek implements Postings. It gallops (1, 2, 4, … ahead) before binary searching, because in
// intersections the target is usually close to the current position.
func (it *ListPostings) Seek(v uint64) bool {
	if it.i >= len(it.list) {
		return false
	}
	if it.i < 0 {
		it.i = 0
	}
	if it.list[it.i] >= v {
		return true
	}
	// Invariant: list[lo] < v. Find hi with list[hi] >= v or hi == len.
	lo, step := it.i, 1
	hi := lo + step
	for hi < len(it.list) && it.list[hi] < v {
		lo = hi
		step <<= 1
		hi = lo + step
	}
	if hi > len(it.list) {
		hi = len(it.list)
	}
	// Binary search in (lo, hi] for the first element >= v.
	lo++
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if it.list[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	it.i = lo
	return it.i < len(it.list)
}

// At implements Postings.
func (it *ListPostings) At() uint64 { return it.list[it.i] }

// Err implements Postings.
func (it *ListPostings) Err() error { return nil }

// Len returns the total number of elements of the list (not the remaining ones).
func (it *ListPostings) Len() int { return len(it.list) }

// Intersect returns the references present in all of its. With none it returns EmptyPostings.
func Intersect(its ...Postings) Postings {
	switch len(its) {
	case 0:
		return emptyPostings
	case 1:
		return its[0]
	}
	for _, p := range its {
		if p == emptyPostings {
			return emptyPostings
		}
	}
	return &intersectPostings{arr: its}
}

type intersectPostings struct {
	arr  []Postings
	cur  uint64
	done bool
}

// doNext seeks every input to it.cur, raising it.cur whenever an input lands beyond it, until all
// inputs agree. Each round only moves forward, so this terminates.
func (it *intersectPostings) doNext() bool {
	for {
		agreed := true
		for _, p := range it.arr {
			if !p.Seek(it.cur) {
				it.done = true
				return false
			}
			if v := p.At(); v > it.cur {
				it.cur = v
				agreed = false
			}
		}
		if agreed {
			return true
		}
	}
}

func (it *intersectPostings) Next() bool {
	if it.done {
		return false
	}
	if !it.arr[0].Next() {
		it.done = true
		return false
	}
	it.cur = it.arr[0].At()
	return it.doNext()
}

func (it *intersectPostings) Seek(v uint64) bool {
	if it.done {
		return false
	}
	// All inputs stay put if they are already >= v, so seeking to v from a position beyond it
	// re-agrees on the current value.
	it.cur = v
	return it.doNext()
}

func (it *intersectPostings) At() uint64 { return it.cur }

func (it *intersectPostings) Err() error {
	for _, p := range it.arr {
		if err := p.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Merge returns the union of its, without duplicates. It keeps the inputs in a min-heap keyed by
// their current reference, so that each step costs O(log n) for n inputs.
func Merge(its ...Postings) Postings {
	arr := make([]Postings, 0, len(its))
	for _, p := range its {
		if p != emptyPostings {
			arr = append(arr, p)
		}
	}
	switch len(arr) {
	case 0:
		return emptyPostings
	case 1:
		return arr[0]
	}
	return &mergedPostings{pending: arr}
}

type mergedPostings struct {
	pending []Postings // inputs not yet advanced; nil once the heap is built
	h       []Postings // min-heap by At()
	cur     uint64
	started bool
	done    bool
	err     error
}

// init advances every input with next (Next or Seek) and builds the heap.
func (it *mergedPostings) init(next func(Postings) bool) bool {
	it.started = true
	it.h = it.pending[:0]
	for _, p := range it.pending {
		if next(p) {
			it.h = append(it.h, p)
		} else if err := p.Err(); err != nil {
			it.err = err
			it.done = true
			return false
		}
	}
	it.pending = nil
	for i := len(it.h)/2 - 1; i >= 0; i-- {
		it.down(i)
	}
	if len(it.h) == 0 {
		it.done = true
		return false
	}
	it.cur = it.h[0].At()
	return true
}

func (it *mergedPostings) down(i int) {
	h := it.h
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].At() < h[l].At() {
			m = r
		}
		if h[m].At() >= h[i].At() {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// advanceTop moves the heap's minimum forward with step and restores the heap, dropping the
// input if it is exhausted. It returns false on an input error.
func (it *mergedPostings) advanceTop(ok bool) bool {
	if ok {
		it.down(0)
		return true
	}
	top := it.h[0]
	if err := top.Err(); err != nil {
		it.err = err
		it.done = true
		return false
	}
	last := len(it.h) - 1
	it.h[0] = it.h[last]
	it.h[last] = nil
	it.h = it.h[:last]
	if last > 0 {
		it.down(0)
	}
	return true
}

func (it *mergedPostings) Next() bool {
	if it.done {
		return false
	}
	if !it.started {
		return it.init(Postings.Next)
	}
	for len(it.h) > 0 {
		top := it.h[0]
		if v := top.At(); v > it.cur {
			it.cur = v
			return true
		}
		if !it.advanceTop(top.Next()) {
			return false
		}
	}
	it.done = true
	return false
}

func (it *mergedPostings) Seek(v uint64) bool {
	if it.done {
		return false
	}
	if !it.started {
		return it.init(func(p Postings) bool { return p.Seek(v) })
	}
	if it.cur >= v {
		return true
	}
	for len(it.h) > 0 {
		top := it.h[0]
		if top.At() >= v {
			it.cur = top.At()
			return true
		}
		if !it.advanceTop(top.Seek(v)) {
			return false
		}
	}
	it.done = true
	return false
}

func (it *mergedPostings) At() uint64 { return it.cur }

func (it *mergedPostings) Err() error { return it.err }

// Without returns the references of full that are not in drop.
func Without(full, drop Postings) Postings {
	if full == emptyPostings {
		return emptyPostings
	}
	if drop == emptyPostings {
		return full
	}
	return &withoutPostings{full: full, drop: drop}
}

type withoutPostings struct {
	full, drop Postings
	dropDone   bool
	err        error
}

func (it *withoutPostings) Next() bool {
	if !it.full.Next() {
		return false
	}
	return it.settle()
}

func (it *withoutPostings) Seek(v uint64) bool {
	if !it.full.Seek(v) {
		return false
	}
	return it.settle()
}

// settle moves full forward past references present in drop.
func (it *withoutPostings) settle() bool {
	for !it.dropDone {
		cur := it.full.At()
		if !it.drop.Seek(cur) {
			it.dropDone = true
			if err := it.drop.Err(); err != nil {
				it.err = err
				return false
			}
			break
		}
		if it.drop.At() != cur {
			break
		}
		if !it.full.Next() {
			return false
		}
	}
	return true
}

func (it *withoutPostings) At() uint64 { return it.full.At() }

func (it *withoutPostings) Err() error {
	if err := it.full.Err(); err != nil {
		return err
	}
	return it.err
}

// ExpandPostings returns all remaining references of p.
func ExpandPostings(p Postings) ([]uint64, error) {
	var res []uint64
	if lp, ok := p.(*ListPostings); ok && lp.i < 0 {
		res = make([]uint64, 0, len(lp.list))
	}
	for p.Next() {
		res = append(res, p.At())
	}
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("expanding postings: %w", err)
	}
	return res, nil
}
