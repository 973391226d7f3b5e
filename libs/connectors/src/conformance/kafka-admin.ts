import { Kafka, logLevel, type Admin } from 'kafkajs';

/** A connected kafkajs admin for a test's topics and groups; a clear error without a broker. */
export async function connectKafkaAdmin(brokers: string[], run: string): Promise<Admin> {
  const admin = new Kafka({
    clientId: `junction-test-admin-${run}`,
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect().catch((err: unknown) => {
    throw new Error(
      `no Kafka at ${brokers.join(',')} (run scripts/kafka.sh start): ${String(err)}`,
    );
  });
  return admin;
}
