package logbroker.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Kafka's Java {@code KafkaShareConsumer} (KIP-932) against one broker, with explicit acknowledgement.
 *
 * <p>Usage: {@code ShareCheck BOOTSTRAP PREFIX}. Two checks, each on its own one-partition topic and
 * share group (named after PREFIX) whose {@code share.auto.offset.reset} is set to earliest first:
 * <ul>
 *   <li>{@code explicit_acks}: six records; ACCEPT two, RELEASE two, REJECT two; the released ones
 *       come back with delivery count 2 and are accepted; then nothing comes back.
 *   <li>{@code lock_expiry}: three records taken by one consumer that never acknowledges them; once
 *       the acquisition lock expires a second consumer gets them with delivery count 2.
 * </ul>
 * Every check prints one JSON line (see {@link Report}); every blocking call is bounded.
 */
public final class ShareCheck {
    static final long TIMEOUT_S = 30;

    private final String bootstrap;
    private final String prefix;

    private ShareCheck(String bootstrap, String prefix) {
        this.bootstrap = bootstrap;
        this.prefix = prefix;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: ShareCheck BOOTSTRAP PREFIX");
            System.exit(2);
        }
        ShareCheck check = new ShareCheck(args[0], args[1]);
        run("explicit_acks", check::explicitAcks);
        run("lock_expiry", check::lockExpiry);
        Report.emit(Map.of("check", "done"));
    }

    interface Check {
        Map<String, ?> run() throws Exception;
    }

    static void run(String name, Check check) {
        try {
            Report.ok(name, check.run());
        } catch (Throwable e) {
            Report.failed(name, e);
        }
    }

    /** A one-partition topic holding {@code values}, read by {@code group} from its start. */
    private void prepare(String topic, String group, List<String> values) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(props)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(TIMEOUT_S, TimeUnit.SECONDS);
            ConfigResource resource = new ConfigResource(ConfigResource.Type.GROUP, group);
            AlterConfigOp earliest = new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"),
                    AlterConfigOp.OpType.SET);
            admin.incrementalAlterConfigs(Map.of(resource, List.of(earliest))).all().get(TIMEOUT_S, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
            while (true) {  // Kafka applies a config change a moment after answering
                Config config = admin.describeConfigs(List.of(resource)).all().get(TIMEOUT_S, TimeUnit.SECONDS)
                        .get(resource);
                ConfigEntry entry = config.get("share.auto.offset.reset");
                if (entry != null && "earliest".equals(entry.value())) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("share.auto.offset.reset not applied");
                }
                Thread.sleep(50);
            }
        }
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (String value : values) {
                producer.send(new ProducerRecord<>(topic, value)).get(TIMEOUT_S, TimeUnit.SECONDS);
            }
        }
    }

    private KafkaShareConsumer<String, String> consumer(String group, String topic) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.SHARE_ACKNOWLEDGEMENT_MODE_CONFIG, "explicit");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(props);
        c.subscribe(List.of(topic));
        return c;
    }

    /** Polls until {@code n} records came (or the time is up); the records in arrival order. */
    private static List<ConsumerRecord<String, String>> pollFor(KafkaShareConsumer<String, String> c, int n,
                                                                long timeoutMs) {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (got.size() < n && System.nanoTime() < deadline) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                got.add(r);
            }
        }
        return got;
    }

    /** offset -> delivery count of each record. */
    private static Map<String, Integer> counts(Collection<ConsumerRecord<String, String>> records) {
        Map<String, Integer> out = new TreeMap<>();
        for (ConsumerRecord<String, String> r : records) {
            out.put(Long.toString(r.offset()), r.deliveryCount().map(Short::intValue).orElse(-1));
        }
        return out;
    }

    /** The commit's failures, as "partition: exception" strings (empty when all were accepted). */
    private static List<String> failures(Map<TopicIdPartition, Optional<KafkaException>> committed) {
        List<String> out = new ArrayList<>();
        committed.forEach((tp, error) -> error.ifPresent(e -> out.add(tp + ": " + e)));
        return out;
    }

    private Map<String, ?> explicitAcks() throws Exception {
        String topic = prefix + "-acks";
        String group = prefix + "-acks-group";
        prepare(topic, group, List.of("a0", "a1", "a2", "a3", "a4", "a5"));
        try (KafkaShareConsumer<String, String> c = consumer(group, topic)) {
            List<ConsumerRecord<String, String>> first = pollFor(c, 6, TIMEOUT_S * 1000);
            for (ConsumerRecord<String, String> r : first) {
                AcknowledgeType type = r.offset() < 2 ? AcknowledgeType.ACCEPT
                        : r.offset() < 4 ? AcknowledgeType.RELEASE : AcknowledgeType.REJECT;
                c.acknowledge(r, type);
            }
            List<String> firstCommit = failures(c.commitSync(Duration.ofSeconds(TIMEOUT_S)));
            List<ConsumerRecord<String, String>> second = pollFor(c, 2, TIMEOUT_S * 1000);
            for (ConsumerRecord<String, String> r : second) {
                c.acknowledge(r, AcknowledgeType.ACCEPT);
            }
            List<String> secondCommit = failures(c.commitSync(Duration.ofSeconds(TIMEOUT_S)));
            List<ConsumerRecord<String, String>> after = pollFor(c, 1, 3000);
            for (ConsumerRecord<String, String> r : after) {
                c.acknowledge(r, AcknowledgeType.ACCEPT);
            }
            List<String> values = new ArrayList<>();
            first.forEach(r -> values.add(r.value()));
            return Map.of("first", counts(first), "values", values, "first_commit_failures", firstCommit,
                    "second", counts(second), "second_commit_failures", secondCommit, "after", counts(after));
        }
    }

    private Map<String, ?> lockExpiry() throws Exception {
        String topic = prefix + "-slow";
        String group = prefix + "-slow-group";
        prepare(topic, group, List.of("s0", "s1", "s2"));
        try (KafkaShareConsumer<String, String> holder = consumer(group, topic);
             KafkaShareConsumer<String, String> taker = consumer(group, topic)) {
            List<ConsumerRecord<String, String>> held = pollFor(holder, 3, TIMEOUT_S * 1000);
            long heldAt = System.nanoTime();
            // The holder never acknowledges nor polls again; the taker waits for the locks to expire.
            List<ConsumerRecord<String, String>> taken = pollFor(taker, 3, TIMEOUT_S * 1000);
            long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - heldAt);
            for (ConsumerRecord<String, String> r : taken) {
                taker.acknowledge(r, AcknowledgeType.ACCEPT);
            }
            List<String> commit = failures(taker.commitSync(Duration.ofSeconds(TIMEOUT_S)));
            return Map.of("held", counts(held), "taken", counts(taken), "waited_ms", waitedMs,
                    "commit_failures", commit);
        }
    }
}
