package pushgateway

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// The persistence file holds every group, written whole to a temporary file that is synced
// and renamed over the previous one, so that a crash leaves either the old or the new file:
//
//	magic "VIGIL PUSHGATEWAY 1\n"
//	uvarint number of groups, then per group:
//	  uvarint number of grouping labels, then per label: string name, string value
//	  uvarint number of families, then per family:
//	    string name, byte flags (1: has help, 2: has unit), string help, string unit,
//	    uvarint type, varint push time (unix ns), bytes metrics (see family.raw)
//	4 bytes big-endian CRC-32C of everything before
//
// where a string or bytes is a uvarint length and the bytes.
const fileMagic = "VIGIL PUSHGATEWAY 1\n"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// persister writes a store's groups to its file at most once per interval after a change,
// and at shutdown.
type persister struct {
	s        *Store
	path     string
	interval time.Duration
	logger   *slog.Logger
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex // serialises writes
	written uint64     // the store generation in the file
}

// Open returns a Store kept in the file path: the groups in the file are loaded, and changes
// are written back at most once per interval and by Shutdown. A missing file is an empty
// store; a file that cannot be read is an error (nothing is overwritten).
func Open(path string, interval time.Duration, logger *slog.Logger) (*Store, error) {
	s := New(logger)
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return nil, fmt.Errorf("creating the directory of %s: %w", path, err)
	}
	if err := s.load(path); err != nil {
		return nil, err
	}
	p := &persister{
		s: s, path: path, interval: interval, logger: s.logger,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		written: s.gen,
	}
	s.persist = p
	go p.run()
	return s, nil
}

func (p *persister) changed() {
	if p == nil {
		return
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *persister) run() {
	defer close(p.done)
	var last time.Time
	for {
		select {
		case <-p.stop:
			return
		case <-p.kick:
		}
		if wait := time.Until(last.Add(p.interval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-p.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		if err := p.write(); err != nil {
			p.logger.Error("writing the pushed groups", "file", p.path, "err", err)
		}
	}
}

func (p *persister) shutdown() error {
	if p == nil {
		return nil
	}
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	return p.write()
}

// write writes the groups if they changed since the last write.
func (p *persister) write() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s.mu.RLock()
	gen := p.s.gen
	p.s.mu.RUnlock()
	if gen == p.written {
		return nil
	}
	groups := p.s.snapshot()
	tmp := p.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := writeGroups(f, groups); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p.path); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(p.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	p.written = gen
	p.logger.Debug("pushed groups written", "file", p.path, "groups", len(groups))
	return nil
}

type encoder struct {
	w   *bufio.Writer
	tmp [binary.MaxVarintLen64]byte
}

func (e *encoder) uvarint(v uint64) { e.w.Write(binary.AppendUvarint(e.tmp[:0], v)) }
func (e *encoder) varint(v int64)   { e.w.Write(binary.AppendVarint(e.tmp[:0], v)) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.w.WriteString(s) }
func (e *encoder) bytes(b []byte)   { e.uvarint(uint64(len(b))); e.w.Write(b) }

func writeGroups(w io.Writer, groups []*group) error {
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 64<<10)
	e := &encoder{w: bw}
	bw.WriteString(fileMagic)
	e.uvarint(uint64(len(groups)))
	for _, g := range groups {
		e.uvarint(uint64(g.labels.Len()))
		g.labels.Range(func(l labels.Label) {
			e.str(l.Name)
			e.str(l.Value)
		})
		e.uvarint(uint64(len(g.families)))
		for _, f := range g.families {
			m := f.meta
			e.str(m.name)
			var flags byte
			if m.hasHelp {
				flags |= 1
			}
			if m.hasUnit {
				flags |= 2
			}
			bw.WriteByte(flags)
			e.str(m.help)
			e.str(m.unit)
			e.uvarint(uint64(m.typ))
			e.varint(f.time)
			e.bytes(f.raw)
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return binary.Write(w, binary.BigEndian, crc.Sum32())
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated or damaged %s", what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if n > uint64(len(d.b)) {
		d.fail(what)
		d.b = nil
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) byte(what string) byte {
	if len(d.b) == 0 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// load reads the groups in path into the empty store s.
func (s *Store) load(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the pushed groups: %w", err)
	}
	if err := s.decodeFile(b); err != nil {
		// Keep the damaged file for inspection instead of overwriting it, and start empty:
		// the monitoring must not stay down because of it.
		aside := path + ".damaged"
		if rerr := os.Rename(path, aside); rerr != nil {
			return fmt.Errorf("reading the pushed groups from %s: %w (and moving it aside: %w)", path, err, rerr)
		}
		s.logger.Error("the pushed groups file is damaged: moved aside, starting with no groups", "file", path, "moved_to", aside, "err", err)
		return nil
	}
	s.logger.Info("pushed groups loaded", "file", path, "groups", len(s.groups))
	return nil
}

// decodeFile loads the groups of a persistence file's content b into the empty store s. On
// error the store is left empty.
func (s *Store) decodeFile(b []byte) error {
	if len(b) < len(fileMagic)+4 || string(b[:len(fileMagic)]) != fileMagic {
		return errors.New("not a Vigil pushed groups file")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return errors.New("checksum mismatch: the file is damaged")
	}
	d := &decoder{b: body[len(fileMagic):]}
	ng := d.uvarint("group count")
	for range ng {
		if d.err != nil {
			break
		}
		nl := d.uvarint("label count")
		gl := make(map[string]string, min(nl, 64))
		for range nl {
			name := string(d.bytes("label name"))
			gl[name] = string(d.bytes("label value"))
			if d.err != nil {
				break
			}
		}
		nf := d.uvarint("family count")
		var fams []family
		for range nf {
			name := string(d.bytes("family name"))
			flags := d.byte("family flags")
			help := string(d.bytes("help"))
			unit := string(d.bytes("unit"))
			typ := d.uvarint("type")
			t := d.varint("push time")
			raw := d.bytes("metrics")
			if d.err != nil {
				break
			}
			if _, ok := dto.MetricType_name[int32(typ)]; !ok || typ > 1<<16 {
				d.err = fmt.Errorf("family %s has unknown type %d", name, typ)
				break
			}
			mf := &dto.MetricFamily{Name: &name, Type: dto.MetricType(typ).Enum()}
			if flags&1 != 0 {
				mf.Help = &help
			}
			if flags&2 != 0 {
				mf.Unit = &unit
			}
			fams = append(fams, family{meta: s.intern(mf), time: t, raw: append([]byte(nil), raw...)})
		}
		if d.err != nil {
			break
		}
		if gl[string(model.JobLabel)] == "" {
			d.err = errors.New("a group has no job label")
			break
		}
		key := groupingKeyFor(gl)
		if _, dup := s.groups[key]; dup {
			d.err = fmt.Errorf("group %v appears twice", gl)
			break
		}
		s.replaceGroup(key, nil, gl, fams)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("unexpected data after the last group")
	}
	if d.err != nil {
		s.groups, s.byJob, s.names, s.metas = map[string]*group{}, map[string][]*group{}, map[string]*nameInfo{}, map[meta]*meta{}
		return d.err
	}
	return nil
}
