package alertmanager

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSilenceChangeNotPersistedIsAnError checks that a silence change the router could not
// journal is answered with a 500, not a success, and that persisted changes and bad requests
// keep upstream's answers.
func TestSilenceChangeNotPersistedIsAnError(t *testing.T) {
	srv, _, r := server(t)
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	silence := func(end time.Time) string {
		return fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"X","isRegex":false}],"startsAt":%q,"endsAt":%q,"createdBy":"t","comment":"c"}`,
			time.Now().Format(time.RFC3339), end.Format(time.RFC3339))
	}

	code, body := do("POST", "/api/v2/silences", silence(time.Now().Add(time.Hour)))
	var created struct{ SilenceID string }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &created) != nil || created.SilenceID == "" {
		t.Fatalf("persisted silence: %d %s, want 200 with its ID", code, body)
	}
	if code, body := do("POST", "/api/v2/silences", silence(time.Now().Add(-time.Hour))); code != http.StatusBadRequest {
		t.Fatalf("bad silence: %d %s, want upstream's 400", code, body)
	}

	// Stop closes the journals: from here on no change can be persisted.
	r.Stop()
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v2/silences", silence(time.Now().Add(time.Hour))},
		{"DELETE", "/api/v2/silence/" + created.SilenceID, ""},
	} {
		code, body := do(tc.method, tc.path, tc.body)
		if code != http.StatusInternalServerError || !strings.Contains(body, "could not be persisted") {
			t.Errorf("%s %s with the journal closed: %d %s, want 500", tc.method, tc.path, code, body)
		}
	}
	if code, _ := do("DELETE", "/api/v2/silence/00000000-0000-0000-0000-000000000000", ""); code != http.StatusNotFound {
		t.Errorf("expiring an unknown silence: %d, want upstream's 404", code)
	}
}
