// An emulator of the parts of Pinata's HTTP API the bot's `pinata` backend uses, for tests.
//
//   node tests/ipfs/pinata_emulator.mjs --jwt TOKEN [--port 0]
//
// Listens on 127.0.0.1 and prints {"port": N} as one JSON line once it is ready.
//
// What it answers, as Pinata's API reference describes it:
//   GET    /data/testAuthentication       {"message": "Congratulations! ..."}
//   POST   /v3/files                      multipart: file (required), network ("public" or
//                                          "private", required), name, group_id, keyvalues
//                                          (a JSON object), car ("true": the file is a CAR whose
//                                          root CID is kept; only on the public network)
//   GET    /v3/files/{network}?cid=...    {"data": {"files": [...], "next_page_token": ""}}
//   DELETE /v3/files/{network}/{id}       {"data": null}
//   GET    /ipfs/{cid}?format=raw         a gateway serving the raw blocks of pinned files
// Every /data and /v3 route wants "Authorization: Bearer TOKEN"; anything else gets 401.
// Errors are JSON: {"error": {"reason": "...", "details": "..."}}.
//
// A CAR upload is read with @ipld/car. Every block's bytes are hashed again and checked against
// its CID, the header must name exactly one root (a file has one CID), the root must be in the
// CAR, and every dag-pb link under it must be in the CAR too; otherwise 400 INVALID_CAR.
//
// Control routes for tests (no auth):
//   POST /__control/fail      {"status": 429, "count": 2, "retry_after": 7}: answer the next
//                             `count` API or gateway requests with `status` (and Retry-After)
//   GET  /__control/state     {"files": [...], "blocks": [cid, ...], "requests": [...]}
//   POST /__control/reset     forget files, blocks, requests and pending failures
import { createServer } from 'node:http'
import { randomUUID } from 'node:crypto'
import { CarReader } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

const RAW_BLOCK = 'application/vnd.ipld.raw'
const AUTH_OK = 'Congratulations! You are communicating with the Pinata API!'
const MAX_UNIXFS_LEAF = 262144 // a file this small is one raw block, as a CIDv1 add makes it

function option (name, fallback) {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? fallback : process.argv[at + 1]
}

const jwt = option('jwt')
if (!jwt) {
  process.stderr.write('usage: pinata_emulator.mjs --jwt TOKEN [--port N]\n')
  process.exit(2)
}

const state = {
  files: new Map(), // id -> file object, as the API lists it, plus its block CIDs
  blocks: new Map(), // CID text -> bytes
  requests: [], // {method, path, query, content_type} of every API and gateway request
  failures: { status: 0, count: 0, retryAfter: null }
}

class ApiError extends Error {
  constructor (status, reason, details) {
    super(details)
    this.status = status
    this.reason = reason
  }
}

function send (response, status, body, headers = {}) {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'Content-Type': 'application/json', ...headers })
  response.end(text)
}

function listed (file) {
  const { blocks, ...shown } = file
  return shown
}

async function readBody (request) {
  const chunks = []
  for await (const chunk of request) chunks.push(chunk)
  return Buffer.concat(chunks)
}

async function checkedCar (bytes) {
  let reader
  try {
    reader = await CarReader.fromBytes(bytes)
  } catch (err) {
    throw new ApiError(400, 'INVALID_CAR', `not a CAR file: ${err.message}`)
  }
  const roots = await reader.getRoots()
  if (roots.length !== 1) {
    throw new ApiError(400, 'INVALID_CAR', `a CAR upload names one root, not ${roots.length}`)
  }
  const blocks = new Map()
  for await (const { cid, bytes: data } of reader.blocks()) {
    if (cid.multihash.code !== sha256.code) {
      throw new ApiError(400, 'INVALID_CAR', `block ${cid} is not hashed with sha2-256`)
    }
    const digest = await sha256.digest(data)
    if (!equalBytes(digest.digest, cid.multihash.digest)) {
      throw new ApiError(400, 'INVALID_CAR', `block ${cid} does not match its CID`)
    }
    blocks.set(cid.toString(), data)
  }
  const root = roots[0].toV1()
  const reachable = new Set()
  const work = [root]
  while (work.length > 0) {
    const cid = work.pop()
    const key = cid.toString()
    if (reachable.has(key)) continue
    const data = blocks.get(key)
    if (data === undefined) {
      const what = cid.equals(root) ? 'the root' : 'a block the root links to'
      throw new ApiError(400, 'INVALID_CAR', `${what}, ${key}, is not in the CAR`)
    }
    reachable.add(key)
    if (cid.code === dagPb.code) {
      let node
      try {
        node = dagPb.decode(data)
      } catch (err) {
        throw new ApiError(400, 'INVALID_CAR', `block ${key} is not dag-pb: ${err.message}`)
      }
      for (const link of node.Links) work.push(link.Hash)
    }
  }
  return { root: root.toString(), blocks, reachable }
}

