/**
 * A minimal Kafka producer for the end-to-end benchmark's load generator.
 *
 * kafkajs spends about 12 µs of CPU per message to produce (profiled at
 * 60,000 readings/s: a record object, several encoder buffers and a Long per
 * message, and a partition grouping that copies its array for every
 * message). On a 2-core machine that is most of a core beside the daemon
 * under test, so the generator fell short of half the daemon's maximum. This
 * one writes each request straight into one buffer: Produce v3 with one
 * uncompressed RecordBatch (magic 2) per partition, acks 1, over one socket
 * per partition leader. Requests on one connection are handled by the broker
 * in order, so sends can be pipelined without reordering a partition.
 *
 * It is harness, not product code: no retries, no compression, no
 * idempotence, no SASL/TLS; keys and values must be ASCII (checked). Any
 * error from the broker rejects that send and every later one.
 */
import net from 'node:net';
import { Kafka, logLevel } from 'kafkajs';

/** One message: key, value (both ASCII) and its timestamp (epoch ms). */
export interface RawRecord {
  key: string;
  value: string;
  timestamp: number;
}

/** A connected producer for one topic. */
export interface RawProducer {
  readonly partitions: number;
  /**
   * Encodes and writes the records now (`byPartition[p]` to partition p,
   * empty arrays skipped); the promise settles when the leaders acknowledge.
   */
  send(byPartition: readonly (readonly RawRecord[])[]): Promise<void>;
  /** Waits for every outstanding send, then closes the sockets. */
  close(): Promise<void>;
}

const API_PRODUCE = 0;
const PRODUCE_VERSION = 3;
const CLIENT_ID = 'tsad-bench-raw';
const TIMEOUT_MS = 30_000;

/** Connects to the leaders of `topic`'s partitions (metadata through a kafkajs admin). */
export async function connectRawProducer(options: {
  brokers: string[];
  topic: string;
}): Promise<RawProducer> {
  const kafka = new Kafka({
    clientId: CLIENT_ID,
    brokers: options.brokers,
    logLevel: logLevel.ERROR,
  });
  const admin = kafka.admin();
  await admin.connect();
  let leaders: number[];
  let addresses: Map<number, { host: string; port: number }>;
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [options.topic] });
    const partitions = metadata.topics[0]?.partitions ?? [];
    leaders = [];
    for (const p of partitions) leaders[p.partitionId] = p.leader;
    const cluster = await admin.describeCluster();
    addresses = new Map(cluster.brokers.map((b) => [b.nodeId, { host: b.host, port: b.port }]));
  } finally {
    await admin.disconnect();
  }
  if (leaders.length === 0) throw new Error(`topic ${options.topic} has no partitions`);
  const connections = new Map<number, Connection>();
  for (const leader of new Set(leaders)) {
    const address = addresses.get(leader);
    if (address === undefined) throw new Error(`no address for broker ${leader}`);
    connections.set(leader, await Connection.open(address.host, address.port));
  }
  const topic = Buffer.from(options.topic, 'utf8');
  let failure: Error | undefined;
  return {
    partitions: leaders.length,
    send(byPartition) {
      if (failure) return Promise.reject(failure);
      const sends: Promise<void>[] = [];
      for (const [leader, connection] of connections) {
        const mine: Array<[number, readonly RawRecord[]]> = [];
        for (let p = 0; p < leaders.length; p++) {
          const records = byPartition[p];
          if (leaders[p] === leader && records !== undefined && records.length > 0) {
            mine.push([p, records]);
          }
        }
        if (mine.length > 0) sends.push(connection.produce(topic, mine));
      }
      return Promise.all(sends).then(
        () => {},
        (error: unknown) => {
          failure ??= error instanceof Error ? error : new Error(String(error));
          throw failure;
        },
      );
    },
    async close() {
      await Promise.all([...connections.values()].map((c) => c.close()));
    },
  };
}

/** One socket to one broker: writes produce requests, matches their responses. */
class Connection {
  private correlation = 0;
  private readonly pending = new Map<number, { resolve(): void; reject(error: Error): void }>();
  private readonly outstanding = new Set<Promise<void>>();
  private inbox: Buffer = Buffer.alloc(0);
  private closedError: Error | undefined;
  private writer = new Writer(1 << 16);

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    const fail = (error: Error) => {
      this.closedError ??= error;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('broker connection closed')));
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port }, () => {
        socket.off('error', reject);
        resolve(new Connection(socket));
      });
      socket.once('error', reject);
    });
  }

  produce(topic: Buffer, partitions: Array<[number, readonly RawRecord[]]>): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = ++this.correlation;
    const w = this.writer;
    w.reset();
    const sizeAt = w.skip(4);
    w.int16(API_PRODUCE);
    w.int16(PRODUCE_VERSION);
    w.int32(id);
    w.string(CLIENT_ID);
    w.int16(-1); // transactional id: null
    w.int16(1); // acks: the leader
    w.int32(TIMEOUT_MS);
    w.int32(1); // one topic
    w.int16(topic.length);
    w.bytes(topic);
    w.int32(partitions.length);
    for (const [partition, records] of partitions) {
      w.int32(partition);
      const recordsSizeAt = w.skip(4);
      writeRecordBatch(w, records);
      w.buffer.writeInt32BE(w.position - recordsSizeAt - 4, recordsSizeAt);
    }
    w.buffer.writeInt32BE(w.position - sizeAt - 4, sizeAt);
    // A copy: the writer's buffer is reused by the next request while this one may still queue.
    const request = Buffer.from(w.buffer.subarray(0, w.position));
    const answered = new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(request);
    });
    this.outstanding.add(answered);
    const forget = () => {
      this.outstanding.delete(answered);
    };
    answered.then(forget, forget);
    return answered;
  }

  /** Resolves once every request written so far is answered (or failed), then ends the socket. */
  async close(): Promise<void> {
    await Promise.allSettled(this.outstanding);
    await new Promise<void>((resolve) => this.socket.end(() => resolve()));
  }

  private receive(chunk: Buffer): void {
    this.inbox = this.inbox.length === 0 ? chunk : Buffer.concat([this.inbox, chunk]);
    while (this.inbox.length >= 4) {
      const size = this.inbox.readInt32BE(0);
      if (this.inbox.length < 4 + size) return;
      this.response(this.inbox.subarray(4, 4 + size));
      this.inbox = this.inbox.subarray(4 + size);
    }
  }

  /** Produce response v3: correlation id, [topic [partition error offset appendTime]], throttle. */
  private response(body: Buffer): void {
    const id = body.readInt32BE(0);
    const waiter = this.pending.get(id);
    if (waiter === undefined) return;
    this.pending.delete(id);
    let at = 4;
    const topics = body.readInt32BE(at);
    at += 4;
    for (let t = 0; t < topics; t++) {
      at += 2 + body.readInt16BE(at);
      const partitions = body.readInt32BE(at);
      at += 4;
      for (let p = 0; p < partitions; p++) {
        const partition = body.readInt32BE(at);
        const error = body.readInt16BE(at + 4);
        at += 4 + 2 + 8 + 8;
        if (error !== 0) {
          waiter.reject(
            new Error(`produce to partition ${partition} failed: Kafka error ${error}`),
          );
          return;
        }
      }
    }
    waiter.resolve();
  }
}

