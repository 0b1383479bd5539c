package logbroker.interop;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

/**
 * Kafka Streams word count: lines in, (word, count) out, through a repartition topic (the words
 * are re-keyed) and a state store with a changelog topic, at-least-once.
 *
 * <p>Usage: {@code WordCount BOOTSTRAP APP_ID STATE_DIR LINES_FILE}. The program creates the input
 * and output topics (APP_ID-lines, APP_ID-counts), produces every line of LINES_FILE, runs the
 * topology, and reads the output until the latest count of every word adds up to the number of
 * words produced (or 90 s pass). It prints JSON lines: "streams" (the states the app went
 * through), "counts" (the latest count per word), "internal_topics" (the topics Streams created).
 */
public final class WordCount {
    private WordCount() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: WordCount BOOTSTRAP APP_ID STATE_DIR LINES_FILE");
            System.exit(2);
        }
        String bootstrap = args[0];
        String appId = args[1];
        String input = appId + "-lines";
        String output = appId + "-counts";
        List<String> lines = Files.readAllLines(Path.of(args[3]));
        long words = 0;
        for (String line : lines) words += split(line).size();

        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(List.of(new NewTopic(input, 2, (short) 1), new NewTopic(output, 2, (short) 1)))
                    .all().get(20, TimeUnit.SECONDS);
        }
        produce(bootstrap, input, lines);

        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(WordCount::split)
                .groupBy((key, word) -> word, Grouped.with("by-word", Serdes.String(), Serdes.String()))
                .count(Materialized.as("word-counts"))
                .toStream()
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));

        Properties sp = new Properties();
        sp.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        sp.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        sp.put(StreamsConfig.STATE_DIR_CONFIG, args[2]);
        sp.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        sp.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        sp.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        sp.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

        List<String> states = new ArrayList<>();
        CountDownLatch running = new CountDownLatch(1);
        Map<String, Long> counts = new TreeMap<>();
        try (KafkaStreams streams = new KafkaStreams(builder.build(), sp)) {
            streams.setStateListener((now, before) -> {
                synchronized (states) {
                    states.add(now.toString());
                }
                if (now == KafkaStreams.State.RUNNING) running.countDown();
            });
            streams.setUncaughtExceptionHandler(e -> {
                Report.failed("streams_exception", e);
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler
                        .StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
            streams.start();
            boolean reachedRunning = running.await(60, TimeUnit.SECONDS);
            readCounts(bootstrap, output, words, counts);
            long closing = System.nanoTime();
            boolean closed = streams.close(Duration.ofSeconds(60));
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("check", "streams");
            line.put("ok", reachedRunning);
            line.put("closed", closed);
            line.put("close_ms", (System.nanoTime() - closing) / 1_000_000);
            // The listener hears of NOT_RUNNING on the closing thread, possibly after close returns.
            line.put("final_state", streams.state().toString());
            synchronized (states) {
                line.put("states", new ArrayList<>(states));
            }
            Report.emit(line);
        }
        long total = 0;
        for (long c : counts.values()) total += c;
        Report.ok("counts", Map.of("words", words, "total", total, "counts", counts));
        try (Admin admin = Admin.create(ap)) {
            List<String> internal = new ArrayList<>();
            for (String t : new TreeMap<>(Map.of("t", admin.listTopics().names().get(20, TimeUnit.SECONDS)))
                    .get("t")) {
                if (t.startsWith(appId + "-") && !t.equals(input) && !t.equals(output)) internal.add(t);
            }
            internal.sort(null);
            Report.ok("internal_topics", Map.of("topics", internal));
        }
        Report.emit(Map.of("check", "done"));
    }

    static List<String> split(String line) {
        List<String> out = new ArrayList<>();
        for (String w : Arrays.asList(line.toLowerCase(Locale.ROOT).split("\\W+"))) {
            if (!w.isEmpty()) out.add(w);
        }
        return out;
    }

    private static void produce(String bootstrap, String topic, List<String> lines) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            int i = 0;
            for (String line : lines) sent.add(producer.send(new ProducerRecord<>(topic, "line-" + i++, line)));
            producer.flush();
            for (Future<RecordMetadata> f : sent) f.get(30, TimeUnit.SECONDS);
        }
    }

    /** Keep the latest count per word until they add up to {@code words}, for at most 90 s. */
    private static void readCounts(String bootstrap, String topic, long words, Map<String, Long> counts) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, topic + "-reader");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, LongDeserializer.class.getName());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        try (KafkaConsumer<String, Long> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(topic));
            long total = 0;
            while (total != words && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, Long> r : consumer.poll(Duration.ofMillis(500))) {
                    counts.put(r.key(), r.value());
                }
                total = 0;
                for (long c : counts.values()) total += c;
            }
        }
    }
}
