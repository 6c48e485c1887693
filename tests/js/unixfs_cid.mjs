// Reference CIDs for tests/test_cid.py from an independent implementation: the JS UnixFS
// importer set up as `ipfs add --cid-version=1` with kubo's defaults.
//
//   node tests/js/unixfs_cid.mjs FILE...   (no FILE: read stdin, reported as "-")
//
// Prints a JSON array with one {"path", "cid", "blocks"} per input, where "blocks" lists the CID
// of every distinct block the importer stored, in the order it stored them.
import { createReadStream } from 'node:fs'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

const KUBO_DEFAULTS = {
  cidVersion: 1,
  rawLeaves: true,
  reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: 262144 }),
  layout: balanced({ maxChildrenPerNode: 174 })
}

// MemoryBlockstore keys blocks by multihash alone, so remember the full CIDs as they arrive.
class RecordingBlockstore extends MemoryBlockstore {
  cids = new Set()

  put (key, value, options) {
    this.cids.add(key.toString())
    return super.put(key, value, options)
  }
}

async function importFile (path, content) {
  const blockstore = new RecordingBlockstore()
  let root
  for await (const entry of importer([{ content }], blockstore, KUBO_DEFAULTS)) {
    root = entry
  }
  return { path, cid: root.cid.toString(), blocks: [...blockstore.cids] }
}

const paths = process.argv.slice(2)
const results = []
if (paths.length === 0) {
  results.push(await importFile('-', process.stdin))
} else {
  for (const path of paths) {
    results.push(await importFile(path, createReadStream(path)))
  }
}
process.stdout.write(JSON.stringify(results) + '\n')
