// amqp091-go: background jobs with a pool of worker processes, one of them killed mid-job.
//
// A durable jobs queue and a durable results queue. Four workers are child processes
// (this binary re-executed with the argument "worker"), each with its own connection,
// Qos(10) and manual acks: a job's result (job id, worker id, redelivered flag, SHA-256
// of the payload) is published to the results queue, then the job is acked. Worker 0
// stalls after 300 jobs: it announces the job it is holding on the results queue and
// hangs with its prefetched jobs unacked; the scenario then kills it with SIGKILL
// (Process.Kill). Meanwhile INTEROP_JOBS (default 10000) persistent jobs are published with
// publisher confirms, at most 500 in flight (NotifyPublish), all of which must be acked.
// Checks: every job has exactly one result with the right digest; the job worker 0 was
// holding was done by another worker and flagged redelivered; worker 0 did exactly 300
// jobs and nothing after stalling; both queues end empty; deleting the jobs queue ends the
// other workers (broker basic.cancel), which exit 0.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"interoplib"

	amqp "github.com/rabbitmq/amqp091-go"
)

const (
	workers    = 4
	stallAfter = 300
	window     = 500
)

type job struct {
	ID      int    `json:"id"`
	Payload string `json:"payload"`
}

type result struct {
	Job         int    `json:"job"`
	Worker      int    `json:"worker"`
	Redelivered bool   `json:"redelivered"`
	Digest      string `json:"digest"`
	Stalled     *int   `json:"stalled,omitempty"`
}

func payload(i int) string { return fmt.Sprintf("job-%d-", i) + strings.Repeat("x", i%100) }

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// worker is the child process: worker JOBS_QUEUE RESULTS_QUEUE ID STALL_AFTER (-1: never).
func worker(jobsQ, resultsQ string, id, stall int) {
	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, "worker channel")
	interoplib.Must(ch.Qos(10, 0, false), "worker qos")
	jobs, err := ch.Consume(jobsQ, "", false, false, false, false, nil)
	interoplib.Must(err, "worker consume")
	ctx, cancel := interoplib.Context()
	defer cancel()
	publish := func(r result) {
		body, err := json.Marshal(r)
		interoplib.Must(err, "marshal result")
		interoplib.Must(ch.PublishWithContext(ctx, "", resultsQ, false, false, amqp.Publishing{
			ContentType: "application/json",
			Body:        body,
		}), "publish result")
	}
	done := 0
	for d := range jobs { // ends when the jobs queue is deleted (basic.cancel)
		var j job
		interoplib.Must(json.Unmarshal(d.Body, &j), "job body")
		if stall >= 0 && done >= stall {
			// Hang mid-job, holding this and the other prefetched jobs, until killed.
			publish(result{Worker: id, Stalled: &j.ID})
			time.Sleep(60 * time.Second)
			interoplib.Fail("worker %d was not killed within 60 s of stalling", id)
		}
		publish(result{Job: j.ID, Worker: id, Redelivered: d.Redelivered, Digest: digest(j.Payload)})
		interoplib.Must(d.Ack(false), "ack job")
		done++
	}
}

// publishJobs publishes every job with confirms, at most window unconfirmed; it returns
// the number acked.
func publishJobs(jobsQ string, count int, acked chan<- int) {
	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, "publisher channel")
	interoplib.Must(ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, window))
	ctx, cancel := interoplib.Context()
	defer cancel()
	ok, outstanding, next := 0, 0, uint64(1)
	await := func() {
		select {
		case c := <-confirms:
			interoplib.CheckEq(c.DeliveryTag, next, "confirm tag")
			interoplib.Check(c.Ack, "job %d nacked", next-1)
			next++
			ok++
			outstanding--
		case <-interoplib.After():
			interoplib.Fail("timed out waiting for the confirm of job %d", next-1)
		}
	}
	for i := 0; i < count; i++ {
		if outstanding == window {
			await()
		}
		body, err := json.Marshal(job{ID: i, Payload: payload(i)})
		interoplib.Must(err, "marshal job")
		interoplib.Must(ch.PublishWithContext(ctx, "", jobsQ, false, false, amqp.Publishing{
			ContentType:  "application/json",
			DeliveryMode: amqp.Persistent,
			Body:         body,
		}), "publish job")
		outstanding++
	}
	for outstanding > 0 {
		await()
	}
	acked <- ok
}

// waitExit waits (bounded) for a child process to end and returns its error.
func waitExit(cmd *exec.Cmd, exited <-chan error, what string) error {
	select {
	case err := <-exited:
		return err
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		interoplib.Fail("%s did not exit", what)
	}
	return nil
}

