{{/* Names: the usual Helm conventions, 63 characters at most. */}}
{{- define "genmedia.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The RayService name; KubeRay derives its RayCluster (<name>-<hash>) and
<name>-serve-svc / <name>-head-svc from it, so it is kept to 40 characters. */}}
{{- define "genmedia.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "genmedia.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "genmedia.selectorLabels" -}}
app.kubernetes.io/name: {{ include "genmedia.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* What selectors match Ray pods by (Services, PodMonitor, PDBs, NetworkPolicy): not
app.kubernetes.io/name, which KubeRay versions may set on pods themselves. */}}
{{- define "genmedia.podSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
genmedia/ray-service: {{ include "genmedia.fullname" . }}
{{- end }}

{{- define "genmedia.labels" -}}
helm.sh/chart: {{ include "genmedia.chart" . }}
{{ include "genmedia.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: genmedia
{{- end }}

{{- define "genmedia.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "genmedia.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "genmedia.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "genmedia.secretName" -}}
{{- required "secrets.existingSecret is required: the Secret with the provenance keys and the records URL" .Values.secrets.existingSecret }}
{{- end }}

{{- define "genmedia.c2paSecretName" -}}
{{- default (include "genmedia.secretName" .) .Values.secrets.c2pa.existingSecret }}
{{- end }}

{{/* Environment of every Ray container. Secret values only through secretKeyRef; the C2PA
variables are file paths into the mounted C2PA Secret (provenance/keys.py reads files there). */}}
{{- define "genmedia.env" -}}
{{- $secret := include "genmedia.secretName" . }}
{{- $c2pa := .Values.secrets.c2pa -}}
- name: GENMEDIA_WATERMARK_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret | quote }}, key: {{ .Values.secrets.keys.watermarkKey | quote }}}
- name: GENMEDIA_RECORD_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret | quote }}, key: {{ .Values.secrets.keys.recordKey | quote }}}
- name: GENMEDIA_RECORDS_URL
  valueFrom:
    secretKeyRef: {name: {{ $secret | quote }}, key: {{ .Values.secrets.keys.recordsUrl | quote }}}
- name: GENMEDIA_C2PA_CERT_CHAIN
  value: {{ printf "%s/%s" (trimSuffix "/" $c2pa.mountPath) $c2pa.keys.certChain | quote }}
- name: GENMEDIA_C2PA_PRIVATE_KEY
  value: {{ printf "%s/%s" (trimSuffix "/" $c2pa.mountPath) $c2pa.keys.privateKey | quote }}
{{- if $c2pa.keys.trustAnchors }}
- name: GENMEDIA_C2PA_TRUST_ANCHORS
  value: {{ printf "%s/%s" (trimSuffix "/" $c2pa.mountPath) $c2pa.keys.trustAnchors | quote }}
{{- end }}
{{- with .Values.aws.region }}
- name: AWS_REGION
  value: {{ . | quote }}
- name: AWS_DEFAULT_REGION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.aws.s3EndpointUrl }}
- name: AWS_ENDPOINT_URL_S3
  value: {{ . | quote }}
{{- end }}
{{- with .Values.aws.modelsS3EndpointUrl }}
- name: GENMEDIA_MODELS_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "genmedia.volumes" -}}
{{- $c2pa := .Values.secrets.c2pa -}}
- name: genmedia-data
  emptyDir:
    {{- with .Values.dataVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
- name: c2pa
  secret:
    secretName: {{ include "genmedia.c2paSecretName" . | quote }}
    defaultMode: 0440
    items:
      - {key: {{ $c2pa.keys.certChain | quote }}, path: {{ $c2pa.keys.certChain | quote }}}
      - {key: {{ $c2pa.keys.privateKey | quote }}, path: {{ $c2pa.keys.privateKey | quote }}}
      {{- if $c2pa.keys.trustAnchors }}
      - {key: {{ $c2pa.keys.trustAnchors | quote }}, path: {{ $c2pa.keys.trustAnchors | quote }}}
      {{- end }}
{{- with .Values.secrets.apiKeys }}{{ if .existingSecret }}
- name: api-keys
  secret:
    secretName: {{ .existingSecret | quote }}
    defaultMode: 0440
    items:
      - {key: {{ .key | quote }}, path: {{ .key | quote }}}
{{- end }}{{ end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "genmedia.volumeMounts" -}}
- name: genmedia-data
  mountPath: {{ .Values.dataVolume.mountPath }}
- name: c2pa
  mountPath: {{ .Values.secrets.c2pa.mountPath }}
  readOnly: true
{{- with .Values.secrets.apiKeys }}{{ if .existingSecret }}
- name: api-keys
  mountPath: {{ .mountPath }}
  readOnly: true
{{- end }}{{ end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* A Ray pod template. Args: root (the chart context), component (ray-head | ray-worker),
group (a worker group or the head values), container (ray-head | ray-worker), head (bool).
KubeRay adds the ray start command, its own labels, probes and /dev/shm. */}}
{{- define "genmedia.podTemplate" -}}
{{- $root := .root }}
{{- $g := .group }}
{{- $serve := $root.Values.serve -}}
metadata:
  labels:
    {{- include "genmedia.selectorLabels" $root | nindent 4 }}
    genmedia/ray-service: {{ include "genmedia.fullname" $root }}
    app.kubernetes.io/component: {{ .component }}
    genmedia/ray-group: {{ .groupName }}
    {{- with $root.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with $g.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $root.Values.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "genmedia.serviceAccountName" $root }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $root.Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .container }}
      image: {{ include "genmedia.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      {{- with $root.Values.containerSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        {{- if .head }}
        - {name: gcs-server, containerPort: 6379}
        - {name: dashboard, containerPort: 8265}
        - {name: client, containerPort: 10001}
        {{- end }}
        - {name: serve, containerPort: {{ $serve.http_options.port }}}
        - {name: grpc, containerPort: {{ $serve.grpc_options.port }}}
        - {name: metrics, containerPort: 8080}
      env:
        {{- include "genmedia.env" $root | nindent 8 }}
      {{- with $g.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        {{- include "genmedia.volumeMounts" $root | nindent 8 }}
  volumes:
    {{- include "genmedia.volumes" $root | nindent 4 }}
  {{- with $g.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $g.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $g.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* rayStartParams: every value a string, as KubeRay requires. */}}
{{- define "genmedia.rayStartParams" -}}
{{- range $k, $v := . }}
{{ $k }}: {{ toString $v | quote }}
{{- end }}
{{- end }}

{{/* A Kubernetes-safe name part from a file name: lowercase, [a-z0-9-]. */}}
{{- define "genmedia.slug" -}}
{{- regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trimAll "-" }}
{{- end }}
