{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "ezapi.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects. */}}
{{- define "ezapi.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ezapi.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ezapi.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ezapi.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ezapi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ezapi.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ezapi.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ezapi.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The Secret the pods read EZ_PG_DSN, EZ_JWT_SECRET, … from. */}}
{{- define "ezapi.secretName" -}}
{{- default (include "ezapi.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The chart-managed Secret's data; fails when a required secret is missing. */}}
{{- define "ezapi.secretData" -}}
EZ_PG_DSN: {{ required "secrets.pgDsn is required (or set secrets.existingSecret)" .Values.secrets.pgDsn | b64enc | quote }}
EZ_JWT_SECRET: {{ required "secrets.jwtSecret is required (or set secrets.existingSecret)" .Values.secrets.jwtSecret | b64enc | quote }}
EZ_ENCRYPTION_KEY: {{ required "secrets.encryptionKey is required (or set secrets.existingSecret)" .Values.secrets.encryptionKey | b64enc | quote }}
{{- with .Values.secrets.previousKeys }}
EZ_CRYPTO__PREVIOUS_KEYS: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.redisPassword }}
EZ_REDIS__PASSWORD: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.metricsBearerToken }}
EZ_METRICS__BEARER_TOKEN: {{ . | b64enc | quote }}
{{- end }}
{{- end }}

{{/* config.yaml: the values' config plus the TLS file paths when tls.secretName is set. */}}
{{- define "ezapi.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- if .Values.tls.secretName }}
{{- $server := default (dict) $cfg.server }}
{{- $_ := set $server "tls" (dict "cert_file" "/etc/ezapi/tls/tls.crt" "key_file" "/etc/ezapi/tls/tls.key") }}
{{- $_ := set $cfg "server" $server }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/* The container port: config.server.port, default 8080. */}}
{{- define "ezapi.port" -}}
{{- $server := default (dict) .Values.config.server }}
{{- default 8080 $server.port }}
{{- end }}

{{- define "ezapi.scheme" -}}
{{- if .Values.tls.secretName }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}
