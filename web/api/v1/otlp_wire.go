package v1

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Reading an OTLP ExportMetricsServiceRequest straight from its protobuf bytes, with no
// object tree: validateOTLPRequest checks the whole request first, accepting and refusing
// exactly what the OpenTelemetry Collector's pdata (v1.66, the decoder Prometheus 3.15 uses)
// accepts and refuses, so that nothing is translated from a request that does not decode; the
// translator (otlp_translate.go) then walks the validated bytes with wireFields.

// The primitives below behave as pdata's internal/proto ones (field numbers as int32,
// varints of at most 10 bytes, groups skipped as unknown fields).

type wireType int8

const (
	wtVarint     wireType = 0
	wtI64        wireType = 1
	wtLen        wireType = 2
	wtStartGroup wireType = 3
	wtEndGroup   wireType = 4
	wtI32        wireType = 5
)

var (
	errWireInvalidLength = errors.New("proto: negative length found during unmarshaling")
	errWireIntOverflow   = errors.New("proto: integer overflow")
	errWireEndOfGroup    = errors.New("proto: unexpected end of group")
)

func wireVarint(buf []byte, pos int) (uint64, int, error) {
	var num uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, 0, errWireIntOverflow
		}
		if pos >= len(buf) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		b := buf[pos]
		pos++
		num |= uint64(b&0x7F) << shift
		if b < 0x80 {
			break
		}
	}
	return num, pos, nil
}

