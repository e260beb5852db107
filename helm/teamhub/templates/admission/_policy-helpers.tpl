{{- /*
  CEL pieces of the user-pod policy that are computed from values.
*/}}

{{- /*
  teamhub.imageRules: a CEL map literal {"<team>": ["<RE2>", ...]} of the teams that set
  `images`. Each shell-style pattern becomes an anchored RE2 expression the way Python's
  fnmatch (which TeamSpawner uses) reads it: `*` matches anything, `/` included; `?` one
  character. `[...]` classes are refused rather than translated approximately.
*/}}
{{- define "teamhub.imageRules" -}}
{{- $rules := dict }}
{{- range $team, $spec := (.Values.teamsConfig.teams | default dict) }}
{{- if and $spec (kindIs "slice" $spec.images) }}
{{- $res := list }}
{{- range $spec.images }}
{{- if or (contains "[" .) (contains "]" .) }}
{{- fail (printf "teamsConfig.teams.%s.images: %q: the admission policy supports `*` and `?` in image patterns, not [...] classes" $team .) }}
{{- end }}
{{- $res = append $res (printf "^%s$" (regexQuoteMeta . | replace "\\*" ".*" | replace "\\?" ".")) }}
{{- end }}
{{- $_ := set $rules $team $res }}
{{- end }}
{{- end }}
{{- toJson $rules }}
{{- end }}

{{- /* teamhub.volumeTypeAllowed: a CEL test of volume `v` against allowedVolumeTypes. */}}
{{- define "teamhub.volumeTypeAllowed" -}}
{{- $tests := list }}
{{- range .Values.admissionPolicy.allowedVolumeTypes }}
{{- $tests = append $tests (printf "has(v.%s)" .) }}
{{- end }}
{{- if $tests }}({{ join " || " $tests }}){{ else }}false{{ end }}
{{- end }}