/**
 * One uncompressed RecordBatch (magic 2), no producer id: the layout of
 * Kafka's DefaultRecordBatch. The CRC (CRC-32C) covers everything from the
 * attributes to the end.
 */
function writeRecordBatch(w: Writer, records: readonly RawRecord[]): void {
  let first = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const r of records) {
    if (r.timestamp < first) first = r.timestamp;
    if (r.timestamp > max) max = r.timestamp;
  }
  w.int64(0); // base offset: the broker assigns
  const lengthAt = w.skip(4);
  w.int32(-1); // partition leader epoch: unknown
  w.int8(2); // magic
  const crcAt = w.skip(4);
  const crcFrom = w.position;
  w.int16(0); // attributes: no compression, create time, not transactional
  w.int32(records.length - 1); // last offset delta
  w.int64(first);
  w.int64(max);
  w.int64(-1); // producer id
  w.int16(-1); // producer epoch
  w.int32(-1); // base sequence
  w.int32(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const keyLength = r.key.length;
    const valueLength = r.value.length;
    const timestampDelta = r.timestamp - first;
    const body =
      1 +
      varintSize(timestampDelta) +
      varintSize(i) +
      varintSize(keyLength) +
      keyLength +
      varintSize(valueLength) +
      valueLength +
      1;
    w.varint(body);
    w.int8(0); // attributes
    w.varint(timestampDelta);
    w.varint(i); // offset delta
    w.varint(keyLength);
    w.ascii(r.key);
    w.varint(valueLength);
    w.ascii(r.value);
    w.varint(0); // no headers
  }
  w.buffer.writeInt32BE(w.position - lengthAt - 4, lengthAt);
  w.buffer.writeUInt32BE(crc32c(w.buffer, crcFrom, w.position), crcAt);
}

/** Bytes of a zig-zag varint of a non-negative or negative safe integer. */
function varintSize(value: number): number {
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  let size = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}

/** A growable big-endian writer over one reused buffer. */
class Writer {
  buffer: Buffer;
  position = 0;

  constructor(size: number) {
    this.buffer = Buffer.alloc(size);
  }

  reset(): void {
    this.position = 0;
  }

  private room(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const bigger = Buffer.alloc(Math.max(this.buffer.length * 2, this.position + bytes));
    this.buffer.copy(bigger, 0, 0, this.position);
    this.buffer = bigger;
  }

  skip(bytes: number): number {
    this.room(bytes);
    const at = this.position;
    this.position += bytes;
    return at;
  }

  int8(v: number): void {
    this.room(1);
    this.buffer.writeInt8(v, this.position);
    this.position += 1;
  }

  int16(v: number): void {
    this.room(2);
    this.buffer.writeInt16BE(v, this.position);
    this.position += 2;
  }

  int32(v: number): void {
    this.room(4);
    this.buffer.writeInt32BE(v, this.position);
    this.position += 4;
  }

  int64(v: number): void {
    this.room(8);
    this.buffer.writeBigInt64BE(BigInt(v), this.position);
    this.position += 8;
  }

  /** Zig-zag varint (Kafka's varint and varlong) of a safe integer. */
  varint(value: number): void {
    this.room(10);
    let v = value >= 0 ? value * 2 : -value * 2 - 1;
    while (v >= 128) {
      this.buffer[this.position++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buffer[this.position++] = v;
  }

  string(s: string): void {
    this.int16(s.length);
    this.ascii(s);
  }

  bytes(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buffer, this.position);
    this.position += b.length;
  }

  /** Writes an ASCII string; anything else would not match the length already written. */
  ascii(s: string): void {
    this.room(s.length);
    const written = this.buffer.write(s, this.position, 'utf8');
    if (written !== s.length) throw new Error(`not an ASCII string: ${s.slice(0, 40)}`);
    this.position += written;
  }
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli) of `buffer[start, end)`, as Kafka's record batches carry it. */
export function crc32c(buffer: Uint8Array, start = 0, end = buffer.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = CRC32C_TABLE[(crc ^ buffer[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
