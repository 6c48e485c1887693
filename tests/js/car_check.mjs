// Checks a CAR file with an independent reader (@ipld/car) for tests/test_content_store.py.
//
//   node tests/js/car_check.mjs FILE.car
//
// Prints JSON {"version", "roots", "blocks", "cids", "mismatched", "missing_roots"}: the header's
// version and roots, the number of blocks and their CIDs in file order, the CIDs whose bytes do
// not hash to them, and the roots no block in the file answers. Exits 1 if anything is wrong.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { CarReader } from '@ipld/car'

const SHA2_256 = 0x12

const path = process.argv[2]
if (path === undefined) {
  process.stderr.write('usage: car_check.mjs FILE.car\n')
  process.exit(2)
}

const reader = await CarReader.fromIterable(createReadStream(path))
const roots = (await reader.getRoots()).map(String)
const cids = []
const mismatched = []
for await (const { cid, bytes } of reader.blocks()) {
  cids.push(cid.toString())
  const digest = createHash('sha256').update(bytes).digest()
  if (cid.multihash.code !== SHA2_256 || !digest.equals(Buffer.from(cid.multihash.digest))) {
    mismatched.push(cid.toString())
  }
}
const present = new Set(cids)
const missingRoots = roots.filter((root) => !present.has(root))

const report = {
  version: reader.version,
  roots,
  blocks: cids.length,
  cids,
  mismatched,
  missing_roots: missingRoots
}
process.stdout.write(JSON.stringify(report) + '\n')
process.exit(mismatched.length === 0 && missingRoots.length === 0 ? 0 : 1)
