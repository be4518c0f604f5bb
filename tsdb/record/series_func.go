package record

import (
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"
)

// SeriesFunc decodes a series record and calls f with each series. The labels are valid only
// during the call: their strings share memory with rec and with the decoder's buffers, so
// decoding allocates nothing per series (Series copies the record and allocates every series'
// labels). For readers that keep only what they derive from the labels, such as remote write's
// WAL reader, which reads every series record of the WAL when it starts.
func (d *Decoder) SeriesFunc(rec []byte, f func(ref uint64, lset labels.Labels)) error {
	var lset labels.Labels
	return d.eachSeries(rec, true, nil, func(ref uint64) {
		d.builder.Overwrite(&lset)
		f(ref, lset)
	})
}

// eachSeries decodes a series record for Series and SeriesFunc: it calls start (if not nil)
// with the number of series, then each with every series' ref while d.builder holds its labels.
// With alias the label strings point into rec and are valid only during each; otherwise one
// string copy of the whole record backs them all: the builder may keep the strings it is given
// (slicelabels) and rec is reused by the caller, so they must not alias it, and one allocation
// per record is cheaper than two per label.
func (d *Decoder) eachSeries(rec []byte, alias bool, start func(n int), each func(ref uint64)) error {
	rec, err := d.plainRecord(rec)
	if err != nil {
		return err
	}
	var db decbuf
	db.header(rec, Series)
	n := db.count("series", minSeriesSize)
	if db.err != nil {
		return db.err
	}
	var all string
	if alias {
		all = unsafe.String(unsafe.SliceData(db.b), len(db.b))
	} else {
		all = string(db.b)
	}
	base := len(db.b)
	if start != nil {
		start(n)
	}
	for range n {
		ref := db.uvarint("series ref")
		nl := db.count("labels", minLabelSize)
		d.builder.Reset()
		for range nl {
			ns, ne := db.strSpan("label name", base)
			vs, ve := db.strSpan("label value", base)
			if db.err != nil {
				break
			}
			d.builder.Add(all[ns:ne], all[vs:ve])
		}
		if db.err != nil {
			return db.err
		}
		each(ref)
	}
	return db.end()
}
