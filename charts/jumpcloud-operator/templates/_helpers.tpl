{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "jumpcloud-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, with the chart name appended unless it already contains it. */}}
{{- define "jumpcloud-operator.fullname" -}}
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

{{- define "jumpcloud-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "jumpcloud-operator.labels" -}}
helm.sh/chart: {{ include "jumpcloud-operator.chart" . }}
{{ include "jumpcloud-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: jumpcloud-operator
{{- end }}

{{/* Labels that select the operator's pods; never change them (Deployment selectors are immutable). */}}
{{- define "jumpcloud-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jumpcloud-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "jumpcloud-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "jumpcloud-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference: a digest pins the image and wins over the tag. */}}
{{- define "jumpcloud-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "jumpcloud-operator.pvcName" -}}
{{- default (printf "%s-evidence" (include "jumpcloud-operator.fullname" .)) .Values.evidence.pvc.existingClaim }}
{{- end }}

{{/*
The operator's namespaced rules, used by the ClusterRole and by each per-namespace Role.
Exactly the API calls the operator makes: no delete, no CRD access, no wildcard.
*/}}
{{- define "jumpcloud-operator.rules" -}}
- apiGroups: ["jumpcloud-operator.io"]
  resources: ["jumpcloudconnections"]
  verbs: ["list", "watch"]
- apiGroups: ["jumpcloud-operator.io"]
  resources: ["jumpcloudconnections/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- /* Reports are read (to skip unchanged writes) and applied; owner references delete them. */}}
{{- if has .Values.policyReports (list "auto" "both" "policyreport") }}
- apiGroups: ["wgpolicyk8s.io"]
  resources: ["policyreports"]
  verbs: ["get", "patch"]
{{- end }}
{{- if has .Values.policyReports (list "auto" "both" "openreports") }}
- apiGroups: ["openreports.io"]
  resources: ["reports"]
  verbs: ["get", "patch"]
{{- end }}
{{- end }}

{{/* S3 store URL: s3://bucket[/prefix]. */}}
{{- define "jumpcloud-operator.s3Url" -}}
{{- $prefix := trimAll "/" .Values.evidence.s3.prefix }}
{{- if $prefix }}
{{- printf "s3://%s/%s" .Values.evidence.s3.bucket $prefix }}
{{- else }}
{{- printf "s3://%s" .Values.evidence.s3.bucket }}
{{- end }}
{{- end }}

{{/*
Non-empty when the evidence claim can be mounted on one node only (ReadWriteOnce or
ReadWriteOncePod, without ReadWriteMany). For an existing claim, evidence.pvc.accessModes
describes it.
*/}}
{{- define "jumpcloud-operator.singleNodeVolume" -}}
{{- $pvc := .Values.evidence.pvc }}
{{- if and (eq .Values.evidence.storage "pvc") (not (has "ReadWriteMany" $pvc.accessModes)) }}true{{ end }}
{{- end }}
