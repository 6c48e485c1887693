// The few endpoints of kubo's RPC API the bot's kubo pinning backend uses, served on top of a
// real Helia node (no networking), for tests/test_pinning_kubo.py.
//
//   node tests/ipfs/kubo_rpc.mjs [PORT] [--auth VALUE] [--blocks DIR]
//
// Listens on 127.0.0.1:PORT (0 or none: a free port) and prints {"port": N} as one line on
// stdout once it accepts requests. --auth VALUE: every /api/v0 request must carry the header
// `Authorization: VALUE`, else 401 (as a hosted kubo API answers). --blocks DIR: blocks live in
// DIR (blockstore-fs) rather than in memory.
//
// Endpoints (POST, as kubo): /api/v0/dag/import, pin/ls, pin/rm, block/put, block/get,
// block/stat, version; GET /ipfs/<cid>?format=raw (a trustless gateway's raw block).
// Test controls, never behind --auth:
//   POST /_control/faults {"status": 429|500|..., "count": N, "retry_after": S, "path": P}
//        the next N requests (whose path starts with P, if given) get that status; status 0
//        means they hang, never answered.
//   GET  /_control/log   every request so far: {"method", "path", "status"}.
//
// Like kubo, it trusts nothing it is sent: every block's CID is computed here from its bytes
// (sha2-256, the CID's own codec) and a CAR with a block that does not hash to its CID is
// refused whole before anything is stored; a root the blocks do not include is not pinned.
// Errors are kubo's JSON ({"Message", "Code", "Type": "error"}): Code 1 with HTTP 400 for a
// request missing what it needs, Code 0 with HTTP 500 for everything else.
import { createServer } from 'node:http'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { car } from '@helia/car'
import { CarReader } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core'
import { FsBlockstore } from 'blockstore-fs'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

// Helia's lock queue calls Promise.withResolvers, which Node has only from version 22.
Promise.withResolvers ??= function () {
  let resolve, reject
  const promise = new Promise((resolve_, reject_) => { resolve = resolve_; reject = reject_ })
  return { promise, resolve, reject }
}

const MAX_BLOCK = 1024 * 1024
const TOO_BIG = 'produced block is over 1MiB: big blocks can\'t be exchanged with other peers'
const CODECS = { raw: raw.code, 'dag-pb': dagPb.code }

const options = parseArgs(process.argv.slice(2))
const blockstore = options.blocks ? new FsBlockstore(options.blocks) : new MemoryBlockstore()
await blockstore.open?.()
// createHeliaLight is Helia with no block brokers or routers: createHelia would add a
// trustless-gateway broker that fetches any missing block from public gateways, and the
// node must never leave the loopback interface.
const helia = await createHeliaLight({ start: false, blockstore })
const cars = car(helia)
const heliaVersion = JSON.parse(readFileSync(join(dirname(
  createRequire(import.meta.url).resolve('helia')), '..', '..', 'package.json'), 'utf8')).version

const faults = []
const log = []

class KuboError extends Error {
  constructor (message, code = 0) { super(message); this.code = code }
}

const routes = {
  '/api/v0/version': async () => ({
    Version: `helia-${heliaVersion}`, Commit: '', Repo: '', System: `${process.arch}/${process.platform}`, Golang: ''
  }),
  '/api/v0/dag/import': dagImport,
  '/api/v0/pin/ls': pinLs,
  '/api/v0/pin/rm': pinRm,
  '/api/v0/block/put': blockPut,
  '/api/v0/block/get': blockGet,
  '/api/v0/block/stat': blockStat
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) {
      send(res, 500, errorBody(String(err?.message ?? err)))
    } else {
      res.destroy(err)
    }
  })
})
server.listen(Number(options.port ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
})
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0))
}

