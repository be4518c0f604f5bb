// Package notify holds Vigil's receivers. Slack and PagerDuty are Vigil's own integrations on
// the official client libraries (github.com/slack-go/slack, github.com/PagerDuty/go-pagerduty);
// email and webhook — and every other receiver type alertmanager.yml can name — are upstream
// Alertmanager's notifiers, so that an existing configuration works unchanged. All of them
// render with Alertmanager's default templates (its template package) plus the config's own.
package notify

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/alertmanager/config"
	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/notify/discord"
	"github.com/prometheus/alertmanager/notify/email"
	"github.com/prometheus/alertmanager/notify/incidentio"
	"github.com/prometheus/alertmanager/notify/jira"
	"github.com/prometheus/alertmanager/notify/mattermost"
	"github.com/prometheus/alertmanager/notify/msteams"
	"github.com/prometheus/alertmanager/notify/msteamsv2"
	"github.com/prometheus/alertmanager/notify/opsgenie"
	"github.com/prometheus/alertmanager/notify/pushover"
	"github.com/prometheus/alertmanager/notify/rocketchat"
	"github.com/prometheus/alertmanager/notify/sns"
	"github.com/prometheus/alertmanager/notify/telegram"
	"github.com/prometheus/alertmanager/notify/victorops"
	"github.com/prometheus/alertmanager/notify/webex"
	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/alertmanager/notify/wechat"
	"github.com/prometheus/alertmanager/template"
	commoncfg "github.com/prometheus/common/config"
)

// BuildReceiverIntegrations builds the integrations of one receiver. Integration names and
// indexes are the ones Alertmanager uses, because the notification log is keyed by them: a
// Vigil that takes over an Alertmanager's data (or gossips with one) dedups the same way.
// httpOpts go to the HTTP clients of the integrations (tests pass an in-memory dialer); email
// has no HTTP client.
func BuildReceiverIntegrations(nc config.Receiver, tmpl *template.Template, logger *slog.Logger, httpOpts ...commoncfg.HTTPClientOption) ([]amnotify.Integration, error) {
	var (
		errs         error
		integrations []amnotify.Integration
	)
	add := func(name string, i int, rs amnotify.ResolvedSender, f func(l *slog.Logger) (amnotify.Notifier, error)) {
		n, err := f(logger.With("integration", name, "receiver", nc.Name))
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("%s_configs[%d]: %w", name, i, err))
			return
		}
		integrations = append(integrations, amnotify.NewIntegration(n, rs, name, i, nc.Name))
	}

	for i, c := range nc.WebhookConfigs {
		add("webhook", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return webhook.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.EmailConfigs {
		add("email", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return email.New(c, tmpl, l), nil })
	}
	for i, c := range nc.PagerdutyConfigs {
		add("pagerduty", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return NewPagerDuty(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.SlackConfigs {
		add("slack", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return NewSlack(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.OpsGenieConfigs {
		add("opsgenie", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return opsgenie.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.WechatConfigs {
		add("wechat", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return wechat.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.VictorOpsConfigs {
		add("victorops", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return victorops.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.PushoverConfigs {
		add("pushover", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return pushover.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.SNSConfigs {
		add("sns", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return sns.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.TelegramConfigs {
		add("telegram", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return telegram.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.DiscordConfigs {
		add("discord", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return discord.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.WebexConfigs {
		add("webex", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return webex.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.MSTeamsConfigs {
		add("msteams", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return msteams.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.MSTeamsV2Configs {
		add("msteamsv2", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return msteamsv2.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.JiraConfigs {
		add("jira", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return jira.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.IncidentioConfigs {
		add("incidentio", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return incidentio.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.RocketchatConfigs {
		add("rocketchat", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return rocketchat.New(c, tmpl, l, httpOpts...) })
	}
	for i, c := range nc.MattermostConfigs {
		add("mattermost", i, c, func(l *slog.Logger) (amnotify.Notifier, error) { return mattermost.New(c, tmpl, l, httpOpts...) })
	}
	return integrations, errs
}
