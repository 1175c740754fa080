#!/usr/bin/env bash
# One sharded run on the cluster kubectl points at: the scenario and report volume, a fresh
# run id and target, the shards (Indexed Job), then — when every shard has ended — the merge.
# Exits with the merge's exit code (0 PASS, 1 FAIL or INCOMPLETE, 2 could not merge) and
# copies the merged report to ./reports/<run-id>.
#
#   bash deploy/k8s/run.sh ws://chat-backend.chat.svc:9090/ws
#   IMAGE=registry.example.com/loginstorm:0.1.0 bash deploy/k8s/run.sh ws://…
set -euo pipefail
cd "$(dirname "$0")"
TARGET=${1:?usage: run.sh TARGET_URL (ws://host:port/path)}
RUN_ID=${RUN_ID:-run-$(date -u +%Y%m%dT%H%M%SZ)}
IMAGE=${IMAGE:-loginstorm:0.1.0}
TIMEOUT=${TIMEOUT:-2h}
image() { sed "s|image: loginstorm:0.1.0|image: $IMAGE|" "$1"; }

kubectl apply -f scenario-configmap.yaml -f reports-pvc.yaml
kubectl create configmap loginstorm-run --from-literal=run-id="$RUN_ID" \
  --from-literal=target="$TARGET" --dry-run=client -o yaml | kubectl apply -f -
# A Job's pod template cannot change: a new run replaces the old Jobs.
kubectl delete job loginstorm-shards loginstorm-merge --ignore-not-found
image shards-job.yaml | kubectl apply -f -
echo "run $RUN_ID: waiting for the shards (kubectl logs -l app.kubernetes.io/component=shard -f)"
# Complete, or failed (a shard killed or out of memory): the merge runs either way and says
# INCOMPLETE for what is missing.
kubectl wait --for=condition=complete --timeout="$TIMEOUT" job/loginstorm-shards &
ok=$!
kubectl wait --for=condition=failed --timeout="$TIMEOUT" job/loginstorm-shards &
failed=$!
wait -n "$ok" "$failed" || true
kill "$ok" "$failed" 2>/dev/null || true
image merge-job.yaml | kubectl apply -f -
kubectl wait --for=condition=complete --timeout=10m job/loginstorm-merge 2>/dev/null &
m_ok=$!
kubectl wait --for=condition=failed --timeout=10m job/loginstorm-merge 2>/dev/null &
m_failed=$!
wait -n "$m_ok" "$m_failed" || true
kill "$m_ok" "$m_failed" 2>/dev/null || true
kubectl logs job/loginstorm-merge
pod=$(kubectl get pods -l job-name=loginstorm-merge -o jsonpath='{.items[0].metadata.name}')
code=$(kubectl get pod "$pod" -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')
# Copy the merged report out through a short-lived pod on the same volume.
kubectl run "loginstorm-copy-$RUN_ID" --image=busybox:1.36 --restart=Never \
  --overrides='{"spec":{"containers":[{"name":"c","image":"busybox:1.36","command":["sleep","600"],"volumeMounts":[{"name":"r","mountPath":"/reports"}]}],"volumes":[{"name":"r","persistentVolumeClaim":{"claimName":"loginstorm-reports"}}]}}'
kubectl wait --for=condition=ready "pod/loginstorm-copy-$RUN_ID" --timeout=2m
mkdir -p "../../reports/$RUN_ID"
kubectl cp "loginstorm-copy-$RUN_ID:/reports/$RUN_ID" "../../reports/$RUN_ID"
kubectl delete pod "loginstorm-copy-$RUN_ID" --wait=false
echo "merged report: reports/$RUN_ID/merged (exit code $code)"
exit "${code:-2}"
