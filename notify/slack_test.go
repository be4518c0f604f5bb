package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/alertmanager/config"
)

// slackAttachment is the part of Slack's attachment JSON the tests check.
type slackAttachment struct {
	Title     string   `json:"title"`
	TitleLink string   `json:"title_link"`
	Text      string   `json:"text"`
	Fallback  string   `json:"fallback"`
	Color     string   `json:"color"`
	MrkdwnIn  []string `json:"mrkdwn_in"`
	Fields    []struct {
		Title string `json:"title"`
		Value string `json:"value"`
		Short bool   `json:"short"`
	} `json:"fields"`
	Actions []struct {
		Type string `json:"type"`
		Text string `json:"text"`
		URL  string `json:"url"`
	} `json:"actions"`
}

// TestSlackIncomingWebhook checks the JSON an incoming webhook receives: the message fields,
// the attachment rendered from Alertmanager's default templates, and firing vs resolved.
func TestSlackIncomingWebhook(t *testing.T) {
	type webhookMsg struct {
		Channel     string            `json:"channel"`
		Username    string            `json:"username"`
		IconEmoji   string            `json:"icon_emoji"`
		Parse       string            `json:"parse"`
		Attachments []slackAttachment `json:"attachments"`
	}
	var (
		mu   sync.Mutex
		got  []webhookMsg
		code = http.StatusOK
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/services/T000/B000/XXXX" {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		var m webhookMsg
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("decoding body: %v", err)
		}
		mu.Lock()
		got = append(got, m)
		c := code
		mu.Unlock()
		w.WriteHeader(c)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	ints := loadIntegrations(t, `
route: {receiver: test}
receivers:
- name: test
  slack_configs:
  - api_url: `+srv.URL+`/services/T000/B000/XXXX
    channel: '#alerts'
    username: vigil
    icon_emoji: ':fire:'
    link_names: true
    send_resolved: true
    text: '{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}'
    fields:
    - title: severity
      value: '{{ .CommonLabels.severity }}'
      short: true
    actions:
    - type: button
      text: Runbook
      url: 'https://runbooks.example/{{ .GroupLabels.alertname }}'
`)
	if len(ints) != 1 || ints[0].Name() != "slack" {
		t.Fatalf("integrations = %v", ints)
	}
	tests := []struct {
		name      string
		resolved  bool
		wantTitle string
		wantColor string
	}{
		{"firing", false, "[FIRING:1] HighLatency (api page)", "danger"},
		{"resolved", true, "[RESOLVED] HighLatency (api page)", "good"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			retry, err := ints[0].Notify(groupCtx(t), testAlert(tc.resolved))
			if err != nil || retry {
				t.Fatalf("Notify: retry=%v err=%v", retry, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != i+1 {
				t.Fatalf("requests = %d, want %d", len(got), i+1)
			}
			m := got[i]
			if m.Channel != "#alerts" || m.Username != "vigil" || m.IconEmoji != ":fire:" || m.Parse != "full" {
				t.Errorf("message header = %+v", m)
			}
			if len(m.Attachments) != 1 {
				t.Fatalf("attachments = %d, want 1", len(m.Attachments))
			}
			a := m.Attachments[0]
			if a.Title != tc.wantTitle || a.Color != tc.wantColor {
				t.Errorf("title/color = %q/%q, want %q/%q", a.Title, a.Color, tc.wantTitle, tc.wantColor)
			}
			if a.TitleLink != "http://vigil.example:9090/#/alerts?receiver=test" {
				t.Errorf("title_link = %q", a.TitleLink)
			}
			if a.Text != "p99 latency above 1s" {
				t.Errorf("text = %q", a.Text)
			}
			if a.Fallback != tc.wantTitle+" | "+a.TitleLink {
				t.Errorf("fallback = %q", a.Fallback)
			}
			if strings.Join(a.MrkdwnIn, ",") != "fallback,pretext,text" {
				t.Errorf("mrkdwn_in = %v", a.MrkdwnIn)
			}
			if len(a.Fields) != 1 || a.Fields[0].Title != "severity" || a.Fields[0].Value != "page" || !a.Fields[0].Short {
				t.Errorf("fields = %+v", a.Fields)
			}
			if len(a.Actions) != 1 || a.Actions[0].Type != "button" || a.Actions[0].URL != "https://runbooks.example/HighLatency" {
				t.Errorf("actions = %+v", a.Actions)
			}
		})
	}

	// Slack's answers decide retries: 5xx and 429 are retried, 4xx are not.
	for _, tc := range []struct {
		code      int
		wantRetry bool
	}{{http.StatusInternalServerError, true}, {http.StatusTooManyRequests, true}, {http.StatusNotFound, false}} {
		mu.Lock()
		code = tc.code
		mu.Unlock()
		retry, err := ints[0].Notify(groupCtx(t), testAlert(false))
		if err == nil || retry != tc.wantRetry {
			t.Errorf("status %d: retry=%v err=%v, want retry=%v and an error", tc.code, retry, err, tc.wantRetry)
		}
		if err != nil && strings.Contains(err.Error(), "XXXX") {
			t.Errorf("status %d: error leaks the secret webhook URL: %v", tc.code, err)
		}
	}
}

// TestSlackBotToken checks chat.postMessage as the Web API expects it (form-encoded, token,
// channel, JSON attachments), and that update_message edits the group's message later.
func TestSlackBotToken(t *testing.T) {
	var (
		mu    sync.Mutex
		calls []url.Values
		paths []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", ct)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("parsing form: %v", err)
		}
		mu.Lock()
		calls = append(calls, r.PostForm)
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"channel":"C0123","ts":"1700000000.000100","message":{"text":""}}`)
	}))
	defer srv.Close()

	// The parser accepts update_message only with Slack's production URL, so it is switched on
	// after parsing to keep the test on loopback.
	ints := loadIntegrationsWith(t, `
route: {receiver: test}
receivers:
- name: test
  slack_configs:
  - app_token: xoxb-test-token
    app_url: `+srv.URL+`/api/chat.postMessage
    channel: '#oncall'
`, func(c *config.Config) { c.Receivers[0].SlackConfigs[0].UpdateMessage = true })
	ctx := groupCtx(t)
	if retry, err := ints[0].Notify(ctx, testAlert(false)); err != nil || retry {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
	mu.Lock()
	if len(calls) != 1 || paths[0] != "/api/chat.postMessage" {
		t.Fatalf("calls = %v %v", paths, calls)
	}
	f := calls[0]
	mu.Unlock()
	if f.Get("token") != "xoxb-test-token" || f.Get("channel") != "#oncall" {
		t.Errorf("token/channel = %q/%q", f.Get("token"), f.Get("channel"))
	}
	var atts []slackAttachment
	if err := json.Unmarshal([]byte(f.Get("attachments")), &atts); err != nil || len(atts) != 1 {
		t.Fatalf("attachments %q: %v", f.Get("attachments"), err)
	}
	if atts[0].Title != "[FIRING:1] HighLatency (api page)" || atts[0].Color != "danger" {
		t.Errorf("attachment = %+v", atts[0])
	}

	// Without a notification log store there is nothing to update: the second post is new.
	// With one carrying the first answer, the message is edited through chat.update.
	store := newStoreWith(map[string]string{"threadTs": "1700000000.000100", "channelId": "C0123"})
	if _, err := ints[0].Notify(withStore(ctx, store), testAlert(true)); err != nil {
		t.Fatalf("Notify resolved: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 2 || paths[1] != "/api/chat.update" {
		t.Fatalf("second call = %v, want /api/chat.update", paths)
	}
	if calls[1].Get("ts") != "1700000000.000100" || calls[1].Get("channel") != "C0123" {
		t.Errorf("update form = %v", calls[1])
	}
}