async function handle (req, res) {
  const url = new URL(req.url, 'http://127.0.0.1')
  const body = await readBody(req)
  if (url.pathname.startsWith('/_control/')) {
    return control(url, req, body, res)
  }
  const entry = { method: req.method, path: url.pathname, status: 0 }
  log.push(entry)
  res.on('finish', () => { entry.status = res.statusCode })
  const fault = faults.find((f) => f.count > 0 && url.pathname.startsWith(f.path ?? ''))
  if (fault !== undefined) {
    fault.count--
    if (fault.status === 0) {
      return // hangs: the client's own timeout ends it
    }
    const headers = fault.retry_after === undefined ? {} : { 'Retry-After': String(fault.retry_after) }
    return send(res, fault.status, errorBody(`injected fault ${fault.status}`), headers)
  }
  if (url.pathname.startsWith('/ipfs/')) {
    return gateway(url, req, res)
  }
  if (!url.pathname.startsWith('/api/v0/')) {
    return sendText(res, 404, '404 page not found\n')
  }
  if (options.auth !== undefined && req.headers.authorization !== options.auth) {
    return sendText(res, 401, '401 Unauthorized: invalid credentials\n')
  }
  if (req.method !== 'POST') {
    return sendText(res, 405, `405 - ${req.method} not allowed; kubo's RPC API takes POST only\n`)
  }
  const route = routes[url.pathname]
  if (route === undefined) {
    return sendText(res, 404, '404 page not found\n')
  }
  try {
    const answer = await route({ url, req, body, res })
    if (answer !== undefined) {
      send(res, 200, answer)
    }
  } catch (err) {
    if (res.headersSent) {
      throw err
    }
    const code = err instanceof KuboError ? err.code : 0
    send(res, code === 1 ? 400 : 500, errorBody(String(err?.message ?? err), code))
  }
}

function control (url, req, body, res) {
  if (url.pathname === '/_control/faults' && req.method === 'POST') {
    const fault = JSON.parse(body.toString('utf8'))
    faults.push({ count: 1, ...fault })
    return send(res, 200, { ok: true })
  }
  if (url.pathname === '/_control/log' && req.method === 'GET') {
    return send(res, 200, log)
  }
  return send(res, 404, { Message: 'no such control' })
}

// ----- endpoints --------------------------------------------------------------------------------

async function dagImport ({ url, req, body, res }) {
  const parts = await fileParts(req, body, 'path')
  const pinRoots = flag(url, 'pin-roots', true)
  const allowBig = flag(url, 'allow-big-block', false)
  const readers = []
  for (const bytes of parts) {
    let reader
    try {
      reader = await CarReader.fromBytes(bytes)
    } catch (err) {
      throw new KuboError(`invalid car: ${err.message}`)
    }
    for await (const { cid, bytes: data } of reader.blocks()) {
      await verifyBlock(cid, data, allowBig)
    }
    readers.push(reader)
  }
  const roots = new Map()
  for (const reader of readers) {
    for (const root of await reader.getRoots()) {
      roots.set(root.toString(), root)
    }
    await cars.import(reader)
  }
  const lines = []
  let failed = 0
  if (pinRoots) {
    for (const [text, root] of roots) {
      const message = await pinRecursively(root)
      failed += message === '' ? 0 : 1
      lines.push({ Root: { Cid: { '/': text }, PinErrorMsg: message } })
    }
  }
  // Kubo streams these lines; an error after the first one can only travel as a trailer.
  res.writeHead(200, { 'Content-Type': 'application/json', 'X-Chunked-Output': '1', Trailer: 'X-Stream-Error' })
  for (const line of lines) {
    res.write(JSON.stringify(line) + '\n')
  }
  if (failed > 0) {
    res.addTrailers({ 'X-Stream-Error': `unable to pin all roots: ${failed} out of ${roots.size} failed` })
  }
  res.end()
}

