import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A background-job worker process for the BackgroundJobs scenario (not a scenario itself).
 *
 * usage: java JobWorker JOBS_QUEUE RESULTS_QUEUE WORKER_ID [STALL_AFTER]
 *
 * Consumes JOBS_QUEUE on its own connection with prefetch 10 and manual acks. A job body is
 * "<id>:<payload>"; the worker publishes "result <id> <worker> <redelivered> <sha256 of
 * payload>" to RESULTS_QUEUE, then acks the job. With STALL_AFTER=n, after n jobs it
 * publishes "stalled <id> <worker>" for the next job it gets and hangs in the middle of that
 * job (holding its unacked prefetch) until it is killed. The worker exits when its standard
 * input closes (the scenario ended) or when the broker cancels its consumer.
 */
public class JobWorker {
    public static void main(String[] args) throws Exception {
        String jobsQueue = args[0];
        String resultsQueue = args[1];
        int worker = Integer.parseInt(args[2]);
        int stallAfter = args.length > 3 ? Integer.parseInt(args[3]) : -1;

        CountDownLatch finished = new CountDownLatch(1);
        Thread stdinWatch = new Thread(() -> {
            try {
                InputStream in = System.in;
                while (in.read() >= 0) {
                    // the scenario never writes; EOF means it has finished or died
                }
            } catch (IOException e) {
                // treated as EOF
            }
            finished.countDown();
        });
        stdinWatch.setDaemon(true);
        stdinWatch.start();

        Connection conn = Interop.factory().newConnection("interop-java-job-worker-" + worker);
        Channel ch = conn.createChannel();
        ch.basicQos(10);
        int[] done = {0};
        CountDownLatch never = new CountDownLatch(1);
        ch.basicConsume(jobsQueue, false, (tag, d) -> {
            String body = Interop.text(d.getBody());
            int colon = body.indexOf(':');
            String id = body.substring(0, colon);
            if (stallAfter >= 0 && done[0] >= stallAfter) {
                ch.basicPublish("", resultsQueue, null, Interop.utf8("stalled " + id + " " + worker));
                // Hang mid-job: this job and the rest of the prefetch stay unacked until killed.
                try {
                    never.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return;
            }
            String digest = Interop.sha256(Interop.utf8(body.substring(colon + 1)));
            ch.basicPublish("", resultsQueue, null, Interop.utf8(
                    "result " + id + " " + worker + " " + d.getEnvelope().isRedeliver() + " " + digest));
            ch.basicAck(d.getEnvelope().getDeliveryTag(), false);
            done[0]++;
        }, tag -> finished.countDown());
        System.out.println("ready " + worker);
        System.out.flush();
        // Bounded: a worker never outlives a scenario run for long even if nobody kills it.
        finished.await(300, TimeUnit.SECONDS);
        try {
            conn.close(5_000);
        } catch (Exception e) {
            // already gone
        }
        System.exit(0);
    }
}