function equalBytes (a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
}

async function upload (request) {
  const type = request.headers['content-type'] || ''
  if (!type.startsWith('multipart/form-data')) {
    throw new ApiError(400, 'INVALID_REQUEST', 'the body must be multipart/form-data')
  }
  const body = await readBody(request)
  let form
  try {
    form = await new Request('http://pinata.invalid/', {
      method: 'POST', headers: { 'content-type': type }, body
    }).formData()
  } catch (err) {
    throw new ApiError(400, 'INVALID_REQUEST', `unreadable multipart body: ${err.message}`)
  }
  const file = form.get('file')
  if (file === null || typeof file === 'string') {
    throw new ApiError(400, 'INVALID_REQUEST', 'the field "file" must hold a file')
  }
  const network = form.get('network')
  if (network !== 'public' && network !== 'private') {
    throw new ApiError(400, 'INVALID_REQUEST', 'the field "network" must be public or private')
  }
  let keyvalues = {}
  if (form.has('keyvalues')) {
    try {
      keyvalues = JSON.parse(form.get('keyvalues'))
    } catch {
      throw new ApiError(400, 'INVALID_REQUEST', 'the field "keyvalues" must be a JSON object')
    }
  }
  const car = form.get('car')
  if (car !== null && car !== 'true' && car !== 'false') {
    throw new ApiError(400, 'INVALID_REQUEST', 'the field "car" must be true or false')
  }
  const data = new Uint8Array(await file.arrayBuffer())
  let content
  if (car === 'true') {
    if (network !== 'public') {
      throw new ApiError(400, 'INVALID_REQUEST', 'CAR uploads are only for the public network')
    }
    content = await checkedCar(data)
  } else {
    // A plain upload is hashed as a file; only one-block files are emulated.
    if (data.length > MAX_UNIXFS_LEAF) {
      throw new ApiError(501, 'NOT_EMULATED', 'plain uploads over 256 KiB are not emulated')
    }
    const cid = CID.createV1(raw.code, await sha256.digest(data)).toString()
    content = { root: cid, blocks: new Map([[cid, data]]), reachable: new Set([cid]) }
  }
  for (const known of state.files.values()) {
    if (known.cid === content.root && known.network === network) {
      return { ...listed(known), is_duplicate: true }
    }
  }
  for (const key of content.reachable) state.blocks.set(key, content.blocks.get(key))
  const entry = {
    id: randomUUID(),
    name: form.get('name') || file.name || null,
    cid: content.root,
    size: data.length,
    number_of_files: 1,
    mime_type: file.type || 'application/octet-stream',
    keyvalues,
    group_id: form.get('group_id') || null,
    created_at: new Date().toISOString(),
    network,
    blocks: [...content.reachable]
  }
  state.files.set(entry.id, entry)
  return { ...listed(entry), is_duplicate: false }
}

function forget (id) {
  const gone = state.files.get(id)
  state.files.delete(id)
  const kept = new Set([...state.files.values()].flatMap((file) => file.blocks))
  for (const key of gone.blocks) if (!kept.has(key)) state.blocks.delete(key)
}