func wireI64(buf []byte, pos int) (uint64, int, error) {
	pos += 8
	if pos < 0 || pos > len(buf) {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return binary.LittleEndian.Uint64(buf[pos-8:]), pos, nil
}

func wireI32(buf []byte, pos int) (int, error) {
	pos += 4
	if pos < 0 || pos > len(buf) {
		return 0, io.ErrUnexpectedEOF
	}
	return pos, nil
}

func wireLen(buf []byte, pos int) (int, int, error) {
	num, pos, err := wireVarint(buf, pos)
	if err != nil {
		return 0, 0, err
	}
	length := int(num)
	if length < 0 {
		return 0, 0, errWireInvalidLength
	}
	pos += length
	if pos < 0 || pos > len(buf) {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return length, pos, nil
}

func wireTag(buf []byte, pos int) (int32, wireType, int, error) {
	tag, pos, err := wireVarint(buf, pos)
	if err != nil {
		return 0, 0, 0, err
	}
	fieldNum := int32(tag >> 3)
	if fieldNum <= 0 {
		return 0, 0, 0, fmt.Errorf("proto: illegal field=%d (tag=%d, pos=%d)", fieldNum, tag, pos)
	}
	return fieldNum, wireType(int8(tag & 0x7)), pos, nil
}

func wireUnknown(buf []byte, pos int, wt wireType) (int, error) {
	var err error
	depth := 0
	for pos < len(buf) {
		switch wt {
		case wtVarint:
			_, pos, err = wireVarint(buf, pos)
			return pos, err
		case wtI64:
			_, pos, err = wireI64(buf, pos)
			return pos, err
		case wtLen:
			_, pos, err = wireLen(buf, pos)
			return pos, err
		case wtStartGroup:
			depth++
		case wtEndGroup:
			if depth == 0 {
				return 0, errWireEndOfGroup
			}
			depth--
		case wtI32:
			return wireI32(buf, pos)
		default:
			return 0, fmt.Errorf("proto: illegal wireType %d", wt)
		}
		if depth == 0 {
			return pos, nil
		}
		_, wt, pos, err = wireTag(buf, pos)
		if err != nil {
			return 0, err
		}
	}
	return 0, io.ErrUnexpectedEOF
}

// wireField is one field of a validated message: num and, by wire type, the varint or fixed
// 64-bit value in u or the length-delimited bytes in b.
type wireField struct {
	num int32
	wt  wireType
	u   uint64
	b   []byte
}

// wireFields iterates the fields of a validated message (unknown fields included).
type wireFields struct {
	buf []byte
	pos int
	f   wireField
}

func (it *wireFields) next() bool {
	if it.pos >= len(it.buf) {
		return false
	}
	num, wt, pos, err := wireTag(it.buf, it.pos)
	if err != nil {
		it.pos = len(it.buf)
		return false
	}
	it.f = wireField{num: num, wt: wt}
	switch wt {
	case wtVarint:
		it.f.u, pos, err = wireVarint(it.buf, pos)
	case wtI64:
		it.f.u, pos, err = wireI64(it.buf, pos)
	case wtLen:
		var n int
		n, pos, err = wireLen(it.buf, pos)
		if err == nil {
			it.f.b = it.buf[pos-n : pos]
		}
	default:
		pos, err = wireUnknown(it.buf, pos, wt)
	}
	if err != nil {
		it.pos = len(it.buf)
		return false
	}
	it.pos = pos
	return true
}

// Validation: a message's schema says, by field number, what pdata expects. pdata refuses a
// known field with another wire type, skips unknown fields, and checks what it decodes.
type wireKind uint8

const (
	wkUnknown      wireKind = iota
	wkVarint                // int, enum, bool, uint32, sint32
	wkI64                   // fixed64, sfixed64, double
	wkBytes                 // string, bytes
	wkMsg                   // embedded message
	wkPackedI64             // repeated fixed64/double: packed (length a multiple of 8) or one value
	wkPackedVarint          // repeated uint64: packed varints or one value
	wkSpanID                // bytes of length 0 or 8
	wkTraceID               // bytes of length 0 or 16
)

type wireSchema struct {
	kinds []wireKind
	msgs  []*wireSchema
}

func (s *wireSchema) field(num int32, kind wireKind, msg *wireSchema) *wireSchema {
	for int(num) >= len(s.kinds) {
		s.kinds = append(s.kinds, wkUnknown)
		s.msgs = append(s.msgs, nil)
	}
	s.kinds[num], s.msgs[num] = kind, msg
	return s
}

var (
	pbAnyValue, pbKeyValue, pbArrayValue, pbKeyValueList                                        wireSchema
	pbExemplar, pbNumberDP, pbHistogramDP, pbExpHistogramDP, pbBuckets, pbSummaryDP, pbQuantile wireSchema
	pbGauge, pbSum, pbHistogram, pbExpHistogram, pbSummary, pbMetric                            wireSchema
	pbScope, pbScopeMetrics, pbEntityRef, pbResource, pbResourceMetrics, pbExportRequest        wireSchema
)

func init() {
	pbAnyValue.field(1, wkBytes, nil).field(2, wkVarint, nil).field(3, wkVarint, nil).field(4, wkI64, nil).
		field(5, wkMsg, &pbArrayValue).field(6, wkMsg, &pbKeyValueList).field(7, wkBytes, nil).field(8, wkVarint, nil)
	pbArrayValue.field(1, wkMsg, &pbAnyValue)
	pbKeyValueList.field(1, wkMsg, &pbKeyValue)
	pbKeyValue.field(1, wkBytes, nil).field(2, wkMsg, &pbAnyValue)
	pbExemplar.field(7, wkMsg, &pbKeyValue).field(2, wkI64, nil).field(3, wkI64, nil).field(6, wkI64, nil).
		field(4, wkSpanID, nil).field(5, wkTraceID, nil)
	pbNumberDP.field(7, wkMsg, &pbKeyValue).field(2, wkI64, nil).field(3, wkI64, nil).field(4, wkI64, nil).
		field(6, wkI64, nil).field(5, wkMsg, &pbExemplar).field(8, wkVarint, nil)
	pbHistogramDP.field(9, wkMsg, &pbKeyValue).field(2, wkI64, nil).field(3, wkI64, nil).field(4, wkI64, nil).
		field(5, wkI64, nil).field(6, wkPackedI64, nil).field(7, wkPackedI64, nil).field(8, wkMsg, &pbExemplar).
		field(10, wkVarint, nil).field(11, wkI64, nil).field(12, wkI64, nil)
	pbBuckets.field(1, wkVarint, nil).field(2, wkPackedVarint, nil)
	pbExpHistogramDP.field(1, wkMsg, &pbKeyValue).field(2, wkI64, nil).field(3, wkI64, nil).field(4, wkI64, nil).
		field(5, wkI64, nil).field(6, wkVarint, nil).field(7, wkI64, nil).field(8, wkMsg, &pbBuckets).
		field(9, wkMsg, &pbBuckets).field(10, wkVarint, nil).field(11, wkMsg, &pbExemplar).field(12, wkI64, nil).
		field(13, wkI64, nil).field(14, wkI64, nil)
	pbQuantile.field(1, wkI64, nil).field(2, wkI64, nil)
	pbSummaryDP.field(7, wkMsg, &pbKeyValue).field(2, wkI64, nil).field(3, wkI64, nil).field(4, wkI64, nil).
		field(5, wkI64, nil).field(6, wkMsg, &pbQuantile).field(8, wkVarint, nil)
	pbGauge.field(1, wkMsg, &pbNumberDP)
	pbSum.field(1, wkMsg, &pbNumberDP).field(2, wkVarint, nil).field(3, wkVarint, nil)
	pbHistogram.field(1, wkMsg, &pbHistogramDP).field(2, wkVarint, nil)
	pbExpHistogram.field(1, wkMsg, &pbExpHistogramDP).field(2, wkVarint, nil)
	pbSummary.field(1, wkMsg, &pbSummaryDP)
	pbMetric.field(1, wkBytes, nil).field(2, wkBytes, nil).field(3, wkBytes, nil).field(5, wkMsg, &pbGauge).
		field(7, wkMsg, &pbSum).field(9, wkMsg, &pbHistogram).field(10, wkMsg, &pbExpHistogram).
		field(11, wkMsg, &pbSummary).field(12, wkMsg, &pbKeyValue)
	pbScope.field(1, wkBytes, nil).field(2, wkBytes, nil).field(3, wkMsg, &pbKeyValue).field(4, wkVarint, nil)
	pbScopeMetrics.field(1, wkMsg, &pbScope).field(2, wkMsg, &pbMetric).field(3, wkBytes, nil)
	pbEntityRef.field(1, wkBytes, nil).field(2, wkBytes, nil).field(3, wkBytes, nil).field(4, wkBytes, nil)
	pbResource.field(1, wkMsg, &pbKeyValue).field(2, wkVarint, nil).field(3, wkMsg, &pbEntityRef)
	pbResourceMetrics.field(1, wkMsg, &pbResource).field(2, wkMsg, &pbScopeMetrics).field(3, wkBytes, nil).
		field(1000, wkMsg, &pbScopeMetrics)
	pbExportRequest.field(1, wkMsg, &pbResourceMetrics)
}

// validateOTLPRequest says whether pdata would decode body as an ExportMetricsServiceRequest,
// with the reason when not.
func validateOTLPRequest(body []byte) error {
	if err := validateWire(body, &pbExportRequest, 0); err != nil {
		return fmt.Errorf("decoding OTLP metrics request: %w", err)
	}
	return nil
}

// maxWireDepth bounds nesting (AnyValue arrays and maps): deeper is refused rather than
// risking the stack; pdata recurses without a bound, a Go stack overflow.
const maxWireDepth = 10000

func validateWire(buf []byte, s *wireSchema, depth int) error {
	if depth > maxWireDepth {
		return errors.New("proto: message nested too deeply")
	}
	pos := 0
	for pos < len(buf) {
		num, wt, p, err := wireTag(buf, pos)
		if err != nil {
			return err
		}
		pos = p
		kind := wkUnknown
		if int(num) < len(s.kinds) {
			kind = s.kinds[num]
		}
		want := wtLen
		switch kind {
		case wkUnknown:
			if pos, err = wireUnknown(buf, pos, wt); err != nil {
				return err
			}
			continue
		case wkVarint:
			want = wtVarint
		case wkI64:
			want = wtI64
		case wkPackedI64:
			if wt == wtI64 {
				want = wtI64
			}
		case wkPackedVarint:
			if wt == wtVarint {
				want = wtVarint
			}
		}
		if wt != want {
			return fmt.Errorf("proto: wrong wireType = %d for field %d", wt, num)
		}
		switch want {
		case wtVarint:
			_, pos, err = wireVarint(buf, pos)
		case wtI64:
			_, pos, err = wireI64(buf, pos)
		default:
			var n int
			n, pos, err = wireLen(buf, pos)
			if err != nil {
				return err
			}
			b := buf[pos-n : pos]
			switch kind {
			case wkMsg:
				err = validateWire(b, s.msgs[num], depth+1)
			case wkPackedI64:
				if n%8 != 0 {
					err = fmt.Errorf("proto: invalid field len = %d for field %d", n%8, num)
				}
			case wkPackedVarint:
				for p := 0; p < len(b) && err == nil; {
					_, p, err = wireVarint(b, p)
				}
			case wkSpanID:
				if n != 0 && n != 8 {
					err = errors.New("unmarshal: invalid SpanID length")
				}
			case wkTraceID:
				if n != 0 && n != 16 {
					err = errors.New("unmarshal: invalid TraceID length")
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// anyValue kinds, as pcommon.ValueType.
const (
	avEmpty = iota
	avStr
	avBool
	avInt
	avDouble
	avMap
	avSlice
	avBytes
)

// anyValueKind is the kind and payload of a validated AnyValue (the last of its oneof wins,
// as in pdata; string_value_strindex is an empty value, as pdata's Value.Type says).
func anyValueKind(b []byte) (kind int, u uint64, p []byte) {
	it := wireFields{buf: b}
	for it.next() {
		switch it.f.num {
		case 1:
			kind, p = avStr, it.f.b
		case 2:
			kind, u = avBool, it.f.u
		case 3:
			kind, u = avInt, it.f.u
		case 4:
			kind, u = avDouble, it.f.u
		case 5:
			kind, p = avSlice, it.f.b
		case 6:
			kind, p = avMap, it.f.b
		case 7:
			kind, p = avBytes, it.f.b
		case 8:
			kind = avEmpty
		}
	}
	return kind, u, p
}

// anyValueString is pcommon.Value.AsString of a validated AnyValue.
func anyValueString(b []byte) string {
	kind, u, p := anyValueKind(b)
	switch kind {
	case avStr:
		return string(p)
	case avBool:
		return strconv.FormatBool(u != 0)
	case avInt:
		return strconv.FormatInt(int64(u), 10)
	case avDouble:
		return float64AsString(math.Float64frombits(u))
	case avBytes:
		return base64.StdEncoding.EncodeToString(p)
	case avMap, avSlice:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(anyValueRaw(b))
		return strings.TrimRight(buf.String(), "\n")
	}
	return ""
}

// anyValueRaw is pcommon.Value.AsRaw of a validated AnyValue.
func anyValueRaw(b []byte) any {
	kind, u, p := anyValueKind(b)
	switch kind {
	case avStr:
		return string(p)
	case avBool:
		return u != 0
	case avInt:
		return int64(u)
	case avDouble:
		return math.Float64frombits(u)
	case avBytes:
		if len(p) == 0 {
			return []byte(nil)
		}
		return bytes.Clone(p)
	case avMap:
		m := map[string]any{}
		it := wireFields{buf: p}
		for it.next() {
			if it.f.num == 1 {
				k, v := keyValue(it.f.b)
				m[string(k)] = anyValueRaw(v)
			}
		}
		return m
	case avSlice:
		s := make([]any, 0)
		it := wireFields{buf: p}
		for it.next() {
			if it.f.num == 1 {
				s = append(s, anyValueRaw(it.f.b))
			}
		}
		return s
	}
	return nil
}

// keyValue is the key and the AnyValue bytes (nil when absent: an empty value) of a
// validated KeyValue; repeated fields, the last wins.
func keyValue(b []byte) (key, value []byte) {
	it := wireFields{buf: b}
	hasValue := false
	for it.next() {
		switch it.f.num {
		case 1:
			key = it.f.b
		case 2:
			// pdata merges repeated occurrences of the value message; for a oneof-only
			// message that is the concatenation, whose last member wins.
			if hasValue {
				value = append(append([]byte(nil), value...), it.f.b...)
			} else {
				value, hasValue = it.f.b, true
			}
		}
	}
	return key, value
}

// float64AsString is pcommon's conversion of a double attribute to a string (ES6 number
// formatting, as JSON generators do).
func float64AsString(f float64) string {
	if math.IsNaN(f) {
		return "NaN"
	}
	if math.IsInf(f, 1) {
		return "Infinity"
	}
	if math.IsInf(f, -1) {
		return "-Infinity"
	}
	scratch := [64]byte{}
	b := scratch[:0]
	abs := math.Abs(f)
	fmt := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	b = strconv.AppendFloat(b, f, fmt, -1, 64)
	if fmt == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return string(b)
}
