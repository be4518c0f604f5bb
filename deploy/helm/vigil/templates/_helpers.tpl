{{/* Names and labels. */}}
{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigil.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "vigil.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "vigil.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vigil.adapterName" -}}
{{- printf "%s-adapter" (include "vigil.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigil.headlessName" -}}
{{- printf "%s-headless" (include "vigil.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigil.serviceAccountName" -}}
{{- if .Values.prometheus.serviceAccount.create -}}
{{- default (include "vigil.fullname" .) .Values.prometheus.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.prometheus.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vigil.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vigil
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vigil.adapterSelectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" . }}-adapter
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vigil.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag -}}
{{- if .image.registry -}}
{{- printf "%s/%s:%s" .image.registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The container path of the configuration files. */}}
{{- define "vigil.configDir" -}}/etc/vigil/config{{- end -}}
{{- define "vigil.alertmanagerDir" -}}/etc/vigil/alertmanager{{- end -}}
{{- define "vigil.rulesDir" -}}/etc/vigil/rules{{- end -}}

{{/* The default prometheus.yml. */}}
{{- define "vigil.prometheusYml" -}}
{{- $spec := .Values.prometheus.prometheusSpec -}}
global:
  scrape_interval: {{ $spec.scrapeInterval }}
  {{- with $spec.scrapeTimeout }}
  scrape_timeout: {{ . }}
  {{- end }}
  evaluation_interval: {{ $spec.evaluationInterval }}
  {{- with $spec.externalLabels }}
  external_labels:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- $ruleFiles := $spec.ruleFiles }}
{{- if .Values.additionalPrometheusRulesMap }}
{{- $ruleFiles = append $ruleFiles (printf "%s/*.yaml" (include "vigil.rulesDir" .)) }}
{{- end }}
{{- with $ruleFiles }}
rule_files:
{{- toYaml . | nindent 0 }}
{{- end }}
scrape_configs:
{{- if .Values.prometheus.defaultScrapeConfigs.enabled }}
- job_name: vigil
  {{- if and $spec.routePrefix (ne $spec.routePrefix "/") }}
  metrics_path: {{ printf "%s/metrics" (trimSuffix "/" $spec.routePrefix) }}
  {{- end }}
  static_configs:
  - targets: [localhost:9090]
- job_name: kubernetes-pods
  kubernetes_sd_configs:
  - role: endpoints
  relabel_configs:
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
    action: keep
    regex: "true"
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
    action: replace
    target_label: __metrics_path__
    regex: (.+)
  - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
    action: replace
    regex: ([^:]+)(?::\d+)?;(\d+)
    replacement: $1:$2
    target_label: __address__
  - source_labels: [__meta_kubernetes_namespace]
    target_label: namespace
  - source_labels: [__meta_kubernetes_pod_name]
    target_label: pod
  - source_labels: [__meta_kubernetes_service_name]
    target_label: service
{{- end }}
{{- with $spec.additionalScrapeConfigs }}
{{ toYaml . }}
{{- end }}
{{- if not (or .Values.prometheus.defaultScrapeConfigs.enabled $spec.additionalScrapeConfigs) }} []{{ end }}
{{- end -}}
