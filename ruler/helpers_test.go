package ruler

import (
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/vigil-monitoring/vigil/promql"
)

var testParser = parser.NewParser(promql.DefaultParserOptions)
