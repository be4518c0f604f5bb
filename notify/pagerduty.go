package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/PagerDuty/go-pagerduty"
	amnotify "github.com/prometheus/alertmanager/notify"
	ampd "github.com/prometheus/alertmanager/notify/pagerduty"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/types"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
)

// PagerDuty's documented limits, in characters.
const (
	pdMaxV1DescriptionRunes = 1024
	pdMaxV2SummaryRunes     = 1024
)

// The Events API paths; the configured url (default https://events.pagerduty.com/v2/enqueue)
// gives the scheme and host both versions are sent to.
const (
	pdV2Path = "/v2/enqueue"
	pdV1Path = "/generic/2010-04-15/create_event.json"
)

// PagerDuty sends notifications with github.com/PagerDuty/go-pagerduty: Events API v2 when the
// config has a routing_key, the v1 generic events API when it has a service_key. The dedup key
// (v2) / incident key (v1) is the hash of the group key, so trigger and resolve of one group
// address the same PagerDuty incident across notifications, restarts and HA peers.
type PagerDuty struct {
	conf   *ampd.PagerdutyConfig
	tmpl   *template.Template
	logger *slog.Logger
	client *http.Client
	// base is scheme://host[/prefix] of the events API, without the version path.
	base string
}

// NewPagerDuty builds a PagerDuty notifier from a receiver's pagerduty_configs entry; httpOpts go
// to its HTTP client.
func NewPagerDuty(c *ampd.PagerdutyConfig, t *template.Template, l *slog.Logger, httpOpts ...commoncfg.HTTPClientOption) (*PagerDuty, error) {
	httpConf := commoncfg.HTTPClientConfig{}
	if c.HTTPConfig != nil {
		httpConf = *c.HTTPConfig
	}
	client, err := commoncfg.NewClientFromConfig(httpConf, "pagerduty", httpOpts...)
	if err != nil {
		return nil, fmt.Errorf("pagerduty http client: %w", err)
	}
	u := &url.URL{Scheme: "https", Host: "events.pagerduty.com", Path: pdV2Path}
	if c.URL != nil {
		u = c.URL.URL
	}
	base := *u
	base.Path = strings.TrimSuffix(base.Path, pdV2Path)
	base.RawQuery, base.Fragment = "", ""
	return &PagerDuty{conf: c, tmpl: t, logger: l, client: client, base: strings.TrimSuffix(base.String(), "/")}, nil
}

func (n *PagerDuty) v1() bool { return n.conf.ServiceKey != "" || n.conf.ServiceKeyFile != "" }

// Notify implements amnotify.Notifier.
func (n *PagerDuty) Notify(ctx context.Context, as ...*types.Alert) (bool, error) {
	key, err := amnotify.ExtractGroupKey(ctx)
	if err != nil {
		return false, err
	}
	logger := n.logger.With("group_key", key)
	data := amnotify.GetTemplateData(ctx, n.tmpl, as, logger)
	resolved := types.Alerts(as...).Status() == model.AlertResolved

	var tmplErr error
	tmpl := amnotify.TmplText(n.tmpl, data, &tmplErr)
	tmplFunc := func(s string) (string, error) { return tmpl(s), tmplErr }
	details := make(map[string]any, len(n.conf.Details))
	for k, v := range n.conf.Details {
		d, err := template.DeepCopyWithTemplate(v, tmplFunc)
		if err != nil {
			return false, fmt.Errorf("pagerduty: rendering details[%s]: %w", k, err)
		}
		details[k] = d
	}

	if n.conf.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, n.conf.Timeout, fmt.Errorf("configured pagerduty timeout reached (%s)", n.conf.Timeout))
		defer cancel()
	}
	if n.v1() {
		return n.notifyV1(ctx, key, resolved, tmpl, &tmplErr, details, logger)
	}
	return n.notifyV2(ctx, key, resolved, tmpl, &tmplErr, details, logger)
}

