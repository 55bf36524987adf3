# Run by amqp-consume once per job (body on stdin): appends "<job> <worker>" to the results
# file and exits 0, so amqp-consume acks the job. Worker 0, once it has done $3 jobs, records
# the job it is on in "<results>.stalled" and blocks without finishing it (the scenario then
# kills its amqp-consume with SIGKILL).
#   sh job-worker.sh <worker> <results file> <stall after>
worker="$1"; results="$2"; stall_after="$3"
job="$(cat)"
if [ "$worker" = 0 ]; then
  done_jobs=$(cat "$results.w0" 2>/dev/null || echo 0)
  if [ "$done_jobs" -ge "$stall_after" ]; then
    echo "$job $$" >"$results.stalled.tmp" && mv "$results.stalled.tmp" "$results.stalled"
    exec sleep 300
  fi
  echo $((done_jobs + 1)) >"$results.w0"
fi
echo "$job $worker" >>"$results"
