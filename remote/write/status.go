package write

import (
	"encoding/json"
	"net/http"
)

// StatusHandler serves GET /api/v1/status/remote_write (Vigil's own endpoint): every queue's
// state in the Prometheus API's envelope, {"status":"success","data":[QueueStatus...]}.
func (m *Manager) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Status string        `json:"status"`
			Data   []QueueStatus `json:"data"`
		}{"success", m.Status()})
	})
}