func (n *PagerDuty) notifyV2(ctx context.Context, key amnotify.Key, resolved bool, tmpl func(string) string, tmplErr *error, details map[string]any, logger *slog.Logger) (bool, error) {
	routingKey, err := secretOrFile(string(n.conf.RoutingKey), n.conf.RoutingKeyFile)
	if err != nil {
		return false, fmt.Errorf("pagerduty: routing key: %w", err)
	}
	severity := n.conf.Severity
	if severity == "" {
		severity = "error"
	}
	summary, truncated := amnotify.TruncateInRunes(tmpl(n.conf.Description), pdMaxV2SummaryRunes)
	if truncated {
		logger.Warn("truncated pagerduty summary", "max_runes", pdMaxV2SummaryRunes)
	}
	ev := &pagerduty.V2Event{
		RoutingKey: tmpl(routingKey),
		Action:     "trigger",
		DedupKey:   key.Hash(),
		Client:     tmpl(n.conf.Client),
		ClientURL:  tmpl(n.conf.ClientURL),
		Images:     []any{},
		Links:      []any{},
		Payload: &pagerduty.V2Payload{
			Summary:   summary,
			Source:    tmpl(n.conf.Source),
			Severity:  tmpl(severity),
			Class:     tmpl(n.conf.Class),
			Component: tmpl(n.conf.Component),
			Group:     tmpl(n.conf.Group),
			Details:   details,
		},
	}
	if resolved {
		ev.Action = "resolve"
	}
	for _, img := range n.conf.Images {
		if src := tmpl(img.Src); src != "" {
			ev.Images = append(ev.Images, map[string]string{"src": src, "alt": tmpl(img.Alt), "href": tmpl(img.Href)})
		}
	}
	for _, l := range n.conf.Links {
		if href := tmpl(l.Href); href != "" {
			ev.Links = append(ev.Links, map[string]string{"href": href, "text": tmpl(l.Text)})
		}
	}
	if *tmplErr != nil {
		return false, fmt.Errorf("pagerduty: templating v2 event: %w", *tmplErr)
	}
	if ev.RoutingKey == "" {
		return false, errors.New("pagerduty: routing key is empty after templating")
	}
	c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(n.base))
	c.HTTPClient = n.client
	if _, err := c.ManageEventWithContext(ctx, ev); err != nil {
		var apiErr pagerduty.APIError
		if errors.As(err, &apiErr) {
			// As PagerDuty documents for Events v2: retry on 429 and 5xx.
			retry := apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode >= 500
			return retry, amnotify.NewErrorWithReason(amnotify.GetFailureReasonFromStatusCode(apiErr.StatusCode), fmt.Errorf("pagerduty v2: %w", err))
		}
		return true, fmt.Errorf("pagerduty v2: %w", err)
	}
	return false, nil
}

func (n *PagerDuty) notifyV1(ctx context.Context, key amnotify.Key, resolved bool, tmpl func(string) string, tmplErr *error, details map[string]any, logger *slog.Logger) (bool, error) {
	serviceKey, err := secretOrFile(string(n.conf.ServiceKey), n.conf.ServiceKeyFile)
	if err != nil {
		return false, fmt.Errorf("pagerduty: service key: %w", err)
	}
	description, truncated := amnotify.TruncateInRunes(tmpl(n.conf.Description), pdMaxV1DescriptionRunes)
	if truncated {
		logger.Warn("truncated pagerduty description", "max_runes", pdMaxV1DescriptionRunes)
	}
	ev := pagerduty.Event{
		ServiceKey:  tmpl(serviceKey),
		Type:        "trigger",
		IncidentKey: key.Hash(),
		Description: description,
		Details:     details,
	}
	if resolved {
		ev.Type = "resolve"
	} else {
		ev.Client = tmpl(n.conf.Client)
		ev.ClientURL = tmpl(n.conf.ClientURL)
	}
	if *tmplErr != nil {
		return false, fmt.Errorf("pagerduty: templating v1 event: %w", *tmplErr)
	}
	if ev.ServiceKey == "" {
		return false, errors.New("pagerduty: service key is empty after templating")
	}
	// The v1 call of go-pagerduty has a fixed URL and no context; the client we hand it sends
	// to the configured host and carries our context (cancellation, timeout).
	resp, err := pagerduty.CreateEventWithHTTPClient(ev, &redirectClient{ctx: ctx, client: n.client, target: n.base + pdV1Path})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.HTTPStatus
		}
		// As PagerDuty documents for Events v1: retry on 403 (rate limit) and 5xx.
		retry := status == 0 || status == http.StatusForbidden || status >= 500
		return retry, amnotify.NewErrorWithReason(amnotify.GetFailureReasonFromStatusCode(status), fmt.Errorf("pagerduty v1: %w", err))
	}
	return false, nil
}

// redirectClient points a request built for PagerDuty's fixed v1 URL at the configured one.
type redirectClient struct {
	ctx    context.Context
	client *http.Client
	target string
}

func (c *redirectClient) Do(req *http.Request) (*http.Response, error) {
	u, err := url.Parse(c.target)
	if err != nil {
		return nil, fmt.Errorf("pagerduty v1 url: %w", err)
	}
	req = req.WithContext(c.ctx)
	req.URL = u
	req.Host = u.Host
	return c.client.Do(req)
}

func secretOrFile(secret, file string) (string, error) {
	if secret != "" {
		return secret, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
