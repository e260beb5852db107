{{- /*
  Names and labels of teamhub's own objects. The z2jh dependency names its objects itself;
  only the hub's ServiceAccount is referred to here (by the ClusterRoleBindings).
*/}}

{{- /* Prefix of teamhub's cluster-scoped objects: unique per release. */}}
{{- define "teamhub.fullname" -}}
{{- if contains "teamhub" .Release.Name }}
{{- .Release.Name | trunc 200 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-teamhub" .Release.Name | trunc 200 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "teamhub.labels" -}}
app.kubernetes.io/name: teamhub
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
{{- end }}

{{- /*
  The user-namespace prefix of the teams config (the model's default is "teamhub").
*/}}
{{- define "teamhub.namespacePrefix" -}}
{{- .Values.teamsConfig.namespacePrefix | default "teamhub" }}
{{- end }}

{{- /*
  The Kueue ClusterQueue of a team (templates/kueue/clusterqueues.yaml), also written into
  the teams config (teams.<team>.clusterQueue) so that the hub creates each member's
  LocalQueue pointing at it. Call with (list $ "<team>").
*/}}
{{- define "teamhub.clusterQueueName" -}}
{{- printf "%s-team-%s" (include "teamhub.namespacePrefix" (index . 0)) (index . 1) }}
{{- end }}

{{- /*
  The teams config the hub reads: teamsConfig, with teams.<team>.clusterQueue set for each
  team of kueue.teams when kueue.enabled. A team that names another ClusterQueue itself
  is an error (one of the two would be ignored).
*/}}
{{- define "teamhub.teamsConfig" -}}
{{- $config := deepCopy (.Values.teamsConfig | default dict) }}
{{- if .Values.kueue.enabled }}
{{- $teams := $config.teams | default dict }}
{{- range $team, $_ := .Values.kueue.teams }}
{{- if hasKey $teams $team }}
{{- $t := index $teams $team }}
{{- $name := include "teamhub.clusterQueueName" (list $ $team) }}
{{- if and $t.clusterQueue (ne $t.clusterQueue $name) }}
{{- fail (printf "teamsConfig.teams.%s.clusterQueue is %q, but kueue.teams.%s creates the ClusterQueue %q for the team: remove one of them" $team $t.clusterQueue $team $name) }}
{{- end }}
{{- $_ := set $t "clusterQueue" $name }}
{{- end }}
{{- end }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{- /*
  The hub's Deployment and ServiceAccount, named as z2jh 4.4.0 names them
  ("jupyterhub.hub.fullname", "jupyterhub.hub-serviceaccount.fullname"; a parent chart
  cannot include the latter, which reads .Values.hub, and the tests render without the
  dependency). Same rules: "<fullname>-hub", where fullname is fullnameOverride when it is
  a string ("" by default, giving "hub"), else the release name with "-jupyterhub"
  appended unless it already contains it; the ServiceAccount is hub.serviceAccount.name
  when set.
*/}}
{{- define "teamhub.hubName" -}}
{{- $jh := .Values.jupyterhub | default dict }}
{{- $fullname := "" }}
{{- if eq (typeOf $jh.fullnameOverride) "string" }}
{{- $fullname = $jh.fullnameOverride }}
{{- else }}
{{- $name := $jh.nameOverride | default "jupyterhub" }}
{{- $fullname = ternary .Release.Name (printf "%s-%s" .Release.Name $name) (contains $name .Release.Name) }}
{{- end }}
{{- ternary "hub" (printf "%s-hub" $fullname) (eq $fullname "") }}
{{- end }}

{{- define "teamhub.hubServiceAccount" -}}
{{- $jh := .Values.jupyterhub | default dict }}
{{- $sa := (($jh.hub | default dict).serviceAccount) | default dict }}
{{- if and (hasKey $sa "create") (not $sa.create) }}
{{- $sa.name | default "default" }}
{{- else }}
{{- $sa.name | default (include "teamhub.hubName" .) }}
{{- end }}
{{- end }}

{{- /*
  The teams config reaches the hub as a file in the ConfigMap below, mounted through
  jupyterhub.hub.extraVolumes/extraVolumeMounts (z2jh does not template those, so the
  ConfigMap has a fixed name). Helm replaces lists wholesale: an install that sets its own
  extraVolumes must keep teamhub's entry, and this check says so at render time instead of
  the hub failing at start-up.
*/}}
{{- define "teamhub.teamsConfigMap" -}}teamhub-teams{{- end }}

{{- define "teamhub.checkHubMount" -}}
{{- $jh := .Values.jupyterhub | default dict }}
{{- if $jh.enabled }}
{{- $hub := $jh.hub | default dict }}
{{- $file := ((($hub.config | default dict).TeamRegistry | default dict).teams_file) | default "" }}
{{- if not $file }}
{{- fail "jupyterhub.hub.config.TeamRegistry.teams_file must be set (the chart's default is /usr/local/etc/teamhub/teams.yaml)" }}
{{- end }}
{{- $volume := "" }}
{{- range ($hub.extraVolumes | default list) }}
{{- if eq ((.configMap | default dict).name | default "") (include "teamhub.teamsConfigMap" $) }}
{{- $volume = .name }}
{{- end }}
{{- end }}
{{- if not $volume }}
{{- fail (printf "jupyterhub.hub.extraVolumes must include a volume of the ConfigMap %q (the teams config); keep the chart's entry when you set your own extraVolumes" (include "teamhub.teamsConfigMap" .)) }}
{{- end }}
{{- $mounted := false }}
{{- range ($hub.extraVolumeMounts | default list) }}
{{- if and (eq .name $volume) (eq (clean .mountPath) (dir $file)) }}
{{- $mounted = true }}
{{- end }}
{{- end }}
{{- if not $mounted }}
{{- fail (printf "jupyterhub.hub.extraVolumeMounts must mount the volume %q at %s, the directory of jupyterhub.hub.config.TeamRegistry.teams_file" $volume (dir $file)) }}
{{- end }}
{{- if ne (base $file) "teams.yaml" }}
{{- fail (printf "jupyterhub.hub.config.TeamRegistry.teams_file must name teams.yaml (the ConfigMap's key), not %s" (base $file)) }}
{{- end }}
{{- end }}
{{- end }}
