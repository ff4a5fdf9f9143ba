{{/* What selects a component's pods; the argument is (dict "root" $ "component" "engine"). */}}
{{- define "llm-serving.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The labels every object of the chart carries: its selector, and the chart's version. */}}
{{- define "llm-serving.labels" -}}
{{ include "llm-serving.selector" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}
