// The worker half of bench:throughput's raw JetStream reference (a), in its
// own process as RADIANT's workers are: consume the work queue, publish each
// message to the RePublish stream, ack. Prints "consuming" when ready.
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { stopWithParent } from "@radiant/infra/proc";
import { AckedPublisher } from "@radiant/infra/publish";

// the same client and publisher as RADIANT's workers (infra/src/nats.ts, publish.ts)
const nc = await connect({ servers: process.argv[2]!, noAsyncTraces: true });
const publisher = new AckedPublisher(nc, 10_000);
const messages = await (await jetstream(nc).consumers.get("BENCH_IN", "bench")).consume({ max_messages: 256 });
stopWithParent(() => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
process.stdout.write("consuming\n");
// errors only when the run is over and the connection closes under in-flight publishes
for await (const m of messages)
  void publisher.publish(`bhist.${m.subject.slice(4)}`, m.data).then(
    () => m.ack(),
    () => {},
  );
