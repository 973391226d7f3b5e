// The Java side of the Kafka interop tests (kafka-compression.int-spec.ts): Kafka's own Java
// client, run from the test broker's jars as a single-file program (java compiles it on the fly).
//
//   produce <bootstrap> <count> <topic>=<compression>...
//       <count> records "<topic>:<i>" to each topic, each topic's as one batch in its codec; the
//       first one padded to 180 KB with "junction " so the codecs write several blocks
//   consume <bootstrap> <count> <timeout ms> <topic>...
//       reads each topic from the start until <count> records (or the time is up) and prints
//       "<topic>\t<value>" per record
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class KafkaInterop {
  public static void main(String[] args) throws Exception {
    if (args.length >= 4 && args[0].equals("produce")) {
      int count = Integer.parseInt(args[2]);
      for (String pair : Arrays.copyOfRange(args, 3, args.length)) {
        String[] topicCodec = pair.split("=", 2);
        produce(args[1], topicCodec[0], topicCodec[1], count);
      }
    } else if (args.length >= 5 && args[0].equals("consume")) {
      int count = Integer.parseInt(args[2]);
      long timeoutMs = Long.parseLong(args[3]);
      for (String topic : Arrays.copyOfRange(args, 4, args.length))
        consume(args[1], topic, count, timeoutMs);
    } else {
      System.err.println("usage: produce <bootstrap> <count> <topic>=<compression>..."
          + " | consume <bootstrap> <count> <timeout ms> <topic>...");
      System.exit(2);
    }
  }

  static void produce(String bootstrap, String topic, String compression, int count)
      throws Exception {
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("compression.type", compression);
    props.put("acks", "all");
    props.put("linger.ms", "100"); // the records go as one compressed batch
    props.put("max.request.size", "2097152");
    props.put("key.serializer", StringSerializer.class.getName());
    props.put("value.serializer", StringSerializer.class.getName());
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
      List<Future<?>> sent = new ArrayList<>();
      for (int i = 0; i < count; i++)
        sent.add(
            producer.send(
                new ProducerRecord<>(topic, topic + ":" + i + (i == 0 ? "junction ".repeat(20000) : ""))));
      producer.flush();
      for (Future<?> f : sent) f.get();
    }
  }

  static void consume(String bootstrap, String topic, int count, long timeoutMs) {
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("group.id", "junction-interop-" + UUID.randomUUID());
    props.put("enable.auto.commit", "false");
    props.put("key.deserializer", StringDeserializer.class.getName());
    props.put("value.deserializer", StringDeserializer.class.getName());
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo p : consumer.partitionsFor(topic))
        partitions.add(new TopicPartition(topic, p.partition()));
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long deadline = System.currentTimeMillis() + timeoutMs;
      int seen = 0;
      while (seen < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
          System.out.println(topic + "\t" + record.value());
          seen++;
        }
      }
    }
  }
}
