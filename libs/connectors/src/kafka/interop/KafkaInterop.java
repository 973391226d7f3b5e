// The Java side of the Kafka interop tests (kafka-compression.int-spec.ts): Kafka's own Java
// client, run from the test broker's jars as a single-file program (java 11+ compiles it on the fly).
//
//   produce <bootstrap> <topic> <compression> <prefix> <count>   one batch of <prefix>0..<prefix>N-1
//   consume <bootstrap> <topic> <count> <timeout ms>             prints "value:<value>" per record
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
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
    if (args.length == 6 && args[0].equals("produce")) {
      produce(args[1], args[2], args[3], args[4], Integer.parseInt(args[5]));
    } else if (args.length == 5 && args[0].equals("consume")) {
      consume(args[1], args[2], Integer.parseInt(args[3]), Long.parseLong(args[4]));
    } else {
      System.err.println("usage: produce <bootstrap> <topic> <compression> <prefix> <count>"
          + " | consume <bootstrap> <topic> <count> <timeout ms>");
      System.exit(2);
    }
  }

  static void produce(String bootstrap, String topic, String compression, String prefix, int count)
      throws Exception {
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("compression.type", compression);
    props.put("acks", "all");
    props.put("linger.ms", "1000"); // the records go as one compressed batch
    props.put("key.serializer", StringSerializer.class.getName());
    props.put("value.serializer", StringSerializer.class.getName());
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
      List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
      for (int i = 0; i < count; i++) sent.add(producer.send(new ProducerRecord<>(topic, prefix + i)));
      producer.flush();
      for (java.util.concurrent.Future<?> f : sent) f.get();
    }
    System.out.println("produced:" + count);
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
          System.out.println("value:" + record.value());
          seen++;
        }
      }
    }
  }
}
