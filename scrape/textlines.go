package scrape

import "bytes"

// textLinesEnd returns the end of the last whole line in b, which starts at a line start, as
// the upstream Prometheus text lexer (promlex) sees lines: a line break inside a quoted string (a
// label value, a quoted label or metric name) belongs to the string. It returns the index of that
// line break, or -1 if b holds no whole line. nul is the index of a NUL byte at the start of a
// line (after blanks), where promlex ends the exposition, or -1.
//
// Agreement with promlex is needed only up to the first line promlex rejects: the scrape fails
// there, and every line break before it is seen alike.
func textLinesEnd(b []byte) (end, nul int) {
	end = -1
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		if j == len(b) {
			break
		}
		switch b[j] {
		case 0:
			return end, j
		case '#':
			// A # HELP or # TYPE line runs to the line break but may name the metric with a
			// quoted string; in any other comment promlex ends the exposition at a NUL.
			k := j + 1
			meta, q := metaLine(b[k:])
			if q >= 0 {
				if k = closeQuote(b, k+q); k < 0 {
					return end, -1
				}
			}
			nl := bytes.IndexByte(b[k:], '\n')
			line := b[k:]
			if nl >= 0 {
				line = line[:nl]
			}
			if z := bytes.IndexByte(line, 0); z >= 0 && !meta {
				return end, k + z
			}
			if nl < 0 {
				return end, -1
			}
			end = k + nl
			i = end + 1
			continue
		}
		k := j
		for {
			nl := bytes.IndexByte(b[k:], '\n')
			if nl < 0 {
				return end, -1
			}
			line := b[k : k+nl]
			if bytes.IndexByte(line, '\\') < 0 && bytes.Count(line, []byte{'"'})%2 == 0 {
				end = k + nl // every string opens and closes on this line
				break
			}
			// Walk the strings: one of them contains an escape or a line break.
			q := bytes.IndexByte(line, '"')
			if q < 0 {
				end = k + nl
				break
			}
			if k = closeQuote(b, k+q); k < 0 {
				return end, -1
			}
		}
		i = end + 1
	}
	return end, -1
}

// metaLine reports whether c (what follows a '#') starts "[ \t]+(HELP|TYPE)[ \t]+", and the
// offset of the opening quote of a quoted metric name after it, or -1.
func metaLine(c []byte) (meta bool, quote int) {
	k := 0
	for k < len(c) && (c[k] == ' ' || c[k] == '\t') {
		k++
	}
	if k == 0 || len(c)-k < 4 || (string(c[k:k+4]) != "HELP" && string(c[k:k+4]) != "TYPE") {
		return false, -1
	}
	k += 4
	n := k
	for k < len(c) && (c[k] == ' ' || c[k] == '\t') {
		k++
	}
	if k == n {
		return false, -1
	}
	if k == len(c) || c[k] != '"' {
		return true, -1
	}
	return true, k
}

// closeQuote returns the index after the string opened by the quote at b[q], honouring
// backslash escapes, or -1 if b ends first.
func closeQuote(b []byte, q int) int {
	for k := q + 1; k < len(b); k++ {
		switch b[k] {
		case '\\':
			k++
		case '"':
			return k + 1
		}
	}
	return -1
}