func main() {
	if len(os.Args) == 6 && os.Args[1] == "worker" {
		id, err1 := strconv.Atoi(os.Args[4])
		stall, err2 := strconv.Atoi(os.Args[5])
		interoplib.Check(err1 == nil && err2 == nil, "usage: worker JOBS RESULTS ID STALL_AFTER")
		worker(os.Args[2], os.Args[3], id, stall)
		return
	}
	count := 10000
	if s := os.Getenv("INTEROP_JOBS"); s != "" {
		n, err := strconv.Atoi(s)
		interoplib.Must(err, "INTEROP_JOBS")
		count = n
	}
	interoplib.Check(count > stallAfter+workers*10, "INTEROP_JOBS must be above %d", stallAfter+workers*10)

	conn := interoplib.Dial()
	defer conn.Close()
	ch, err := conn.Channel()
	interoplib.Must(err, "channel")
	jobsQ := interoplib.Unique("go.jobs")
	resultsQ := interoplib.Unique("go.job-results")
	interoplib.DeleteOnFail([]string{jobsQ, resultsQ}, nil)
	for _, q := range []string{jobsQ, resultsQ} {
		_, err := ch.QueueDeclare(q, true, false, false, false, nil)
		interoplib.Must(err, "declare "+q)
	}

	self, err := os.Executable()
	interoplib.Must(err, "own executable")
	procs := make([]*exec.Cmd, workers)
	exited := make([]chan error, workers)
	for w := 0; w < workers; w++ {
		stall := -1
		if w == 0 {
			stall = stallAfter
		}
		cmd := exec.Command(self, "worker", jobsQ, resultsQ, strconv.Itoa(w), strconv.Itoa(stall))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		interoplib.Must(cmd.Start(), "start worker")
		procs[w] = cmd
		exited[w] = make(chan error, 1)
		go func(w int) { exited[w] <- cmd.Wait() }(w)
	}
	interoplib.OnFail(func() {
		for _, p := range procs {
			p.Process.Kill()
		}
	})

	acked := make(chan int, 1)
	go publishJobs(jobsQ, count, acked)

	results, err := ch.Consume(resultsQ, "results", false, false, false, false, nil)
	interoplib.Must(err, "consume results")
	done := map[int]result{}
	byWorker := make([]int, workers)
	stalled := -1
	deadline := time.After(60 * time.Second)
	for len(done) < count {
		select {
		case d := <-results:
			var r result
			interoplib.Must(json.Unmarshal(d.Body, &r), "result body")
			interoplib.Must(d.Ack(false), "ack result")
			if r.Stalled != nil {
				interoplib.CheckEq(r.Worker, 0, "the worker that stalled")
				stalled = *r.Stalled
				interoplib.Must(procs[0].Process.Kill(), "kill worker 0")
				err := waitExit(procs[0], exited[0], "worker 0")
				interoplib.Check(err != nil && strings.Contains(err.Error(), "killed"),
					"worker 0 should have been killed, its exit: %v", err)
				continue
			}
			prev, dup := done[r.Job]
			interoplib.Check(!dup, "job %d done twice: %+v and %+v", r.Job, prev, r)
			interoplib.Check(r.Worker != 0 || stalled < 0, "worker 0 did job %d after it stalled", r.Job)
			interoplib.CheckEq(r.Digest, digest(payload(r.Job)), fmt.Sprintf("digest of job %d", r.Job))
			done[r.Job] = r
			byWorker[r.Worker]++
		case <-deadline:
			interoplib.Fail("timed out with %d of %d results (per worker %v, stalled %d)", len(done), count, byWorker, stalled)
		}
	}
	select {
	case n := <-acked:
		interoplib.CheckEq(n, count, "jobs confirmed by the broker")
	case <-interoplib.After():
		interoplib.Fail("timed out waiting for the publisher")
	}

	interoplib.Check(stalled >= 0, "worker 0 never stalled (it did %d jobs)", byWorker[0])
	interoplib.CheckEq(byWorker[0], stallAfter, "jobs done by worker 0 before it was killed")
	interoplib.Check(done[stalled].Worker != 0, "the stalled job %d was finished by another worker", stalled)
	interoplib.Check(done[stalled].Redelivered, "the stalled job %d should be flagged redelivered: %+v", stalled, done[stalled])
	fmt.Printf("jobs per worker: %v; stalled job %d\n", byWorker, stalled)

	interoplib.Must(ch.Cancel("results", false), "cancel results consumer")
	for _, q := range []string{jobsQ, resultsQ} {
		interoplib.CheckEq(interoplib.Depth(ch, q), 0, "messages left in "+q)
	}
	// Deleting the jobs queue cancels the workers' consumers: they return and exit 0.
	for _, q := range []string{jobsQ, resultsQ} {
		_, err := ch.QueueDelete(q, false, false, false)
		interoplib.Must(err, "delete "+q)
	}
	for w := 1; w < workers; w++ {
		interoplib.Must(waitExit(procs[w], exited[w], fmt.Sprintf("worker %d", w)), fmt.Sprintf("worker %d exit", w))
	}
	fmt.Println("amqp091-go background-jobs: ok")
}
