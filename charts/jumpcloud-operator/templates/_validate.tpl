{{/*
Checks across values that values.schema.json cannot say well: Helm prints a schema error as a
path and a pattern, while a `fail` here names the value, why it is refused and the fix. Included
by deployment.yaml, so `helm install`, `helm upgrade` and `helm template` all stop on them.
*/}}
{{- define "jumpcloud-operator.validate" -}}
{{- $le := .Values.leaderElection }}
{{- if and (gt (int .Values.replicaCount) 1) (not $le.enabled) }}
{{- fail (printf "replicaCount is %d but leaderElection.enabled is false: every replica would reconcile and write status and evidence at once. Set leaderElection.enabled=true (one active replica, the others stand by) or replicaCount=1." (int .Values.replicaCount)) }}
{{- end }}
{{- if $le.enabled }}
{{- $lease := include "jumpcloud-operator.durationMs" (dict "name" "leaderElection.leaseDuration" "value" $le.leaseDuration) | int64 }}
{{- $renew := include "jumpcloud-operator.durationMs" (dict "name" "leaderElection.renewMargin" "value" $le.renewMargin) | int64 }}
{{- $retry := include "jumpcloud-operator.durationMs" (dict "name" "leaderElection.retryPeriod" "value" $le.retryPeriod) | int64 }}
{{- /* The operator counts the lease in whole seconds (kube-lease-manager): compare those. */}}
{{- if or (lt $renew 1000) (ge (div $renew 1000) (div $lease 1000)) }}
{{- fail (printf "leaderElection.renewMargin (%s) must be shorter than leaderElection.leaseDuration (%s), both counted in whole seconds and the margin at least 1s: the leader renews that long before the lease expires. For example leaseDuration=15s, renewMargin=5s." $le.renewMargin $le.leaseDuration) }}
{{- end }}
{{- if lt $retry 1 }}
{{- fail (printf "leaderElection.retryPeriod (%s) must be positive, for example 2s." $le.retryPeriod) }}
{{- end }}
{{- end }}
{{- range $section := list "requests" "limits" }}
{{- with index ($.Values.resources | default dict) $section }}
{{- if hasKey . "memory" }}
{{- $memory := toString .memory }}
{{- /* YAML numbers arrive as float64: print a whole one as an integer, not 5.36870912e+08. */}}
{{- if and (kindIs "float64" .memory) (eq (float64 (int64 .memory)) .memory) }}
{{- $memory = printf "%d" (int64 .memory) }}
{{- end }}
{{- if regexMatch `^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$` $memory }}
{{- fail (printf "resources.%s.memory is %s without a unit, which Kubernetes reads as %s bytes: write it with a unit, for example %sMi." $section $memory $memory $memory) }}
{{- end }}
{{- if regexMatch `^[0-9]+(\.[0-9]+)?m$` $memory }}
{{- fail (printf "resources.%s.memory is %s, which Kubernetes reads as thousandths of a byte (m is milli): write Mi for mebibytes, for example %sMi." $section $memory (trimSuffix "m" $memory)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- include "jumpcloud-operator.validateSelector" (dict "name" "connectionSelector" "value" .Values.connectionSelector) }}
{{- include "jumpcloud-operator.validateSelector" (dict "name" "secretSelector" "value" .Values.secretSelector) }}
{{- include "jumpcloud-operator.validateBudget" . }}
{{- /* clap refuses a flag given twice, and a flag would silently win over its environment
       variable: a chart-managed setting goes through its value. */}}
{{- $managed := dict "--metrics-port" "metrics.port" "--health-port" "health.port" "--evidence-port" "evidence.endpoint.port" "--evidence-endpoint" "evidence.endpoint.enabled" "--log-format" "logging.format" "--log-level" "logging.level" "--leader-election" "leaderElection.enabled" "--leader-election-namespace" "leaderElection" "--leader-election-lease-duration" "leaderElection.leaseDuration" "--leader-election-renew-margin" "leaderElection.renewMargin" "--leader-election-retry-period" "leaderElection.retryPeriod" "--policy-reports" "policyReports" "--connection-selector" "connectionSelector" "--selector" "connectionSelector" "--secret-selector" "secretSelector" "--watch-namespaces" "watchNamespaces" "--evidence-store" "evidence.storage" "--signing-key-file" "evidence.signing" }}
{{- /* The same for the environment: these variables are set by the chart, or read by a flag the
       chart always passes (a flag wins over its variable, so the variable would do nothing). */}}
{{- $managedEnv := dict "RUST_LOG" "logging.level" "JUMPCLOUD_OPERATOR_LOG_FORMAT" "logging.format" "JUMPCLOUD_OPERATOR_METRICS_PORT" "metrics.port" "JUMPCLOUD_OPERATOR_HEALTH_PORT" "health.port" "JUMPCLOUD_OPERATOR_EVIDENCE_PORT" "evidence.endpoint.port" "JUMPCLOUD_OPERATOR_EVIDENCE_ENDPOINT" "evidence.endpoint.enabled" "JUMPCLOUD_OPERATOR_LEADER_ELECTION" "leaderElection.enabled" "JUMPCLOUD_OPERATOR_POLICY_REPORTS" "policyReports" "JUMPCLOUD_OPERATOR_CONNECTION_SELECTOR" "connectionSelector" "JUMPCLOUD_OPERATOR_SECRET_SELECTOR" "secretSelector" "JUMPCLOUD_OPERATOR_WATCH_NAMESPACES" "watchNamespaces" "JUMPCLOUD_OPERATOR_EVIDENCE_STORE" "evidence.storage" "JUMPCLOUD_OPERATOR_SIGNING_KEY_FILE" "evidence.signing" "POD_NAME" "(the pod's name, always set)" "POD_NAMESPACE" "(the pod's namespace, always set)" }}
{{- range $var := .Values.extraEnv }}
{{- if hasKey $managedEnv $var.name }}
{{- fail (printf "extraEnv has %s, which the chart sets from the value %s: set that value instead." $var.name (get $managedEnv $var.name)) }}
{{- end }}
{{- end }}
{{- range $arg := .Values.extraArgs }}
{{- $flag := regexReplaceAll `=.*$` (toString $arg) "" }}
{{- if hasKey $managed $flag }}
{{- fail (printf "extraArgs has %s, which the chart sets from the value %s: set that value instead." $flag (get $managed $flag)) }}
{{- end }}
{{- end }}
{{- end }}

{{/* A duration such as 500ms, 15s or 1m (the operator's flag syntax), in milliseconds. */}}
{{- define "jumpcloud-operator.durationMs" -}}
{{- $value := toString .value }}
{{- if not (regexMatch `^[0-9]+(ms|s|m)$` $value) }}
{{- fail (printf "%s is %q: write a duration such as 500ms, 15s or 1m." .name $value) }}
{{- end }}
{{- $number := regexFind `^[0-9]+` $value | int64 }}
{{- if hasSuffix "ms" $value }}
{{- $number }}
{{- else if hasSuffix "s" $value }}
{{- mul $number 1000 }}
{{- else }}
{{- mul $number 60000 }}
{{- end }}
{{- end }}

{{/*
A Kubernetes label selector, as the API server parses it: requirements separated by commas, each
`key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)` or `key notin (a,b)`. A
malformed one would pass the install and fail every watch of the running operator instead.
*/}}
{{- define "jumpcloud-operator.validateSelector" -}}
{{- $name := `[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?` }}
{{- $prefix := `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*` }}
{{- $key := printf `(%s/)?%s` $prefix $name }}
{{- $value := printf `(%s)?` $name }}
{{- $set := printf `\(\s*%s(\s*,\s*%s)*\s*\)` $value $value }}
{{- $requirement := printf `(!\s*%s|%s(\s*(=|==|!=)\s*%s|\s+(in|notin)\s*%s)?)` $key $key $value $set }}
{{- $selector := printf `^\s*%s(\s*,\s*%s)*\s*$` $requirement $requirement }}
{{- if and .value (not (regexMatch $selector .value)) }}
{{- fail (printf "%s %q is not a label selector: write requirements separated by commas, each key, !key, key=value, key!=value, key in (a,b) or key notin (a,b); keys and values are letters, digits, '-', '_' and '.', at most 63 characters, starting and ending with a letter or digit, and a key may have a DNS prefix (example.com/shard=a)." .name .value) }}
{{- end }}
{{- end }}

{{/*
The PodDisruptionBudget must let a node drain evict a pod: a budget that allows no disruption
(minAvailable >= replicas, or maxUnavailable 0) blocks every drain and cluster upgrade.
Kubernetes rounds percentages up.
*/}}
{{- define "jumpcloud-operator.validateBudget" -}}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if $pdb.enabled }}
{{- $replicas := int .Values.replicaCount }}
{{- $hasMin := not (kindIs "invalid" $pdb.minAvailable) }}
{{- $hasMax := not (kindIs "invalid" $pdb.maxUnavailable) }}
{{- if and $hasMin $hasMax }}
{{- fail (printf "podDisruptionBudget sets both minAvailable (%v) and maxUnavailable (%v); Kubernetes takes one: set the other to null." $pdb.minAvailable $pdb.maxUnavailable) }}
{{- end }}
{{- if not (or $hasMin $hasMax) }}
{{- fail "podDisruptionBudget.enabled is true but neither minAvailable nor maxUnavailable is set: set maxUnavailable=1, or podDisruptionBudget.enabled=false." }}
{{- end }}
{{- $blocks := false }}
{{- $setting := "" }}
{{- if $hasMin }}
{{- $setting = printf "minAvailable=%v" $pdb.minAvailable }}
{{- $needed := include "jumpcloud-operator.scaledBudget" (dict "value" $pdb.minAvailable "replicas" $replicas) | int }}
{{- $blocks = ge $needed $replicas }}
{{- else }}
{{- $setting = printf "maxUnavailable=%v" $pdb.maxUnavailable }}
{{- $allowed := include "jumpcloud-operator.scaledBudget" (dict "value" $pdb.maxUnavailable "replicas" $replicas) | int }}
{{- $blocks = lt $allowed 1 }}
{{- end }}
{{- if and $blocks (gt $replicas 0) }}
{{- fail (printf "podDisruptionBudget.%s with replicaCount=%d lets no operator pod be evicted, so every node drain would block. Set podDisruptionBudget.maxUnavailable=1 (and minAvailable=null), raise replicaCount, or set podDisruptionBudget.enabled=false." $setting $replicas) }}
{{- end }}
{{- end }}
{{- end }}

{{/* An integer or a percentage of `replicas`, rounded up as Kubernetes does. */}}
{{- define "jumpcloud-operator.scaledBudget" -}}
{{- $text := toString .value }}
{{- if hasSuffix "%" $text }}
{{- $percent := trimSuffix "%" $text | int }}
{{- div (add (mul $percent .replicas) 99) 100 }}
{{- else }}
{{- $text | int }}
{{- end }}
{{- end }}
