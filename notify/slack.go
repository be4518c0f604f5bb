package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/alertmanager/config"
	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/types"
	commoncfg "github.com/prometheus/common/config"
	"github.com/slack-go/slack"
)

// Slack's documented limit for an attachment title, in characters.
const slackMaxTitleRunes = 1024

const slackPostMessage = "chat.postMessage"

// Slack sends notifications to Slack with github.com/slack-go/slack. Two modes, chosen from the
// configuration exactly as Alertmanager interprets it:
//   - incoming webhook: api_url (or api_url_file) is a hooks.slack.com URL; the message is
//     POSTed as JSON;
//   - bot token: app_token (or http_config.authorization with a Bearer token) and an api_url /
//     app_url ending in chat.postMessage; the message goes through the Web API, and with
//     update_message the same Slack message is edited on later notifications of the group.
type Slack struct {
	conf   *config.SlackConfig
	tmpl   *template.Template
	logger *slog.Logger
	client *http.Client
	// bot mode only: Web API base URL (ending in "/") and the token source.
	apiBase   string
	token     string
	tokenFile string
}

// NewSlack builds a Slack notifier from a receiver's slack_configs entry; httpOpts go to its
// HTTP client.
func NewSlack(c *config.SlackConfig, t *template.Template, l *slog.Logger, httpOpts ...commoncfg.HTTPClientOption) (*Slack, error) {
	n := &Slack{conf: c, tmpl: t, logger: l}
	httpConf := commoncfg.HTTPClientConfig{}
	if c.HTTPConfig != nil {
		httpConf = *c.HTTPConfig
	}
	if a := httpConf.Authorization; a != nil && (a.Type == "" || strings.EqualFold(a.Type, "Bearer")) &&
		c.APIURL != nil && strings.HasSuffix(c.APIURL.Path, "/"+slackPostMessage) {
		n.apiBase = strings.TrimSuffix(c.APIURL.String(), slackPostMessage)
		n.token, n.tokenFile = string(a.Credentials), a.CredentialsFile
		// slack-go sends the token itself (in the form body, as the Web API documents), so the
		// HTTP client must not add it a second time.
		httpConf.Authorization = nil
	}
	client, err := commoncfg.NewClientFromConfig(httpConf, "slack", httpOpts...)
	if err != nil {
		return nil, fmt.Errorf("slack http client: %w", err)
	}
	n.client = client
	return n, nil
}

// Notify implements amnotify.Notifier.
func (n *Slack) Notify(ctx context.Context, as ...*types.Alert) (bool, error) {
	key, err := amnotify.ExtractGroupKey(ctx)
	if err != nil {
		return false, err
	}
	logger := n.logger.With("group_key", key)
	var tmplErr error
	data := amnotify.GetTemplateData(ctx, n.tmpl, as, logger)
	tmpl := amnotify.TmplText(n.tmpl, data, &tmplErr)

	att := n.attachment(tmpl, logger)
	channel := tmpl(n.conf.Channel)
	username := tmpl(n.conf.Username)
	iconEmoji := tmpl(n.conf.IconEmoji)
	iconURL := tmpl(n.conf.IconURL)
	text := tmpl(n.conf.MessageText)
	if tmplErr != nil {
		return false, fmt.Errorf("slack: templating: %w", tmplErr)
	}

	if n.conf.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, n.conf.Timeout, fmt.Errorf("configured slack timeout reached (%s)", n.conf.Timeout))
		defer cancel()
	}

	if n.apiBase == "" {
		u, err := n.webhookURL()
		if err != nil {
			return false, err
		}
		msg := &slack.WebhookMessage{
			Channel: channel, Username: username, IconEmoji: iconEmoji, IconURL: iconURL,
			Text: text, Attachments: []slack.Attachment{att},
		}
		if n.conf.LinkNames {
			// slack-go's webhook message has no link_names field; parse=full is Slack's
			// documented way to have @user and #channel linked in incoming webhooks.
			msg.Parse = "full"
		}
		err = slack.PostWebhookCustomHTTPContext(ctx, u, n.client, msg)
		if err != nil {
			retry, err := classifySlackError(err)
			return retry, fmt.Errorf("slack webhook, channel %q: %w", channel, amnotify.RedactURL(err))
		}
		return false, nil
	}

	token, err := n.botToken()
	if err != nil {
		return false, err
	}
	api := slack.New(token, slack.OptionAPIURL(n.apiBase), slack.OptionHTTPClient(n.client))
	opts := []slack.MsgOption{slack.MsgOptionAttachments(att), slack.MsgOptionLinkNames(n.conf.LinkNames)}
	if text != "" {
		opts = append(opts, slack.MsgOptionText(text, false))
	}
	if username != "" {
		opts = append(opts, slack.MsgOptionUsername(username))
	}
	if iconEmoji != "" {
		opts = append(opts, slack.MsgOptionIconEmoji(iconEmoji))
	}
	if iconURL != "" {
		opts = append(opts, slack.MsgOptionIconURL(iconURL))
	}

	// With update_message the group's Slack message is edited instead of posting a new one;
	// its channel id and timestamp travel in the notification log entry of the group.
	store, haveStore := amnotify.NflogStore(ctx)
	var respChannel, respTS string
	if n.conf.UpdateMessage && haveStore {
		ts, _ := store.GetStr("threadTs")
		ch, _ := store.GetStr("channelId")
		if ts != "" && ch != "" {
			respChannel, respTS, _, err = api.UpdateMessageContext(ctx, ch, ts, opts...)
		} else {
			respChannel, respTS, err = api.PostMessageContext(ctx, channel, opts...)
		}
	} else {
		respChannel, respTS, err = api.PostMessageContext(ctx, channel, opts...)
	}
	if err != nil {
		retry, err := classifySlackError(err)
		return retry, fmt.Errorf("slack %s, channel %q: %w", slackPostMessage, channel, err)
	}
	if n.conf.UpdateMessage && haveStore && respTS != "" && respChannel != "" {
		store.SetStr("threadTs", respTS)
		store.SetStr("channelId", respChannel)
	}
	return false, nil
}

