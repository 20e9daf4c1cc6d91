// kafkajs 2.2.4 transactions: a transactional producer commits, aborts and
// commits again over 3 partitions; a read_committed consumer (kafkajs'
// default) gets only the committed records, a read_uncommitted one all of
// them, and neither gets a marker. Run by test_transactions.py with
// TR_BROKER set to a running collector and TR_TOPIC to an empty topic.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const broker = process.env.TR_BROKER
const TOPIC = process.env.TR_TOPIC
const PARTITIONS = 3

const watchdog = setTimeout(() => {
  console.log('FAIL: test_transactions_kafkajs: did not finish within 120 s')
  process.exit(1)
}, 120000)

function check (cond, msg) {
  if (!cond) throw new Error(msg)
  console.log('ok - ' + msg)
}

function values (prefix, n) {
  const out = []
  for (let i = 0; i < n; i++) out.push(`${prefix}-${i}`)
  return out
}

async function inTransaction (producer, vals, commit) {
  const txn = await producer.transaction()
  await txn.send({
    topic: TOPIC,
    messages: vals.map((v, i) => ({ value: v, partition: i % PARTITIONS }))
  })
  if (commit) await txn.commit()
  else await txn.abort()
}

// Reads until 'want' records came and nothing more for two seconds.
async function readAll (kafka, group, readUncommitted, want) {
  const consumer = kafka.consumer({ groupId: group, readUncommitted, sessionTimeout: 10000 })
  const got = []
  let last = Date.now()
  await consumer.connect()
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      got.push(message.value.toString())
      last = Date.now()
    }
  })
  const deadline = Date.now() + 60000
  while (Date.now() < deadline && (got.length < want || Date.now() - last < 2000)) {
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  await consumer.disconnect()
  return got.sort()
}

async function main () {
  const kafka = new Kafka({ clientId: 'kjs-txn', brokers: [broker], logLevel: logLevel.NOTHING })
  const producer = kafka.producer({ transactionalId: 'kafkajs-txn', maxInFlightRequests: 1, idempotent: true })
  await producer.connect()
  await inTransaction(producer, values('c1', 30), true)
  await inTransaction(producer, values('a1', 12), false)
  await inTransaction(producer, values('c2', 9), true)
  await producer.disconnect()

  const committed = values('c1', 30).concat(values('c2', 9)).sort()
  const all = committed.concat(values('a1', 12)).sort()
  const rc = await readAll(kafka, 'kjs-rc', false, committed.length)
  check(JSON.stringify(rc) === JSON.stringify(committed),
    `kafkajs read_committed consumer gets the ${committed.length} committed records only (${rc.length})`)
  const ru = await readAll(kafka, 'kjs-ru', true, all.length)
  check(JSON.stringify(ru) === JSON.stringify(all),
    `kafkajs read_uncommitted consumer gets all ${all.length} records, no markers (${ru.length})`)
}

main().then(() => {
  clearTimeout(watchdog)
  console.log('PASS: test_transactions_kafkajs')
  process.exit(0)
}).catch((e) => {
  console.log('FAIL: test_transactions_kafkajs: ' + (e.stack || e))
  process.exit(1)
})
