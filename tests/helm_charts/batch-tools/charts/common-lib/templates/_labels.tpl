{{/* The labels of an object of the calling chart; the argument is (dict "root" $ "component" "sweeper"). */}}
{{- define "common-lib.labels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: batch-tools
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
common-lib.example.com/labelled-by: common-lib
{{- end -}}

{{/* What selects a component's pods. */}}
{{- define "common-lib.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}