function gateway (response, url, accept) {
  const wantsRaw = url.searchParams.get('format') === 'raw' || accept.includes(RAW_BLOCK)
  if (!wantsRaw) {
    throw new ApiError(501, 'NOT_EMULATED', 'this gateway serves raw blocks only (?format=raw)')
  }
  const key = url.pathname.slice('/ipfs/'.length)
  let cid
  try {
    cid = CID.parse(key).toV1().toString()
  } catch {
    throw new ApiError(400, 'INVALID_CID', `${key} is not a CID`)
  }
  const data = state.blocks.get(cid)
  if (data === undefined) throw new ApiError(404, 'NOT_FOUND', `${cid} is not pinned here`)
  response.writeHead(200, { 'Content-Type': RAW_BLOCK, 'Content-Length': data.length })
  response.end(data)
}

async function control (request, response, url) {
  if (request.method === 'POST' && url.pathname === '/__control/fail') {
    const { status, count, retry_after: retryAfter } = JSON.parse(await readBody(request))
    state.failures = { status, count, retryAfter: retryAfter ?? null }
    return send(response, 200, { ok: true })
  }
  if (request.method === 'POST' && url.pathname === '/__control/reset') {
    state.files.clear()
    state.blocks.clear()
    state.requests.length = 0
    state.failures = { status: 0, count: 0, retryAfter: null }
    return send(response, 200, { ok: true })
  }
  if (request.method === 'GET' && url.pathname === '/__control/state') {
    return send(response, 200, {
      files: [...state.files.values()].map(listed),
      blocks: [...state.blocks.keys()],
      requests: state.requests
    })
  }
  send(response, 404, { error: { reason: 'NOT_FOUND', details: 'no such control route' } })
}

async function api (request, response, url) {
  if (request.headers.authorization !== `Bearer ${jwt}`) {
    throw new ApiError(401, 'INVALID_CREDENTIALS', 'Invalid or missing API key')
  }
  const path = url.pathname
  if (request.method === 'GET' && path === '/data/testAuthentication') {
    return send(response, 200, { message: AUTH_OK })
  }
  if (request.method === 'POST' && path === '/v3/files') {
    return send(response, 200, { data: await upload(request) })
  }
  const listing = path.match(/^\/v3\/files\/(public|private)$/)
  if (request.method === 'GET' && listing) {
    const cid = url.searchParams.get('cid')
    const limit = Number(url.searchParams.get('limit') || 10)
    const files = [...state.files.values()]
      .filter((file) => file.network === listing[1] && (cid === null || file.cid === cid))
      .slice(0, limit)
      .map(listed)
    return send(response, 200, { data: { files, next_page_token: '' } })
  }
  const one = path.match(/^\/v3\/files\/(public|private)\/([\w-]+)$/)
  if (request.method === 'DELETE' && one) {
    const file = state.files.get(one[2])
    if (file === undefined || file.network !== one[1]) {
      throw new ApiError(404, 'NOT_FOUND', `no ${one[1]} file with id ${one[2]}`)
    }
    forget(file.id)
    return send(response, 200, { data: null })
  }
  throw new ApiError(404, 'NOT_FOUND', `no route for ${request.method} ${path}`)
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url, 'http://127.0.0.1')
  try {
    if (url.pathname.startsWith('/__control/')) return await control(request, response, url)
    state.requests.push({
      method: request.method,
      path: url.pathname,
      query: url.search,
      content_type: request.headers['content-type'] || null
    })
    if (state.failures.count > 0) {
      state.failures.count -= 1
      const { status, retryAfter } = state.failures
      const headers = retryAfter === null ? {} : { 'Retry-After': String(retryAfter) }
      request.resume()
      return send(response, status, { error: { reason: 'INJECTED', details: `HTTP ${status}` } },
        headers)
    }
    if (request.method === 'GET' && url.pathname.startsWith('/ipfs/')) {
      return gateway(response, url, request.headers.accept || '')
    }
    return await api(request, response, url)
  } catch (err) {
    if (!(err instanceof ApiError)) {
      process.stderr.write(`${err.stack}\n`)
      return send(response, 500, { error: { reason: 'INTERNAL', details: String(err) } })
    }
    request.resume()
    send(response, err.status, { error: { reason: err.reason, details: err.message } })
  }
})

server.listen(Number(option('port', '0')), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
})
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)))