async function pinLs ({ url }) {
  const type = url.searchParams.get('type') ?? 'all'
  if (!['direct', 'indirect', 'recursive', 'all'].includes(type)) {
    throw new KuboError(`invalid type '${type}', must be one of {direct, indirect, recursive, all}`)
  }
  const keys = {}
  const args = url.searchParams.getAll('arg')
  if (args.length === 0) {
    for await (const pin of helia.pins.ls()) {
      const mode = pin.depth === 0 ? 'direct' : 'recursive'
      if (type === 'all' || type === mode) {
        keys[pin.cid.toString()] = { Type: mode, Name: '' }
      }
    }
    return { Keys: keys }
  }
  for (const arg of args) {
    const cid = parsePath(arg)
    const mode = await pinMode(cid)
    if (mode === null || (type !== 'all' && type !== mode)) {
      throw new KuboError(`path '${arg}' is not pinned`)
    }
    keys[cid.toString()] = { Type: mode, Name: '' }
  }
  return { Keys: keys }
}

async function pinRm ({ url }) {
  const args = requiredArgs(url, 'ipfs-path')
  const removed = []
  for (const arg of args) {
    const cid = parsePath(arg)
    const mode = await pinMode(cid)
    if (mode !== 'recursive' && mode !== 'direct') {
      throw new KuboError('not pinned or pinned indirectly')
    }
    for await (const _ of helia.pins.rm(cid, { offline: true })) { /* walks the DAG */ } // eslint-disable-line no-unused-vars
    removed.push(cid.toString())
  }
  return { Pins: removed }
}

async function blockPut ({ url, req, body }) {
  const [data] = await fileParts(req, body, 'data')
  const codecName = url.searchParams.get('cid-codec') ?? 'raw'
  const codec = CODECS[codecName]
  if (codec === undefined) {
    throw new KuboError(`unsupported cid-codec '${codecName}' (this node has raw and dag-pb)`)
  }
  const hash = url.searchParams.get('mhtype') ?? 'sha2-256'
  if (hash !== 'sha2-256') {
    throw new KuboError(`unsupported mhtype '${hash}' (this node hashes with sha2-256)`)
  }
  if (data.length > MAX_BLOCK && !flag(url, 'allow-big-block', false)) {
    throw new KuboError(TOO_BIG)
  }
  if (codec === dagPb.code) {
    try {
      dagPb.decode(data)
    } catch (err) {
      throw new KuboError(`invalid dag-pb block: ${err.message}`)
    }
  }
  const cid = CID.createV1(codec, await sha256.digest(data))
  await helia.blockstore.put(cid, data)
  if (flag(url, 'pin', false)) {
    const message = await pinRecursively(cid)
    if (message !== '') {
      throw new KuboError(message)
    }
  }
  return { Key: cid.toString(), Size: data.length }
}

async function blockGet ({ url, res }) {
  const [arg] = requiredArgs(url, 'cid')
  const data = await localBlock(parsePath(arg))
  res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Stream-Output': '1' })
  res.end(data)
}

async function blockStat ({ url }) {
  const [arg] = requiredArgs(url, 'cid')
  const cid = parsePath(arg)
  const data = await localBlock(cid)
  return { Key: cid.toString(), Size: data.length }
}

async function gateway (url, req, res) {
  const wantsRaw = url.searchParams.get('format') === 'raw' ||
    (req.headers.accept ?? '').includes('application/vnd.ipld.raw')
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendText(res, 405, 'method not allowed\n')
  }
  if (!wantsRaw) {
    return sendText(res, 406, 'only raw blocks (?format=raw) are served here\n')
  }
  let cid
  try {
    cid = CID.parse(url.pathname.slice('/ipfs/'.length).split('/')[0])
  } catch {
    return sendText(res, 400, 'invalid CID\n')
  }
  if (!(await helia.blockstore.has(cid))) {
    return sendText(res, 404, `block ${cid} not found\n`)
  }
  const data = await localBlock(cid)
  res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.raw', 'Content-Length': data.length })
  res.end(req.method === 'HEAD' ? undefined : data)
}

// ----- the node ---------------------------------------------------------------------------------

