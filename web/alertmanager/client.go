package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/routing"
)

// FetchExplanation asks a running Vigil at base (e.g. http://localhost:9090) why lset was or
// was not notified; `vigil explain alert` prints the answer.
func FetchExplanation(ctx context.Context, client *http.Client, base string, lset model.LabelSet) (*routing.Explanation, error) {
	q := url.Values{}
	for k, v := range lset {
		q.Set(string(k), string(v))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+ExplainPath+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("building explain request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("explain request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading explain answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var msg string
		if json.Unmarshal(body, &msg) != nil {
			msg = strings.TrimSpace(string(body))
		}
		return nil, fmt.Errorf("explain: %s: %s", resp.Status, msg)
	}
	var ex routing.Explanation
	if err := json.Unmarshal(body, &ex); err != nil {
		return nil, fmt.Errorf("decoding explain answer: %w", err)
	}
	return &ex, nil
}
