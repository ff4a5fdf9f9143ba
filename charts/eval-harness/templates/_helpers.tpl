{{- define "eval-harness.labels" -}}
app.kubernetes.io/name: eval-harness
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
{{- define "eval-harness.selector" -}}
app.kubernetes.io/name: eval-harness
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
