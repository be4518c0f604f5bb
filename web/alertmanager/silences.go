package alertmanager

import "net/http"

// durableSilenceChange serves a silence change (POST /api/v2/silences, DELETE
// /api/v2/silence/{id}) with the upstream handler, buffered: the router journals and fsyncs the
// change before upstream answers, and when that failed the success is replaced by a 500, so
// that a client is never told a silence is saved when a crash would lose it. The change stays
// applied in memory (upstream cannot undo it) and the next snapshot persists it. A failure of
// a concurrent change can make this answer 500 too; retrying is safe for an expiry and at worst
// duplicates a silence, which is better than losing one silently.
func (h *Handler) durableSilenceChange(w http.ResponseWriter, r *http.Request) {
	before := h.router.SilenceWriteFailures()
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	h.api.ServeHTTP(rec, r)
	if rec.code/100 == 2 && h.router.SilenceWriteFailures() != before {
		h.logger.Error("silence change applied but not persisted; answering with an error", "method", r.Method, "path", r.URL.Path)
		writeError(w, http.StatusInternalServerError, "silence change could not be persisted to disk (see vigil_alerting_state_journal_writes_failed_total); it is in effect until restart")
		return
	}
	rec.copyTo(w)
}
