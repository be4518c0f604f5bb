package v1

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/prometheus/promql/parser"
)

// queryBounds limit the query text an endpoint parses. They are checked with the PromQL lexer
// (linear) before the parser runs: the upstream parser is quadratic in the length of an
// operator chain (it computes each level's type by walking the levels below), and
// parser.Expr.Pretty far worse (400 chained operators: 0.6 s, 2,000: 112 s; 1,000 nested
// parentheses: 19 s), and neither can be interrupted.
type queryBounds struct {
	maxBytes     int // length of the query text
	maxDepth     int // nesting of (), {} and []
	maxOperators int // binary and unary operators
}

var (
	// formatBounds apply to /api/v1/format_query: Pretty's cost grows with the cube of the
	// expression's depth, and its output with the square (indentation).
	formatBounds = queryBounds{maxBytes: 64 << 10, maxDepth: 64, maxOperators: 256}
	// evalBounds apply to /query, /query_range and /parse_query: far above what queries use in
	// practice (long regular expressions stay well within 1 MiB), low enough that parsing stays
	// around a second (10,000 chained operators).
	evalBounds = queryBounds{maxBytes: 1 << 20, maxDepth: 1024, maxOperators: 10_000}
)

// check returns an error when q exceeds the bounds or ctx ends while lexing it. Lexing errors
// are left to the parser, which reports them with positions.
func (b queryBounds) check(ctx context.Context, q string) error {
	if len(q) > b.maxBytes {
		return fmt.Errorf("query is too long: %d bytes, at most %d are accepted", len(q), b.maxBytes)
	}
	l := parser.Lex(q)
	var it parser.Item
	depth, operators := 0, 0
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		l.NextItem(&it)
		switch it.Typ {
		case parser.EOF, parser.ERROR:
			return nil
		case parser.LEFT_PAREN, parser.LEFT_BRACE, parser.LEFT_BRACKET:
			depth++
			if depth > b.maxDepth {
				return fmt.Errorf("query is nested too deeply: more than %d levels of parentheses, braces or brackets", b.maxDepth)
			}
		case parser.RIGHT_PAREN, parser.RIGHT_BRACE, parser.RIGHT_BRACKET:
			depth--
		default:
			if it.Typ.IsOperator() {
				operators++
				if operators > b.maxOperators {
					return fmt.Errorf("query has too many operators: more than %d", b.maxOperators)
				}
			}
		}
	}
}

// boundsResult answers a query refused by check: 400 bad_data, or canceled (timeout) when the
// request's context ended.
func boundsResult(err error) apiResult {
	switch {
	case errors.Is(err, context.Canceled):
		return errResult(errorCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return errResult(errorTimeout, err)
	}
	return invalidParamError(err, "query")
}
