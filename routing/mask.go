package routing

import (
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// secretKeys are the alertmanager.yml keys whose values are credentials, in every receiver
// type and in global. Their values are shown as "<secret>", as Alertmanager does.
var secretKeys = map[string]bool{
	"password": true, "auth_password": true, "auth_secret": true, "smtp_auth_password": true,
	"smtp_auth_secret": true, "credentials": true, "client_secret": true, "bearer_token": true,
	"routing_key": true, "service_key": true, "api_key": true, "api_secret": true,
	"opsgenie_api_key": true, "victorops_api_key": true, "wechat_api_secret": true,
	"token": true, "user_key": true, "bot_token": true, "app_token": true, "slack_app_token": true,
	"secret_key": true, "access_key": true, "slack_api_url": true, "webhook_url": true,
	"alert_source_token": true,
}

// secretURLParents are receiver types whose api_url is itself the credential (a Slack incoming
// webhook URL carries its token).
var secretURLParents = map[string]bool{"slack_configs": true}

// MaskSecrets returns an alertmanager.yml text with its credentials replaced by "<secret>",
// keeping everything else — order, comments, the user's own spelling — as written. This is
// what the API's status shows and amtool's `config show` prints.
//
// Webhook URLs are credentials too (their path or query usually carries a token), but tools
// built on older Alertmanager parsers (Debian's amtool among them) reject a webhook url that
// is not a URL, so those keep scheme and host and mask the rest: https://host/<secret>.
func MaskSecrets(text string) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return "", fmt.Errorf("parsing config for masking: %w", err)
	}
	maskNode(&doc, "")
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", fmt.Errorf("encoding masked config: %w", err)
	}
	return b.String(), nil
}

func maskNode(n *yaml.Node, parentKey string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			maskNode(c, parentKey)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			secret := secretKeys[k] || (k == "api_url" && secretURLParents[parentKey])
			switch {
			case secret && v.Kind == yaml.AliasNode:
				// The alias would print the anchored value: replace the reference itself.
				n.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "<secret>"}
			case secret && v.Kind == yaml.ScalarNode && v.Value != "":
				v.Value, v.Style, v.Tag = "<secret>", 0, "!!str"
			case v.Kind == yaml.ScalarNode && k == "url" && parentKey == "webhook_configs":
				v.Value = maskURL(v.Value)
			default:
				maskNode(v, k)
			}
		}
	}
}

// maskURL keeps scheme and host of u and replaces its path and query by "<secret>".
func maskURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "<secret>"
	}
	if (p.Path == "" || p.Path == "/") && p.RawQuery == "" && p.User == nil {
		return p.Scheme + "://" + p.Host + p.Path
	}
	return p.Scheme + "://" + p.Host + "/<secret>"
}