/** Throws kubo's error for a block whose bytes are not the ones its CID names. */
async function verifyBlock (cid, data, allowBig) {
  if (cid.multihash.code !== sha256.code) {
    throw new KuboError(`unsupported multihash 0x${cid.multihash.code.toString(16)} in ${cid}`)
  }
  const version = cid.version
  const computed = version === 0
    ? CID.createV0(await sha256.digest(data))
    : CID.createV1(cid.code, await sha256.digest(data))
  if (!computed.equals(cid)) {
    throw new KuboError(`mismatch in content integrity, expected: ${cid}, got: ${computed}`)
  }
  if (data.length > MAX_BLOCK && !allowBig) {
    throw new KuboError(TOO_BIG)
  }
}

/** Pins `cid` and everything below it, from blocks this node holds; '' or why not. */
async function pinRecursively (cid) {
  if (!(await helia.blockstore.has(cid))) {
    return `block was not found locally (offline): ipld: could not find ${cid}`
  }
  if ((await pinMode(cid)) === 'recursive') {
    return ''
  }
  try {
    for await (const _ of helia.pins.add(cid, { offline: true })) { /* walks the DAG */ } // eslint-disable-line no-unused-vars
  } catch (err) {
    if (err.name === 'AlreadyPinnedError') {
      return ''
    }
    return err.name === 'BlockNotFoundWhileOfflineError'
      ? `block was not found locally (offline): a block below ${cid} is missing`
      : String(err.message)
  }
  return ''
}

/** 'recursive', 'direct', 'indirect' or null. */
async function pinMode (cid) {
  try {
    return (await helia.pins.get(cid)).depth === 0 ? 'direct' : 'recursive'
  } catch (err) {
    if (err.name !== 'NotFoundError') throw err
  }
  return (await helia.pins.isPinned(cid)) ? 'indirect' : null
}

async function localBlock (cid) {
  if (!(await helia.blockstore.has(cid))) {
    throw new KuboError(`block was not found locally (offline): ipld: could not find ${cid}`)
  }
  const chunks = []
  for await (const chunk of helia.blockstore.get(cid, { offline: true })) {
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

// ----- HTTP -------------------------------------------------------------------------------------

function parsePath (arg) {
  const text = arg.startsWith('/ipfs/') ? arg.slice('/ipfs/'.length) : arg
  try {
    return CID.parse(text.split('/')[0])
  } catch (err) {
    throw new KuboError(`invalid path "${arg}": ${err.message}`)
  }
}

function requiredArgs (url, name) {
  const args = url.searchParams.getAll('arg')
  if (args.length === 0) {
    throw new KuboError(`argument "${name}" is required`, 1)
  }
  return args
}

function flag (url, name, fallback) {
  const value = url.searchParams.get(name)
  return value === null ? fallback : value === '' || value === 'true'
}

/** The file parts of a multipart/form-data body, as kubo reads its file arguments. */
async function fileParts (req, body, name) {
  const type = req.headers['content-type'] ?? ''
  if (!type.startsWith('multipart/form-data')) {
    throw new KuboError(`file argument '${name}' is required`, 1)
  }
  let form
  try {
    form = await new Request('http://127.0.0.1/', { method: 'POST', headers: { 'content-type': type }, body }).formData()
  } catch (err) {
    throw new KuboError(`multipart: ${err.message}`, 1)
  }
  const parts = []
  for (const value of form.values()) {
    if (typeof value !== 'string') {
      parts.push(new Uint8Array(await value.arrayBuffer()))
    }
  }
  if (parts.length === 0) {
    throw new KuboError(`file argument '${name}' is required`, 1)
  }
  return parts
}

async function readBody (req) {
  const chunks = []
  for await (const chunk of req) {
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function errorBody (message, code = 0) {
  return { Message: message, Code: code, Type: 'error' }
}

function sendText (res, status, text) {
  send(res, status, text, { 'Content-Type': 'text/plain' })
}

function send (res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body) + '\n'
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers })
  res.end(text)
}

function parseArgs (argv) {
  const parsed = {}
  for (let i = 0; i < argv.length; i++) {
    const name = { '--auth': 'auth', '--blocks': 'blocks' }[argv[i]]
    parsed[name ?? 'port'] = name === undefined ? argv[i] : argv[++i]
  }
  return parsed
}
