// One kafkajs 2.2.4 group consumer, run by test_groups_kafkajs.py through
// test_groups_common.py: node test_groups_kafkajs.js BROKER GROUP TOPIC OUTFILE
//
// Writes the same JSON lines as the Python consumers (see
// test_groups_common.py): "assign" on every GROUP_JOIN (kafkajs has no
// revoke callback), "msg" per record, then commits that record's offset
// before the next. Runs until SIGTERM (disconnect: leaves the group).
'use strict'

const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')

const [broker, group, topic, path] = process.argv.slice(2)

function out (ev) {
  ev.t = Date.now() / 1000
  fs.appendFileSync(path, JSON.stringify(ev) + '\n')
}

const kafka = new Kafka({ clientId: 'groups-it', brokers: [broker], logLevel: logLevel.WARN })
const consumer = kafka.consumer({
  groupId: group,
  sessionTimeout: 6000,
  heartbeatInterval: 1000,
  rebalanceTimeout: 10000,
  maxWaitTimeInMs: 100
})

consumer.on(consumer.events.GROUP_JOIN, (e) => {
  const parts = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b)
  out({ ev: 'assign', parts })
})

async function main () {
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      out({ ev: 'msg', p: partition, o: Number(message.offset), v: message.value.toString() })
      try {
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }])
      } catch (err) {
        out({ ev: 'commit-failed', err: String(err) })
      }
    }
  })
}

process.on('SIGTERM', async () => {
  try {
    await consumer.disconnect()
  } finally {
    out({ ev: 'closed' })
    process.exit(0)
  }
})

main().catch((err) => {
  out({ ev: 'error', err: String(err) })
  process.exit(1)
})
