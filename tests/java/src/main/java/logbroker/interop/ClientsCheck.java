package logbroker.interop;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Kafka's Java producer, both consumer group protocols and the Admin client against one broker.
 *
 * <p>Usage: {@code ClientsCheck BOOTSTRAP PREFIX}. Topics and groups are named after PREFIX so runs
 * do not collide. Every check prints one JSON line (see {@link Report}); a check that throws prints
 * the exception's class and message and the program goes on, so one missing API does not hide the
 * others. Every blocking call is bounded.
 */
public final class ClientsCheck {
    static final int RECORDS = 300;
    static final int PARTITIONS = 3;
    static final long TIMEOUT_S = 20;

    private final String bootstrap;
    private final String topic;
    private final String prefix;

    private ClientsCheck(String bootstrap, String prefix) {
        this.bootstrap = bootstrap;
        this.prefix = prefix;
        this.topic = prefix + "-records";
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: ClientsCheck BOOTSTRAP PREFIX");
            System.exit(2);
        }
        new ClientsCheck(args[0], args[1]).runAll();
        Report.emit(Map.of("check", "done"));
    }

    interface Check {
        Map<String, ?> run() throws Exception;
    }

    static void check(String name, Check body) {
        try {
            Report.ok(name, body.run());
        } catch (Throwable e) {
            Report.failed(name, e);
        }
    }

    static <T> T get(Future<T> future) throws Exception {
        return future.get(TIMEOUT_S, TimeUnit.SECONDS);
    }

    private Properties adminProps() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        return p;
    }

    private void runAll() throws Exception {
        String compressed = prefix + "-compressed";
        String scratch = prefix + "-scratch";
        try (Admin admin = Admin.create(adminProps())) {
            check("describe_cluster", () -> {
                DescribeClusterResult r = admin.describeCluster();
                Collection<Node> nodes = get(r.nodes());
                Node controller = get(r.controller());
                return Map.of("cluster_id", get(r.clusterId()), "nodes", nodes.size(),
                        "node_id", nodes.iterator().next().id(),
                        "controller", controller == null ? -1 : controller.id());
            });
            check("create_topics", () -> {
                get(admin.createTopics(List.of(
                        new NewTopic(topic, PARTITIONS, (short) 1),
                        new NewTopic(compressed, 1, (short) 1),
                        new NewTopic(scratch, 1, (short) 1).configs(Map.of("cleanup.policy", "compact"))))
                        .all());
                return Map.of("topics", List.of(topic, compressed, scratch));
            });
            check("list_topics", () -> Map.of("names", new java.util.TreeSet<>(get(admin.listTopics().names()))));
            check("describe_topics", () -> {
                TopicDescription d = get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic);
                List<Integer> leaders = new ArrayList<>();
                d.partitions().forEach(p -> leaders.add(p.leader() == null ? -1 : p.leader().id()));
                return Map.of("partitions", d.partitions().size(), "leaders", leaders,
                        "topic_id", String.valueOf(d.topicId()), "internal", d.isInternal());
            });
            check("produce", this::produce);
            check("produce_compressed", () -> produceCompressed(compressed));
            check("consume_classic", () -> consume("classic", prefix + "-classic", topic, RECORDS));
            check("consume_consumer_protocol",
                    () -> consume("consumer", prefix + "-consumer", topic, RECORDS));
            check("consume_compressed", () -> consume("classic", prefix + "-compressed", compressed, 40));
            check("consume_while_producing", () -> consumeWhileProducing(admin));
            check("list_groups", () -> {
                Map<String, String> groups = new TreeMap<>();
                for (GroupListing g : get(admin.listGroups().all())) {
                    if (g.groupId().startsWith(prefix)) {
                        groups.put(g.groupId(), g.type().map(Object::toString).orElse("?"));
                    }
                }
                return Map.of("groups", groups);
            });
            check("describe_groups", () -> {
                Map<String, Object> out = new TreeMap<>();
                Map<String, ConsumerGroupDescription> all = get(admin.describeConsumerGroups(
                        List.of(prefix + "-classic", prefix + "-consumer")).all());
                for (ConsumerGroupDescription d : all.values()) {
                    out.put(d.groupId(), Map.of("state", d.groupState().toString(), "members", d.members().size(),
                            "type", d.type().toString()));
                }
                return Map.of("groups", out);
            });
            check("list_group_offsets", () -> {
                Map<String, Object> out = new TreeMap<>();
                for (String g : List.of(prefix + "-classic", prefix + "-consumer")) {
                    Map<TopicPartition, OffsetAndMetadata> offsets =
                            get(admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata());
                    long sum = 0;
                    for (OffsetAndMetadata o : offsets.values()) sum += o == null ? 0 : o.offset();
                    out.put(g, Map.of("partitions", offsets.size(), "sum", sum));
                }
                return Map.of("groups", out);
            });
            check("list_offsets", () -> {
                Map<String, Object> out = new LinkedHashMap<>();
                for (String kind : List.of("earliest", "latest", "max_timestamp")) {
                    Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
                    for (int p = 0; p < PARTITIONS; p++) {
                        specs.put(new TopicPartition(topic, p), switch (kind) {
                            case "earliest" -> OffsetSpec.earliest();
                            case "latest" -> OffsetSpec.latest();
                            default -> OffsetSpec.maxTimestamp();
                        });
                    }
                    Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> r = get(admin.listOffsets(specs).all());
                    List<Long> offsets = new ArrayList<>();
                    for (int p = 0; p < PARTITIONS; p++) offsets.add(r.get(new TopicPartition(topic, p)).offset());
                    out.put(kind, offsets);
                }
                return out;
            });
            check("alter_group_offsets", () -> {
                String g = prefix + "-classic";
                TopicPartition tp = new TopicPartition(topic, 0);
                get(admin.alterConsumerGroupOffsets(g, Map.of(tp, new OffsetAndMetadata(1))).all());
                long now = get(admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata()).get(tp).offset();
                return Map.of("offset", now);
            });
            check("delete_group_offsets", () -> {
                String g = prefix + "-classic";
                TopicPartition tp = new TopicPartition(topic, 0);
                get(admin.deleteConsumerGroupOffsets(g, Set.of(tp)).all());
                Map<TopicPartition, OffsetAndMetadata> left =
                        get(admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata());
                return Map.of("has_partition", left.get(tp) != null, "partitions", left.size());
            });
            check("delete_groups", () -> {
                get(admin.deleteConsumerGroups(List.of(prefix + "-classic", prefix + "-consumer")).all());
                Set<String> left = new HashSet<>();
                for (GroupListing g : get(admin.listGroups().all())) left.add(g.groupId());
                return Map.of("classic_left", left.contains(prefix + "-classic"),
                        "consumer_left", left.contains(prefix + "-consumer"));
            });
            check("describe_configs", () -> {
                ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
                Config c = get(admin.describeConfigs(List.of(r)).all()).get(r);
                ConfigEntry e = c.get("cleanup.policy");
                ConfigEntry retention = c.get("retention.ms");
                return Map.of("entries", c.entries().size(), "cleanup.policy", e == null ? "" : e.value(),
                        "retention.ms", retention == null ? "" : retention.value());
            });
            check("describe_broker_configs", () -> {
                int nodeId = get(admin.describeCluster().nodes()).iterator().next().id();
                ConfigResource r = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(nodeId));
                Config c = get(admin.describeConfigs(List.of(r)).all()).get(r);
                return Map.of("entries", c.entries().size());
            });
            check("incremental_alter_configs", () -> {
                ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
                get(admin.incrementalAlterConfigs(Map.of(r, List.of(new AlterConfigOp(
                        new ConfigEntry("retention.ms", "123456789"), AlterConfigOp.OpType.SET)))).all());
                Config c = get(admin.describeConfigs(List.of(r)).all()).get(r);
                return Map.of("retention.ms", c.get("retention.ms").value());
            });
            check("delete_records", () -> {
                TopicPartition tp = new TopicPartition(topic, 1);
                long low = get(admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(5))).lowWatermarks().get(tp))
                        .lowWatermark();
                long earliest = get(admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all()).get(tp).offset();
                return Map.of("low_watermark", low, "earliest", earliest);
            });
            check("create_partitions", () -> {
                get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(PARTITIONS + 1))).all());
                TopicDescription d = get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic);
                return Map.of("partitions", d.partitions().size());
            });
            check("describe_log_dirs", () -> {
                int nodeId = get(admin.describeCluster().nodes()).iterator().next().id();
                Map<String, LogDirDescription> dirs = get(admin.describeLogDirs(List.of(nodeId)).allDescriptions())
                        .get(nodeId);
                int replicas = 0;
                for (LogDirDescription d : dirs.values()) replicas += d.replicaInfos().size();
                return Map.of("dirs", dirs.size(), "replicas", replicas);
            });
            check("delete_topics", () -> {
                get(admin.deleteTopics(List.of(scratch)).all());
                return Map.of("still_listed", get(admin.listTopics().names()).contains(scratch));
            });
        }
    }

    private Map<String, ?> produce() throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        // Defaults otherwise: enable.idempotence=true, acks=all.
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < RECORDS; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, "k" + (i % 30), "v" + i);
                r.headers().add("seq", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                sent.add(producer.send(r));
            }
            producer.flush();
            Map<Integer, Long> maxOffset = new TreeMap<>();
            for (Future<RecordMetadata> f : sent) {
                RecordMetadata m = get(f);
                maxOffset.merge(m.partition(), m.offset(), Math::max);
            }
            return Map.of("acked", sent.size(), "max_offset_by_partition", maxOffset);
        }
    }

    private Map<String, ?> produceCompressed(String target) throws Exception {
        Map<String, Integer> acked = new TreeMap<>();
        for (String codec : List.of("gzip", "snappy", "lz4", "zstd")) {
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
            p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
            p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
            p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
            p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
            p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    sent.add(producer.send(new ProducerRecord<>(target, codec, codec + "-" + i + "-"
                            + "x".repeat(200))));
                }
                producer.flush();
                for (Future<RecordMetadata> f : sent) get(f);
                acked.put(codec, sent.size());
            }
        }
        return Map.of("acked", acked);
    }

    /**
     * A consumer reads while a producer writes to six partitions, a few records at a time, so most
     * fetches are incremental ones in which only some partitions changed (KIP-227): every record
     * must arrive once, in order within its partition.
     */
    private Map<String, ?> consumeWhileProducing(Admin admin) throws Exception {
        String live = prefix + "-live";
        int total = 1200;
        get(admin.createTopics(List.of(new NewTopic(live, 6, (short) 1))).all());
        Thread writer = new Thread(() -> {
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
            p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
            p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
                for (int i = 0; i < total; i++) {
                    // key k{i%40}: each key's records stay in order in one partition
                    producer.send(new ProducerRecord<>(live, "k" + (i % 40), Integer.toString(i)));
                    if (i % 20 == 19) {
                        producer.flush();
                        Thread.sleep(25);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, prefix + "-live");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
        Map<String, Integer> lastByKey = new HashMap<>();
        Set<Integer> seen = new HashSet<>();
        int duplicates = 0;
        int outOfOrder = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(live));
            writer.start();
            while (seen.size() < total && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    int v = Integer.parseInt(r.value());
                    if (!seen.add(v)) duplicates++;
                    Integer before = lastByKey.put(r.key(), v);
                    if (before != null && before > v) outOfOrder++;
                }
            }
        } finally {
            writer.join(30_000);
        }
        return Map.of("distinct", seen.size(), "duplicates", duplicates, "out_of_order", outOfOrder);
    }

    /** Read {@code expected} records in group {@code group} with the given group.protocol, then commit. */
    private Map<String, ?> consume(String protocol, String group, String from, int expected) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        // Small fetches so reading takes several round trips (and incremental fetch sessions).
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, "2048");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50");
        Set<String> values = new HashSet<>();
        int records = 0;
        int withHeader = 0;
        Map<Integer, Integer> byPartition = new TreeMap<>();
        long started = System.nanoTime();
        long deadline = started + TimeUnit.SECONDS.toNanos(45);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(from));
            while (values.size() < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    records++;
                    values.add(r.value());
                    byPartition.merge(r.partition(), 1, Integer::sum);
                    Header h = r.headers().lastHeader("seq");
                    if (h != null && ("v" + new String(h.value(), StandardCharsets.UTF_8)).equals(r.value())) {
                        withHeader++;
                    }
                }
            }
            consumer.commitSync(Duration.ofSeconds(TIMEOUT_S));
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("protocol", protocol);
            out.put("records", records);
            out.put("distinct", values.size());
            out.put("with_header", withHeader);
            out.put("by_partition", byPartition);
            out.put("assignment", consumer.assignment().size());
            out.put("seconds", (System.nanoTime() - started) / 1_000_000_000.0 + "");
            return out;
        }
    }

}
