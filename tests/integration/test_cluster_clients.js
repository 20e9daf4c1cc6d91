// kafkajs 2.2.4 producer for test_cluster_clients.py: an idempotent
// producer (acks=-1, one request in flight) writes "kjs-<seq>" to
// partition 0 of TOPIC, CHUNK records per send(), until the file STOP
// exists. Every acknowledged seq is appended to OUT as one line
// "ack <first> <last>"; a send() that fails after kafkajs' own retries is
// "fail <first> <last> <error>". The last line is "done".
//
//   node test_cluster_clients.js BROKERS TOPIC OUT STOP
'use strict'

const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')

const [brokers, topic, out, stop] = process.argv.slice(2)
const CHUNK = 10

const watchdog = setTimeout(() => {
  fs.appendFileSync(out, 'fail -1 -1 watchdog: not stopped within 170 s\ndone\n')
  process.exit(1)
}, 170000)

async function main () {
  const kafka = new Kafka({
    clientId: 'tributary-it-kafkajs',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    // Enough retries to outlast a failover (a new leader within the
    // 4 s session timeout): about 40 s of backoff in all.
    retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 }
  })
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  let seq = 0
  while (!fs.existsSync(stop)) {
    const first = seq
    const messages = []
    for (let i = 0; i < CHUNK; i++) {
      messages.push({ value: `kjs-${seq++}`, partition: 0 })
    }
    try {
      await producer.send({ topic, acks: -1, timeout: 10000, messages })
      fs.appendFileSync(out, `ack ${first} ${seq - 1}\n`)
    } catch (e) {
      fs.appendFileSync(out, `fail ${first} ${seq - 1} ${String(e.message).replace(/\n/g, ' ')}\n`)
    }
    // About the other writers' pace (a few hundred records a second).
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await producer.disconnect()
  fs.appendFileSync(out, 'done\n')
  clearTimeout(watchdog)
}

main().catch((e) => {
  fs.appendFileSync(out, `fail -1 -1 ${String(e.stack).replace(/\n/g, ' ')}\ndone\n`)
  process.exit(1)
})
