import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Delivery;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Background jobs (RabbitMQ's Java client): a durable jobs queue and a results queue; four
 * worker JVMs (lib/JobWorker, started with ProcessBuilder, each its own connection,
 * prefetch 10, manual acks) compute a SHA-256 per job and publish a result before acking.
 * INTEROP_JOBS (default 10,000) persistent jobs are published with publisher confirms, at
 * most 500 unconfirmed at a time. Worker 0 hangs mid-job after 300 jobs, announcing the job
 * it holds on the results queue, and is then killed with Process.destroyForcibly().
 *
 * Checks: every job confirmed (acked, none nacked); every job has exactly one result with
 * the right digest; worker 0 did exactly 300 jobs (nothing after it stalled); the job it
 * held was done by another worker and flagged redelivered; both queues end empty.
 */
public class BackgroundJobs {
    static final int JOBS = Integer.parseInt(System.getenv().getOrDefault("INTEROP_JOBS", "10000"));
    static final int WORKERS = 4;
    static final int STALL_AFTER = 300;
    static final int WINDOW = 500;

    public static void main(String[] args) {
        Interop.run("rabbitmq-java background-jobs", BackgroundJobs::scenario);
    }

    static String payload(int i) {
        return "job-" + i + "-" + "x".repeat(i % 100);
    }

    /** A result as published by JobWorker. */
    static final class Result {
        final int job;
        final int worker;
        final boolean redelivered;
        final String digest;

        Result(String[] f) {
            job = Integer.parseInt(f[1]);
            worker = Integer.parseInt(f[2]);
            redelivered = Boolean.parseBoolean(f[3]);
            digest = f[4];
        }

        @Override
        public String toString() {
            return "job " + job + " by worker " + worker + (redelivered ? " (redelivered)" : "");
        }
    }

    static void scenario() throws Exception {
        String jobsQ = Interop.unique("java.jobs");
        String resultsQ = Interop.unique("java.job-results");
        List<Process> procs = new ArrayList<>();
        try (Interop.Cleanup cleanup = new Interop.Cleanup();
                Connection conn = Interop.factory().newConnection("interop-java-jobs")) {
            Channel ch = conn.createChannel();
            ch.queueDeclare(cleanup.queue(jobsQ), true, false, false, null);
            ch.queueDeclare(cleanup.queue(resultsQ), true, false, false, null);

            // The worker pool: separate JVMs on the same classpath.
            String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
            long t0 = System.nanoTime();
            List<LinkedBlockingQueue<String>> stdout = new ArrayList<>();
            try {
                for (int w = 0; w < WORKERS; w++) {
                    List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                            System.getProperty("java.class.path"), "JobWorker", jobsQ, resultsQ, Integer.toString(w)));
                    if (w == 0) {
                        cmd.add(Integer.toString(STALL_AFTER));
                    }
                    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
                    procs.add(p);
                    stdout.add(lines(p));
                }
                // Every worker consumes before the first job is published, so worker 0 gets its 300.
                for (int w = 0; w < WORKERS; w++) {
                    String line = stdout.get(w).poll(30, TimeUnit.SECONDS);
                    Interop.checkEq(line, "ready " + w, "worker " + w + " start-up");
                }
                Interop.checkEq(ch.queueDeclarePassive(jobsQ).getConsumerCount(), WORKERS, "job consumers");
                System.out.printf("workers ready after %.1f s%n", (System.nanoTime() - t0) / 1e9);

                LinkedBlockingQueue<Delivery> results = new LinkedBlockingQueue<>();
                String resultsTag = ch.basicConsume(resultsQ, true, (tag, d) -> results.add(d), tag -> {});

                AtomicReference<Throwable> publishError = new AtomicReference<>();
                AtomicInteger confirmed = new AtomicInteger();
                Thread publisher = new Thread(() -> {
                    try {
                        confirmed.set(publishJobs(jobsQ));
                    } catch (Throwable t) {
                        publishError.set(t);
                    }
                }, "publisher");
                publisher.start();

                Map<Integer, Result> done = new HashMap<>();
                List<Result> duplicates = new ArrayList<>();
                int[] byWorker = new int[WORKERS];
                Integer stalled = null;
                Interop.Deadline deadline = new Interop.Deadline(100);
                while (done.size() < JOBS) {
                    Delivery d = results.poll(Math.min(deadline.remainingMillis(), 10_000), TimeUnit.MILLISECONDS);
                    Interop.check(d != null, "no result for 10 s or deadline passed: " + done.size()
                            + " of " + JOBS + " jobs done, per worker " + Arrays.toString(byWorker));
                    String[] f = Interop.text(d.getBody()).split(" ");
                    if (f[0].equals("stalled")) {
                        Interop.checkEq(f[2], "0", "the worker that stalled");
                        Interop.checkEq(stalled, null, "a second stall announcement");
                        stalled = Integer.parseInt(f[1]);
                        Process p0 = procs.get(0);
                        p0.destroyForcibly();
                        Interop.check(p0.waitFor(10, TimeUnit.SECONDS), "worker 0 did not die");
                        continue;
                    }
                    Result r = new Result(f);
                    if (done.putIfAbsent(r.job, r) != null) {
                        duplicates.add(r);
                    } else {
                        byWorker[r.worker]++;
                    }
                }
                System.out.printf("all results after %.1f s%n", (System.nanoTime() - t0) / 1e9);
                publisher.join(60_000);
                Interop.check(!publisher.isAlive(), "publisher still running");
                if (publishError.get() != null) {
                    throw new AssertionError("publishing failed", publishError.get());
                }
                Interop.checkEq(confirmed.get(), JOBS, "jobs confirmed by the broker");
                ch.basicCancel(resultsTag);

                System.out.println("jobs per worker: " + Arrays.toString(byWorker) + "; stalled job " + stalled);
                Interop.check(stalled != null, "worker 0 never stalled (it did " + byWorker[0] + " jobs)");
                Interop.checkEq(done.size(), JOBS, "jobs with a result");
                Interop.checkEq(duplicates, List.of(), "jobs done more than once");
                Interop.checkEq(byWorker[0], STALL_AFTER, "jobs done by worker 0 before it was killed");
                for (Result r : done.values()) {
                    if (!r.digest.equals(Interop.sha256(Interop.utf8(payload(r.job))))) {
                        throw new AssertionError("wrong digest for job " + r.job);
                    }
                }
                Result held = done.get(stalled);
                Interop.check(held.worker != 0, "the stalled job was finished by another worker: " + held);
                Interop.check(held.redelivered, "the stalled job was flagged redelivered: " + held);
                Interop.checkEq(results.poll(), null, "an extra result");
            } finally {
                // Closing their stdin ends the workers; force any that do not exit.
                for (Process p : procs) {
                    try {
                        p.getOutputStream().close();
                    } catch (Exception e) {
                        // already gone
                    }
                }
                for (Process p : procs) {
                    if (!p.waitFor(10, TimeUnit.SECONDS)) {
                        p.destroyForcibly();
                        p.waitFor(10, TimeUnit.SECONDS);
                    }
                }
            }
            for (String q : List.of(jobsQ, resultsQ)) {
                Interop.checkEq(ch.queueDeclarePassive(q).getMessageCount(), 0, "messages left in " + q);
                Interop.checkEq(ch.queueDelete(q).getMessageCount(), 0, "messages deleted with " + q);
            }
            cleanup.done();
        }
    }

    /** Publishes every job, persistent, with at most WINDOW unconfirmed; returns the acked count. */
    static int publishJobs(String jobsQ) throws Exception {
        try (Connection conn = Interop.factory().newConnection("interop-java-jobs-publisher")) {
            Channel ch = conn.createChannel();
            ch.confirmSelect();
            Semaphore window = new Semaphore(WINDOW);
            NavigableSet<Long> outstanding = new ConcurrentSkipListSet<>();
            AtomicInteger acked = new AtomicInteger();
            AtomicReference<String> nacked = new AtomicReference<>();
            ch.addConfirmListener((tag, multiple) -> {
                int n = settle(outstanding, tag, multiple);
                acked.addAndGet(n);
                window.release(n);
            }, (tag, multiple) -> {
                nacked.compareAndSet(null, "nack for delivery tag " + tag);
                window.release(settle(outstanding, tag, multiple));
            });
            AMQP.BasicProperties persistent = new AMQP.BasicProperties.Builder().deliveryMode(2).build();
            for (int i = 0; i < JOBS; i++) {
                Interop.check(window.tryAcquire(30, TimeUnit.SECONDS),
                        "no confirm for 30 s with " + WINDOW + " in flight (job " + i + ")");
                outstanding.add(ch.getNextPublishSeqNo());
                ch.basicPublish("", jobsQ, persistent, Interop.utf8(i + ":" + payload(i)));
            }
            Interop.check(window.tryAcquire(WINDOW, 30, TimeUnit.SECONDS), "the last confirms did not arrive");
            Interop.checkEq(nacked.get(), null, "publisher nacks");
            Interop.checkEq(outstanding.size(), 0, "unconfirmed publishes");
            return acked.get();
        }
    }

    /** Removes the confirmed tags (one, or all up to tag) and says how many there were. */
    static int settle(NavigableSet<Long> outstanding, long tag, boolean multiple) {
        if (!multiple) {
            return outstanding.remove(tag) ? 1 : 0;
        }
        int n = 0;
        while (!outstanding.isEmpty() && outstanding.first() <= tag) {
            if (outstanding.pollFirst() != null) {
                n++;
            }
        }
        return n;
    }

    /** The process's stdout, line by line, read by a daemon thread. */
    static LinkedBlockingQueue<String> lines(Process p) {
        LinkedBlockingQueue<String> q = new LinkedBlockingQueue<>();
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    q.add(line);
                }
            } catch (Exception e) {
                // the process is gone
            }
        });
        t.setDaemon(true);
        t.start();
        return q;
    }
}
