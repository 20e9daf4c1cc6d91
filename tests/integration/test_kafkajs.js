// kafkajs 2.2.4: admin (createTopics, fetchTopicMetadata, fetchTopicOffsets)
// and an idempotent GZIP producer; the records are read back with kcat.
//
// kafkajs consumers need consumer groups, which the collector does not have
// yet, so kcat (librdkafka's simple consumer) does the reading. Run by
// test_kafkajs.sh with TR_BROKER set to a running collector.
'use strict'

const assert = require('assert')
const { spawnSync } = require('child_process')
const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

const broker = process.env.TR_BROKER
const TOPIC = 'kafkajs-it'
const PARTITIONS = 2
const COUNT = 10000
const CHUNK = 500

const watchdog = setTimeout(() => {
  console.log('FAIL: test_kafkajs: did not finish within 240 s')
  process.exit(1)
}, 240000)

function ok (msg) {
  console.log('ok - ' + msg)
}

function check (cond, msg) {
  if (!cond) throw new Error(msg)
  ok(msg)
}

function message (i) {
  return {
    key: `kjs-${i}`,
    value: `kafkajs value ${i} ` + 'z'.repeat(i % 80),
    headers: { seq: String(i), client: 'kafkajs' },
    partition: i % PARTITIONS
  }
}

function readWithKcat (partition) {
  const p = spawnSync('kcat', ['-b', broker, '-C', '-t', TOPIC, '-p', String(partition), '-o', 'beginning',
    '-e', '-q', '-X', 'check.crcs=true', '-f', '%o\t%k\t%h\t%s\n'],
  { timeout: 120000, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] })
  if (p.error) throw p.error
  if (p.status !== 0) throw new Error(`kcat exited ${p.status}: ${p.stderr}`)
  return p.stdout.toString('utf8')
}

async function main () {
  assert(broker, 'TR_BROKER is not set (run through test_kafkajs.sh)')
  const kafka = new Kafka({
    clientId: 'tributary-it',
    brokers: [broker],
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: 20000,
    retry: { retries: 5, initialRetryTime: 200 }
  })

  const admin = kafka.admin()
  await admin.connect()
  try {
    const created = await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true,
      timeout: 10000
    })
    check(created === true, `createTopics created ${TOPIC}`)
    const again = await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }], timeout: 10000 })
    check(again === false, 'createTopics of an existing topic returns false')
    const md = await admin.fetchTopicMetadata({ topics: [TOPIC] })
    const t = md.topics.find(x => x.name === TOPIC)
    check(t && t.partitions.length === PARTITIONS, `fetchTopicMetadata: ${PARTITIONS} partitions`)
    check(t.partitions.every(p => p.partitionErrorCode === 0 && p.leader >= 0),
      'fetchTopicMetadata: every partition has a leader')
    const topics = await admin.listTopics()
    check(topics.includes(TOPIC), 'listTopics includes the topic')
    const cluster = await admin.describeCluster()
    check(cluster.brokers.length === 1 && cluster.controller === cluster.brokers[0].nodeId,
      `describeCluster: one broker, which is the controller (${cluster.controller})`)
  } finally {
    await admin.disconnect()
  }

  // Idempotence wants unlimited retries; the watchdog above bounds the test.
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 2000 }
  })
  await producer.connect()
  const acked = new Array(PARTITIONS).fill(0)
  try {
    for (let start = 0; start < COUNT; start += CHUNK) {
      const messages = []
      for (let i = start; i < start + CHUNK; i++) messages.push(message(i))
      const res = await producer.send({ topic: TOPIC, acks: -1, compression: CompressionTypes.GZIP, messages })
      for (const r of res) {
        if (r.errorCode !== 0) throw new Error(`produce error ${r.errorCode} on partition ${r.partition}`)
        const base = Number(r.baseOffset)
        if (base !== acked[r.partition]) {
          throw new Error(`partition ${r.partition}: base offset ${base}, expected ${acked[r.partition]}`)
        }
        acked[r.partition] += CHUNK / PARTITIONS
      }
    }
  } finally {
    await producer.disconnect()
  }
  check(acked.reduce((a, b) => a + b, 0) === COUNT, `idempotent producer: ${COUNT} records acknowledged (gzip, acks=-1)`)

  const admin2 = kafka.admin()
  await admin2.connect()
  try {
    const offsets = await admin2.fetchTopicOffsets(TOPIC)
    offsets.sort((a, b) => a.partition - b.partition)
    check(offsets.length === PARTITIONS && offsets.every(o => o.low === '0' && o.high === String(COUNT / PARTITIONS)),
      `fetchTopicOffsets: ${JSON.stringify(offsets.map(o => [o.partition, o.low, o.high]))}`)
  } finally {
    await admin2.disconnect()
  }

  for (let p = 0; p < PARTITIONS; p++) {
    let want = ''
    let n = 0
    for (let i = p; i < COUNT; i += PARTITIONS) {
      const m = message(i)
      want += `${n++}\t${m.key}\tseq=${m.headers.seq},client=kafkajs\t${m.value}\n`
    }
    const got = readWithKcat(p)
    if (got !== want) {
      const g = got.split('\n')
      const w = want.split('\n')
      for (let i = 0; i < Math.max(g.length, w.length); i++) {
        if (g[i] !== w[i]) throw new Error(`partition ${p} line ${i}: expected ${JSON.stringify(w[i])}, got ${JSON.stringify(g[i])}`)
      }
    }
    ok(`partition ${p}: kcat reads back ${n} records with keys, headers and values`)
  }
}

main().then(() => {
  clearTimeout(watchdog)
  console.log('PASS: test_kafkajs')
}, (err) => {
  clearTimeout(watchdog)
  console.log('FAIL: test_kafkajs: ' + (err && err.stack ? err.stack : err))
  process.exit(1)
})