func (n *Slack) attachment(tmpl func(string) string, logger *slog.Logger) slack.Attachment {
	title, truncated := amnotify.TruncateInRunes(tmpl(n.conf.Title), slackMaxTitleRunes)
	if truncated {
		logger.Warn("truncated slack title", "max_runes", slackMaxTitleRunes)
	}
	mrkdwnIn := n.conf.MrkdwnIn
	if len(mrkdwnIn) == 0 {
		mrkdwnIn = []string{"fallback", "pretext", "text"}
	}
	att := slack.Attachment{
		Title:      title,
		TitleLink:  tmpl(n.conf.TitleLink),
		Pretext:    tmpl(n.conf.Pretext),
		Text:       tmpl(n.conf.Text),
		Fallback:   tmpl(n.conf.Fallback),
		CallbackID: tmpl(n.conf.CallbackID),
		ImageURL:   tmpl(n.conf.ImageURL),
		ThumbURL:   tmpl(n.conf.ThumbURL),
		Footer:     tmpl(n.conf.Footer),
		Color:      tmpl(n.conf.Color),
		MarkdownIn: mrkdwnIn,
	}
	for _, f := range n.conf.Fields {
		short := n.conf.ShortFields
		if f.Short != nil {
			short = *f.Short
		}
		att.Fields = append(att.Fields, slack.AttachmentField{Title: tmpl(f.Title), Value: tmpl(f.Value), Short: short})
	}
	for _, a := range n.conf.Actions {
		act := slack.AttachmentAction{
			Type: slack.ActionType(tmpl(a.Type)), Text: tmpl(a.Text), URL: tmpl(a.URL),
			Style: tmpl(a.Style), Name: tmpl(a.Name), Value: tmpl(a.Value),
		}
		if a.ConfirmField != nil {
			act.Confirm = &slack.ConfirmationField{
				Title: tmpl(a.ConfirmField.Title), Text: tmpl(a.ConfirmField.Text),
				OkText: tmpl(a.ConfirmField.OkText), DismissText: tmpl(a.ConfirmField.DismissText),
			}
		}
		att.Actions = append(att.Actions, act)
	}
	return att
}

func (n *Slack) webhookURL() (string, error) {
	if n.conf.APIURL != nil {
		return n.conf.APIURL.String(), nil
	}
	b, err := os.ReadFile(n.conf.APIURLFile)
	if err != nil {
		return "", fmt.Errorf("slack: reading api_url_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (n *Slack) botToken() (string, error) {
	if n.token != "" {
		return n.token, nil
	}
	b, err := os.ReadFile(n.tokenFile)
	if err != nil {
		return "", fmt.Errorf("slack: reading token file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// classifySlackError says whether a failed Slack call is worth retrying: rate limits, server
// errors and transport errors are; an error answer from the API (bad channel, bad token) is not.
func classifySlackError(err error) (bool, error) {
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		return true, err
	case errors.As(err, &sc):
		retry := sc.Code == http.StatusTooManyRequests || sc.Code >= 500
		return retry, amnotify.NewErrorWithReason(amnotify.GetFailureReasonFromStatusCode(sc.Code), err)
	case errors.As(err, &se):
		return false, amnotify.NewErrorWithReason(amnotify.ClientErrorReason, err)
	default:
		return true, err
	}
}
