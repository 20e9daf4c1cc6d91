// kafkajs 2.2.4 over SSL and SASL_SSL (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN),
// with mutual TLS, and the refusals a user must see: a wrong password, an
// unknown user, an untrusted server certificate. Run by
// test_security_kafkajs.py, which starts the collector and passes:
//   node test_security_kafkajs.js SSL_BROKER SASL_SSL_BROKER CERT_DIR
'use strict'

const assert = require('assert')
const fs = require('fs')
const path = require('path')
const { Kafka, logLevel } = require('kafkajs')

const [sslBroker, saslBroker, certs] = process.argv.slice(2)
const COUNT = 300

const watchdog = setTimeout(() => {
  console.log('FAIL: test_security_kafkajs: did not finish within 240 s')
  process.exit(1)
}, 240000)

function ok (msg) {
  console.log('ok - ' + msg)
}

function read (name) {
  return fs.readFileSync(path.join(certs, name), 'utf-8')
}

function client (brokers, extra) {
  return new Kafka(Object.assign({
    clientId: 'kafkajs-security',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 10000,
    authenticationTimeout: 10000,
    retry: { retries: 2, initialRetryTime: 200 }
  }, extra))
}

// Produces COUNT records to a new topic and reads them back in a group.
async function roundtrip (kafka, topic) {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })
  await admin.disconnect()
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const messages = []
  for (let i = 0; i < COUNT; i++) messages.push({ key: `k${i}`, value: `${topic} value ${i}` })
  await producer.send({ topic, acks: -1, messages })
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: `g-${topic}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen = new Set()
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${topic}: read ${seen.size} of ${COUNT}`)), 60000)
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.add(message.value.toString())
        if (seen.size === COUNT) {
          clearTimeout(timer)
          resolve()
        }
      }
    })
  })
  await consumer.disconnect()
  for (let i = 0; i < COUNT; i++) assert(seen.has(`${topic} value ${i}`), `${topic}: value ${i} missing`)
  ok(`${topic}: ${COUNT} records produced (idempotent, acks=-1) and read back in a group`)
}

// Connecting must fail, with an error whose name and message match.
async function refused (kafka, what, name, text) {
  const admin = kafka.admin()
  let err = null
  try {
    await admin.connect()
    await admin.listTopics()
  } catch (e) {
    err = e
  }
  await admin.disconnect().catch(() => {})
  assert(err !== null, `${what}: connected`)
  const all = `${err.name}: ${err.message} ${err.originalError ? err.originalError.message : ''}`
  assert(all.includes(name) && all.includes(text), `${what}: unexpected error ${all}`)
  ok(`${what} refused (${all.trim().slice(0, 160)})`)
}

async function main () {
  const ca = [read('ca.crt')]
  const ssl = { ca }
  const mtls = { ca, cert: read('client.crt'), key: read('client.key') }
  const sasl = (mechanism, username, password) => ({ ssl, sasl: { mechanism, username, password } })

  await roundtrip(client(sslBroker, { ssl: mtls }), 'kjs-mtls')
  await roundtrip(client(saslBroker, sasl('scram-sha-256', 'alice', 'alice-secret')), 'kjs-scram256')
  await roundtrip(client(saslBroker, sasl('scram-sha-512', 'alice', 'alice-secret')), 'kjs-scram512')
  await roundtrip(client(saslBroker, sasl('plain', 'alice', 'alice-secret')), 'kjs-plain')

  await refused(client(saslBroker, sasl('scram-sha-256', 'alice', 'wrong')), 'a wrong SCRAM password',
    'KafkaJSSASLAuthenticationError', 'invalid credentials with SASL mechanism SCRAM-SHA-256')
  await refused(client(saslBroker, sasl('plain', 'mallory', 'x')), 'an unknown PLAIN user',
    'KafkaJSSASLAuthenticationError', 'Invalid username or password')
  await refused(client(sslBroker, { ssl: { ca: [read('rogue.crt')], cert: mtls.cert, key: mtls.key } }),
    'a server certificate from an untrusted CA', 'KafkaJS', 'certificate')
}

main().then(() => {
  clearTimeout(watchdog)
  console.log('PASS: test_security_kafkajs')
  process.exit(0)
}, (e) => {
  console.log(`FAIL: test_security_kafkajs: ${e.stack || e}`)
  process.exit(1)
})
