// Runs the pinned solc (npm "solc") on a Standard JSON request read from stdin and writes the
// Standard JSON answer to stdout. Imports resolve against the directories given as arguments.
// The solcjs command line truncates large answers on a pipe, hence this small driver.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const roots = process.argv.slice(2);

function findImports(unit) {
  for (const root of roots) {
    const file = path.join(root, unit);
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: `not found under ${roots.join(", ")}: ${unit}` };
}

const request = fs.readFileSync(0, "utf8");
const answer = solc.compile(request, { import: findImports });
process.stdout.write(answer);
