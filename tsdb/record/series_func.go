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
	all := unsafe.String(unsafe.SliceData(db.b), len(db.b))
	base := len(db.b)
	var lset labels.Labels
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
		d.builder.Overwrite(&lset)
		f(ref, lset)
	}
	return db.end()
}
